"""site.yml as users run it: every container healthy and private, every Prometheus target up,
every dashboard query returning data, the API and the console answering (in a real browser)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

PROJECT = "mol-stack"
PROMETHEUS = "https://127.0.0.1:29090"
API = "http://127.0.0.1:28000"
CONSOLE = "http://127.0.0.1:23000"
ROOT = Path(__file__).resolve().parents[3]
DASHBOARDS = ROOT / "roles" / "grafana" / "files" / "dashboards"
SECRETS = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent")) / "secrets" / "instance"


CA = str(SECRETS.parent / "ca" / "ca.crt")
# The long drills (a rotation of every credential under load, a restore of a purged stack: ten
# minutes together) run with `make test-drills`, not in `make test`, which must fit CI's time.
drill = pytest.mark.skipif(os.environ.get("SMARTSHOP_DRILLS") != "1", reason="a long drill: make test-drills")


def secret(name: str) -> str:
    return (SECRETS / name).read_text().strip()


def prometheus(path: str, **params):
    """Prometheus' API as its admin: HTTPS checked against the stack's authority, basic auth."""
    response = requests.get(
        f"{PROMETHEUS}{path}", params=params, auth=("admin", secret("prometheus_admin_password")), verify=CA, timeout=10
    )
    response.raise_for_status()
    return response.json()


EXPECTED = {
    "mysql",
    "backend-1",
    "backend-2",
    "frontend",
    "node-exporter",
    "mysqld-exporter",
    "simulator",
    "alertmanager",
    "mailbox",
    "prometheus",
    "blackbox-exporter",
    "binlog-archive",  # backup_hosts, beside the database here
}


def containers(host):
    ids = host.run(f"docker ps -aq --filter label=com.smartshop.project={PROJECT}").stdout.split()
    return [host.docker(i).inspect() for i in ids]


def docker_verdict(host, name: str, wait: float = 20) -> str:
    """Docker's health status of a container once it has one: the converge goes on as soon as a
    container's check passes (smartshop.stack.container runs it), Docker's first check comes one
    interval (5 s) after the start."""
    deadline = time.monotonic() + wait
    while True:
        status = host.docker(name).inspect()["State"]["Health"]["Status"]
        if status != "starting" or time.monotonic() > deadline:
            return status
        time.sleep(1)


def test_the_stack_has_its_containers(host):
    names = {c["Name"].lstrip("/").removeprefix(f"{PROJECT}-") for c in containers(host)}
    assert names >= EXPECTED, names
    assert "backend-migrate" not in names  # the one-shot migration cleaned up after itself


def test_orders_carry_the_actions_their_status_allows():
    order = requests.post(f"{API}/api/orders/create", timeout=10).json()
    assert (order["status"], order["actions"]) == ("pending", ["validate", "cancel"])
    listed = requests.get(f"{API}/api/orders", params={"limit": 1}, timeout=10).json()["orders"][0]
    assert {"status", "actions"} <= set(listed)


@pytest.mark.parametrize("field", ["health", "restart", "logs", "bindings"])
def test_every_container_is_healthy_restartable_rotated_and_private(host, field):
    """What smartshop.stack.container gives every container of the stack."""
    for c in containers(host):
        name = c["Name"]
        if field == "health":
            assert docker_verdict(host, name.lstrip("/")) == "healthy", name
        elif field == "restart":
            assert c["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped", name
        elif field == "logs":
            assert c["HostConfig"]["LogConfig"] == {"Type": "json-file", "Config": {"max-file": "3", "max-size": "10m"}}
            assert c["Config"]["Labels"]["com.smartshop.component"], name
        else:
            for bindings in (c["HostConfig"]["PortBindings"] or {}).values():
                assert all(b["HostIp"] == "127.0.0.1" for b in bindings), name


# Capabilities a container of the stack may be given back, and why. None needs one today: every
# process runs as an unprivileged user and binds ports above 1024.
ALLOWED_CAPABILITIES: dict[str, set[str]] = {}
# What may be written outside volumes: tmpfs mounts only, and the writable paths each needs.
WRITABLE = {
    "mysql": {"/tmp"},  # noqa: S108 - a path inside the container (/run/mysqld is a bind mount)
    "frontend": {"/run/smartshop"},
}


@pytest.mark.parametrize("field", ["capabilities", "privileges", "root-filesystem", "limits", "user"])
def test_every_container_runs_with_the_least_it_needs(host, field):
    """Issue "Secure on a real network", containers: checked on what the engine reports."""
    for c in containers(host):
        name, hc = c["Name"], c["HostConfig"]
        component = c["Config"]["Labels"]["com.smartshop.component"]
        if field == "capabilities":
            assert hc["CapDrop"] == ["ALL"], name
            assert set(hc["CapAdd"] or []) <= ALLOWED_CAPABILITIES.get(component, set()), name
            status = host.run(f"docker exec {c['Id']} grep CapEff /proc/1/status").stdout.split()
            assert status == ["CapEff:", "0000000000000000"], (name, status)
        elif field == "privileges":
            assert "no-new-privileges" in (hc["SecurityOpt"] or []), name
            assert hc["Privileged"] is False, name
        elif field == "root-filesystem":
            assert hc["ReadonlyRootfs"] is True, name
            assert set(hc.get("Tmpfs") or {}) >= WRITABLE.get(component, set()), name
            # as uid 0, which owns /: only the read-only mount can refuse (another user meets EACCES first)
            probe = host.run(f"docker exec -u 0 {c['Id']} touch /probe-read-only")
            assert probe.rc != 0 and "Read-only file system" in probe.stderr, (name, probe.stderr)
        elif field == "limits":
            assert hc["Memory"] > 0 and hc["PidsLimit"] > 0, name
        else:
            uid = host.run(f"docker exec {c['Id']} id -u").stdout.strip()
            assert uid and uid != "0", (name, uid)


def test_mariadb_gets_time_to_shut_down_cleanly(host):
    mysql = next(c for c in containers(host) if c["Name"].endswith("-mysql"))
    assert mysql["Config"]["StopTimeout"] >= 30


def test_every_prometheus_target_is_up():
    deadline = time.monotonic() + 90
    while True:
        targets = prometheus("/api/v1/targets", state="active")["data"]["activeTargets"]
        down = [(t["labels"]["job"], t["labels"]["instance"], t["lastError"]) for t in targets if t["health"] != "up"]
        if targets and not down:
            break
        assert time.monotonic() < deadline, f"targets not up: {down}"
        time.sleep(3)
    jobs = {t["labels"]["job"] for t in targets}
    assert jobs == {"prometheus", "smartshop-backend", "node", "mysqld", "simulator", "alertmanager", "blackbox",
                    "probe-console", "probe-api", "probe-tls"}  # fmt: skip
    assert len([t for t in targets if t["labels"]["job"] == "smartshop-backend"]) == 2


def test_the_stack_answers_its_probes_as_users_reach_it():
    """blackbox_exporter: the console and the API's health through nginx answer, and every HTTPS
    endpoint serves a certificate of the stack's authority with most of its year left."""
    deadline = time.monotonic() + 60
    while True:
        results = prometheus("/api/v1/query", query="probe_success")["data"]["result"]
        probes = {(r["metric"]["job"], r["metric"]["instance"]): r["value"][1] for r in results}
        if len(probes) >= 6 and set(probes.values()) == {"1"}:
            break
        assert time.monotonic() < deadline, probes
        time.sleep(3)
    assert probes.keys() >= {
        ("probe-console", f"http://{PROJECT}-frontend:3000/healthz"),
        ("probe-api", f"http://{PROJECT}-frontend:8000/api/health"),
        ("probe-tls", f"https://{PROJECT}-prometheus:9090/metrics"),
        ("probe-tls", f"https://{PROJECT}-alertmanager:9093/metrics"),
        ("probe-tls", f"https://{PROJECT}-node-exporter:9100/metrics"),
        ("probe-tls", f"https://{PROJECT}-mysqld-exporter:9104/metrics"),
    }
    left = prometheus("/api/v1/query", query="(probe_ssl_earliest_cert_expiry - time()) / 86400")["data"]["result"]
    assert len(left) == 4 and all(390 < float(r["value"][1]) <= 397 for r in left), left


def test_every_dashboard_query_returns_data():
    exprs = [
        # Grafana's $__rate_interval is at least four scrape intervals (5 s here)
        (board.name, panel["title"], target["expr"].replace("$__rate_interval", "20s"))
        for board in sorted(DASHBOARDS.glob("*.json"))
        for panel in json.loads(board.read_text())["panels"]
        for target in panel["targets"]
    ]
    assert len(exprs) >= 20
    deadline = time.monotonic() + 180
    while True:
        empty = []
        for name, title, expr in exprs:
            result = prometheus("/api/v1/query", query=expr)
            assert result["status"] == "success", (name, title, result)
            if not result["data"]["result"]:
                empty.append(f"{name}: {title}")
        if not empty:
            break
        assert time.monotonic() < deadline, f"no data for: {empty}"
        time.sleep(5)


def test_every_metric_a_dashboard_reads_is_exposed_or_recorded():
    names = set(prometheus("/api/v1/label/__name__/values")["data"])
    groups = prometheus("/api/v1/rules", type="record")["data"]["groups"]
    recorded = {rule["name"] for group in groups for rule in group["rules"]}
    for board in sorted(DASHBOARDS.glob("*.json")):
        for panel in json.loads(board.read_text())["panels"]:
            for target in panel["targets"]:
                words = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", re.sub(r'"[^"]*"', "", target["expr"])))
                metrics = {
                    w
                    for w in words
                    if w.startswith(
                        ("smartshop_", "mysql_", "node_", "probe_", "slo:", "smartshop:", "node:", "mysql:")
                    )
                }
                assert metrics, (board.name, panel["title"])
                assert metrics <= names | recorded, (board.name, panel["title"], metrics - names - recorded)


def test_alert_rules_are_loaded():
    groups = prometheus("/api/v1/rules")["data"]["groups"]
    names = {r["name"] for g in groups for r in g["rules"]}
    assert {"TargetDown", "ApiHighErrorRatio", "MySQLDown", "PaymentFailureRatioHigh"} <= names


def test_every_alert_links_a_runbook_the_console_serves():
    """No runbook link returns 404: each alert's runbook_url opens its page in the console (login)."""
    groups = prometheus("/api/v1/rules", type="alert")["data"]["groups"]
    urls = {rule["name"]: rule["annotations"]["runbook_url"] for group in groups for rule in group["rules"]}
    assert {"Watchdog", "ApiAvailabilityBudgetBurn", "TargetDown"} <= set(urls)
    login = ("admin", secret("console_admin_password"))
    for name, url in urls.items():
        assert url == f"{CONSOLE}/runbooks/{name}.md"
        page = requests.get(url, auth=login, timeout=10)
        assert page.status_code == 200, (name, page.status_code)
        assert page.text.startswith(f"# {name}\n")
        assert page.headers["Content-Type"].startswith("text/plain")
    assert requests.get(urls["TargetDown"], timeout=10).status_code == 401  # behind the console's login


MAILBOX = f"{PROJECT}-mailbox"
# the mailbox's messages as JSON (recipient, subject), read in its container with the standard library
READ_MAIL = (
    "import email, email.policy, json, mailbox; "
    "parse = lambda f: email.message_from_binary_file(f, policy=email.policy.default); "
    "print(json.dumps([{'to': m['To'], 'subject': m['Subject']} "
    "for m in mailbox.Maildir('/var/mail/smartshop', factory=parse)]))"
)


def wait_for_mail(host, to: str, subject: str, seconds: int) -> dict:
    """The first message to `to` whose subject starts with `subject`, waiting up to `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        found = json.loads(host.check_output(f"docker exec {MAILBOX} python3 -c {json.dumps(READ_MAIL)}"))
        match = [m for m in found if m["to"] == to and m["subject"].startswith(subject)]
        if match:
            return match[0]
        assert time.monotonic() < deadline, (to, subject, [(m["to"], m["subject"]) for m in found])
        time.sleep(3)


def test_the_watchdog_reaches_alertmanager(host):
    """Always firing: its presence in Alertmanager, then in the watchdog's mailbox, proves rules,
    evaluation, Alertmanager and e-mail delivery work."""
    login = ("admin", secret("alertmanager_admin_password"))
    deadline = time.monotonic() + 60
    while True:
        alerts = requests.get("https://127.0.0.1:29093/api/v2/alerts", auth=login, verify=CA, timeout=5).json()
        if any(a["labels"]["alertname"] == "Watchdog" and a["status"]["state"] == "active" for a in alerts):
            break
        if time.monotonic() >= deadline:  # what Prometheus itself saw, for whoever reads the failure
            held = [a["labels"]["alertname"] for a in alerts]
            sent = prometheus("/api/v1/alertmanagers")["data"]
            firing = [
                a for a in prometheus("/api/v1/alerts")["data"]["alerts"] if a["labels"]["alertname"] == "Watchdog"
            ]
            pytest.fail(f"no active Watchdog in Alertmanager after 60 s: it holds {held}; Prometheus' Alertmanagers "
                        f"{sent}, its Watchdog {firing}")  # fmt: skip
        time.sleep(3)


def test_api_answers_the_seed_json_through_nginx():
    body = requests.get(f"{API}/", timeout=5).json()
    assert body["message"] == "SmartShop Simulation API" and body["mysql_status"] == "connected"
    stats = requests.get(f"{API}/api/stats", timeout=5).json()
    assert stats["total_users"] > 0  # the simulator service has been shopping


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (CONSOLE, 401),  # the console asks for its login
        (f"{API}/api/errors/500", 401),  # an anonymous caller cannot page the on-call
        (f"{API}/api/users", 401),
        (f"{API}/metrics", 404),  # not served on the public port at all
        (f"{PROMETHEUS}/api/v1/targets", 401),
        ("https://127.0.0.1:29093/api/v2/alerts", 401),  # nobody silences the alerts
        ("https://127.0.0.1:29104/metrics", 401),
    ],
)
def test_operator_surfaces_refuse_anonymous_callers(url, expected):
    assert requests.get(url, verify=CA, timeout=5).status_code == expected


def test_every_web_configuration_passes_promtool(host):
    """promtool check web-config on the files each control plane reads (TLS and bcrypt users)."""
    checked = 0
    for c in containers(host):
        for arg in c["Args"]:
            if arg.startswith("--web.config.file="):
                path = arg.split("=", 1)[1]
                check = host.run(
                    f"docker run --rm --network none --user 0 --volumes-from {c['Id']} --entrypoint promtool "
                    f"{host.docker(PROJECT + '-prometheus').inspect()['Config']['Image']} check web-config {path}"
                )
                assert check.rc == 0, (c["Name"], check.stdout, check.stderr)
                checked += 1
    assert checked == 5  # prometheus, alertmanager, node_exporter, mysqld_exporter, blackbox_exporter


GENERATED = [path for path in sorted(SECRETS.glob("[!.]*")) if path.is_file() and path.suffix != ".crt"]


def test_generated_credentials_are_files_the_owner_alone_reads(host):
    names = {path.name for path in GENERATED}
    assert {"api_operator_token", "console_admin_password", "scrape_password", "mysql_root_password"} <= names
    assert {"prometheus_admin_password", "alertmanager_admin_password", "tls.key"} <= names
    for path in [*GENERATED, SECRETS.parent / "ca" / "ca.key"]:
        assert path.stat().st_mode & 0o077 == 0, path
    for c in containers(host):
        inspected = json.dumps(c)  # environment, command, labels, mounts: what docker inspect shows
        for path in GENERATED:
            if path.suffix != ".key":
                assert path.read_text().strip() not in inspected, (c["Name"], path.name)


def test_api_replicas_share_the_load(host):
    by_replica = 'sum by (instance) (smartshop_http_requests_total{job="smartshop-backend"})'
    text = prometheus("/api/v1/query", query=by_replica)
    assert len(text["data"]["result"]) == 2
    assert all(float(r["value"][1]) > 0 for r in text["data"]["result"])


def test_console_works_in_a_real_browser():
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=[
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        page = browser.new_page(http_credentials={"username": "admin", "password": secret("console_admin_password")})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.goto(CONSOLE)
        expect(page.get_by_test_id("api-status")).to_have_text("API OK")
        before = int(re.sub(r"\D", "", page.locator('[data-stat="total_users"]').inner_text()) or 0)
        page.click("#create-user")
        expect(page.get_by_test_id("last-result")).to_contain_text("201")
        expect(page.locator('[data-stat="total_users"]')).not_to_have_text(str(before))
        # the live charts: each drawn from its recording rule's last 30 minutes (Chart.js drew it)
        expect(page.get_by_test_id("charts-status")).to_contain_text("mis à jour", timeout=60_000)
        for name in ("orders", "payments", "errors", "latency"):
            canvas = page.locator(f"#chart-{name}")
            assert int(canvas.get_attribute("data-points")) > 0, name
            assert page.evaluate(f"!!Chart.getChart(document.getElementById('chart-{name}'))"), name
        assert float(page.locator("#chart-payments").get_attribute("data-last")) > 0  # % of payments that succeed
        assert errors == [], errors  # no script error, no CSP violation
        browser.close()


def test_the_console_charts_send_only_their_own_query():
    """/charts/<name> answers its fixed query through the console's nginx, behind the login; a
    query the browser adds goes nowhere."""
    login = ("admin", secret("console_admin_password"))
    assert requests.get(f"{CONSOLE}/charts/orders", timeout=10).status_code == 401
    answer = requests.get(f"{CONSOLE}/charts/errors", params={"query": "prometheus_build_info"}, auth=login, timeout=10)
    assert answer.status_code == 200, answer.text
    result = answer.json()["data"]["result"]
    assert answer.json()["data"]["resultType"] == "matrix"
    assert [r["metric"].get("__name__") for r in result] == ["smartshop:http_errors:ratio_rate5m"]
    assert "Authorization" not in answer.headers and "Set-Cookie" not in answer.headers


def run_playbook(
    playbook: str,
    *extra: str,
    options: tuple[str, ...] = (),
    also_secret: tuple[str, ...] = (),
    fails: bool = False,
) -> set[str]:
    """A playbook on the scenario's inventory with extra variables; the names of the tasks that
    changed. Its output holds no generated value (nor any of `also_secret`). With `fails`, the run
    must fail, and its output (the JSON report) is kept in FAILED_OUTPUT."""
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        # the scenario's fact cache, as its converge has it (.config/molecule/config.yml)
        "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "facts"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.json",  # none but the JSON on stdout
        "ANSIBLE_FORCE_COLOR": "0",
    }
    inventory = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "inventory"
    args = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", str(inventory), playbook, *options]
    for variable in extra:
        args += ["-e", variable]
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert (result.returncode != 0) is fails, result.stdout[-3000:] + result.stderr[-3000:]
    assert_no_secret_in(result.stdout + result.stderr, also_secret)
    if fails:
        FAILED_OUTPUT[:] = [result.stdout + result.stderr]
    report = json.loads(result.stdout)
    return {
        task["task"]["name"].split(" : ")[-1]  # without the role's prefix
        for play in report["plays"]
        for task in play["tasks"]
        if any(outcome.get("changed") for outcome in task["hosts"].values())
    }


FAILED_OUTPUT: list[str] = []


def converge(*extra: str) -> set[str]:
    """site.yml on the scenario's inventory with extra variables; the names of the tasks that changed."""
    return run_playbook("site.yml", *extra)


def assert_no_secret_in(output: str, also: tuple[str, ...] = ()) -> None:
    """No generated value, and no private key, in what a run printed. Every converge of
    these tests checks its output: the JSON callback prints each task's whole result and module
    arguments (more than `-vv` shows)."""
    leaked = [path.name for path in GENERATED if path.read_text().strip() in output]
    leaked += [f"an earlier value ({value[:3]}...)" for value in also if value in output]
    # a key's first base64 line holds its private part (the last lines end with the public key,
    # which openssl_privatekey rightly reports)
    keys = [SECRETS.parent / "ca" / "ca.key"] + [path for path in GENERATED if path.suffix == ".key"]
    leaked += [path.name for path in keys if path.exists() and path.read_text().splitlines()[1] in output]
    assert leaked == [], leaked


def started_at(host, component: str) -> str:
    return host.docker(f"{PROJECT}-{component}").inspect()["State"]["StartedAt"]


def backend_targets() -> int:
    targets = prometheus("/api/v1/targets", state="active")["data"]["activeTargets"]
    return len([t for t in targets if t["labels"]["job"] == "smartshop-backend"])


def test_more_replicas_and_a_new_scrape_interval_change_only_what_they_touch(host):
    """One converge with a third replica and a 7 s scrape interval changes the replicas, the
    console's pool and Prometheus' configuration, nothing else; Prometheus applies the new targets
    and interval by a reload (SIGHUP), never a restart. The converge back removes the replica."""
    before = started_at(host, "prometheus")
    try:
        changed = converge("backend_replicas=3", "prometheus_scrape_interval=7s")
        assert changed == {"Run the API replicas", "Run the console", "Render the configuration"}, changed
        assert host.docker(f"{PROJECT}-backend-3").is_running
        deadline = time.monotonic() + 30  # the reload applies within seconds
        while (
            backend_targets() != 3 or "scrape_interval: 7s" not in prometheus("/api/v1/status/config")["data"]["yaml"]
        ):
            assert time.monotonic() < deadline, "Prometheus does not apply the new targets and interval"
            time.sleep(2)
        assert started_at(host, "prometheus") == before  # reloaded, not restarted
    finally:
        changed = converge()
    assert changed == {"Remove replicas beyond backend_replicas", "Run the console", "Render the configuration"}, (
        changed
    )
    assert started_at(host, "prometheus") == before


def test_a_dry_run_names_what_would_change_and_changes_nothing(host):
    """site.yml --check on the converged stack: nothing to change; with a third replica and another
    scrape interval, the same three tasks as the real change (above), none of it applied, and the
    differences --diff prints hold no credential; with --tags backend_run, the replicas alone."""
    before = started_at(host, "prometheus")
    assert run_playbook("site.yml", options=("--check",)) == set()
    # --diff too: the differences it prints hold no credential (run_playbook searches its output)
    changed = run_playbook(
        "site.yml", "backend_replicas=3", "prometheus_scrape_interval=7s", options=("--check", "--diff")
    )
    assert changed == {"Run the API replicas", "Run the console", "Render the configuration"}, changed
    assert host.run(f"docker inspect {PROJECT}-backend-3").rc != 0, "a dry run started a replica"
    assert "scrape_interval: 7s" not in prometheus("/api/v1/status/config")["data"]["yaml"]
    assert started_at(host, "prometheus") == before
    # the replicas' step alone (its tag): it failed on the authority only the configuration reads
    only = ("--check", "--tags", "backend_run")
    assert run_playbook("site.yml", "backend_replicas=3", options=only) == {"Run the API replicas"}


def test_a_dry_run_where_no_container_runs_says_what_it_would_create(host):
    """A dry run where the stack's containers are gone (after `make down`: data and configuration
    kept) goes through and names what it would create, the database's accounts and schema included,
    instead of failing on the server it would ask. Another project name on the same host gives that
    state without stopping the scenario's stack; the run creates nothing under that name. Its network
    does not exist either (a fresh engine, or after a purge): the containers are said to be created on
    it. (The scenario's network name with another project is refused: a real run would remake that
    network under the other project's label, cutting the scenario's containers off.)"""
    dry = f"{PROJECT}-dry"
    changed = run_playbook(
        "site.yml", f"smartshop_project={dry}", f"smartshop_network_name={dry}-net", options=("--check",)
    )
    assert {"Run the MariaDB container", "Migrate the schema", "Run the API replicas", "Run the console"} <= changed, (
        changed
    )
    made = host.run(
        f"docker ps -a --format '{{{{.Names}}}}' --filter name={dry}; docker volume ls -q --filter name={dry};"
        f" docker network ls -q --filter name={dry}"
    )
    assert made.rc == 0 and made.stdout.strip() == "", made.stdout


def test_a_run_from_another_controller_is_refused_while_its_lease_is_held(host):
    """A converge gives the stack's lease back at its end; one that finds another controller's
    (Jenkins' run, say) stops after the checks and changes nothing, naming it; with
    smartshop_lease_break it takes it over, and gives it back at its end."""
    # the scenario's smartshop_config_dir (.config/molecule/config.yml)
    lease = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "etc" / "leases" / f"{PROJECT}.json"
    assert host.file(str(lease)).exists is False  # the converges before gave it back
    theirs = {
        "controller": "another-controller",
        "who": "jenkins@ci-7",
        "pid": 4242,
        "command": "ansible-playbook site.yml",
        "since": "2026-12-07T09:00:00+0000",
    }
    lease.write_text(json.dumps(theirs))
    try:
        assert run_playbook("site.yml", fails=True) == set()
        said = FAILED_OUTPUT[0]
        holder = "another controller's run (jenkins@ci-7, pid 4242, ansible-playbook site.yml, since"
        assert holder in said, said[-3000:]
        assert "nothing was changed" in said and "smartshop_lease_break=true" in said
        assert json.loads(lease.read_text()) == theirs
        assert converge("smartshop_lease_break=true") == set()
        assert not lease.exists()
    finally:
        lease.unlink(missing_ok=True)


def test_a_restore_up_to_a_moment_over_the_data_asks_for_replace_and_changes_nothing(host):
    """make restore UNTIL=... without REPLACE=1 stops before anything changes, saying the command that
    replaces the database (the whole restore up to a moment is a drill: make test-drills)."""
    moment = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    before = started_at(host, "mysql")
    assert run_playbook("playbooks/restore.yml", f"backup_until='{moment}'", fails=True) == set()
    said = FAILED_OUTPUT[0]
    assert f"what it holds now after {moment} is lost" in said, said[-3000:]
    assert f"make restore UNTIL='{moment}' REPLACE=1" in said
    assert started_at(host, "mysql") == before


def test_an_injected_fault_raises_an_alert_mailed_when_it_fires_and_when_it_resolves(host):
    """Stop node_exporter: TargetDown fires (for: 15s here), reaches Alertmanager and the on-call's mailbox;
    start it again: the resolved notification follows."""
    alertmanager = "https://127.0.0.1:29093"
    login = ("admin", secret("alertmanager_admin_password"))
    host.run_test(f"docker stop {PROJECT}-node-exporter")
    try:
        deadline = time.monotonic() + 150
        while True:
            alerts = requests.get(f"{alertmanager}/api/v2/alerts", auth=login, verify=CA, timeout=5).json()
            down = [a for a in alerts if a["labels"]["alertname"] == "TargetDown" and a["labels"]["job"] == "node"]
            if down:
                break
            assert time.monotonic() < deadline, [a["labels"] for a in alerts]
            time.sleep(5)
        assert down[0]["labels"]["severity"] == "critical"
        assert down[0]["status"]["state"] == "active"
        wait_for_mail(host, f"oncall@{PROJECT}.local", "[page] FIRING:1 TargetDown", 60)
    finally:
        host.run_test(f"docker start {PROJECT}-node-exporter")
    wait_for_mail(host, f"oncall@{PROJECT}.local", "[page] RESOLVED TargetDown", 120)


ROTATED = [
    "mysql_root_password",
    "mysql_app_password",
    "mysql_migrator_password",
    "mysql_exporter_password",
    "api_operator_token",
    "console_admin_password",
    "prometheus_admin_password",
    "alertmanager_admin_password",
    "scrape_password",
    "mysql_archive_password",  # backup_hosts lists this host: the binary-log archive's account
]


SIMULATOR = [sys.executable, "-m", "smartshop_simulator", "run"]
# as make rotate-secrets runs it: the images, the engine and the networks hold no credential
ROTATE_OPTIONS = ("--skip-tags", "images,docker_host,network")
TOKEN = SECRETS / "api_operator_token"


def in_stack_simulator(host) -> dict:
    """The stack's own simulator's /status (requests, unexpected failures by code, ...)."""
    status = host.check_output(
        f"docker exec {PROJECT}-simulator python3 -c "
        "\"import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:9200/status').read().decode())\""
    )
    return json.loads(status)


def database_login(host, user: str, password: str) -> str:
    """'ok' or the server's error code, for a TLS login from this machine to the container."""
    import pymysql

    address = next(iter(host.docker(f"{PROJECT}-mysql").inspect()["NetworkSettings"]["Networks"].values()))
    try:
        pymysql.connect(
            host=address["IPAddress"],
            user=user,
            password=password,
            ssl={"ca": CA, "check_hostname": False},
            connect_timeout=5,
        ).close()
    except pymysql.err.OperationalError as exc:
        return str(exc.args[0])
    return "ok"


@drill
def test_rotating_every_credential_under_load_refuses_no_request(host):
    """make rotate-secrets while shoppers keep buying: through the console's API port (a simulator
    on this machine, reading the token file the rotation replaces) and on the stack network (the
    stack's own simulator). No request of either fails; afterwards every old value is refused,
    every new one accepted, no value shows in the run's output, and the next run changes nothing."""
    before = {name: secret(name) for name in ROTATED}
    stack_failures = in_stack_simulator(host)["unexpected"]
    load = subprocess.Popen(
        [*SIMULATOR, "--host", API, "--rate", "20", "--duration", "0", "--operator-token-file", str(TOKEN)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "app" / "simulator")},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        time.sleep(5)
        started = time.time()
        changed = run_playbook(
            "playbooks/rotate-secrets.yml", options=ROTATE_OPTIONS, also_secret=tuple(before.values())
        )
        took = time.time() - started
    finally:
        load.terminate()
        out, _ = load.communicate(timeout=60)
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["requests"] > 500, summary
    assert summary["failures_by_code"] == {}, summary
    assert in_stack_simulator(host)["unexpected"] == stack_failures
    assert {"Give each account its password (and, during a rotation, the one it replaces)"} <= changed

    after = {name: secret(name) for name in ROTATED}
    assert [name for name in ROTATED if after[name] == before[name]] == []
    assert not list(SECRETS.glob("*.next"))
    for value, expected in ((before, 401), (after, 200)):
        operator = {"Authorization": f"Bearer {value['api_operator_token']}"}
        assert requests.get(f"{API}/api/users", headers=operator, timeout=10).status_code == expected
        console = ("admin", value["console_admin_password"])
        assert requests.get(CONSOLE, auth=console, timeout=10).status_code == expected
        login = ("admin", value["prometheus_admin_password"])
        assert requests.get(f"{PROMETHEUS}/api/v1/targets", auth=login, verify=CA, timeout=10).status_code == expected
        login = ("admin", value["alertmanager_admin_password"])
        status = requests.get("https://127.0.0.1:29093/api/v2/status", auth=login, verify=CA, timeout=10).status_code
        assert status == expected
    for user, name in (
        ("smartshop", "mysql_app_password"),
        ("smartshop_migrator", "mysql_migrator_password"),
        ("exporter", "mysql_exporter_password"),
        ("smartshop_binlog", "mysql_archive_password"),
    ):
        assert database_login(host, user, before[name]) == "1045", user  # access denied
        assert database_login(host, user, after[name]) == "ok", user
    # the archive, cut off while the database took its new password, follows the log again
    deadline = time.monotonic() + 60
    while host.docker(f"{PROJECT}-binlog-archive").inspect()["State"]["Health"]["Status"] != "healthy":
        assert time.monotonic() < deadline, host.run(f"docker logs --tail 20 {PROJECT}-binlog-archive").stderr
        time.sleep(2)
    # the replicas took the new scrape password without missing a scrape, and every target is up
    up = f'up{{job="smartshop-backend"}}[{int(took)}s]'
    missed = prometheus("/api/v1/query", query=f"count_over_time({up}) - sum_over_time({up})", time=started + took)
    assert {r["metric"]["instance"]: float(r["value"][1]) for r in missed["data"]["result"]} == {
        f"{PROJECT}-backend-1:8000": 0,
        f"{PROJECT}-backend-2:8000": 0,
    }
    deadline = time.monotonic() + 60
    while down := [
        t["labels"]["job"] for t in prometheus("/api/v1/targets")["data"]["activeTargets"] if t["health"] != "up"
    ]:
        assert time.monotonic() < deadline, down
        time.sleep(3)
    assert converge() == set()


def create_user(name: str) -> int:
    response = requests.post(f"{API}/api/users/create", json={"username": name}, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def username(user_id: int) -> str | None:
    """The name of the user with this id, None when there is none."""
    response = requests.get(f"{API}/api/users/{user_id}", timeout=10)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return response.json()["username"]


@drill
def test_a_backup_taken_under_load_brings_back_a_purged_stack_on_a_controller_without_credentials(host):
    """make backup while the stack's simulator shops, make down PURGE=1, the credentials directory
    gone, make restore: the database holds what it held at the backup (the role checks every
    table's hash against the backup's before the server starts; a user made before the backup is
    there, one made after is not), Prometheus' history from before the backup is there, the
    credentials come back as they were, every container is healthy, the counters reconcile
    (verify.yml), and the next converge changes nothing. Runs last: it replaces the stack."""
    ephemeral = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
    backups, key = ephemeral / "backups", ephemeral / "backup-key" / "backup.key"
    where = ("-e", f"backup_dir={backups}", "-e", f"backup_key_file={key}")
    before_name, after_name = f"before-backup-{int(time.time())}", f"after-backup-{int(time.time())}"
    before_user = create_user(before_name)
    history_at = time.time() - 60  # a moment Prometheus has samples for, before the backup
    shopped = in_stack_simulator(host)["requests"]

    started = time.time()
    changed = run_playbook("playbooks/backup.yml", options=where)
    assert "Copy, prepare and check the data while the server serves" in changed
    assert in_stack_simulator(host)["requests"] > shopped  # the simulator shopped during the backup
    # this run's (an earlier run of the scenario on this machine may have left its own)
    sealed = sorted(path for path in backups.glob(f"{PROJECT}-*.tar.age") if path.stat().st_mtime >= started)
    assert len(sealed) == 1 and sealed[0].stat().st_mode & 0o077 == 0
    assert key.stat().st_mode & 0o077 == 0 and key.read_text().splitlines()[-1].startswith("AGE-SECRET-KEY-1")
    raw = sealed[0].read_bytes()
    assert raw.startswith(b"age-encryption.org/v1") and secret("mysql_root_password").encode() not in raw
    deadline = time.monotonic() + 60
    query = "smartshop_backup_last_success_timestamp_seconds"
    while not (found := prometheus("/api/v1/query", query=query)["data"]["result"]):
        assert time.monotonic() < deadline, "the backup's time never reached Prometheus"
        time.sleep(3)
    assert found[0]["metric"]["project"] == PROJECT and float(found[0]["value"][1]) >= started
    after_user = create_user(after_name)

    # a purged host and a controller that lost its credentials
    run_playbook("playbooks/teardown.yml", "smartshop_purge=true")
    assert host.run(f"docker volume ls -q --filter label=com.smartshop.project={PROJECT}").stdout.split() == []
    credentials = SECRETS.parent
    before = {path.relative_to(credentials): path.read_bytes() for path in credentials.rglob("*") if path.is_file()}
    aside = credentials.with_name("secrets-before-restore")
    credentials.rename(aside)
    try:
        changed = run_playbook("playbooks/restore.yml", options=where)
    finally:
        if not credentials.exists():
            aside.rename(credentials)
    assert "Copy the backup back into a new data volume and read its checksums" in changed
    assert "Unpack the snapshot into a new data volume" in changed
    after = {path.relative_to(credentials): path.read_bytes() for path in credentials.rglob("*") if path.is_file()}
    assert after == before

    # the user made after the backup is gone (its id may already belong to a shopper made since)
    assert username(before_user) == before_name and username(after_user) != after_name
    history = prometheus("/api/v1/query", query='up{job="prometheus"}', time=history_at)["data"]["result"]
    assert history, "no sample from before the backup: Prometheus' history was not restored"
    assert converge() == set()

    # over a stack with data, a restore refuses (and changes nothing) unless told to replace it
    inventory = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "inventory"
    playbook = str(Path(sys.executable).with_name("ansible-playbook"))
    refused = subprocess.run(
        [playbook, "-i", str(inventory), "playbooks/restore.yml", *where],
        cwd=ROOT,
        env={
            **os.environ,
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "facts"),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert refused.returncode != 0
    assert "holds the stack's data" in refused.stdout and "make restore REPLACE=1" in refused.stdout
    assert username(before_user) == before_name


def mysql_root(host, statement: str) -> str:
    """A statement as root, through the server's socket in its container (as an operator would)."""
    return host.check_output(
        f"docker exec -e MYSQL_PWD={secret('mysql_root_password')} {PROJECT}-mysql "
        f"mariadb -uroot -N -B smartshop -e {shlex.quote(statement)}"
    )


@drill
def test_a_restore_up_to_a_moment_undoes_a_mistake_and_keeps_what_came_before_it(host):
    """make backup; a user made after it; the moment; then an operator's mistake (every name
    overwritten) and a user made after it; make restore UNTIL=<moment> REPLACE=1: the users made
    before the moment are back with their names, the mistake and what came after are gone,
    Prometheus' history since the backup is still there (only the database went back), the saved
    binary logs are removed, and the next converge changes nothing. Runs after the restore of a
    purged stack: the server's binary logs began again there."""
    ephemeral = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
    backups, key = ephemeral / "backups", ephemeral / "backup-key" / "backup.key"
    where = ("-e", f"backup_dir={backups}", "-e", f"backup_key_file={key}")
    stamp = int(time.time())
    before_backup = create_user(f"pitr-before-{stamp}")
    run_playbook("playbooks/backup.yml", options=where)
    after_backup = create_user(f"pitr-after-{stamp}")
    time.sleep(1.5)
    moment = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    history_at = time.time()  # Prometheus has samples from after the backup
    time.sleep(1.5)
    mistake = "UPDATE users SET username = CONCAT('mistake-', id) WHERE id IN (%d, %d)"
    mysql_root(host, mistake % (before_backup, after_backup))
    assert username(before_backup) == f"mistake-{before_backup}"
    too_late = create_user(f"pitr-too-late-{stamp}")
    time.sleep(15)  # a scrape or two after the moment

    changed = run_playbook("playbooks/restore.yml", f"backup_until='{moment}'", "backup_replace=true", options=where)
    assert {"Copy the binary logs out of the data volume",
            "Copy the backup back into a new data volume and read its checksums"} <= changed  # fmt: skip
    assert "Unpack the snapshot into a new data volume" not in changed  # Prometheus' volume stayed
    assert username(before_backup) == f"pitr-before-{stamp}"
    assert username(after_backup) == f"pitr-after-{stamp}"
    assert username(too_late) != f"pitr-too-late-{stamp}"
    history = prometheus("/api/v1/query", query='up{job="prometheus"}', time=history_at)["data"]["result"]
    assert history, "no sample from after the backup: Prometheus' history was replaced"
    assert not host.file(f"/var/lib/{PROJECT}-restore-binlog").exists
    # the simulator was made again: its shoppers hold no id the restore took back
    time.sleep(10)
    shopping = in_stack_simulator(host)
    assert shopping["requests"] > 0 and shopping["unexpected"] == {}, shopping
    assert converge() == set()


def archived_histories(host) -> list[str]:
    listing = host.check_output(f"docker exec {PROJECT}-binlog-archive ls /var/lib/mysql")
    return sorted(listing.split())


@drill
def test_losing_the_database_volume_a_restore_up_to_a_moment_replays_the_archived_logs(host):
    """The database's container and volume gone, as with a dead disk: its binary logs went with them.
    make restore UNTIL=<moment> REPLACE=1 takes them from the binary-log archive (backup_hosts): a user
    made after the backup and before the moment is back, one made after it is not, the archive keeps
    the lost server's history and begins a new one, and the next converge changes nothing."""
    ephemeral = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
    backups, key = ephemeral / "backups", ephemeral / "backup-key" / "backup.key"
    where = ("-e", f"backup_dir={backups}", "-e", f"backup_key_file={key}")
    stamp = int(time.time())
    run_playbook("playbooks/backup.yml", options=where)
    after_backup = create_user(f"lost-after-{stamp}")
    time.sleep(1.5)
    moment = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    time.sleep(1.5)
    too_late = create_user(f"lost-too-late-{stamp}")
    time.sleep(2)  # the archive writes as the server commits; its figures every 5 s
    before = archived_histories(host)
    host.run_test(f"docker rm -f {PROJECT}-mysql")
    host.run_test(f"docker volume rm {PROJECT}-mysql-data")

    changed = run_playbook("playbooks/restore.yml", f"backup_until='{moment}'", "backup_replace=true", options=where)
    assert {"Find the binary logs in the archive (and copy them, with mysql_archive_copy)",
            "Copy the backup back into a new data volume and read its checksums"} <= changed  # fmt: skip
    assert "Copy the binary logs out of the data volume" not in changed
    assert username(after_backup) == f"lost-after-{stamp}"
    assert username(too_late) != f"lost-too-late-{stamp}"
    assert not host.file(f"/var/lib/{PROJECT}-restore-binlog").exists
    # the lost server's history stays; the restored server's is a new one
    deadline = time.monotonic() + 30
    while len(after := archived_histories(host)) == len(before):
        assert time.monotonic() < deadline, after
        time.sleep(2)
    assert set(before) < set(after) and max(after) > max(before)
    assert converge() == set()

    # the same restore again: the server began its logs again (a new volume), so they must come from
    # the archive; with the lost server's history moved aside there, no archive holds them: refused
    # while the server runs, nothing changed
    lost_history = f"/var/lib/mysql/{max(before)}"
    host.run_test(f"docker exec {PROJECT}-binlog-archive mv {lost_history} {lost_history}-aside")
    try:
        running_since = started_at(host, "mysql")
        refused = run_playbook(
            "playbooks/restore.yml", f"backup_until='{moment}'", "backup_replace=true", options=where, fails=True
        )
        said = FAILED_OUTPUT[0]
        assert "no binary-log archive can give them: instance: " in said, said[-3000:]
        assert "Nothing was changed." in said
        assert "Stop the server (its logs come from the archive)" not in refused, refused
        assert started_at(host, "mysql") == running_since
        assert username(after_backup) == f"lost-after-{stamp}"
    finally:
        host.run_test(f"docker exec {PROJECT}-binlog-archive mv {lost_history}-aside {lost_history}")
