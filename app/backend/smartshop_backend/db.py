"""A pool of PyMySQL connections (DBUtils), transactions with retry, and the error mapping."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pymysql
from dbutils.pooled_db import PooledDB
from pymysql.cursors import DictCursor

from .config import Settings, connect_args

log = logging.getLogger(__name__)

# Server errors worth retrying the whole transaction for: deadlock, lock wait timeout.
RETRYABLE = {1213, 1205}
# Errors meaning the server cannot be reached or the connection was lost.
UNAVAILABLE = {2003, 2006, 2013, 2055, 1040, 1053}


class DatabaseUnavailable(Exception):
    """The database cannot be reached; the API answers 503."""


class Database:
    """Pooled connections. A failed connection is discarded; the next checkout reconnects."""

    def __init__(self, settings: Settings, user: str | None = None, password: str | None = None) -> None:
        self.settings = settings

        # A new connection presents the password of now: a rotated one applies without a restart.
        def connect(**kwargs: Any) -> pymysql.connections.Connection:
            kwargs["password"] = settings.current_db_password() if password is None else password
            return pymysql.connect(**kwargs)

        connect.dbapi = pymysql  # what DBUtils takes the error classes and thread safety from
        self._pool = PooledDB(
            creator=connect,
            maxconnections=settings.pool_size,
            mincached=0,
            maxcached=settings.pool_size,
            blocking=True,
            ping=1,  # check the connection when it is taken from the pool; reconnect if it is gone
            reset=False,  # every transaction ends in an explicit commit or rollback
            host=settings.db_host,
            port=settings.db_port,
            user=user or settings.db_user,
            database=settings.db_name,
            charset="utf8mb4",
            autocommit=False,
            connect_timeout=settings.connect_timeout,
            read_timeout=30,
            write_timeout=30,
            cursorclass=DictCursor,
            init_command="SET time_zone = '+00:00'",
            **connect_args(settings),
        )

    def _connect(self) -> Any:
        try:
            return self._pool.connection()
        except pymysql.err.OperationalError as exc:
            raise DatabaseUnavailable(str(exc.args[-1] if exc.args else exc)) from exc

    @contextmanager
    def transaction(self) -> Iterator[DictCursor]:
        """One transaction; commits on success, rolls back on any error."""
        conn = self._connect()
        try:
            cur = conn.cursor()
            try:
                yield cur
                conn.commit()
            except BaseException:
                _quiet_rollback(conn)
                raise
            finally:
                cur.close()
        except pymysql.err.OperationalError as exc:
            code = exc.args[0] if exc.args else 0
            if code in UNAVAILABLE:
                raise DatabaseUnavailable(str(exc.args[-1])) from exc
            raise
        except pymysql.err.InterfaceError as exc:
            raise DatabaseUnavailable(str(exc)) from exc
        finally:
            conn.close()  # back to the pool

    def run(self, work, attempts: int = 4):
        """Run work(cursor) in a transaction, retrying deadlocks and lock wait timeouts."""
        for attempt in range(1, attempts + 1):
            try:
                with self.transaction() as cur:
                    return work(cur)
            except pymysql.err.OperationalError as exc:
                if exc.args and exc.args[0] in RETRYABLE and attempt < attempts:
                    time.sleep(0.005 * attempt)
                    continue
                raise
        raise AssertionError("unreachable")

    def ping(self) -> bool:
        try:
            with self.transaction() as cur:
                cur.execute("SELECT 1 AS ok")
                return cur.fetchone()["ok"] == 1
        except (DatabaseUnavailable, pymysql.err.MySQLError):
            return False

    def close(self) -> None:
        self._pool.close()


def _quiet_rollback(conn: Any) -> None:
    try:
        conn.rollback()
    except pymysql.err.MySQLError:
        log.debug("rollback failed on a broken connection")
