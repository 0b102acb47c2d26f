"""One JSON log line per request on stdout, and the request metrics."""

from __future__ import annotations

import json
import logging
import sys
import time

from flask import Flask, g, request

access = logging.getLogger("smartshop.access")
# Metric labels come from fixed sets only: any other method (a scanner's PROPFIND, garbage) is "other".
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class JSONFormatter(logging.Formatter):
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


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JSONFormatter())
    JSONFormatter.converter = time.gmtime  # timestamps in UTC
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


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
        access.info(
            "request",
            extra={
                "fields": {
                    "method": request.method[:16],
                    "route": route,
                    "path": request.path,
                    "status": response.status_code,
                    "latency_ms": round(elapsed * 1000, 2),
                }
            },
        )
        return response
