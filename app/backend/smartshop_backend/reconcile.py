"""The counters /api/stats reads, checked against the rows they count.

Counters are written in the transaction of the change they count, so in one consistent snapshot
each running total equals its row count exactly, whatever traffic runs meanwhile. A difference
means a write went around the API (or a bug): `smartshop-backend reconcile` names it, and with
--fix rewrites the running totals from the rows (the per-minute and per-day figures stay).
"""

from __future__ import annotations

from typing import Any

from .counters import TOTAL
from .domain import PAYMENT_OUTCOMES, STATUSES

# (counter name, SQL counting what it counts, parameters)
CHECKS: tuple[tuple[str, str, tuple], ...] = (
    ("users", "SELECT COUNT(*) AS n FROM users", ()),
    ("orders", "SELECT COUNT(*) AS n FROM orders", ()),
    *((f"orders_{s}", "SELECT COUNT(*) AS n FROM orders WHERE status = %s", (s,)) for s in STATUSES),
    *((f"payments_{o}", "SELECT COUNT(*) AS n FROM payments WHERE status = %s", (o,)) for o in PAYMENT_OUTCOMES),
    (
        "revenue_cents",
        "SELECT CAST(COALESCE(SUM(amount * 100), 0) AS SIGNED) AS n FROM payments WHERE status = 'success'",
        (),
    ),
)


def _value(row: Any) -> int:
    return int(row["n"] if isinstance(row, dict) else row[-1])


def reconcile(conn: Any, fix: bool = False) -> list[dict[str, Any]]:
    """One entry per counter: {name, counter, rows, ok}; with fix, differing totals are rewritten."""
    with conn.cursor() as cur:
        # counting whole tables may take longer than a request's deadline (db.py sets one per session)
        cur.execute("SET SESSION max_statement_time = 0")
        cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
        cur.execute(
            "SELECT name, CAST(SUM(value) AS SIGNED) AS n FROM counters WHERE bucket = %s GROUP BY name", (TOTAL,)
        )
        counters = {(row["name"] if isinstance(row, dict) else row[0]): _value(row) for row in cur.fetchall()}
        report = []
        for name, sql, params in CHECKS:
            cur.execute(sql, params)
            rows = _value(cur.fetchone())
            counter = counters.get(name, 0)
            report.append({"name": name, "counter": counter, "rows": rows, "ok": counter == rows})
        conn.commit()
        wrong = [entry for entry in report if not entry["ok"]]
        if fix and wrong:
            # the rows are the truth: each wrong total becomes one shard holding the row count,
            # computed again under locks in the transaction that writes it
            for entry in wrong:
                name, sql, params = next(check for check in CHECKS if check[0] == entry["name"])
                cur.execute(sql + " LOCK IN SHARE MODE", params)
                rows = _value(cur.fetchone())
                cur.execute("DELETE FROM counters WHERE name = %s AND bucket = %s", (name, TOTAL))
                cur.execute(
                    "INSERT INTO counters (name, bucket, shard, value) VALUES (%s, %s, 0, %s)", (name, TOTAL, rows)
                )
                entry["fixed_to"] = rows
            conn.commit()
    return report
