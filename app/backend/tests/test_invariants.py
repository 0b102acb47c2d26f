"""The rules the database holds on its own (migration 0003 and the schema's foreign keys): even a
statement that bypasses the API cannot give an order two successful payments, and the API answers
such a case with 409 without writing anything."""

from __future__ import annotations

import time

import pymysql
import pytest

from .conftest import root_connection
from .test_api import new_order, new_user, to_processing


def _paid_order(client) -> dict:
    order = new_order(client, new_user(client)["id"])
    to_processing(client, order["id"])
    response = client.post(f"/api/payments/process/{order['id']}", json={"status": "success"})
    assert response.status_code == 201, response.get_json()
    return order


def test_a_second_successful_payment_is_refused_by_the_database(client, mariadb, settings):
    order = _paid_order(client)
    with root_connection(mariadb, settings.db_name) as conn, conn.cursor() as cur:
        with pytest.raises(pymysql.err.IntegrityError) as refused:
            cur.execute("INSERT INTO payments (order_id, status, amount) VALUES (%s, 'success', 1.00)", (order["id"],))
        assert refused.value.args[0] == 1062  # duplicate key on uq_payments_one_success
        # failed attempts are not limited: an order may fail several times before it succeeds
        cur.execute("INSERT INTO payments (order_id, status, amount) VALUES (%s, 'failed', 1.00)", (order["id"],))
        cur.execute("SELECT COUNT(*) FROM payments WHERE order_id = %s AND status = 'success'", (order["id"],))
        assert cur.fetchone()[0] == 1


def test_a_payment_for_no_order_is_refused_by_the_database(mariadb, settings):
    with root_connection(mariadb, settings.db_name) as conn, conn.cursor() as cur:
        with pytest.raises(pymysql.err.IntegrityError) as refused:
            cur.execute("INSERT INTO payments (order_id, status, amount) VALUES (987654321, 'success', 1.00)")
        assert refused.value.args[0] == 1452  # foreign key fk_payments_order


def test_the_api_answers_409_and_writes_nothing_when_the_database_refuses(client, mariadb, settings):
    order = _paid_order(client)
    # an order put back by hand where "pay" is allowed: the rules in the code would take a payment
    with root_connection(mariadb, settings.db_name) as conn, conn.cursor() as cur:
        cur.execute("UPDATE orders SET status = 'processing' WHERE id = %s", (order["id"],))
    response = client.post(f"/api/payments/process/{order['id']}", json={"status": "success"})
    body = response.get_json()
    assert response.status_code == 409, body
    assert "already has a successful payment" in body["error"]
    with root_connection(mariadb, settings.db_name) as conn, conn.cursor() as cur:
        cur.execute("SELECT status FROM orders WHERE id = %s", (order["id"],))
        assert cur.fetchone()[0] == "processing"  # the transaction rolled back: nothing half-written
        cur.execute("SELECT COUNT(*) FROM payments WHERE order_id = %s", (order["id"],))
        assert cur.fetchone()[0] == 1


def _reconcile(mariadb, settings, fix=False):
    from smartshop_backend.reconcile import reconcile

    conn = root_connection(mariadb, settings.db_name)
    try:
        return {entry["name"]: entry for entry in reconcile(conn, fix=fix)}
    finally:
        conn.close()


def test_the_counters_reconcile_with_the_rows_and_a_write_around_the_api_is_named(client, mariadb, settings):
    _reconcile(mariadb, settings, fix=True)  # other tests write around the API on purpose
    assert all(entry["ok"] for entry in _reconcile(mariadb, settings).values())
    _paid_order(client)  # traffic through the API keeps them equal
    new_order(client, new_user(client)["id"])
    report = _reconcile(mariadb, settings)
    assert all(entry["ok"] for entry in report.values()), report
    assert set(report) >= {"users", "orders", "orders_pending", "payments_success", "revenue_cents"}

    with root_connection(mariadb, settings.db_name) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO users (username) VALUES ('written-around-the-api')")
    report = _reconcile(mariadb, settings)
    assert not report["users"]["ok"] and report["users"]["rows"] == report["users"]["counter"] + 1
    assert [name for name, entry in report.items() if not entry["ok"]] == ["users"]

    fixed = _reconcile(mariadb, settings, fix=True)
    assert fixed["users"]["fixed_to"] == report["users"]["rows"]
    assert all(entry["ok"] for entry in _reconcile(mariadb, settings).values())
    assert client.get("/api/stats").get_json()["total_users"] == report["users"]["rows"]


def test_pruning_deletes_only_what_is_past_its_keeping_time(client, mariadb, settings):
    from smartshop_backend.prune import prune

    user = new_user(client)
    new_order(client, user["id"])
    before = client.get("/api/stats").get_json()
    old = {
        "counters": "INSERT INTO counters (name, bucket, shard, value) VALUES"
        " ('orders', UTC_TIMESTAMP() - INTERVAL 3 HOUR, 0, 5), ('active_users', UTC_DATE() - INTERVAL 40 DAY, 0, 2)",
        "activity_log": "INSERT INTO activity_log (created_at, level, message) VALUES"
        " (UTC_TIMESTAMP(3) - INTERVAL 8 DAY, 'low', 'old news')",
        "idempotency_keys": "INSERT INTO idempotency_keys (idem_key, endpoint, request_hash, status_code, response,"
        " created_at) VALUES ('old-key', 'x', REPEAT('0', 64), 201, '{}', UTC_TIMESTAMP(3) - INTERVAL 25 HOUR)",
        "daily_active_users": "INSERT IGNORE INTO daily_active_users (day, user_id) VALUES"
        " (UTC_DATE() - INTERVAL 40 DAY, %(user)s)",
    }
    with root_connection(mariadb, settings.db_name) as conn, conn.cursor() as cur:
        for sql in old.values():
            cur.execute(sql, {"user": user["id"]} if "%(user)s" in sql else None)
    with root_connection(mariadb, settings.db_name) as conn:
        deleted = prune(conn, settings, batch=1)  # batches of one row: the loop is exercised
    assert deleted["counters_per_minute"] >= 1 and deleted["counters_per_day"] >= 1, deleted
    assert deleted["activity_log"] >= 1 and deleted["idempotency_keys"] >= 1, deleted
    assert deleted["daily_active_users"] >= 1, deleted
    with root_connection(mariadb, settings.db_name) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM idempotency_keys WHERE idem_key = 'old-key'")
        assert cur.fetchone()[0] == 0
        cur.execute("SELECT COUNT(*) FROM activity_log WHERE message = 'old news'")
        assert cur.fetchone()[0] == 0
        cur.execute("SELECT COUNT(*) FROM activity_log WHERE created_at > UTC_TIMESTAMP(3) - INTERVAL 1 HOUR")
        assert cur.fetchone()[0] > 0  # what the console shows stays
    after = client.get("/api/stats").get_json()
    # running totals and the last hour's figures are untouched
    for key in ("total_users", "total_orders", "orders_last_10min", "orders_last_hour"):
        if key in before:
            assert after[key] == before[key], (key, before, after)
    with root_connection(mariadb, settings.db_name) as conn:
        assert prune(conn, settings) == dict.fromkeys(deleted, 0)  # nothing left to prune


def test_retention_shorter_than_what_the_stats_read_is_refused():
    from smartshop_backend.config import ConfigError, Settings

    with pytest.raises(ConfigError, match="SMARTSHOP_KEEP_MINUTE_COUNTERS_HOURS must be between 2"):
        Settings.from_env({"SMARTSHOP_KEEP_MINUTE_COUNTERS_HOURS": "1"})
    with pytest.raises(ConfigError, match="SMARTSHOP_PRUNE_INTERVAL must be an integer"):
        Settings.from_env({"SMARTSHOP_PRUNE_INTERVAL": "soon"})


def test_a_request_that_waits_past_its_deadline_answers_503_and_writes_nothing(client, mariadb, settings):
    """A lock held elsewhere: the request gives up within its deadline (lock waits at half of it,
    retried only while time is left), answers a clear 503, and the order is as it was."""
    import dataclasses
    import time

    from smartshop_backend import create_app

    quick = create_app(dataclasses.replace(settings, request_deadline=2))
    quick.testing = True
    operator = quick.test_client()
    operator.environ_base["HTTP_AUTHORIZATION"] = client.environ_base["HTTP_AUTHORIZATION"]
    order = new_order(client, new_user(client)["id"])
    holder = root_connection(mariadb, settings.db_name)
    holder.autocommit(False)
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT id FROM orders WHERE id = %s FOR UPDATE", (order["id"],))
            started = time.monotonic()
            response = operator.post(f"/api/orders/validate/{order['id']}")
            elapsed = time.monotonic() - started
        body = response.get_json()
        assert response.status_code == 503, body
        assert "within 2 s; nothing was written" in body["error"]
        assert elapsed < 2 + 1.5, elapsed  # the deadline, plus at most one lock wait started before it
    finally:
        holder.rollback()
        holder.close()
    assert client.get(f"/api/orders/{order['id']}").get_json()["status"] == "pending"
    assert operator.post(f"/api/orders/validate/{order['id']}").status_code == 200  # the lock gone, it works


def test_deadlines_are_in_order():
    """Database deadlines below the server's stop grace and nginx's proxy timeout; nginx lets a
    kept-alive connection to a replica go before the server would close it."""
    import re
    from pathlib import Path

    from smartshop_backend import server
    from smartshop_backend.config import Settings

    frontend = Path(__file__).resolve().parents[2] / "frontend"
    nginx = "".join((frontend / name).read_text() for name in ("nginx.conf.template", "backend_proxy.conf"))
    proxy_read = {int(seconds) for seconds in re.findall(r"proxy_read_timeout (\d+)s;", nginx)}
    upstream = re.search(r"upstream smartshop_backend \{[^}]*keepalive_timeout (\d+)s;", nginx)
    deadline = Settings().request_deadline
    worst = deadline + 2  # the socket read gives up 2 s after the deadline
    assert proxy_read and worst < min(proxy_read), (worst, proxy_read)
    assert deadline <= server.GRACE  # on SIGTERM a request still inside its deadline finishes
    assert upstream and int(upstream.group(1)) < server.IDLE, nginx
    with pytest.raises(Exception, match="SMARTSHOP_REQUEST_DEADLINE must be between 2 and 15"):
        Settings.from_env({"SMARTSHOP_REQUEST_DEADLINE": "30"})


def test_a_connection_lost_inside_a_transaction_commits_none_of_it(migrated, mariadb):
    """The server drops the connection (KILL, a network cut, wait_timeout) between two statements
    of one transaction: the first statement died with the connection, so none of the transaction
    may commit. The pool reconnects for the next transaction; the lost one is retried whole, from
    its first statement, on a new connection, and is written exactly once. The transaction begins
    without a BEGIN round trip (db._Connection), yet the pool still knows it is open."""
    from smartshop_backend.db import Database

    database = Database(migrated)
    killer = root_connection(mariadb, "smartshop")
    marker = f"killed-{time.monotonic_ns()}"
    runs = []

    def work(cur):
        runs.append(1)
        cur.execute("INSERT INTO users (username) VALUES (%s)", (f"{marker}-a",))
        if len(runs) == 1:  # the first time only: the server drops this connection
            cur.execute("SELECT CONNECTION_ID() AS id")
            with killer.cursor() as kcur:
                kcur.execute(f"KILL CONNECTION {int(cur.fetchone()['id'])}")
        cur.execute("INSERT INTO users (username) VALUES (%s)", (f"{marker}-b",))

    try:
        database.run(work)
        with killer.cursor() as cur:
            cur.execute("SELECT username FROM users WHERE username LIKE %s ORDER BY username", (f"{marker}-%",))
            written = [row[0] for row in cur.fetchall()]
    finally:
        killer.close()
        database.close()
    assert written == [f"{marker}-a", f"{marker}-b"], written  # both, once: not "b" alone
    assert len(runs) == 2, runs
