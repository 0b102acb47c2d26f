"""smartshop-backend: `migrate` applies the schema migrations; `serve` runs the HTTP server (server.py); `reconcile`
checks the counters /api/stats reads against the rows they count (exit 1 on a difference); `prune`
deletes what is past its keeping time (prune.py)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time

import MySQLdb

from .config import ConfigError, Settings
from .requestlog import configure_logging

log = logging.getLogger("smartshop.cli")


def _migrate(args: argparse.Namespace) -> int:
    from .migrate import migrate

    settings = Settings.from_env()
    deadline = time.monotonic() + args.wait
    while True:
        try:
            applied = migrate(settings)
            break
        except MySQLdb.OperationalError as exc:
            if time.monotonic() >= deadline:
                log.error("database unreachable after %s s: %s", args.wait, exc.args[-1])
                return 1
            time.sleep(1)
    log.info("migrations applied: %s", applied or "none (schema up to date)")
    return 0


def _reconcile(args: argparse.Namespace) -> int:
    from .db import Database
    from .reconcile import reconcile

    database = Database(Settings.from_env())
    try:
        conn = database._connect()
        report = reconcile(conn, fix=args.fix)
        conn.close()
    finally:
        database.close()
    for entry in report:
        mark = "ok" if entry["ok"] else ("FIXED" if "fixed_to" in entry else "DIFFERS")
        print(f"{mark:<8}{entry['name']:<24} counter {entry['counter']:>12}  rows {entry['rows']:>12}")
    wrong = [entry["name"] for entry in report if not entry["ok"] and "fixed_to" not in entry]
    print(
        json.dumps({"checked": len(report), "differ": wrong, "fixed": [e["name"] for e in report if "fixed_to" in e]})
    )
    return 1 if wrong else 0


def _prune(args: argparse.Namespace) -> int:
    from .db import Database
    from .prune import prune

    settings = Settings.from_env()
    database = Database(settings)
    try:
        conn = database._connect()
        deleted = prune(conn, settings)
        conn.close()
    finally:
        database.close()
    print(json.dumps({"deleted": deleted} if deleted is not None else {"busy": "another process is pruning"}))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from . import server

    # fail here, with a clear message, rather than in every worker
    argv = server.command(dict(os.environ), Settings.from_env())
    server.clear_metrics_dir(dict(os.environ))
    os.execvp(argv[0], argv)
    return 1  # not reached


def main(argv: list[str] | None = None) -> int:
    configure_logging(os.environ.get("SMARTSHOP_LOG_LEVEL", "INFO"))
    parser = argparse.ArgumentParser(prog="smartshop-backend", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    migrate = sub.add_parser("migrate", help="apply pending schema migrations (idempotent)")
    migrate.add_argument("--wait", type=int, default=60, help="seconds to wait for the database (default 60)")
    migrate.set_defaults(func=_migrate)
    check = sub.add_parser("reconcile", help="check the counters against the rows they count")
    check.add_argument("--fix", action="store_true", help="rewrite differing running totals from the rows")
    check.set_defaults(func=_reconcile)
    prune = sub.add_parser("prune", help="delete what is past its keeping time now (the API does it every 5 min)")
    prune.set_defaults(func=_prune)
    serve = sub.add_parser("serve", help="run the API (granian, server.py)")
    serve.set_defaults(func=_serve)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        log.error("configuration error: %s", exc)
        return 2


if __name__ == "__main__":
    sys.exit(main())
