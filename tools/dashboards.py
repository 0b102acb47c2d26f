"""The starter Grafana dashboards, as code. `python tools/dashboards.py` writes them to
roles/grafana/files/dashboards/*.json (committed); a test checks the files match this code.

Every panel uses the provisioned Prometheus datasource (fixed uid), a unit, `$__rate_interval` in
every rate (Grafana sizes it to the scrape interval and the zoom), and only metrics the stack
exposes: the API's (smartshop_*), mysqld_exporter's (mysql_*), node_exporter's (node_*),
blackbox_exporter's (probe_*), and the prometheus role's recording rules (smartshop:*, node:*)
where an alert judges the same ratio or quantile, so that a panel shows exactly the series its
alert reads."""

from __future__ import annotations

import json
import sys
from pathlib import Path

DATASOURCE = {"type": "prometheus", "uid": "smartshop-prometheus"}
OUT = Path(__file__).resolve().parent.parent / "roles" / "grafana" / "files" / "dashboards"


def panel(
    pid: int,
    title: str,
    targets: list[tuple[str, str]],
    x: int,
    y: int,
    kind: str = "timeseries",
    unit: str = "short",
    w: int = 12,
    h: int = 8,
) -> dict:
    return {
        "id": pid,
        "type": kind,
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def dashboard(uid: str, title: str, panels: list[dict], tags: list[str]) -> dict:
    return {
        "uid": uid,
        "title": title,
        "tags": ["smartshop", *tags],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "refresh": "10s",
        "time": {"from": "now-30m", "to": "now"},
        "panels": panels,
        "templating": {"list": []},
        "annotations": {"list": []},
    }


def business() -> dict:
    return dashboard(
        "smartshop-business",
        "SmartShop — business KPIs",
        [
            panel(
                1,
                "Orders per minute",
                [("smartshop:orders_created:per_minute_rate5m", "orders/min")],
                0,
                0,
                unit="short",
            ),
            panel(
                2,
                "Revenue per minute",
                [("sum(rate(smartshop_revenue_euros_total[$__rate_interval])) * 60", "€/min")],
                12,
                0,
                unit="currencyEUR",
            ),
            panel(
                3,
                "Payment failure ratio (10 min, PaymentFailureRatioHigh)",
                [("smartshop:payments_failed:ratio_rate10m", "failure ratio")],
                0,
                8,
                kind="stat",
                unit="percentunit",
                w=6,
            ),
            panel(4, "Users", [("max(smartshop_shop_users)", "users")], 6, 8, kind="stat", w=6),
            panel(
                5,
                "Users active today",
                [("max(smartshop_shop_active_users_today)", "active today")],
                12,
                8,
                kind="stat",
                w=6,
            ),
            panel(
                6,
                "Payments per minute by result",
                [("sum by (result) (rate(smartshop_payments_total[$__rate_interval])) * 60", "{{result}}")],
                18,
                8,
                w=6,
            ),
            panel(7, "Orders by status", [("max by (status) (smartshop_shop_orders)", "{{status}}")], 0, 16, w=24),
        ],
        ["business"],
    )


def api() -> dict:
    return dashboard(
        "smartshop-api",
        "SmartShop — API (rate, errors, duration)",
        [
            panel(
                1,
                "Requests per second by route",
                [("sum by (route) (rate(smartshop_http_requests_total[$__rate_interval]))", "{{route}}")],
                0,
                0,
                unit="reqps",
            ),
            panel(
                2,
                "Error ratio (5xx, simulated 500s excluded; ApiHighErrorRatio)",
                [("smartshop:http_errors:ratio_rate5m", "5xx ratio")],
                12,
                0,
                unit="percentunit",
            ),
            panel(
                3,
                "p95 latency (all routes: ApiSlow; and by route)",
                [
                    ("smartshop:http_request_duration_seconds:p95_rate5m", "all routes"),
                    (
                        "histogram_quantile(0.95, sum by (le, route)"
                        " (rate(smartshop_http_request_duration_seconds_bucket[$__rate_interval])))",
                        "{{route}}",
                    ),
                ],
                0,
                8,
                unit="s",
            ),
            panel(
                4,
                "Responses by status",
                [("sum by (status) (rate(smartshop_http_requests_total[$__rate_interval]))", "{{status}}")],
                12,
                8,
                unit="reqps",
            ),
            panel(
                5,
                "Database errors per second",
                [("sum(rate(smartshop_db_errors_total[$__rate_interval]))", "errors/s")],
                0,
                16,
                unit="short",
            ),
            panel(
                6, "Replicas reaching the database", [("sum(smartshop_database_up)", "replicas")], 12, 16, kind="stat"
            ),
        ],
        ["api"],
    )


def mysql() -> dict:
    return dashboard(
        "smartshop-mysql",
        "SmartShop — MySQL",
        [
            panel(1, "MySQL up", [("mysql_up", "up")], 0, 0, kind="stat", w=6),
            panel(2, "Uptime", [("mysql_global_status_uptime", "uptime")], 6, 0, kind="stat", unit="s", w=6),
            panel(3, "Threads connected", [("mysql_global_status_threads_connected", "connected")], 12, 0, w=6),
            panel(
                8,
                "Connections used (MySQLConnectionsNearLimit past 80 %)",
                [("mysql:connections:ratio", "of max_connections")],
                18,
                0,
                unit="percentunit",
                w=6,
            ),
            panel(
                4,
                "Queries per second",
                [("rate(mysql_global_status_queries[$__rate_interval])", "queries/s")],
                0,
                8,
                unit="qps",
            ),
            panel(
                5,
                "Statements per second by command",
                [
                    (
                        "sum by (command) (rate(mysql_global_status_commands_total"
                        '{command=~"select|insert|update|delete"}[$__rate_interval]))',
                        "{{command}}",
                    )
                ],
                12,
                8,
                unit="ops",
            ),
            panel(6, "Slow queries", [("rate(mysql_global_status_slow_queries[$__rate_interval])", "slow/s")], 0, 16),
            panel(
                7,
                "Buffer pool data",
                [("mysql_global_status_innodb_buffer_pool_bytes_data", "bytes")],
                12,
                16,
                unit="bytes",
            ),
        ],
        ["mysql"],
    )


def host() -> dict:
    return dashboard(
        "smartshop-host",
        "SmartShop — host",
        [
            panel(
                1,
                "CPU busy",
                [('1 - avg(rate(node_cpu_seconds_total{mode="idle"}[$__rate_interval]))', "busy")],
                0,
                0,
                unit="percentunit",
            ),
            panel(
                2,
                "Memory used",
                [("1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes", "used")],
                12,
                0,
                unit="percentunit",
            ),
            panel(3, "Load", [("node_load1", "1 min"), ("node_load5", "5 min")], 0, 8),
            panel(
                4,
                "Root filesystem free",
                [('node:filesystem_avail:ratio{mountpoint="/"}', "free")],
                12,
                8,
                unit="percentunit",
            ),
            panel(
                5,
                "Network received",
                [("sum(rate(node_network_receive_bytes_total[$__rate_interval]))", "received")],
                0,
                16,
                unit="Bps",
            ),
            panel(
                6,
                "Disk written",
                [("sum(rate(node_disk_written_bytes_total[$__rate_interval]))", "written")],
                12,
                16,
                unit="Bps",
            ),
        ],
        ["host"],
    )


def slo() -> dict:
    """The API's service-level objectives (prometheus_slos): the budget left over 30 days and the
    error ratio over the windows the burn-rate alerts judge."""
    panels = []
    for row, (name, title) in enumerate((("api_availability", "Availability"), ("api_latency", "Latency (250 ms)"))):
        metric = f"slo:{name}"
        panels.append(
            panel(
                2 * row + 1,
                f"{title}: error budget left (30 d)",
                [(f"{metric}:error_budget_remaining", "budget left")],
                0,
                8 * row,
                kind="stat",
                unit="percentunit",
                w=8,
            )
        )
        panels.append(
            panel(
                2 * row + 2,
                f"{title}: failing share over the alerts' windows",
                [(f"{metric}:error_ratio_rate{window}", window) for window in ("5m", "1h", "6h", "1d", "3d")],
                8,
                8 * row,
                unit="percentunit",
                w=16,
            )
        )
    return dashboard("smartshop-slo", "SmartShop — SLOs (error budgets)", panels, ["slo"])


def probes() -> dict:
    """blackbox_exporter's probes (the prometheus role's probe-* jobs): the stack as users reach it,
    and how long each HTTPS certificate has left (ProbeFailed, CertificateExpiring)."""
    return dashboard(
        "smartshop-probes",
        "SmartShop — probes (as users reach it)",
        [
            panel(
                1,
                "Probes failing",
                [("count(probe_success == 0) or vector(0)", "failing")],
                0,
                0,
                kind="stat",
                w=6,
            ),
            panel(
                2,
                "Probe success",
                [("probe_success", "{{job}} {{instance}}")],
                6,
                0,
                unit="bool_yes_no",
                w=18,
            ),
            panel(
                3,
                "Probe duration",
                [("probe_duration_seconds", "{{instance}}")],
                0,
                8,
                unit="s",
            ),
            panel(
                4,
                "Certificate validity left",
                [("probe_ssl_earliest_cert_expiry - time()", "{{instance}}")],
                12,
                8,
                unit="s",
            ),
        ],
        ["probes"],
    )


DASHBOARDS = {"business": business, "api": api, "mysql": mysql, "host": host, "slo": slo, "probes": probes}


def render() -> dict[str, str]:
    return {
        f"smartshop-{name}.json": json.dumps(build(), indent=2, ensure_ascii=False) + "\n"
        for name, build in DASHBOARDS.items()
    }


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in render().items():
        (OUT / name).write_text(text, encoding="utf-8")
        print(f"wrote {OUT / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
