"""`promtool test rules` on the prometheus role's rules (recording and alerting), rendered by
Ansible from the role's defaults: each alert fires on the fault it is for, and stays quiet
otherwise (simulated 500s included)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

TESTS = {
    "rule_files": ["smartshop.rules.yml"],
    "evaluation_interval": "15s",
    "tests": [
        {  # a target down for 2 minutes
            "interval": "15s",
            "input_series": [
                {"series": 'up{job="mysqld", instance="mysqld-exporter:9104"}', "values": "1 1 0x12"},
                {"series": 'up{job="node", instance="node-exporter:9100"}', "values": "1x14"},
            ],
            "alert_rule_test": [
                {
                    "eval_time": "3m",
                    "alertname": "TargetDown",
                    "exp_alerts": [
                        {
                            "exp_labels": {"severity": "critical", "job": "mysqld", "instance": "mysqld-exporter:9104"},
                            "exp_annotations": {"summary": "mysqld target mysqld-exporter:9104 is down"},
                        }
                    ],
                },
            ],
        },
        {  # 10 % real 5xx fires; simulated 500s alone do not
            "interval": "15s",
            "input_series": [
                {"series": 'smartshop_http_requests_total{route="/api/stats", status="200"}', "values": "0+90x40"},
                {
                    "series": 'smartshop_http_requests_total{route="/api/orders/create", status="503"}',
                    "values": "0+10x40",
                },
                {"series": 'smartshop_http_requests_total{route="/api/errors/500", status="500"}', "values": "0+50x40"},
            ],
            "alert_rule_test": [
                {
                    "eval_time": "9m",
                    "alertname": "ApiHighErrorRatio",
                    "exp_alerts": [
                        {
                            "exp_labels": {"severity": "warning"},
                            "exp_annotations": {
                                "summary": "More than 5.0 % of API requests fail (simulated 500s excluded)"
                            },
                        }
                    ],
                },
            ],
        },
        {
            "interval": "15s",
            "input_series": [
                {"series": 'smartshop_http_requests_total{route="/api/stats", status="200"}', "values": "0+90x40"},
                {"series": 'smartshop_http_requests_total{route="/api/errors/500", status="500"}', "values": "0+50x40"},
            ],
            "alert_rule_test": [{"eval_time": "9m", "alertname": "ApiHighErrorRatio", "exp_alerts": []}],
        },
        {  # half the payments failing for 20 minutes
            "interval": "1m",
            "input_series": [
                {"series": 'smartshop_payments_total{result="success"}', "values": "0+5x30"},
                {"series": 'smartshop_payments_total{result="failed"}', "values": "0+5x30"},
                {"series": "mysql_up", "values": "1x30"},
                {"series": "smartshop_database_up", "values": "1x30"},
            ],
            "alert_rule_test": [
                {
                    "eval_time": "25m",
                    "alertname": "PaymentFailureRatioHigh",
                    "exp_alerts": [
                        {
                            "exp_labels": {"severity": "warning"},
                            "exp_annotations": {"summary": "More than 40.0 % of payments fail"},
                        }
                    ],
                },
                {"eval_time": "25m", "alertname": "MySQLDown", "exp_alerts": []},
                {"eval_time": "25m", "alertname": "ApiDatabaseUnreachable", "exp_alerts": []},
            ],
        },
        {  # the database down: both the exporter's view and the API's
            "interval": "15s",
            "input_series": [
                {"series": "mysql_up", "values": "1 0x10"},
                {"series": 'smartshop_database_up{instance="backend-1:8000"}', "values": "1 0x10"},
            ],
            "alert_rule_test": [
                {
                    "eval_time": "2m",
                    "alertname": "MySQLDown",
                    "exp_alerts": [
                        {
                            "exp_labels": {"severity": "critical"},
                            "exp_annotations": {"summary": "mysqld_exporter cannot reach MariaDB"},
                        }
                    ],
                },
                {
                    "eval_time": "2m",
                    "alertname": "ApiDatabaseUnreachable",
                    "exp_alerts": [
                        {
                            "exp_labels": {"severity": "critical"},
                            "exp_annotations": {"summary": "The API cannot reach its database"},
                        }
                    ],
                },
            ],
        },
        {  # 170 of MariaDB's 200 connections held for 6 minutes warns; 150 held, or 190 for 3 minutes, does not
            "interval": "1m",
            "input_series": [
                {"series": 'mysql_global_status_threads_connected{instance="db1"}', "values": "20 170x10"},
                {"series": 'mysql_global_variables_max_connections{instance="db1"}', "values": "200x10"},
                {"series": 'mysql_global_status_threads_connected{instance="db2"}', "values": "20 150x10"},
                {"series": 'mysql_global_variables_max_connections{instance="db2"}', "values": "200x10"},
                {"series": 'mysql_global_status_threads_connected{instance="db3"}', "values": "20 190x2 20x8"},
                {"series": 'mysql_global_variables_max_connections{instance="db3"}', "values": "200x10"},
            ],
            "alert_rule_test": [
                {"eval_time": "4m", "alertname": "MySQLConnectionsNearLimit", "exp_alerts": []},
                {
                    "eval_time": "7m",
                    "alertname": "MySQLConnectionsNearLimit",
                    "exp_alerts": [
                        {
                            "exp_labels": {"severity": "warning", "instance": "db1"},
                            "exp_annotations": {"summary": "MariaDB holds 85% of its max_connections"},
                        }
                    ],
                },
            ],
        },
        {  # the API's health probe failing for 3 minutes pages; a single failed probe does not
            "interval": "15s",
            "input_series": [
                {
                    "series": 'probe_success{job="probe-api", instance="http://smartshop-frontend:8000/api/health"}',
                    "values": "1 1 0x12",
                },
                {
                    "series": 'probe_success{job="probe-console", instance="http://smartshop-frontend:3000/healthz"}',
                    "values": "1 0 1x12",
                },
            ],
            "alert_rule_test": [
                {
                    "eval_time": "3m",
                    "alertname": "ProbeFailed",
                    "exp_alerts": [
                        {
                            "exp_labels": {
                                "severity": "critical",
                                "job": "probe-api",
                                "instance": "http://smartshop-frontend:8000/api/health",
                            },
                            "exp_annotations": {
                                "summary": "probe-api: http://smartshop-frontend:8000/api/health fails its probe",
                                "description": "Users reaching it have got an error or nothing for 2m or more.",
                            },
                        }
                    ],
                },
            ],
        },
        {  # a certificate with 10 days left fires after an hour; one with 100 days left does not
            "interval": "5m",
            "input_series": [
                {
                    "series": 'probe_ssl_earliest_cert_expiry{instance="https://prometheus:9090/metrics"}',
                    "values": "864000x30",
                },
                {
                    "series": 'probe_ssl_earliest_cert_expiry{instance="https://alertmanager:9093/metrics"}',
                    "values": "8640000x30",
                },
            ],
            "alert_rule_test": [
                {"eval_time": "50m", "alertname": "CertificateExpiring", "exp_alerts": []},
                {
                    "eval_time": "2h",
                    "alertname": "CertificateExpiring",
                    "exp_alerts": [
                        {
                            "exp_labels": {"severity": "warning", "instance": "https://prometheus:9090/metrics"},
                            "exp_annotations": {
                                "summary": "The certificate of https://prometheus:9090/metrics expires in 9d 22h 0m 0s",
                                "description": (
                                    "Less than 21 days left: reissue it (docs/runbooks/CertificateExpiring.md)."
                                ),
                            },
                        }
                    ],
                },
            ],
        },
    ],
}


def render_rules(ansible_playbook, out: Path) -> dict:
    code, output = ansible_playbook(
        "tests/playbooks/render_rules.yml",
        "-e",
        json.dumps({"rules_out": str(out)}),
    )
    assert code == 0, output[-3000:]
    return yaml.safe_load(out.read_text())


def test_rules_render_from_the_role_variables(tmp_path, ansible_playbook):
    rules = render_rules(ansible_playbook, tmp_path / "rules.yml")
    recording, _, alerting = rules["groups"]
    assert "smartshop:http_errors:ratio_rate5m" in {r["record"] for r in recording["rules"]}
    by_name = {r["alert"]: r for r in alerting["rules"]}
    # Prometheus's own templating reaches Prometheus untouched; thresholds come from the variables
    assert by_name["TargetDown"]["annotations"]["summary"] == "{{ $labels.job }} target {{ $labels.instance }} is down"
    assert by_name["ApiHighErrorRatio"]["expr"] == "smartshop:http_errors:ratio_rate5m > 0.05"


@pytest.mark.needs_images
def test_alert_rules_fire_on_their_faults(tmp_path, promtool, ansible_playbook):
    render_rules(ansible_playbook, tmp_path / "smartshop.rules.yml")
    tests = copy.deepcopy(TESTS)
    for case in tests["tests"]:  # every alert carries its runbook's address
        for check in case["alert_rule_test"]:
            for alert in check["exp_alerts"]:
                alert["exp_annotations"]["runbook_url"] = f"http://localhost:3000/runbooks/{check['alertname']}.md"
    run_rule_tests(promtool, tmp_path, tests)


BACKUP_TESTS = {  # hours of series: evaluated every 5 minutes (promtool evaluates every rule each step)
    "rule_files": ["smartshop.rules.yml"],
    "evaluation_interval": "5m",
    "tests": [
        {  # one backup at 0, none after: quiet 25 h later, firing from 26 h + 15 min
            "interval": "5m",
            "input_series": [
                {"series": 'smartshop_backup_last_success_timestamp_seconds{project="smartshop"}', "values": "0x400"},
            ],
            "alert_rule_test": [
                {"eval_time": "25h", "alertname": "BackupStale", "exp_alerts": []},
                {
                    "eval_time": "27h",
                    "alertname": "BackupStale",
                    "exp_alerts": [
                        {
                            "exp_labels": {"severity": "warning", "project": "smartshop"},
                            "exp_annotations": {
                                "summary": "The last backup of smartshop is 1d 3h 0m 0s old",
                                "description": "No backup for more than 26 h: run make backup, "
                                "and see why the scheduled one did not.",
                            },
                        }
                    ],
                },
            ],
        },
        {  # a new backup every 12 h never lets it fire
            "interval": "5m",
            "input_series": [
                {
                    "series": 'smartshop_backup_last_success_timestamp_seconds{project="smartshop"}',
                    "values": " ".join(f"{12 * 3600 * half_day}x143" for half_day in range(8)),
                },
            ],
            "alert_rule_test": [{"eval_time": "95h", "alertname": "BackupStale", "exp_alerts": []}],
        },
    ],
}


@pytest.mark.needs_images
def test_backup_stale_fires_after_a_day_without_a_backup_only(tmp_path, promtool, ansible_playbook):
    render_rules(ansible_playbook, tmp_path / "smartshop.rules.yml")
    tests = copy.deepcopy(BACKUP_TESTS)
    for case in tests["tests"]:
        for check in case["alert_rule_test"]:
            for alert in check["exp_alerts"]:
                alert["exp_annotations"]["runbook_url"] = "http://localhost:3000/runbooks/BackupStale.md"
    run_rule_tests(promtool, tmp_path, tests)


ARCHIVE = 'project="smartshop", instance="mon1:9100"'


def _archive_case(name, behind, updated, gap, at, fired):
    return pytest.param(behind, updated, gap, at, fired, id=name)


ARCHIVE_CASES = [
    # keeping up, a blip behind now and then: quiet
    _archive_case("keeping up", "0 0 1200 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0", None, "0x40", "14m", []),
    # the server did not answer it for 11 minutes (-1): behind
    _archive_case("server unreachable", "-1x40", None, "0x40", "11m", ["BinlogArchiveBehind"]),
    # 9 minutes behind only: still pending
    _archive_case("nine minutes behind", "0 0 " + "800 " * 18 + "0x10", None, "0x40", "9m30s", []),
    # its container stopped: the figures stop changing, node_exporter serves the last ones
    _archive_case("container stopped", "0x40", "0x40", "0x40", "14m", ["BinlogArchiveBehind"]),
    # logs expired before it copied them
    _archive_case("gap", "0x40", None, "1x40", "1m", ["BinlogArchiveGap"]),
]


@pytest.mark.needs_images
@pytest.mark.parametrize(("behind", "updated", "gap", "at", "fired"), ARCHIVE_CASES)
def test_the_archive_alerts_fire_when_it_falls_behind_stops_or_finds_a_gap(
    behind, updated, gap, at, fired, tmp_path, promtool, ansible_playbook
):
    rules = render_rules(ansible_playbook, tmp_path / "smartshop.rules.yml")
    annotations = {  # as Prometheus fills them in for these labels
        r["alert"]: {
            "summary": r["annotations"]["summary"]
            .replace("{{ $labels.project }}", "smartshop")
            .replace("{{ $labels.instance }}", "mon1:9100"),
            "description": r["annotations"]["description"],
            "runbook_url": f"http://localhost:3000/runbooks/{r['alert']}.md",
        }
        for group in rules["groups"]
        for r in group["rules"]
        if r.get("alert", "").startswith("BinlogArchive")
    }
    # the figures' time, as the archive writes them (sampled every 30 s): fresh at each sample
    fresh = " ".join(str(30 * i) for i in range(41))
    series = [
        {"series": f"smartshop_binlog_archive_behind_bytes{{{ARCHIVE}}}", "values": behind},
        {"series": f"smartshop_binlog_archive_updated_timestamp_seconds{{{ARCHIVE}}}", "values": updated or fresh},
        {"series": f"smartshop_binlog_archive_gap{{{ARCHIVE}}}", "values": gap},
    ]
    checks = [
        {
            "eval_time": at,
            "alertname": alert,
            "exp_alerts": [{"exp_labels": {"severity": "warning", "project": "smartshop", "instance": "mon1:9100"}}]
            if alert in fired
            else [],
        }
        for alert in ("BinlogArchiveBehind", "BinlogArchiveGap")
    ]
    tests = {
        "rule_files": ["smartshop.rules.yml"],
        "evaluation_interval": "30s",
        "tests": [{"interval": "30s", "input_series": series, "alert_rule_test": checks}],
    }
    for check in checks:
        for alert in check["exp_alerts"]:
            alert["exp_annotations"] = annotations[check["alertname"]]
    run_rule_tests(promtool, tmp_path, tests)


def run_rule_tests(promtool, folder: Path, tests: dict) -> None:
    """promtool test rules on `tests`, beside the rendered rule file in `folder`."""
    (folder / "rules.test.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    folder.chmod(0o755)
    for f in folder.iterdir():
        f.chmod(0o644)
    result = promtool(folder, "/rules", "test", "rules", "rules.test.yml", workdir="/rules")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


RUNBOOKS = Path(__file__).resolve().parent.parent / "docs" / "runbooks"


def test_every_alert_links_its_runbook_and_every_runbook_its_alert(tmp_path, ansible_playbook):
    """Each alert's runbook_url is <base>/<alert>.md, and docs/runbooks has that page with what it
    means, the first checks and the fixes; no page is left for an alert that is gone."""
    rules = render_rules(ansible_playbook, tmp_path / "rules.yml")
    alerts = {r["alert"]: r for group in rules["groups"] for r in group["rules"] if "alert" in r}
    assert {"Watchdog", "ApiAvailabilityBudgetBurn", "ApiLatencyBudgetBurn", "TargetDown"} <= set(alerts)
    for name, rule in alerts.items():
        assert rule["annotations"]["runbook_url"] == f"http://localhost:3000/runbooks/{name}.md", name
        page = RUNBOOKS / f"{name}.md"
        assert page.is_file(), f"alert {name} has no runbook docs/runbooks/{name}.md"
        text = page.read_text()
        assert text.startswith(f"# {name}\n"), name
        for section in ("**Means.**", "**First checks", "**Fixes"):
            assert section in text, (name, section)
        assert "```sh" in text, f"{name}: the first checks give the commands"
    pages = {p.stem for p in RUNBOOKS.glob("*.md")} - {"README"}
    assert pages == set(alerts), f"pages without an alert: {pages - set(alerts)}"


def _slo_case(name: str, series: dict[str, str], eval_time: str, alert: str, tiers: list[int]):
    return name, series, eval_time, alert, tiers


# (case, input series at 1m, when, which alert, the tiers expected firing then)
SLO_CASES = [
    # 10 % of requests fail at 1 req/s: the budget (0.5 %) burns 20x: the 14.4x page fires after its
    # 2 minutes; the 6x page (15 minutes) and the tickets wait
    _slo_case(
        "fast burn",
        {'status="200"': "0+54x60", 'status="503"': "0+6x60"},
        "10m",
        "ApiAvailabilityBudgetBurn",
        [1],
    ),
    # an hour on, the 6x page fires too (Alertmanager holds it back while the 14.4x one fires); the
    # 1d ticket waits for a day's window to average the guard's 3 requests a minute (72 minutes in)
    _slo_case(
        "fast burn, an hour on",
        {'status="200"': "0+54x90", 'status="503"': "0+6x90"},
        "80m",
        "ApiAvailabilityBudgetBurn",
        [1, 2],
    ),
    # 0.75 % fail: 1.5x, only the 1x ticket fires, after its 3 hours (pending from 32 minutes in, when
    # the 3-day window's average passes the guard)
    _slo_case(
        "slow burn",
        {'status="200"': "0+397x240", 'status="503"': "0+3x240"},
        "4h",
        "ApiAvailabilityBudgetBurn",
        [4],
    ),
    # 0.3 % fail: within the budget, nothing for 4 hours
    _slo_case(
        "within budget",
        {'status="200"': "0+997x240", 'status="503"': "0+3x240"},
        "4h",
        "ApiAvailabilityBudgetBurn",
        [],
    ),
    # every request fails, but one every two minutes: below the traffic guard, nothing
    _slo_case("too few requests", {'status="503"': "0+0.5x90"}, "80m", "ApiAvailabilityBudgetBurn", []),
    # the simulated 500s of /api/errors/500 are not failures of the service
    _slo_case(
        "simulated errors",
        {'status="200"': "0+54x60", 'status="500", route="/api/errors/500"': "0+30x60"},
        "30m",
        "ApiAvailabilityBudgetBurn",
        [],
    ),
    # 20 % slower than 250 ms: the latency SLO (99 %) burns 20x
    _slo_case(
        "slow requests",
        {"latency": "0+60x60", "fast": "0+48x60"},
        "10m",
        "ApiLatencyBudgetBurn",
        [1],
    ),
]


def _slo_test(rules: dict, case) -> dict:
    name, series, eval_time, alert, tiers = case
    inputs = []
    for labels, values in series.items():
        if labels == "latency":
            inputs.append({"series": "smartshop_http_request_duration_seconds_count", "values": values})
        elif labels == "fast":
            inputs.append({"series": 'smartshop_http_request_duration_seconds_bucket{le="0.25"}', "values": values})
        else:
            route = "" if "route=" in labels else 'route="/api/orders/create", '
            inputs.append({"series": f"smartshop_http_requests_total{{{route}{labels}}}", "values": values})
    by_tier = {r["labels"]["tier"]: r for g in rules["groups"] for r in g["rules"] if r.get("alert") == alert}
    expected = []
    for tier in tiers:
        rule = by_tier[str(tier)]
        ratio = {"ApiAvailabilityBudgetBurn": 6 / 60, "ApiLatencyBudgetBurn": 12 / 60}[alert]
        if name == "slow burn":
            ratio = 3 / 400
        value = f"{ratio * 100:.4g}%"
        annotations = {k: v.replace("{{ $value | humanizePercentage }}", value) for k, v in rule["annotations"].items()}
        expected.append({"exp_labels": rule["labels"], "exp_annotations": annotations})
    return {
        "interval": "1m",
        "input_series": inputs,
        "alert_rule_test": [{"eval_time": eval_time, "alertname": alert, "exp_alerts": expected}],
    }


def test_slo_rules_are_made_from_the_spec(tmp_path, ansible_playbook):
    rules = render_rules(ansible_playbook, tmp_path / "rules.yml")
    slo = next(g for g in rules["groups"] if g["name"] == "smartshop-slo")
    records = {r["record"] for r in slo["rules"]}
    for window in ("5m", "30m", "1h", "2h", "6h", "1d", "3d"):
        assert f"slo:api_availability:error_ratio_rate{window}" in records
        assert f"slo:api_latency:error_ratio_rate{window}" in records
    burn = [r for g in rules["groups"] for r in g["rules"] if r.get("alert") == "ApiAvailabilityBudgetBurn"]
    assert [(r["labels"]["severity"], r["labels"]["long_window"], r["for"]) for r in burn] == [
        ("page", "1h", "2m"),
        ("page", "6h", "15m"),
        ("ticket", "1d", "1h"),
        ("ticket", "3d", "3h"),
    ]
    # 14.4 x the 0.5 % budget, on both windows, with the traffic guard
    assert burn[0]["expr"] == (
        "slo:api_availability:error_ratio_rate1h > 0.072 and slo:api_availability:error_ratio_rate5m > 0.072"
        " and on() slo:api_availability:events_rate1h > 0.05"
    )


@pytest.mark.needs_images
def test_slo_burn_rate_tiers_fire_and_stay_quiet(tmp_path, promtool, ansible_playbook):
    rules = render_rules(ansible_playbook, tmp_path / "smartshop.rules.yml")
    tests = {
        "rule_files": ["smartshop.rules.yml"],
        "evaluation_interval": "1m",
        "tests": [_slo_test(rules, case) for case in SLO_CASES],
    }
    run_rule_tests(promtool, tmp_path, tests)
