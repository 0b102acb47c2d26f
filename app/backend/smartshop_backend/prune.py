"""Bounded growth: what only serves recent figures is deleted once it is older than it can serve.

- per-minute counters (orders, payments, activity per minute): /api/stats reads the last 60
  minutes; kept `keep_minute_counters_hours` (default 2);
- per-day counters and the daily active users: "today" is read; kept `keep_days` (default 35);
- the activity log: the console shows the latest entries; kept `keep_activity_days` (default 7);
- idempotency keys: a client retries within minutes; kept `keep_idempotency_hours` (default 24).

Running totals, users, orders and payments are never pruned. Deletes go in batches of `batch`
rows, each its own short transaction, so the API's writes never wait long behind them. Every API
worker runs it every `prune_interval` seconds (0: never) under a named lock: one at a time.
"""

from __future__ import annotations

import logging
import random
import threading
from typing import Any

from .counters import TOTAL, WINDOWED

log = logging.getLogger("smartshop.prune")
LOCK = "smartshop_prune"


def statements(settings: Any) -> list[tuple[str, str, tuple]]:
    names = ", ".join(["%s"] * len(WINDOWED))
    return [
        (
            "counters_per_minute",
            # only placeholders are joined; every value is a parameter
            f"DELETE FROM counters WHERE bucket <> %s AND name IN ({names})"  # noqa: S608
            " AND bucket < UTC_TIMESTAMP() - INTERVAL %s HOUR LIMIT %s",
            (TOTAL, *WINDOWED, settings.keep_minute_counters_hours),
        ),
        (
            "counters_per_day",
            "DELETE FROM counters WHERE name = 'active_users' AND bucket < UTC_DATE() - INTERVAL %s DAY LIMIT %s",
            (settings.keep_days,),
        ),
        (
            "daily_active_users",
            "DELETE FROM daily_active_users WHERE day < UTC_DATE() - INTERVAL %s DAY LIMIT %s",
            (settings.keep_days,),
        ),
        (
            "activity_log",
            "DELETE FROM activity_log WHERE created_at < UTC_TIMESTAMP(3) - INTERVAL %s DAY LIMIT %s",
            (settings.keep_activity_days,),
        ),
        (
            "idempotency_keys",
            "DELETE FROM idempotency_keys WHERE created_at < UTC_TIMESTAMP(3) - INTERVAL %s HOUR LIMIT %s",
            (settings.keep_idempotency_hours,),
        ),
    ]


def prune(conn: Any, settings: Any, batch: int = 5000) -> dict[str, int] | None:
    """Delete what is past its keeping time; the rows deleted per kind, or None when another
    process holds the lock (it is pruning now)."""
    with conn.cursor() as cur:
        cur.execute("SELECT GET_LOCK(%s, 0) AS got", (LOCK,))
        row = cur.fetchone()
        if int(row["got"] if isinstance(row, dict) else row[0]) != 1:
            return None
        try:
            deleted: dict[str, int] = {}
            for kind, sql, params in statements(settings):
                deleted[kind] = 0
                while True:
                    cur.execute(sql, (*params, batch))
                    conn.commit()
                    deleted[kind] += cur.rowcount
                    if cur.rowcount < batch:
                        break
            return deleted
        finally:
            cur.execute("DO RELEASE_LOCK(%s)", (LOCK,))
            conn.commit()


def start_background(database: Any, settings: Any) -> threading.Thread | None:
    """A daemon thread pruning every settings.prune_interval seconds (jittered), or None when 0."""
    if settings.prune_interval <= 0:
        return None
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(settings.prune_interval * random.uniform(0.8, 1.2)):  # jitter: workers spread out
            try:
                conn = database._connect()
                try:
                    deleted = prune(conn, settings)
                finally:
                    conn.close()
                if deleted and any(deleted.values()):
                    log.info("pruned %s", deleted)
            except Exception as exc:  # the next round tries again; the API is unaffected
                log.warning("pruning failed: %s", exc.__class__.__name__)

    thread = threading.Thread(target=loop, name="smartshop-prune", daemon=True)
    thread.stop = stop  # type: ignore[attr-defined]
    thread.start()
    return thread
