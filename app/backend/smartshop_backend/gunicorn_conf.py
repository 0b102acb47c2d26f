"""gunicorn settings: gthread workers, metrics shared across workers, no access log (the app logs JSON)."""

import os

from prometheus_client import multiprocess

from smartshop_backend.config import Settings

bind = os.environ.get("SMARTSHOP_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("SMARTSHOP_WORKERS", "2"))
threads = int(os.environ.get("SMARTSHOP_THREADS", "4"))
worker_class = "gthread"
# Each thread holds at most one pooled connection, and the pruner one more: with fewer, a request
# would wait for a connection with no deadline (the pool blocks) while others keep taking them.
pool_size = Settings.from_env().pool_size
if pool_size < threads + 1:
    raise SystemExit(
        f"SMARTSHOP_DB_POOL_SIZE ({pool_size}) must be at least SMARTSHOP_THREADS + 1 ({threads + 1}):"
        " one connection per thread and one for the pruner"
    )
keepalive = 5
# a worker silent this long is killed: above the request's database deadline (10 s, db.py), below
# nginx's proxy_read_timeout (30 s)
timeout = 20
graceful_timeout = 10
accesslog = None
errorlog = "-"
loglevel = os.environ.get("SMARTSHOP_LOG_LEVEL", "info").lower()
worker_tmp_dir = "/dev/shm"  # noqa: S108 - heartbeat files, as gunicorn recommends in containers


def on_starting(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):  # stale files of a previous run would be summed in
            os.unlink(os.path.join(directory, name))


def post_worker_init(worker):
    """Each worker prunes what only served recent figures (prune.py; one at a time, under a lock)."""
    from smartshop_backend.prune import start_background

    app = worker.wsgi
    start_background(app.extensions["smartshop.db"], app.config["SMARTSHOP_SETTINGS"])


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
