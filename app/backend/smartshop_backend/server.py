"""The API's HTTP server: granian (HTTP in Rust, the app in each worker's thread pool), its
settings from the environment, checked before it starts.

- SMARTSHOP_BIND (0.0.0.0:8000), SMARTSHOP_WORKERS (2 processes), SMARTSHOP_THREADS (4 per worker).
- Each thread holds at most one pooled connection and the pruner one more: SMARTSHOP_DB_POOL_SIZE
  must be at least threads + 1, or a request would wait for a connection while others keep them.
- Metrics are shared across workers (prometheus_client's multiprocess mode): the directory is
  emptied before the workers start, or a previous run's files would be summed in.
- A worker that dies is started again; on SIGTERM the workers finish the requests they hold
  (up to GRACE seconds) and stop. Every request is bounded by the database deadlines (db.py),
  below nginx's proxy_read_timeout.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .config import ConfigError, Settings, _int

# seconds a worker has to finish its requests on SIGTERM before it is killed
GRACE = 10
# seconds a kept-alive connection may wait for its next request (nginx's upstream keepalive_timeout
# is shorter, so nginx never sends a request on a connection the server is closing)
IDLE = 30


def command(env: dict[str, str], settings: Settings) -> list[str]:
    """granian's command line for these settings (ConfigError names the variable at fault)."""
    workers = _int(env, "SMARTSHOP_WORKERS", 2, 1, 64)
    threads = _int(env, "SMARTSHOP_THREADS", 4, 1, 64)
    if settings.pool_size < threads + 1:
        raise ConfigError(
            f"SMARTSHOP_DB_POOL_SIZE ({settings.pool_size}) must be at least SMARTSHOP_THREADS + 1 ({threads + 1}):"
            " one connection per thread and one for the pruner"
        )
    bind = env.get("SMARTSHOP_BIND", "0.0.0.0:8000")
    host, _, port = bind.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"SMARTSHOP_BIND must be host:port, got {bind!r}")
    return [
        "granian",
        "--interface", "wsgi",
        "--host", host.strip("[]"),
        "--port", port,
        "--http", "1",
        "--no-ws",
        "--workers", str(workers),
        "--blocking-threads", str(threads),
        "--respawn-failed-workers",
        "--workers-kill-timeout", str(GRACE),
        "--http1-header-read-timeout", str(IDLE * 1000),
        "--log-level", env.get("SMARTSHOP_LOG_LEVEL", "info").lower(),
        "--log-config", str(LOG_CONFIG),
        "smartshop_backend.wsgi:app",
    ]  # fmt: skip


# granian's own lines (start, stop, a worker respawned) in the app's JSON format
LOG_CONFIG = Path(__file__).with_name("granian_log.json")


def clear_metrics_dir(env: dict[str, str]) -> None:
    directory = env.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            path = os.path.join(directory, name)
            if os.path.isdir(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
