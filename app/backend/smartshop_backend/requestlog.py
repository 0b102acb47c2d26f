"""One JSON log line per request on stdout, and the request metrics."""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import sys
import threading
import time

from flask import Flask, g, request

access = logging.getLogger("smartshop.access")
# Metric labels come from fixed sets only: any other method (a scanner's PROPFIND, garbage) is "other".
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class JSONFormatter(logging.Formatter):
    converter = time.gmtime  # timestamps in UTC

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class AccessLog:
    """The per-request line, written straight to a block-buffered stdout: one json.dumps, no
    LogRecord, no handler chain (the logging module's path cost the API a quarter of its
    throughput, measured in docs/measurements.md). Lines go out at least every `interval`
    seconds (a background thread per process) and whenever 64 KiB have gathered."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.lock = threading.Lock()
        self.stream = open(sys.stdout.fileno(), "w", buffering=1 << 16, encoding="utf-8", closefd=False)  # noqa: SIM115
        self._pid: int | None = None
        self.enabled = True
        atexit.register(self.flush)

    def write(self, fields: dict) -> None:
        if self._pid != os.getpid():  # one flusher per process (one per server worker)
            self._pid = os.getpid()
            threading.Thread(target=self._flusher, name="smartshop-access-flush", daemon=True).start()
        now = time.time()
        line = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z",
            "level": "info",
            "logger": "smartshop.access",
            "message": "request",
            **fields,
        }
        text = json.dumps(line, ensure_ascii=False) + "\n"
        with self.lock:
            self.stream.write(text)

    def flush(self) -> None:
        with self.lock, contextlib.suppress(OSError, ValueError):  # a closed stdout at exit
            self.stream.flush()

    def _flusher(self) -> None:
        while True:
            time.sleep(self.interval)
            self.flush()


ACCESS: AccessLog | None = None


def configure_logging(level: str = "INFO") -> None:
    global ACCESS
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JSONFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    ACCESS = AccessLog()
    ACCESS.enabled = root.isEnabledFor(logging.INFO)


def install(app: Flask) -> None:
    metrics = app.extensions["smartshop.metrics"]

    @app.before_request
    def _start() -> None:
        g.smartshop_started = time.perf_counter()

    @app.after_request
    def _finish(response):
        elapsed = time.perf_counter() - g.get("smartshop_started", time.perf_counter())
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        status = str(response.status_code)
        method = request.method if request.method in METHODS else "other"
        metrics.requests.labels(method, route, status).inc()
        metrics.latency.labels(method, route, status).observe(elapsed)
        fields = {
            "method": request.method[:16],
            "route": route,
            "path": request.path,
            "status": response.status_code,
            "latency_ms": round(elapsed * 1000, 2),
        }
        if ACCESS is not None:  # the server's process (configure_logging ran)
            if ACCESS.enabled:
                ACCESS.write(fields)
        else:
            access.info("request", extra={"fields": fields})
        return response
