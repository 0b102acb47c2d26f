"""PyMySQL (pure Python, the API's driver until 2026-12) versus mysqlclient (Debian's python3-mysqldb, C,
the API's driver since: this benchmark chose it) on the API's own
kind of work: one transaction per request with a few short statements, over TLS, as the API's
database account. Prints the client CPU and wall time per transaction for each driver; the last
line is one JSON object.

    make bench-driver        # against the running stack's MariaDB (127.0.0.1:3306, `make up`)

Run by Debian's python3 (python3-mysqldb is built for it) in a virtualenv that also holds the
PyMySQL pinned in requirements-dev.txt; reads the account's password and the stack's CA from the secrets directory.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

SECRETS = Path(os.environ.get("SMARTSHOP_SECRETS_DIR", Path.home() / ".smartshop" / "secrets"))
HOST, PORT = os.environ.get("DB_HOST", "127.0.0.1"), int(os.environ.get("DB_PORT", "3306"))
ROUNDS = int(os.environ.get("ROUNDS", "3000"))


def transaction(conn) -> None:
    """What a read-mostly request does: a ping-sized query, a lookup by key, an aggregate, a commit."""
    cur = conn.cursor()
    cur.execute("SELECT 1")
    cur.fetchall()
    cur.execute("SELECT id, name, price FROM products WHERE id = %s", (3,))
    cur.fetchall()
    cur.execute(
        "SELECT name, CAST(SUM(value) AS SIGNED) FROM counters WHERE bucket = %s GROUP BY name",
        ("1970-01-01 00:00:00",),
    )
    cur.fetchall()
    cur.close()
    conn.commit()


def measure(name: str, connect) -> dict:
    conn = connect()
    for _ in range(200):  # warm-up
        transaction(conn)
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(ROUNDS):
        transaction(conn)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    conn.close()
    result = {"cpu_us": round(cpu / ROUNDS * 1e6, 1), "wall_us": round(wall / ROUNDS * 1e6, 1)}
    print(f"{name:<12} client CPU {result['cpu_us']:>8} us/transaction, wall {result['wall_us']:>8} us")
    return result


def main() -> int:
    password = (SECRETS / "localhost" / "mysql_app_password").read_text().splitlines()[0].strip()
    ca = str(SECRETS / "ca" / "ca.crt")
    common = {"host": HOST, "port": PORT, "user": "smartshop", "database": "smartshop"}

    from importlib.metadata import version

    import MySQLdb
    import pymysql

    results = {
        "pymysql": measure(
            f"PyMySQL {version('PyMySQL')}",
            lambda: pymysql.connect(**common, password=password, ssl={"ca": ca}, autocommit=False),
        ),
        "mysqlclient": measure(
            f"mysqlclient {'.'.join(map(str, MySQLdb.version_info[:3]))}",
            lambda: MySQLdb.connect(**common, password=password, ssl={"ca": ca}, autocommit=False),
        ),
    }
    results["rounds"] = ROUNDS
    results["cpu_ratio"] = round(results["pymysql"]["cpu_us"] / results["mysqlclient"]["cpu_us"], 2)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
