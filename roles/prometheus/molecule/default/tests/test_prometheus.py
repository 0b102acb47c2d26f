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
    assert {t["labels"]["job"] for t in targets} == {"prometheus", "blackbox", "probe-tls"}


BLACKBOX = "mol-prometheus-blackbox-exporter"


def test_blackbox_probes_the_certificate_and_lends_its_probe_to_no_one(host):
    """Its /probe fetches any URL it is given: never published, and refused without the login."""
    c = host.docker(BLACKBOX).inspect()
    assert c["State"]["Health"]["Status"] == "healthy"
    assert not c["HostConfig"]["PortBindings"]
    assert host.check_output(f"docker exec {BLACKBOX} id -u") == "65534"
    anonymous = host.run(
        f"docker exec {BLACKBOX} wget -q -O /dev/null --ca-certificate=/etc/blackbox_exporter/secrets/ca.pem "
        "'https://127.0.0.1:9115/probe?module=http_2xx&target=http://127.0.0.1:9115/'"
    )
    assert anonymous.rc == 6, anonymous  # wget's code for an HTTP error: the 401
    deadline = time.monotonic() + 60
    while True:
        result = get("/api/v1/query", params={"query": 'probe_success{job="probe-tls"}'}).json()["data"]["result"]
        if result and result[0]["value"][1] == "1":
            break
        assert time.monotonic() < deadline, result
        time.sleep(2)
    assert result[0]["metric"]["instance"] == f"https://{NAME}:9090/metrics"
    days = get("/api/v1/query", params={"query": "(probe_ssl_earliest_cert_expiry - time()) / 86400"}).json()
    assert 390 < float(days["data"]["result"][0]["value"][1]) <= 397


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
