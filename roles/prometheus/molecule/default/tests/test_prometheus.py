"""The prometheus role: healthy, private, data on a volume, targets up, rules loaded, config read-only."""

import time

import requests

URL = "http://127.0.0.1:39090"
NAME = "mol-prometheus-prometheus"


def test_container(host):
    c = host.docker(NAME).inspect()
    assert c["State"]["Health"]["Status"] == "healthy"
    assert c["HostConfig"]["PortBindings"] == {"9090/tcp": [{"HostIp": "127.0.0.1", "HostPort": "39090"}]}
    mounts = {m["Destination"]: m for m in c["Mounts"]}
    assert mounts["/prometheus"]["Type"] == "volume"
    assert mounts["/etc/prometheus"]["RW"] is False
    assert "--web.enable-lifecycle" in c["Args"]
    assert any(a.startswith("--storage.tsdb.retention.time=") for a in c["Args"])


def test_self_target_up():
    deadline = time.monotonic() + 60
    while True:
        targets = requests.get(f"{URL}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
        if targets and all(t["health"] == "up" for t in targets):
            break
        assert time.monotonic() < deadline, targets
        time.sleep(2)
    assert {t["labels"]["job"] for t in targets} == {"prometheus"}


def test_alert_rules_loaded():
    groups = requests.get(f"{URL}/api/v1/rules", timeout=5).json()["data"]["groups"]
    assert {"TargetDown", "ApiSlow", "MySQLDown", "HostDiskAlmostFull"} <= {
        r["name"] for g in groups for r in g["rules"]
    }


def test_not_reachable_on_other_addresses(host):
    for address in host.run("hostname -I").stdout.split():
        assert host.run(f"timeout 3 bash -c 'exec 3<>/dev/tcp/{address}/39090'").rc != 0
