"""Versioned schema migrations: NNNN_name.sql files applied in order, each once.

Run by `smartshop-backend migrate` before the API starts. Safe to run again (it applies
nothing new) and from several replicas at once (a named lock serialises them).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources

import MySQLdb

from .config import Settings, connect_args

log = logging.getLogger(__name__)
FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
LOCK = "smartshop_schema_migrations"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    def statements(self) -> list[str]:
        """Statements separated by ';' at the end of a line; comment lines dropped."""
        lines = [line for line in self.sql.splitlines() if not line.lstrip().startswith("--")]
        return [s.strip() for s in re.split(r";\s*$", "\n".join(lines), flags=re.M) if s.strip()]


def available() -> list[Migration]:
    found = []
    for entry in resources.files("smartshop_backend.migrations").iterdir():
        match = FILE.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(versions) != len(set(versions)):
        raise RuntimeError(f"two migrations share a version: {sorted(versions)}")
    return sorted(found, key=lambda m: m.version)


def migrate(settings: Settings, lock_timeout: int = 60) -> list[int]:
    """Apply pending migrations as the migrator user. Returns the versions applied."""
    conn = MySQLdb.connect(
        host=settings.db_host,
        port=settings.db_port,
        user=settings.migrator_user,
        password=settings.migrator_password,
        database=settings.db_name,
        charset="utf8mb4",
        autocommit=True,
        connect_timeout=settings.connect_timeout,
        **connect_args(settings),
    )
    applied_now: list[int] = []
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT GET_LOCK(%s, %s)", (LOCK, lock_timeout))
            if cur.fetchone()[0] != 1:
                raise RuntimeError(f"another migration holds the lock {LOCK} for over {lock_timeout} s")
            try:
                cur.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version INT UNSIGNED NOT NULL PRIMARY KEY,"
                    " name VARCHAR(255) NOT NULL,"
                    " applied_at DATETIME(3) NOT NULL DEFAULT UTC_TIMESTAMP(3)) ENGINE = InnoDB"
                )
                cur.execute("SELECT version FROM schema_migrations")
                done = {row[0] for row in cur.fetchall()}
                for migration in available():
                    if migration.version in done:
                        continue
                    log.info("applying migration %04d_%s", migration.version, migration.name)
                    for statement in migration.statements():
                        cur.execute(statement)
                    cur.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        (migration.version, migration.name),
                    )
                    applied_now.append(migration.version)
            finally:
                cur.execute("SELECT RELEASE_LOCK(%s)", (LOCK,))
    finally:
        conn.close()
    return applied_now
