"""A pool of MySQLdb connections (mysqlclient, Debian's python3-mysqldb; DBUtils), transactions with
retry, and the error mapping."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import MySQLdb
from dbutils.pooled_db import PooledDB
from MySQLdb.connections import Connection
from MySQLdb.cursors import DictCursor

from .config import Settings, connect_args

log = logging.getLogger(__name__)

# Server errors worth retrying the whole transaction for: deadlock, lock wait timeout.
RETRYABLE = {1213, 1205}
# Errors meaning the server cannot be reached or the connection was lost: no socket, no route, the
# name unknown (its container is gone), gone away, lost, too many connections, shutting down,
# connection killed.
UNAVAILABLE = {2002, 2003, 2005, 2006, 2013, 2055, 1040, 1053, 1927}


# The server stopped a statement at max_statement_time (the request's deadline).
STATEMENT_TIMEOUT = 1969


# A health check runs every few seconds (Docker's, the edge's, the load generator's ceiling): its
# failures are logged at most this often per process.
PING_LOG_EVERY = 10.0


class DatabaseUnavailable(Exception):
    """The database cannot be reached; the API answers 503."""


class DeadlineExceeded(DatabaseUnavailable):
    """The request ran past its deadline: its transaction was rolled back, nothing was written."""


class ConnectionLost(DatabaseUnavailable):
    """The connection died before the transaction's commit was sent: the server rolled it back,
    nothing was written, and the pool has a new connection in its place; the transaction can run
    again from its first statement."""


# Deadlines in order, so that no write commits after its client was told it failed: a lock wait
# gives up at half the request's deadline, a statement at the deadline, the socket read 2 s after,
# nginx gives up at 30 s (proxy_read_timeout). The commit itself is refused once the deadline has
# passed (set per request by the API, per thread).
_deadline = threading.local()


def set_deadline(seconds: float | None) -> None:
    """Transactions of this thread may commit until `seconds` from now (None: no deadline)."""
    _deadline.at = time.monotonic() + seconds if seconds else None


def past_deadline() -> bool:
    at = getattr(_deadline, "at", None)
    return at is not None and time.monotonic() > at


class _Connection(Connection):
    """A connection whose begin() sends nothing: with autocommit off the server opens the
    transaction at its first statement, so BEGIN cost a round trip (one in five of a write request,
    one in three of /api/health) and changed nothing. DBUtils' begin() still marks the transaction
    open, which is what keeps it from re-running a statement alone on a new connection."""

    def begin(self) -> None:
        pass


class Database:
    """Pooled connections. A failed connection is discarded; the next checkout reconnects."""

    def __init__(self, settings: Settings, user: str | None = None, password: str | None = None) -> None:
        self.settings = settings
        self._ping_logged = -PING_LOG_EVERY  # the first failure is logged

        # A new connection presents the password of now: a rotated one applies without a restart.
        def connect(**kwargs: Any) -> Connection:
            kwargs["password"] = settings.current_db_password() if password is None else password
            return _Connection(**kwargs)

        connect.dbapi = MySQLdb  # what DBUtils takes the error classes and thread safety from
        self._pool = PooledDB(
            creator=connect,
            maxconnections=settings.pool_size,
            mincached=0,
            maxcached=settings.pool_size,
            blocking=True,
            # No ping when a connection is taken from the pool: a connection found dead by the
            # transaction's first statement is replaced and the transaction run again (run()).
            ping=0,
            reset=False,  # every transaction ends in an explicit commit or rollback
            host=settings.db_host,
            port=settings.db_port,
            user=user or settings.db_user,
            database=settings.db_name,
            charset="utf8mb4",
            autocommit=False,
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.request_deadline + 2,
            write_timeout=settings.request_deadline + 2,
            cursorclass=DictCursor,
            init_command=(
                "SET time_zone = '+00:00',"
                f" innodb_lock_wait_timeout = {max(1, settings.request_deadline // 2)},"
                f" max_statement_time = {settings.request_deadline}"
            ),
            **connect_args(settings),
        )

    def _connect(self) -> Any:
        try:
            return self._pool.connection()
        except MySQLdb.OperationalError as exc:
            raise DatabaseUnavailable(str(exc.args[-1] if exc.args else exc)) from exc

    @contextmanager
    def transaction(self) -> Iterator[DictCursor]:
        """One transaction; commits on success, rolls back on any error.

        It begins explicitly (conn.begin(), no round trip: _Connection): the pool then knows a
        transaction is open and never re-runs one of its statements alone on a new connection when
        the connection dies half-way (it did without begin(): the statements before were lost with
        the connection, those after committed).
        """
        conn = self._connect()
        committing = False
        try:
            cur = conn.cursor()
            try:
                conn.begin()
                yield cur
                if past_deadline():
                    raise DeadlineExceeded("the request's deadline passed before its commit")
                committing = True
                conn.commit()
            except BaseException:
                if not committing:  # a failed commit already put a new connection in the pool
                    _quiet_rollback(conn)
                raise
            finally:
                cur.close()
        except (MySQLdb.OperationalError, MySQLdb.InterfaceError) as exc:
            code = exc.args[0] if isinstance(exc, MySQLdb.OperationalError) and exc.args else 0
            if code == STATEMENT_TIMEOUT:
                raise DeadlineExceeded("a statement ran past the request's deadline") from exc
            if code in UNAVAILABLE or isinstance(exc, MySQLdb.InterfaceError):
                message = str(exc.args[-1]) if exc.args else str(exc)
                # the outcome of a commit that died is unknown: that one is not run again
                raise (DatabaseUnavailable if committing else ConnectionLost)(message) from exc
            raise
        finally:
            conn.close()  # back to the pool

    def run(self, work, attempts: int = 4):
        """Run work(cursor) in a transaction, retrying deadlocks and lock wait timeouts, and a
        transaction whose connection died before its commit (on a new one, while the request's
        deadline lasts: after a restart of the server every pooled connection is found dead once)."""
        lost = 0
        attempt = 1
        while True:
            try:
                with self.transaction() as cur:
                    return work(cur)
            except ConnectionLost:
                lost += 1
                if lost > self.settings.pool_size or past_deadline():
                    raise
                continue
            except MySQLdb.OperationalError as exc:
                if exc.args and exc.args[0] in RETRYABLE and past_deadline():
                    raise DeadlineExceeded("the request's deadline passed while it waited for a lock") from exc
                if exc.args and exc.args[0] in RETRYABLE and attempt < attempts:
                    time.sleep(0.005 * attempt)
                    attempt += 1
                    continue
                raise

    def ping(self) -> bool:
        """Whether the database answers. A failure is logged with the driver's reason (the health
        route says only "unreachable" to its public callers), at most once per PING_LOG_EVERY s."""
        try:
            with self.transaction() as cur:
                cur.execute("SELECT 1 AS ok")
                return cur.fetchone()["ok"] == 1
        except (DatabaseUnavailable, MySQLdb.MySQLError) as exc:
            now = time.monotonic()
            if now - self._ping_logged >= PING_LOG_EVERY:
                self._ping_logged = now
                log.warning("database ping failed: %s", exc)
            return False

    def close(self) -> None:
        self._pool.close()


def _quiet_rollback(conn: Any) -> None:
    try:
        conn.rollback()
    except MySQLdb.MySQLError:
        log.debug("rollback failed on a broken connection")
