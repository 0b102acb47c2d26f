"""The alertmanager role: healthy, private, accepts alerts through its API and shows them."""

import time

import requests

URL = "http://127.0.0.1:39093"


def test_container(host):
    c = host.docker("mol-alertmanager-alertmanager").inspect()
    assert c["State"]["Health"]["Status"] == "healthy"
    assert c["HostConfig"]["PortBindings"] == {"9093/tcp": [{"HostIp": "127.0.0.1", "HostPort": "39093"}]}
    assert {m["Destination"]: m["RW"] for m in c["Mounts"]}["/etc/alertmanager"] is False
    assert host.run("docker exec mol-alertmanager-alertmanager id -u").stdout.strip() == "65534"


def test_an_alert_posted_is_kept():
    alert = [
        {
            "labels": {"alertname": "MoleculeProbe", "severity": "info"},
            "annotations": {"summary": "posted by the molecule verifier"},
        }
    ]
    assert requests.post(f"{URL}/api/v2/alerts", json=alert, timeout=5).status_code == 200
    deadline = time.monotonic() + 20
    while True:
        names = {a["labels"]["alertname"] for a in requests.get(f"{URL}/api/v2/alerts", timeout=5).json()}
        if "MoleculeProbe" in names:
            break
        assert time.monotonic() < deadline, names
        time.sleep(1)
