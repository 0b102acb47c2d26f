"""Counters that make /api/stats cheap: written in the transaction of the change they count."""

from __future__ import annotations

import random
from typing import Any

from .domain import LEVELS, PAYMENT_OUTCOMES

TOTAL = "1970-01-01 00:00:00"
MINUTE = "DATE_FORMAT(UTC_TIMESTAMP(), '%%Y-%%m-%%d %%H:%%i:00')"
DAY = "DATE_FORMAT(UTC_TIMESTAMP(), '%%Y-%%m-%%d 00:00:00')"
# Per-minute counters /api/stats reads over the last 10 and 60 minutes.
WINDOWED = (
    "orders",
    *(f"payments_{outcome}" for outcome in PAYMENT_OUTCOMES),
    *(f"activity_{level}" for level in LEVELS),
)


class Counters:
    def __init__(self, shards: int) -> None:
        self.shards = shards

    def add(
        self,
        cur: Any,
        changes: dict[str, int],
        per_minute: dict[str, int] | None = None,
        per_day: dict[str, int] | None = None,
    ) -> None:
        """Add to running totals (changes), this minute's and today's counters, in one statement."""
        rows: list[str] = []
        params: list[Any] = []
        shard = random.randrange(self.shards)
        for bucket_sql, values in ((f"'{TOTAL}'", changes), (MINUTE, per_minute or {}), (DAY, per_day or {})):
            for name, delta in values.items():
                if delta:
                    rows.append(f"(%s, {bucket_sql}, %s, %s)")
                    params.extend((name, shard, delta))
        if rows:
            # only constant SQL fragments are joined; every value is a parameter
            cur.execute(
                "INSERT INTO counters (name, bucket, shard, value) VALUES "
                + ", ".join(rows)
                + " ON DUPLICATE KEY UPDATE value = value + VALUES(value)",
                params,
            )

    @staticmethod
    def status_change(old: str | None, new: str) -> dict[str, int]:
        change = {f"orders_{new}": 1}
        if old:
            change[f"orders_{old}"] = -1
        return change

    @staticmethod
    def read(cur: Any) -> dict[str, Any]:
        """Totals, the last 10 and 60 minutes, and today, from a few hundred rows at most."""
        cur.execute(
            "SELECT name, CAST(SUM(value) AS SIGNED) AS total FROM counters WHERE bucket = %s GROUP BY name",
            (TOTAL,),
        )
        totals = {row["name"]: int(row["total"]) for row in cur.fetchall()}
        cur.execute(
            "SELECT name,"
            " CAST(SUM(CASE WHEN bucket > UTC_TIMESTAMP() - INTERVAL 10 MINUTE THEN value ELSE 0 END) AS SIGNED)"
            " AS last10,"
            " CAST(SUM(value) AS SIGNED) AS last60"
            " FROM counters WHERE bucket > UTC_TIMESTAMP() - INTERVAL 60 MINUTE AND bucket <> %s"
            f" AND name IN ({', '.join(['%s'] * len(WINDOWED))}) GROUP BY name",
            (TOTAL, *WINDOWED),
        )
        windows = {row["name"]: (int(row["last10"]), int(row["last60"])) for row in cur.fetchall()}
        cur.execute(
            f"SELECT CAST(COALESCE(SUM(value), 0) AS SIGNED) AS n FROM counters"
            f" WHERE name = 'active_users' AND bucket = {DAY}",
            (),
        )
        active_today = int(cur.fetchone()["n"])
        return {"totals": totals, "windows": windows, "active_users_today": active_today}
