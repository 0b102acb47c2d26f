"""The prometheus role: healthy, private, data on a volume, targets up, rules loaded, config read-only."""

import os
import time
from pathlib import Path

import pytest
import requests

URL = "https://127.0.0.1:39090"
NAME = "mol-prometheus-prometheus"
SECRETS = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "secrets"
CA = str(SECRETS / "ca" / "ca.crt")
ADMIN = ("admin", (SECRETS / "instance" / "prometheus_admin_password").read_text().strip())


def get(path: str, **kwargs):
    return requests.get(f"{URL}{path}", auth=ADMIN, verify=CA, timeout=5, **kwargs)


def test_container(host):
    c = host.docker(NAME).inspect()
    assert c["State"]["Health"]["Status"] == "healthy"
    assert c["HostConfig"]["PortBindings"] == {"9090/tcp": [{"HostIp": "127.0.0.1", "HostPort": "39090"}]}
    mounts = {m["Destination"]: m for m in c["Mounts"]}
    assert mounts["/prometheus"]["Type"] == "volume"
    assert mounts["/etc/prometheus"]["RW"] is False
    assert "--web.enable-lifecycle" not in c["Args"]  # no one stops or reloads it over HTTP
    assert "--web.config.file=/etc/prometheus/secrets/web-config.yml" in c["Args"]
    assert any(a.startswith("--storage.tsdb.retention.time=") for a in c["Args"])


def test_self_target_up():
    deadline = time.monotonic() + 60
    while True:
        targets = get("/api/v1/targets").json()["data"]["activeTargets"]
        if targets and all(t["health"] == "up" for t in targets):
            break
        assert time.monotonic() < deadline, targets
        time.sleep(2)
    assert {t["labels"]["job"] for t in targets} == {"prometheus"}


def test_alert_rules_loaded():
    groups = get("/api/v1/rules").json()["data"]["groups"]
    assert {"TargetDown", "ApiSlow", "MySQLDown", "HostDiskAlmostFull"} <= {
        r["name"] for g in groups for r in g["rules"]
    }


def test_not_reachable_on_other_addresses(host):
    for address in host.run("hostname -I").stdout.split():
        assert host.run(f"timeout 3 bash -c 'exec 3<>/dev/tcp/{address}/39090'").rc != 0


@pytest.mark.parametrize("path", ["/api/v1/targets", "/-/ready", "/graph", "/metrics"])
def test_every_path_needs_the_admin_login(path):
    for auth in (None, ("admin", "wrong-password"), ("prometheus", "wrong-password")):
        assert requests.get(f"{URL}{path}", auth=auth, verify=CA, timeout=5).status_code == 401


def test_the_lifecycle_api_is_off():
    for path in ("/-/reload", "/-/quit"):
        assert requests.post(f"{URL}{path}", auth=ADMIN, verify=CA, timeout=5).status_code in (403, 404, 405)


def test_promtool_accepts_the_web_configuration(host):
    check = host.run(f"docker exec {NAME} promtool check web-config /etc/prometheus/secrets/web-config.yml")
    assert check.rc == 0, check.stdout + check.stderr
