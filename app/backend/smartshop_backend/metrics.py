"""Prometheus metrics, correct across granian's workers (prometheus_client multiprocess mode).

Set PROMETHEUS_MULTIPROC_DIR to an empty directory before the workers start (the image does);
without it (tests, a single process) the default registry is used.
"""

from __future__ import annotations

import os
import platform
from decimal import Decimal

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from . import domain

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self, version: str) -> None:
        self.requests = Counter(
            "smartshop_http_requests_total",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
        )
        self.latency = Histogram(
            "smartshop_http_request_duration_seconds",
            "HTTP request latency by method, route template and status",
            ["method", "route", "status"],
            buckets=BUCKETS,
        )
        self.users = Counter("smartshop_users_created_total", "Users created")
        self.logins = Counter("smartshop_user_logins_total", "User logins")
        self.orders = Counter("smartshop_orders_total", "Orders entering each status", ["status"])
        self.payments = Counter("smartshop_payments_total", "Payments by result", ["result"])
        self.revenue = Counter("smartshop_revenue_euros_total", "Revenue of successful payments, in euros")
        self.activity = Counter("smartshop_activity_total", "Activity log entries by level", ["level"])
        self.db_errors = Counter("smartshop_db_errors_total", "Database errors by kind", ["kind"])
        self.simulated_errors = Counter("smartshop_simulated_errors_total", "Errors asked for on purpose", ["code"])
        self.build = Gauge(
            "smartshop_build_info", "Build information (always 1)", ["version", "python"], multiprocess_mode="max"
        )
        self.build.labels(version=version, python=platform.python_version()).set(1)
        # pre-create label sets so dashboards show zeros rather than no data
        for status in domain.STATUSES:
            self.orders.labels(status=status)
        for result in domain.PAYMENT_OUTCOMES:
            self.payments.labels(result=result)
        for level in domain.LEVELS:
            self.activity.labels(level=level)
        self.db_errors.labels(kind="unavailable")

    def db_error(self, kind: str) -> None:
        self.db_errors.labels(kind=kind).inc()

    def count(self, events) -> None:
        if events.users_created:
            self.users.inc(events.users_created)
        if events.logins:
            self.logins.inc(events.logins)
        for status in events.orders:
            self.orders.labels(status=status).inc()
        for result in events.payments:
            self.payments.labels(result=result).inc()
        if events.revenue > Decimal("0"):
            self.revenue.inc(float(events.revenue))
        for level in events.activity:
            self.activity.labels(level=level).inc()


_METRICS: Metrics | None = None


def get_metrics(version: str) -> Metrics:
    """One Metrics per process: metric objects register themselves globally."""
    global _METRICS
    if _METRICS is None:
        _METRICS = Metrics(version)
    return _METRICS


class ShopCollector:
    """Shop-wide gauges read from the counters table at scrape time (a few hundred rows)."""

    def __init__(self, read_stats) -> None:
        self.read_stats = read_stats

    def collect(self):
        try:
            stats = self.read_stats()
        except Exception:
            up = GaugeMetricFamily("smartshop_database_up", "Whether the API reaches its database")
            up.add_metric([], 0)
            yield up
            return
        up = GaugeMetricFamily("smartshop_database_up", "Whether the API reaches its database")
        up.add_metric([], 1)
        yield up
        users = GaugeMetricFamily("smartshop_shop_users", "Users in the shop")
        users.add_metric([], stats["total_users"])
        yield users
        by_status = GaugeMetricFamily("smartshop_shop_orders", "Orders in the shop by status", labels=["status"])
        for status, n in stats["orders_by_status"].items():
            by_status.add_metric([status], n)
        yield by_status
        active = GaugeMetricFamily("smartshop_shop_active_users_today", "Users who logged in today (UTC)")
        active.add_metric([], stats["active_users_today"])
        yield active


def exposition(read_stats) -> tuple[bytes, str]:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY

        registry = REGISTRY  # single process: the default registry already holds everything
        return generate_latest(registry) + _shop(read_stats), CONTENT_TYPE_LATEST
    registry.register(ShopCollector(read_stats))
    return generate_latest(registry), CONTENT_TYPE_LATEST


def _shop(read_stats) -> bytes:
    registry = CollectorRegistry()
    registry.register(ShopCollector(read_stats))
    return generate_latest(registry)
