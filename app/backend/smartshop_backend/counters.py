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
        """Totals, the last 10 and 60 minutes, and today, from a few hundred rows at most: one
        statement (one round trip, one snapshot), each part on its own index range."""
        cur.execute(
            "(SELECT 'total' AS part, name, CAST(SUM(value) AS SIGNED) AS a, 0 AS b"
            " FROM counters WHERE bucket = %s GROUP BY name)"
            " UNION ALL "
            "(SELECT 'window', name,"
            " CAST(SUM(CASE WHEN bucket > UTC_TIMESTAMP() - INTERVAL 10 MINUTE THEN value ELSE 0 END) AS SIGNED),"
            " CAST(SUM(value) AS SIGNED)"
            " FROM counters WHERE bucket > UTC_TIMESTAMP() - INTERVAL 60 MINUTE AND bucket <> %s"
            f" AND name IN ({', '.join(['%s'] * len(WINDOWED))}) GROUP BY name)"
            " UNION ALL "
            "(SELECT 'today', 'active_users', CAST(COALESCE(SUM(value), 0) AS SIGNED), 0"
            f" FROM counters WHERE name = 'active_users' AND bucket = {DAY})",
            (TOTAL, TOTAL, *WINDOWED),
        )
        totals: dict[str, int] = {}
        windows: dict[str, tuple[int, int]] = {}
        active_today = 0
        for row in cur.fetchall():
            if row["part"] == "total":
                totals[row["name"]] = int(row["a"])
            elif row["part"] == "window":
                windows[row["name"]] = (int(row["a"]), int(row["b"]))
            else:
                active_today = int(row["a"])
        return {"totals": totals, "windows": windows, "active_users_today": active_today}
