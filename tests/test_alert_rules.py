"""`promtool test rules` on the prometheus role's rules (recording and alerting), rendered by
Ansible from the role's defaults: each alert fires on the fault it is for, and stays quiet
otherwise (simulated 500s included)."""

from __future__ import annotations

import sys
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
    ],
}


def render_rules(ansible_playbook, out: Path) -> dict:
    code, output = ansible_playbook(
        "tests/playbooks/render_rules.yml",
        *("-e", f"rules_out={out}", "-e", f"ansible_python_interpreter={sys.executable}"),
    )
    assert code == 0, output[-3000:]
    return yaml.safe_load(out.read_text())


def test_rules_render_from_the_role_variables(tmp_path, ansible_playbook):
    rules = render_rules(ansible_playbook, tmp_path / "rules.yml")
    recording, alerting = rules["groups"]
    assert "smartshop:http_errors:ratio_rate5m" in {r["record"] for r in recording["rules"]}
    by_name = {r["alert"]: r for r in alerting["rules"]}
    # Prometheus's own templating reaches Prometheus untouched; thresholds come from the variables
    assert by_name["TargetDown"]["annotations"]["summary"] == "{{ $labels.job }} target {{ $labels.instance }} is down"
    assert by_name["ApiHighErrorRatio"]["expr"] == "smartshop:http_errors:ratio_rate5m > 0.05"


@pytest.mark.needs_images
def test_alert_rules_fire_on_their_faults(tmp_path, promtool, ansible_playbook):
    render_rules(ansible_playbook, tmp_path / "smartshop.rules.yml")
    (tmp_path / "smartshop.rules.test.yml").write_text(yaml.safe_dump(TESTS, sort_keys=False))
    tmp_path.chmod(0o755)
    for f in tmp_path.iterdir():
        f.chmod(0o644)
    result = promtool(tmp_path, "/rules", "test", "rules", "smartshop.rules.test.yml", workdir="/rules")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr
