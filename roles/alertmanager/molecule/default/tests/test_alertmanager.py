"""The alertmanager role: healthy, private, accepts alerts through its API and shows them."""

import os
import time
from pathlib import Path

import requests

URL = "https://127.0.0.1:39093"
SECRETS = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "secrets"
CA = str(SECRETS / "ca" / "ca.crt")
ADMIN = ("admin", (SECRETS / "instance" / "alertmanager_admin_password").read_text().strip())


def test_container(host):
    c = host.docker("mol-alertmanager-alertmanager").inspect()
    assert c["State"]["Health"]["Status"] == "healthy"
    assert c["HostConfig"]["PortBindings"] == {"9093/tcp": [{"HostIp": "127.0.0.1", "HostPort": "39093"}]}
    assert {m["Destination"]: m["RW"] for m in c["Mounts"]}["/etc/alertmanager"] is False
    assert host.run("docker exec mol-alertmanager-alertmanager id -u").stdout.strip() == "65534"
    assert "--cluster.listen-address=" in c["Args"]  # one instance: no gossip port
    sockets = host.run("docker exec mol-alertmanager-alertmanager cat /proc/net/tcp /proc/net/tcp6").stdout
    assert ":2386 " not in sockets  # 9094, the cluster port, is not even open


def test_nobody_silences_or_reads_alerts_without_the_login():
    silence = {"matchers": [{"name": "alertname", "value": ".*", "isRegex": True}], "startsAt": "2026-01-01T00:00:00Z",
               "endsAt": "2099-01-01T00:00:00Z", "createdBy": "intruder", "comment": "mute everything"}  # fmt: skip
    for auth in (None, ("admin", "wrong-password")):
        assert requests.post(f"{URL}/api/v2/silences", json=silence, auth=auth, verify=CA, timeout=5).status_code == 401
        assert requests.get(f"{URL}/api/v2/alerts", auth=auth, verify=CA, timeout=5).status_code == 401
    assert requests.get(f"{URL}/api/v2/silences", auth=ADMIN, verify=CA, timeout=5).json() == []


def test_an_alert_posted_is_kept():
    alert = [
        {
            "labels": {"alertname": "MoleculeProbe", "severity": "info"},
            "annotations": {"summary": "posted by the molecule verifier"},
        }
    ]
    assert requests.post(f"{URL}/api/v2/alerts", json=alert, auth=ADMIN, verify=CA, timeout=5).status_code == 200
    deadline = time.monotonic() + 20
    while True:
        alerts = requests.get(f"{URL}/api/v2/alerts", auth=ADMIN, verify=CA, timeout=5).json()
        names = {a["labels"]["alertname"] for a in alerts}
        if "MoleculeProbe" in names:
            break
        assert time.monotonic() < deadline, names
        time.sleep(1)


def test_a_faster_burn_rate_tier_holds_the_slower_ones_back():
    """The inhibition rules: while tier 1 of an SLO fires, its tiers 2-4 are inhibited; another
    SLO's tier 3 is not."""

    def burn(slo: str, tier: int) -> dict:
        labels = {"alertname": "ApiAvailabilityBudgetBurn", "slo": slo, "tier": str(tier)}
        return {"labels": {**labels, "severity": "page" if tier < 3 else "ticket"}}

    alerts = [burn("molecule-a", 1), burn("molecule-a", 3), burn("molecule-b", 3)]
    assert requests.post(f"{URL}/api/v2/alerts", json=alerts, auth=ADMIN, verify=CA, timeout=5).status_code == 200
    deadline = time.monotonic() + 20
    while True:
        found = requests.get(f"{URL}/api/v2/alerts", auth=ADMIN, verify=CA, timeout=5).json()
        state = {
            (a["labels"]["slo"], a["labels"]["tier"]): a["status"]["state"]
            for a in found
            if a["labels"].get("slo", "").startswith("molecule-")
        }
        if state == {("molecule-a", "1"): "active", ("molecule-a", "3"): "suppressed", ("molecule-b", "3"): "active"}:
            break
        assert time.monotonic() < deadline, state
        time.sleep(1)
