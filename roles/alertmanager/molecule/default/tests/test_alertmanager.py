"""The alertmanager role: healthy, private, accepts alerts through its API and shows them."""

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
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


MAILBOX = "mol-alertmanager-mailbox"
# the Maildir's messages as JSON: recipient, subject, body (mailbox, the standard library, in the container)
READ_MAIL = (
    "import email, email.policy, json, mailbox; "
    "parse = lambda f: email.message_from_binary_file(f, policy=email.policy.default); "
    "print(json.dumps([{'to': m['To'], 'subject': m['Subject'], 'body': m.get_body(('plain', 'html')).get_content()} "
    "for m in mailbox.Maildir('/var/mail/smartshop', factory=parse)]))"
)


def mail(host) -> list[dict]:
    out = host.check_output(f"docker exec {MAILBOX} python3 -c {json.dumps(READ_MAIL)}")
    return json.loads(out)


def test_the_mailbox_is_private_non_root_and_demands_starttls(host):
    c = host.docker(MAILBOX).inspect()
    assert c["State"]["Health"]["Status"] == "healthy"
    assert c["HostConfig"]["PortBindings"] in ({}, None)  # on the stack network only
    assert host.check_output(f"docker exec {MAILBOX} id -u") == "10003"
    # a client that skips STARTTLS is refused before it can hand over a message
    plain = host.run(
        f"docker exec {MAILBOX} python3 -c \"import smtplib; s = smtplib.SMTP('127.0.0.1', 2525); "
        "print(s.mail('intruder@example.org')[0])\""
    )
    assert plain.stdout.strip() == "530", plain


def _wait_for_mail(host, predicate, what: str, seconds: int = 60) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        found = [m for m in mail(host) if predicate(m)]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no {what} in the mailbox: {[m['subject'] for m in mail(host)]}"
        time.sleep(2)


@pytest.mark.parametrize(("severity", "recipient"), [("page", "oncall"), ("ticket", "tickets")])
def test_an_alert_is_mailed_by_severity_when_it_fires_and_when_it_resolves(host, severity, recipient):
    """Posted to Alertmanager like Prometheus does: the mailbox of that severity receives the
    firing notification, then the resolved one once the alert ends; the other address gets neither."""
    name = f"MailDrill{severity.title()}"
    labels = {"alertname": name, "severity": severity, "job": "molecule"}
    alert = {"labels": labels, "annotations": {"summary": f"{severity} drill from the molecule verifier"}}
    assert requests.post(f"{URL}/api/v2/alerts", json=[alert], auth=ADMIN, verify=CA, timeout=5).status_code == 200
    firing = _wait_for_mail(host, lambda m: name in m["subject"] and "FIRING" in m["subject"], f"firing {name}")
    assert firing["to"] == f"{recipient}@mol-alertmanager.local"
    assert firing["subject"].startswith(f"[{severity}] FIRING:1 {name}")
    assert f"{severity} drill from the molecule verifier" in firing["body"]

    ended = datetime.now(UTC) - timedelta(seconds=1)
    alert["endsAt"] = ended.isoformat().replace("+00:00", "Z")
    assert requests.post(f"{URL}/api/v2/alerts", json=[alert], auth=ADMIN, verify=CA, timeout=5).status_code == 200
    resolved = _wait_for_mail(host, lambda m: name in m["subject"] and "RESOLVED" in m["subject"], f"resolved {name}")
    assert resolved["to"] == f"{recipient}@mol-alertmanager.local"
    assert resolved["subject"].startswith(f"[{severity}] RESOLVED {name}")
    assert all(m["to"] == f"{recipient}@mol-alertmanager.local" for m in mail(host) if name in m["subject"])


def test_the_mailbox_stops_at_docker_stop_and_keeps_its_mail(host):
    """`docker stop` (make down, a converge that replaces it) ends it at once, exit 0: its image's
    STOPSIGNAL is SIGINT. Python as PID 1 ignored SIGTERM, the engine killed it after its 10 s grace
    (exit 137). Started again, it has the mail it held (its volume)."""
    held = mail(host)
    assert held, "the tests before left mail in the mailbox"
    assert host.docker(MAILBOX).inspect()["Config"]["StopSignal"] == "SIGINT"
    assert host.run(f"docker stop --time 10 {MAILBOX}").rc == 0
    assert host.docker(MAILBOX).inspect()["State"]["ExitCode"] == 0
    assert host.run(f"docker start {MAILBOX}").rc == 0
    deadline = time.monotonic() + 60
    while host.docker(MAILBOX).inspect()["State"].get("Health", {}).get("Status") != "healthy":
        assert time.monotonic() < deadline, "the mailbox is not healthy again"
        time.sleep(1)
    assert mail(host) == held
