"""The Grafana provisioning, verified offline: dashboards match their code, validate against
Grafana's dashboard JSON schema (../shared/data/grafana, when present), name only the
provisioned datasource, and every expression is valid PromQL for the stack's promtool."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from urllib.parse import unquote

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import dashboards  # noqa: E402
import role_docs  # noqa: E402

FILES = ROOT / "roles" / "grafana" / "files" / "dashboards"
SCHEMA = ROOT.parent / "shared" / "data" / "grafana" / "dashboard.jsonschema.json"
DATASOURCE_UID = yaml.safe_load((ROOT / "roles" / "grafana" / "defaults" / "main.yml").read_text())[
    "grafana_datasource_uid"
]


def committed() -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted(FILES.glob("*.json"))}


def expressions() -> list[tuple[str, str, str]]:
    return [
        (name, panel["title"], target["expr"])
        for name, board in committed().items()
        for panel in board["panels"]
        for target in panel["targets"]
    ]


def test_the_starter_dashboards_exist():
    assert set(committed()) == {
        "smartshop-business.json",
        "smartshop-api.json",
        "smartshop-mysql.json",
        "smartshop-host.json",
        "smartshop-slo.json",
        "smartshop-probes.json",
    }


def test_committed_json_matches_the_code():
    rendered = dashboards.render()
    for name, text in rendered.items():
        assert (FILES / name).read_text() == text, f"{name} is stale: run python tools/dashboards.py"


@pytest.mark.skipif(not SCHEMA.exists(), reason=f"{SCHEMA} not present (outside the repository)")
@pytest.mark.parametrize("name", sorted(committed()))
def test_dashboard_validates_against_grafanas_schema(name):
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(committed()[name], schema)


@pytest.mark.parametrize("name", sorted(committed()))
def test_every_panel_uses_the_provisioned_datasource(name):
    board = committed()[name]
    assert board["uid"] and board["panels"]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": DATASOURCE_UID}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == DATASOURCE_UID
            assert target["expr"].strip()


@pytest.mark.parametrize("name", sorted(dashboards.DASHBOARDS))
def test_every_panel_has_a_unit_and_every_rate_its_grafana_interval(name):
    """A rate over a fixed window is wrong at some zoom and scrape interval: $__rate_interval is not."""
    board = committed()[f"smartshop-{name}.json"]
    for panel in board["panels"]:
        assert panel["fieldConfig"]["defaults"].get("unit"), f"{name} / {panel['title']}: no unit"
        for target in panel["targets"]:
            for window in re.findall(r"\b(?:rate|irate)\([^\[]*\[([^\]]+)\]", target["expr"]):
                assert window == "$__rate_interval", f"{name} / {panel['title']}: rate over [{window}]"


def test_datasource_provisioning_uses_the_same_uid():
    template = (ROOT / "roles" / "grafana" / "templates" / "datasource.yml.j2").read_text()
    assert "uid: {{ grafana_datasource_uid }}" in template


def test_expressions_use_only_metrics_the_stack_exposes():
    prefixes = ("smartshop_", "mysql_", "node_", "probe_")  # probe_*: blackbox_exporter's probes
    recorded = {rule["record"] for rule in prometheus_rules()[0] + slo_rules()["recording"]}
    for name, title, expr in expressions():
        words = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", expr))
        metrics = {w for w in words if w.startswith(prefixes) or w in recorded}
        assert metrics, f"{name} / {title}: no stack metric in {expr}"
        unknown = {w for w in words if ":" in w} - recorded
        assert not unknown, f"{name} / {title}: {unknown} is no recording rule of the prometheus role"


@pytest.mark.needs_images
def test_every_expression_is_valid_promql(tmp_path, promtool):
    """promtool (from the stack's Prometheus image) checks each expression as a recording rule."""
    rules = {
        "groups": [
            {
                "name": "dashboards",
                "rules": [
                    {"record": f"dashboard:check:{i}", "expr": expr.replace("$__rate_interval", "1m")}
                    for i, (_, _, expr) in enumerate(expressions())
                ],
            }
        ]
    }
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(rules))
    path.chmod(0o644)
    target = "/etc/prometheus/dashboard-rules.yml"
    result = promtool(path, target, "check", "rules", target)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(expressions())} rules found" in result.stdout + result.stderr


def prometheus_rules() -> tuple[list[dict], list[dict]]:
    defaults = role_docs.defaults("prometheus")
    return defaults["prometheus_recording_rules"], defaults["prometheus_alert_rules"]


def slo_rules() -> dict:
    """What the filter smartshop.stack.slo_rules makes of the role's SLO spec."""
    sys.path.insert(0, str(ROOT / "tests"))
    from stack_collection import plugin

    defaults = role_docs.defaults("prometheus")
    slo = plugin("filter", "slo").slo_rules
    return slo(defaults["prometheus_slos"], defaults["prometheus_slo_tiers"], defaults["prometheus_slo_min_rate"])


def console_chart_queries() -> dict[str, str]:
    """The console's live charts: chart name -> the fixed query its nginx sends to Prometheus."""
    template = (ROOT / "app" / "frontend" / "nginx.conf.template").read_text()
    return {name: unquote(query) for name, query in re.findall(r'^\s*/charts/(\w+) "([^"]+)";$', template, re.M)}


def test_each_recorded_series_is_read_by_a_panel_and_an_alert_or_a_console_chart():
    """An alert and the panel that shows its signal read one series, computed once; so does the
    console's chart of it (for the orders chart, the chart is why the series is recorded)."""
    recording, alerts = prometheus_rules()
    panels = [expr for _, _, expr in expressions()]
    charts = list(console_chart_queries().values())
    for rule in recording:
        name = rule["record"]
        readers = [a["expr"] for a in alerts] + charts
        assert any(re.search(rf"\b{re.escape(name)}\b", r) for r in readers), f"no alert nor chart reads {name}"
        assert any(re.search(rf"{re.escape(name)}(?![\w:])", p) for p in panels), f"no panel reads {name}"


def test_the_console_charts_read_recording_rules_only():
    """Each of the four charts is one recording rule over 30 minutes (the same series as the alerts)."""
    recorded = {rule["record"] for rule in prometheus_rules()[0]}
    queries = console_chart_queries()
    assert set(queries) == {"orders", "payments", "errors", "latency"}
    for name, query in queries.items():
        words = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", re.sub(r"\[[^]]*\]", "", query)))
        assert {w for w in words if ":" in w} <= recorded and words & recorded, (name, query)
        assert "[30m" in query, (name, query)


def test_alerts_compute_no_ratio_or_quantile_of_their_own():
    _, alerts = prometheus_rules()
    for alert in alerts:
        assert not re.search(r"\brate\(|histogram_quantile|\s/\s", alert["expr"]), (
            f"{alert['alert']}: put the ratio or quantile in prometheus_recording_rules"
        )
