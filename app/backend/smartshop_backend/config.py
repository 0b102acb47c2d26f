"""Configuration from the environment (12-factor); secrets from *_FILE paths."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from . import credentials


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def _secret(env: dict[str, str], name: str, default: str | None = None) -> str | None:
    """NAME, or the content of the file NAME_FILE points to (trailing newline stripped)."""
    direct, path = env.get(name), env.get(f"{name}_FILE")
    if direct and path:
        raise ConfigError(f"both {name} and {name}_FILE are set; use one")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{name}_FILE={path} cannot be read: {exc.strerror}") from exc
    return direct if direct is not None else default


def _credential(env: dict[str, str], name: str) -> str:
    """A token or password: empty (the routes it guards are then refused) or at least 16 characters;
    from a file, one per line (a rotation lists the new value, then the old one)."""
    value = _secret(env, name, "") or ""
    if value and credentials.problem(credentials.parse(value)):
        raise ConfigError(f"{name}: each value must be at least 16 printable characters without surrounding spaces")
    return value


# libmariadb's option file for TLS connections: the server's certificate must also name the host
# connected to (the CA alone only proves who signed it).
TLS_OPTIONS = Path(__file__).with_name("tls_client.cnf")


def connect_args(settings: Settings) -> dict:
    """Driver (MySQLdb) arguments every connection of the application shares: TLS, with the chain
    and the host name checked, when a CA is given."""
    if not settings.db_ssl_ca:
        return {}
    return {"ssl": {"ca": settings.db_ssl_ca}, "read_default_file": str(TLS_OPTIONS), "read_default_group": "client"}


def _readable(env: dict[str, str], name: str) -> str:
    """A path that must name a readable file when set."""
    path = env.get(name, "")
    if path and not os.access(path, os.R_OK):
        raise ConfigError(f"{name}={path} is not a readable file")
    return path


def _int(env: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, str(default))
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _ratio(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name, str(default))
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number between 0 and 1, got {raw!r}") from exc
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{name} must be between 0 and 1, got {value}")
    return value


@dataclass(frozen=True)
class Settings:
    db_host: str = "mysql"
    db_port: int = 3306
    db_name: str = "smartshop"
    db_user: str = "smartshop"
    db_password: str = field(default="", repr=False)
    migrator_user: str = "smartshop_migrator"
    migrator_password: str = field(default="", repr=False)
    pool_size: int = 8
    connect_timeout: int = 2
    payment_success_ratio: float = 0.8
    max_body_bytes: int = 16384
    counter_shards: int = 8
    version: str = "1.0.0"
    operator_token: str = field(default="", repr=False)
    # CA file to check the database's certificate with; set: every connection is TLS, the server's
    # name checked (the mysql role requires TLS of the application's accounts)
    db_ssl_ca: str = ""
    scrape_password: str = field(default="", repr=False)
    # Files the credentials came from: re-read when they change (rotation without a restart).
    db_password_file: str = ""
    operator_token_file: str = ""
    scrape_password_file: str = ""
    # Bounded growth (prune.py): how long what only serves recent figures is kept.
    keep_minute_counters_hours: int = 2
    keep_days: int = 35
    keep_activity_days: int = 7
    keep_idempotency_hours: int = 24
    prune_interval: int = 300
    # Seconds a request may take in the database (db.py: lock waits give up at half, statements at
    # this, and no commit happens after it); below nginx's 30 s (proxy_read_timeout).
    request_deadline: int = 10

    def current_db_password(self) -> str:
        """The password new database connections present (the file's first line, read now)."""
        return credentials.values(self.db_password_file, (self.db_password,))[0]

    def operator_tokens(self) -> tuple[str, ...]:
        """Every operator token accepted now (two while a rotation runs; none: the routes are off)."""
        return credentials.values(self.operator_token_file, credentials.parse(self.operator_token))

    def scrape_passwords(self) -> tuple[str, ...]:
        return credentials.values(self.scrape_password_file, credentials.parse(self.scrape_password))

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        db_password = _secret(env, "SMARTSHOP_DB_PASSWORD", "")
        return cls(
            db_host=env.get("SMARTSHOP_DB_HOST", cls.db_host),
            db_port=_int(env, "SMARTSHOP_DB_PORT", cls.db_port, 1, 65535),
            db_name=env.get("SMARTSHOP_DB_NAME", cls.db_name),
            db_user=env.get("SMARTSHOP_DB_USER", cls.db_user),
            db_password=credentials.parse(db_password or "")[0] if (db_password or "").strip() else "",
            migrator_user=env.get("SMARTSHOP_MIGRATOR_USER", cls.migrator_user),
            migrator_password=_secret(env, "SMARTSHOP_MIGRATOR_PASSWORD", "") or "",
            pool_size=_int(env, "SMARTSHOP_DB_POOL_SIZE", cls.pool_size, 1, 256),
            connect_timeout=_int(env, "SMARTSHOP_DB_CONNECT_TIMEOUT", cls.connect_timeout, 1, 60),
            payment_success_ratio=_ratio(env, "PAYMENT_SUCCESS_RATIO", cls.payment_success_ratio),
            max_body_bytes=_int(env, "SMARTSHOP_MAX_BODY_BYTES", cls.max_body_bytes, 256, 10 * 1024 * 1024),
            counter_shards=_int(env, "SMARTSHOP_COUNTER_SHARDS", cls.counter_shards, 1, 64),
            version=env.get("SMARTSHOP_VERSION", cls.version),
            operator_token=_credential(env, "SMARTSHOP_OPERATOR_TOKEN"),
            db_ssl_ca=_readable(env, "SMARTSHOP_DB_SSL_CA"),
            scrape_password=_credential(env, "SMARTSHOP_SCRAPE_PASSWORD"),
            db_password_file=env.get("SMARTSHOP_DB_PASSWORD_FILE", ""),
            operator_token_file=env.get("SMARTSHOP_OPERATOR_TOKEN_FILE", ""),
            scrape_password_file=env.get("SMARTSHOP_SCRAPE_PASSWORD_FILE", ""),
            # /api/stats reads the last 60 minutes and today: nothing shorter may be configured
            keep_minute_counters_hours=_int(
                env, "SMARTSHOP_KEEP_MINUTE_COUNTERS_HOURS", cls.keep_minute_counters_hours, 2, 8784
            ),
            keep_days=_int(env, "SMARTSHOP_KEEP_DAYS", cls.keep_days, 1, 3660),
            keep_activity_days=_int(env, "SMARTSHOP_KEEP_ACTIVITY_DAYS", cls.keep_activity_days, 1, 3660),
            keep_idempotency_hours=_int(env, "SMARTSHOP_KEEP_IDEMPOTENCY_HOURS", cls.keep_idempotency_hours, 1, 8784),
            prune_interval=_int(env, "SMARTSHOP_PRUNE_INTERVAL", cls.prune_interval, 0, 86400),
            request_deadline=_int(env, "SMARTSHOP_REQUEST_DEADLINE", cls.request_deadline, 2, 15),
        )
