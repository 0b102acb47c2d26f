"""site.yml across three hosts (db1: database, API and console; app1: API and console; mon1:
monitoring, the simulator and its first worker, the registry and the edge over both app hosts):
each host runs only its part, on its own network, publishing only on its own address, and the parts
work together through those published addresses. test_zz_losing_an_app_host.py, run last, takes
app1 away under load."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from pathlib import Path

import pymysql
import pyrage
import pytest
import requests

# each host is a container of the scenario's network, reached (and publishing) on its own address
ADDRESS = {"db1": "10.199.0.11", "app1": "10.199.0.12", "mon1": "10.199.0.13"}
# molecule lists a group's hosts by name: app1 is the first of app_hosts (the API's operator token is
# generated for it; verify.yml reconciles the counters there)
APP_HOSTS = ("app1", "db1")
PLACED = {
    "db1": {"mysql", "mysqld-exporter", "node-exporter", "backend-1", "backend-2", "frontend"},
    "app1": {"backend-1", "backend-2", "frontend", "node-exporter", "simulator-worker", "binlog-archive"},
    "mon1": {
        *("prometheus", "alertmanager", "simulator", "node-exporter", "blackbox-exporter", "mailbox", "registry"),
        *("edge", "simulator-worker", "binlog-archive"),
    },
}
EDGE = f"http://{ADDRESS['mon1']}:8000"
# The drills under load (a rolling update, an app host lost: about five minutes together) run with
# `make test-drills`, not in `make test`, which must fit CI's time.
drill = pytest.mark.skipif(os.environ.get("SMARTSHOP_DRILLS") != "1", reason="a drill under load: make test-drills")
REPLICAS = {f"{ADDRESS[app]}:{port}" for app in APP_HOSTS for port in (8101, 8102)}
PROMETHEUS = f"https://{ADDRESS['mon1']}:9090"
API = f"http://{ADDRESS['app1']}:8000"
ROOT = Path(__file__).resolve().parents[3]
SECRETS = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent")) / "secrets"
CA = str(SECRETS / "ca" / "ca.crt")


def prometheus(path: str, **params) -> dict:
    """mon1's Prometheus as its admin, over HTTPS checked against the stack's authority."""
    login = ("admin", (SECRETS / "mon1" / "prometheus_admin_password").read_text().strip())
    response = requests.get(f"{PROMETHEUS}{path}", params=params, auth=login, verify=CA, timeout=5)
    response.raise_for_status()
    return response.json()


def database() -> pymysql.Connection:
    """db1's database as the API's user, at the port db1 publishes."""
    return pymysql.connect(
        host=ADDRESS["db1"],
        port=3306,
        user="smartshop",
        password=(SECRETS / "db1" / "mysql_app_password").read_text().strip(),
        database="smartshop",
    )


def write(stop: threading.Event, outcomes: list, resent: list | None = None) -> None:
    """Creates users through the edge one after another; records (start, end, status, user id, body).

    With `resent` (a list), a request whose connection broke before any answer came is sent once
    more with the same Idempotency-Key on a new connection, as an HTTP client does when the server
    closed a kept-alive connection under it (nginx's graceful reload closes its idle ones): the key
    makes the second sending create nothing twice. Its key goes in `resent`."""
    session = requests.Session()
    while not stop.is_set():
        started = time.monotonic()
        key = str(uuid.uuid4())
        for sending in (1, 2):
            try:
                answer = session.post(f"{EDGE}/api/users/create", headers={"Idempotency-Key": key}, timeout=60)
                status, body = answer.status_code, answer.json()
            except requests.ConnectionError as error:
                status, body = type(error).__name__, {}
                if resent is not None and sending == 1:
                    resent.append(key)
                    session = requests.Session()
                    continue
            except (requests.RequestException, ValueError) as error:
                status, body = type(error).__name__, {}
            break
        outcomes.append((started, time.monotonic(), status, body.get("id") if status in (200, 201) else None, body))
        time.sleep(0.05)


def project_containers(host):
    project = f"mh-{host.backend.get_hostname()}"
    ids = host.run(f"docker ps -aq --filter label=com.smartshop.project={project}").stdout.split()
    return project, [host.docker(i).inspect() for i in ids]


def test_each_host_runs_only_its_part(host):
    name = host.backend.get_hostname()
    project, containers = project_containers(host)
    assert {c["Name"].lstrip("/").removeprefix(f"{project}-") for c in containers} == PLACED[name]
    for c in containers:
        assert c["State"]["Health"]["Status"] == "healthy", c["Name"]


def test_each_host_keeps_to_its_network_and_address(host):
    """Nothing crosses hosts through Docker: every container is on its own host's network only, and
    every published port is bound to its own host's address."""
    name = host.backend.get_hostname()
    project, containers = project_containers(host)
    published = 0
    for c in containers:
        assert set(c["NetworkSettings"]["Networks"]) == {f"{project}-net"}, c["Name"]
        for bindings in (c["HostConfig"]["PortBindings"] or {}).values():
            published += len(bindings)
            assert all(b["HostIp"] == ADDRESS[name] for b in bindings), c["Name"]
    assert published > 0


EPHEMERAL_SSH = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent")) / "ssh"
REGISTRY = f"{ADDRESS['mon1']}:5000"


def ssh(name: str, command: str, *options: str, user: str = "ansible") -> subprocess.CompletedProcess:
    """`command` on host `name` over SSH, as Ansible reaches it (the scenario's key, its known_hosts)."""
    return subprocess.run(
        ["ssh", "-i", str(EPHEMERAL_SSH / "id_ed25519"), "-o", f"UserKnownHostsFile={EPHEMERAL_SSH / 'known_hosts'}",
         "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", *options,
         f"{user}@{ADDRESS[name]}", command],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize("name", sorted(ADDRESS))
def test_each_host_lets_in_the_scenarios_key_and_nothing_else(name):
    """As a VM would: the ansible user with the generated key (the host's own key checked strictly
    against the known_hosts the scenario wrote), sudo without a password for become; no password,
    no root login."""
    assert ssh(name, "sudo -n true").returncode == 0
    refused = ssh(name, "true", "-o", "PubkeyAuthentication=no", "-o", "PasswordAuthentication=yes")
    assert refused.returncode == 255 and "Permission denied" in refused.stderr, refused.stderr
    root = ssh(name, "true", user="root")
    assert root.returncode == 255 and "Permission denied" in root.stderr, root.stderr


def test_each_host_runs_its_own_engine():
    """Three engines, one per host (the docker_host role started each), none of them this machine's."""
    ids = {}
    for name in ADDRESS:
        info = ssh(name, "sudo docker info --format '{{.ID}} {{.Name}} {{.Containers}}'")
        assert info.returncode == 0, info.stderr
        engine, hostname, containers = info.stdout.split()
        assert hostname == name and int(containers) >= len(PLACED[name]), info.stdout
        ids[name] = engine
    local = subprocess.run(["docker", "info", "--format", "{{.ID}}"], capture_output=True, text=True, check=True)
    assert len(set(ids.values())) == len(ADDRESS) and local.stdout.strip() not in ids.values(), ids


def test_hosts_other_than_the_registrys_build_nothing_and_run_images_by_digest(host):
    """smartshop_image_source registry: every container of db1 and app1 runs from mon1's registry by
    digest, pulled over HTTPS checked against the stack's authority (certs.d), and their engines hold
    no other image (nothing was built there, nothing came from elsewhere)."""
    name = host.backend.get_hostname()
    if name == "mon1":
        pytest.skip("mon1 is the registry's host: it has the images it built (the next test reads its registry)")
    _, containers = project_containers(host)
    for c in containers:
        assert c["Config"]["Image"].startswith(f"{REGISTRY}/smartshop/") and "@sha256:" in c["Config"]["Image"], (
            c["Name"], c["Config"]["Image"])  # fmt: skip
    repositories = set(host.run("docker images --format '{{.Repository}}'").stdout.split())
    assert repositories and all(r.startswith(f"{REGISTRY}/") for r in repositories), repositories
    assert host.file(f"/etc/docker/certs.d/{REGISTRY}/ca.crt").content_string == Path(CA).read_text()


def test_the_registry_holds_only_the_images_other_hosts_run():
    """mon1 pushed what db1 and app1 run (and the simulator, which app1's worker runs), not what only
    it runs (the monitoring images, the registry's own)."""
    login = ("smartshop", (SECRETS / "mon1" / "registry_password").read_text().strip())
    answer = requests.get(f"https://{REGISTRY}/v2/_catalog", auth=login, verify=CA, timeout=10)
    assert answer.status_code == 200, answer.text
    shared = {"mariadb", "mysqld_exporter", "node_exporter", "backend", "frontend", "simulator"}
    assert set(answer.json()["repositories"]) == {f"smartshop/{c}" for c in shared}, answer.json()


def test_prometheus_on_mon1_scrapes_every_host():
    deadline = time.monotonic() + 90
    while True:
        targets = prometheus("/api/v1/targets", state="active")["data"]["activeTargets"]
        down = [(t["labels"]["instance"], t["lastError"]) for t in targets if t["health"] != "up"]
        if targets and not down:
            break
        assert time.monotonic() < deadline, f"targets not up: {down}"
        time.sleep(3)
    by_job: dict[str, set[str]] = {}
    for t in targets:
        by_job.setdefault(t["labels"]["job"], set()).add(t["labels"]["instance"])
    assert by_job["smartshop-backend"] == REPLICAS
    assert by_job["mysqld"] == {f"{ADDRESS['db1']}:9104"}
    assert by_job["node"] == {"mh-mon1-node-exporter:9100"} | {f"{ADDRESS[h]}:9100" for h in ("db1", "app1")}
    assert by_job["simulator"] == {"mh-mon1-simulator:9200"}
    assert by_job["alertmanager"] == {"mh-mon1-alertmanager:9093"}
    # blackbox_exporter on mon1 probes the consoles and APIs of db1, app1 and the edge (by name on
    # mon1) as users reach them, and every HTTPS endpoint's certificate across the hosts (the
    # addresses are in each host's certificate)
    assert by_job["probe-console"] == {f"http://{ADDRESS[h]}:3000/healthz" for h in APP_HOSTS} | {
        "http://mh-mon1-edge:3000/healthz"
    }
    assert by_job["probe-api"] == {f"http://{ADDRESS[h]}:8000/api/health" for h in APP_HOSTS} | {
        "http://mh-mon1-edge:8000/api/health"
    }
    assert by_job["probe-tls"] == {
        "https://mh-mon1-prometheus:9090/metrics",
        "https://mh-mon1-alertmanager:9093/metrics",
        "https://mh-mon1-node-exporter:9100/metrics",
        f"https://{ADDRESS['db1']}:9100/metrics",
        f"https://{ADDRESS['app1']}:9100/metrics",
        f"https://{ADDRESS['db1']}:9104/metrics",
    }
    deadline = time.monotonic() + 60
    while {r["value"][1] for r in prometheus("/api/v1/query", query="probe_success")["data"]["result"]} != {"1"}:
        assert time.monotonic() < deadline, prometheus("/api/v1/query", query="probe_success == 0")["data"]
        time.sleep(3)


def test_the_console_on_app1_charts_from_the_prometheus_on_mon1():
    """app1's console reads its charts from mon1's Prometheus, across hosts, over HTTPS."""
    login = ("admin", (SECRETS / "app1" / "console_admin_password").read_text().strip())
    answer = requests.get(f"http://{ADDRESS['app1']}:3000/charts/errors", auth=login, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["resultType"] == "matrix"


@pytest.mark.parametrize("target", [f"{ADDRESS['db1']}:9104", f"{ADDRESS['db1']}:9100", f"{ADDRESS['app1']}:9100"])
def test_exporters_across_hosts_serve_tls_with_the_hosts_certificate_and_ask_for_credentials(target):
    """What crosses hosts is encrypted and authenticated: the certificate names the address."""
    assert requests.get(f"https://{target}/metrics", verify=CA, timeout=5).status_code == 401


def test_an_order_paid_on_app1_is_stored_on_db1():
    body = requests.get(f"{API}/", timeout=5).json()
    assert body["mysql_status"] == "connected"
    user = requests.post(f"{API}/api/users/create", timeout=5).json()
    order = requests.post(f"{API}/api/orders/create/{user['id']}", timeout=5).json()
    order_id = order["order_id"]
    for step in ("validate", "process"):
        assert requests.post(f"{API}/api/orders/{step}/{order_id}", timeout=5).ok
    # the API's one operator token, generated for the first app host
    operator = {"Authorization": f"Bearer {(SECRETS / APP_HOSTS[0] / 'api_operator_token').read_text().strip()}"}
    paid = requests.post(
        f"{API}/api/payments/process/{order_id}", json={"status": "success"}, headers=operator, timeout=5
    )
    assert paid.ok, paid.text
    assert paid.json()["order_status"] == "paid"

    with database() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT status FROM orders WHERE id = %s", (order_id,))
        assert cursor.fetchone() == ("paid",)


def test_the_simulator_on_mon1_shops_through_the_edge_on_every_replica_of_both_app_hosts():
    """The simulator on mon1 drives the edge (by name, on mon1's network); the edge balances over
    the four replicas db1 and app1 publish: each of them serves shoppers' requests, as mon1's
    Prometheus sees."""
    query = 'sum by (instance) (smartshop_http_requests_total{job="smartshop-backend", route!~".*health|/metrics"})'
    deadline = time.monotonic() + 120
    while True:
        result = prometheus("/api/v1/query", query=query)["data"]["result"]
        served = {r["metric"]["instance"]: float(r["value"][1]) for r in result}
        achieved = prometheus("/api/v1/query", query="sum(smartshop_simulator_requests_total)")["data"]["result"]
        if set(served) == REPLICAS and all(served.values()) and achieved and float(achieved[0]["value"][1]) > 0:
            break
        assert time.monotonic() < deadline, (served, achieved)
        time.sleep(5)
    assert requests.get(f"{EDGE}/api/stats", timeout=5).json()["total_users"] > 0


def test_the_simulator_is_a_master_whose_workers_on_mon1_and_app1_send_the_traffic():
    """simulator_worker_hosts: a Locust worker on mon1 (it reaches the master by name) and one on
    app1 (at the master port mon1 publishes) each send their share; the master's figures, which
    Prometheus scrapes, are the sum, and name each worker."""
    deadline = time.monotonic() + 90
    while True:
        workers = prometheus("/api/v1/query", query="smartshop_simulator_workers")["data"]["result"]
        result = prometheus("/api/v1/query", query="smartshop_simulator_worker_requests_total")["data"]["result"]
        sent = {r["metric"]["worker"]: float(r["value"][1]) for r in result}
        if workers and set(sent) == {"mon1", "app1"} and all(sent.values()):
            break
        assert time.monotonic() < deadline, (workers, sent)
        time.sleep(5)
    assert float(workers[0]["value"][1]) == 2
    # each reaches the API as its own host does (app1's worker at mon1's address, not the master's
    # name for the edge): no request failed to connect (code 0)
    unconnected = prometheus("/api/v1/query", query='smartshop_simulator_requests_total{code="0"}')["data"]["result"]
    assert not unconnected or float(unconnected[0]["value"][1]) == 0, unconnected
    # the master's total is what its workers sent (one scrape: both from the same instant)
    difference = "sum(smartshop_simulator_requests_total) - sum(smartshop_simulator_worker_requests_total)"
    (total,) = prometheus("/api/v1/query", query=difference)["data"]["result"]
    assert float(total["value"][1]) == 0


def test_the_edge_serves_the_api_and_its_console_and_answers_json_when_no_replica_can():
    login = ("admin", (SECRETS / "mon1" / "console_admin_password").read_text().strip())
    assert requests.get(f"http://{ADDRESS['mon1']}:3000/", timeout=5).status_code == 401
    assert requests.get(f"http://{ADDRESS['mon1']}:3000/", auth=login, timeout=5).status_code == 200
    root = requests.get(f"{EDGE}/", timeout=5).json()
    assert root["message"] == "SmartShop Simulation API" and root["mysql_status"] == "connected"
    # the edge's console adds the API's one operator token (app1's) for whichever app host answers
    for _ in range(4):
        users = requests.get(f"http://{ADDRESS['mon1']}:3000/api/users", auth=login, timeout=5)
        assert users.status_code == 200, users.text


@pytest.mark.parametrize("url", [f"http://{ADDRESS['app1']}:3000/", f"{API}/api/health"])
def test_app1_serves_the_console_and_the_api(url):
    login = ("admin", (SECRETS / "app1" / "console_admin_password").read_text().strip())
    assert requests.get(url, auth=login if url.endswith(":3000/") else None, timeout=5).status_code == 200


EPHEMERAL = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent"))


def ansible_playbook(playbook: str, *args: str, cache: Path = EPHEMERAL / "facts") -> tuple[int, dict]:
    """A playbook of the project on the scenario's three hosts, reading the fact cache `cache` (by
    default the scenario's, as its converge has it: .config/molecule/config.yml); its exit code
    and its JSON output."""
    binary = Path(sys.executable).with_name("ansible-playbook")
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(cache),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.json",  # none but the JSON on stdout
    }
    args = [str(binary), "-i", str(EPHEMERAL / "inventory"), playbook, *args]
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.stdout.startswith("{"), result.stdout[-3000:] + result.stderr[-2000:]
    return result.returncode, json.loads(result.stdout)


def failures(output: dict) -> list[str]:
    """What failed in a playbook's run, host by host (its stats when nothing says more)."""
    failed = [
        f"{host}: {entry['task']['name']}: {outcome.get('msg', outcome)}"
        for play in output["plays"]
        for entry in play["tasks"]
        for host, outcome in entry["hosts"].items()
        if outcome.get("failed") or outcome.get("unreachable")
    ]
    return failed or [json.dumps(output["stats"])]


def said_by(output: dict, task: str) -> dict[str, dict]:
    """What `task` returned on each host."""
    return {
        host: outcome
        for play in output["plays"]
        for entry in play["tasks"]
        if entry["task"]["name"] == task
        for host, outcome in entry["hosts"].items()
    }


def run_playbook(playbook: str, task: str, *extra: str) -> dict[str, object]:
    """A playbook that must succeed; what `task` said on each host."""
    code, output = ansible_playbook(playbook, *(arg for variable in extra for arg in ("-e", variable)))
    assert code == 0, failures(output)
    return {host: outcome["msg"] for host, outcome in said_by(output, task).items()}


def test_a_run_limited_to_app1_knows_the_other_hosts_from_the_fact_cache(tmp_path):
    """--limit app1: db1's and mon1's addresses come from the fact cache of the full converge, and
    nothing changes; with an empty cache the run stops before any change, naming what it lacks."""
    code, output = ansible_playbook("site.yml", "--limit", "app1")
    assert code == 0, failures(output)
    assert set(output["stats"]) == {"app1"} and output["stats"]["app1"]["changed"] == 0, output["stats"]
    told = said_by(output, "Say where the facts of the hosts left out come from")["app1"]["msg"]
    assert told.startswith("--limit: db1, mon1 not touched") and "fact cache" in told, told

    code, output = ansible_playbook("site.yml", "--limit", "app1", cache=tmp_path / "empty-cache")
    assert code != 0
    refused = said_by(output, "Check what the hosts left out by --limit shared in an earlier run")["app1"]["msg"]
    assert "holds nothing they shared for db1, mon1" in refused and "without --limit" in refused, refused
    assert all(stats["changed"] == 0 for stats in output["stats"].values()), output["stats"]


def test_a_dry_run_over_the_three_hosts_changes_nothing_and_finds_nothing_to_change():
    """site.yml --check on the converged hosts (images through the registry, the edge, the workers):
    it runs to its end and reports changed=0 on each host."""
    code, output = ansible_playbook("site.yml", "--check")
    assert code == 0, failures(output)
    assert set(output["stats"]) == {"db1", "mon1", "app1"}, output["stats"]
    changed = {
        entry["task"]["name"]
        for play in output["plays"]
        for entry in play["tasks"]
        if any(outcome.get("changed") for outcome in entry["hosts"].values())
    }
    assert changed == set(), changed


def test_verify_playbook_checks_each_host_for_its_part():
    said = run_playbook("playbooks/verify.yml", "Say what was verified")
    assert said["db1"] == ["6 containers healthy", "API and console answer"]
    # the first application host also checks the counters against the rows (in the database on db1)
    assert said["app1"] == [
        "6 containers healthy",  # a simulator worker and a second binary-log archive too
        "API and console answer",
        "counters reconcile with the rows (11 checked)",
        "binary-log archive caught up with the database",
    ]
    # the registry, the edge, a simulator worker and the binary-log archive too
    assert said["mon1"][0] == "10 containers healthy"
    assert said["mon1"][2] == "API and console answer"  # the edge's
    assert said["mon1"][-1] == "binary-log archive caught up with the database"  # db1's, over TLS
    # itself, 4 API, 3 node, mysqld, simulator, AM, blackbox; probes: 3 consoles, 3 APIs, 6 certificates
    assert said["mon1"][1].startswith("24 Prometheus targets up")


def test_simulate_playbook_on_mon1_drives_the_edge():
    before = requests.get(f"{API}/api/stats", timeout=5).json()["total_users"]
    said = run_playbook("playbooks/simulate.yml", "Show the summary", "simulate_duration=5", "simulate_rate=20")
    assert set(said) == {"mon1"}
    summary = said["mon1"]
    assert summary["host"] == "http://mh-mon1-edge:8000"
    assert summary["requests"] > 0 and "0" not in summary["failures_by_code"]  # 0: no connection
    assert requests.get(f"{API}/api/stats", timeout=5).json()["total_users"] > before


def test_a_backup_gathers_the_database_of_db1_and_the_history_of_mon1():
    """make backup across hosts: db1's database and mon1's TSDB snapshot in one file on the
    controller, which only the key opens; db1's node_exporter tells mon1's Prometheus its time."""
    ephemeral = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
    backups, key = ephemeral / "backups", ephemeral / "backup-key" / "backup.key"
    started = time.time()
    said = run_playbook(
        "playbooks/backup.yml", "Say what the backup holds", f"backup_dir={backups}", f"backup_key_file={key}"
    )
    (holds,) = [lines[1] for lines in said.values()]  # said once, by the play's first host
    assert holds.startswith("Holds: the database (9 tables,") and "1 Prometheus snapshot(s)" in holds
    # this run's (an earlier run of the scenario on this machine may have left its own)
    (sealed,) = [path for path in backups.glob("*.tar.age") if path.stat().st_mtime >= started]
    identity = pyrage.x25519.Identity.from_str(key.read_text().splitlines()[-1])
    plain = ephemeral / "backup.tar"
    plain.write_bytes(pyrage.decrypt(sealed.read_bytes(), [identity]))
    with tarfile.open(plain) as archive:
        names = set(archive.getnames())
        manifest = json.load(archive.extractfile("manifest.json"))
    plain.unlink()
    assert {"mariadb.tar.gz", "prometheus-mon1.tar.gz", "secrets/db1/mysql_root_password"} <= names
    assert manifest["database"]["host"] == "db1" and set(manifest["prometheus"]) == {"mon1"}
    assert manifest["database"]["rows"]["users"] > 0
    # this backup's time (an earlier backup's shows until the next scrape, when the scenario took one)
    deadline, query = time.monotonic() + 60, f"smartshop_backup_last_success_timestamp_seconds >= {started}"
    while not (found := prometheus("/api/v1/query", query=query)["data"]["result"]):
        assert time.monotonic() < deadline, "db1's node_exporter never showed the backup's time"
        time.sleep(3)
    (series,) = found
    assert series["metric"]["project"] == "mh-db1"


def test_each_backup_host_keeps_a_copy_that_fetch_backups_brings_back_to_a_controller_that_lost_it():
    """backup.yml copied the newest backup to app1 and mon1 (backup_hosts), root's alone, byte for byte;
    removed from the controller, make fetch-backups brings it back (mode 0600) and nothing else, and a
    second run brings nothing."""
    ephemeral = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
    backups = ephemeral / "backups"
    newest = max(backups.glob("*.tar.age"))
    digest = hashlib.sha256(newest.read_bytes()).hexdigest()
    for name in ("app1", "mon1"):
        copy = f"/var/lib/mh-{name}-backups/{newest.name}"
        held = ssh(name, f"sudo sha256sum {copy} && sudo stat -c '%a %U' {copy} /var/lib/mh-{name}-backups")
        assert held.returncode == 0, held.stderr
        assert held.stdout.split() == [digest, copy, "600", "root", "700", "root"], held.stdout
    assert ssh("db1", "sudo test -e /var/lib/mh-db1-backups").returncode == 1  # not in backup_hosts

    newest.unlink()
    said = run_playbook("playbooks/fetch-backups.yml", "Say what was brought back", f"backup_dir={backups}")
    (told,) = said.values()
    assert told.startswith(f"1 backup(s) brought back into {backups}: {newest.name};"), told
    assert "\n" not in told and "). Then: make restore (with the key, " in told, told
    assert hashlib.sha256(newest.read_bytes()).hexdigest() == digest
    assert stat.S_IMODE(newest.stat().st_mode) == 0o600

    code, output = ansible_playbook("playbooks/fetch-backups.yml", "-e", f"backup_dir={backups}")
    assert code == 0 and all(stats["changed"] == 0 for stats in output["stats"].values()), output["stats"]
    (told,) = (outcome["msg"] for outcome in said_by(output, "Say what was brought back").values())
    assert told.startswith(f"0 backup(s) brought back into {backups};") and told.endswith(")."), told
