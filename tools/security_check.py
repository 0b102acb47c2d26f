"""The deployed stack (make up), tried as an outsider would: every check sends a request an
anonymous or hostile client could send, to this machine's published ports (127.0.0.1) or, for what
is not published, from inside the container to its own loopback. Prints one line per check and a
summary; exits non-zero when any check fails.   make security-check"""

# ruff: noqa: E501 - the checks read as a table, one line each
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import requests

SECRETS = Path(os.environ.get("SMARTSHOP_SECRETS_DIR", Path.home() / ".smartshop" / "secrets"))
HOST = os.environ.get("SMARTSHOP_HOST", "localhost")
PROJECT = os.environ.get("SMARTSHOP_PROJECT", "smartshop")
CA = str(SECRETS / "ca" / "ca.crt")
API, CONSOLE = "http://127.0.0.1:8000", "http://127.0.0.1:3000"
PROMETHEUS, ALERTMANAGER, MYSQLD_EXPORTER = "https://127.0.0.1:9090", "https://127.0.0.1:9093", "https://127.0.0.1:9104"


def secret(name: str) -> str:
    """A credential file's value; one kept in Ansible Vault is opened with ansible-vault (the vault
    password from ANSIBLE_VAULT_PASSWORD_FILE, as for make up)."""
    path = SECRETS / HOST / name
    text = path.read_text()
    if text.startswith("$ANSIBLE_VAULT;"):
        vault = Path(sys.executable).with_name("ansible-vault")
        text = subprocess.run([str(vault), "view", str(path)], capture_output=True, text=True, check=True).stdout
    return text.strip()


def status(method: str, url: str, **kwargs) -> int:
    """The answer's status, a redirect not followed (it could name any host); -1 when the connection
    is refused, -2 on any other transport error."""
    try:
        return requests.request(method, url, timeout=10, verify=CA, allow_redirects=False, **kwargs).status_code
    except requests.RequestException as exc:
        return -1 if "refused" in str(exc).lower() else -2


def docker(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False, timeout=60)


def sql(user: str, password: str, tls: str, query: str) -> subprocess.CompletedProcess:
    return docker(
        "exec", f"{PROJECT}-mysql", "mariadb", "--protocol=tcp", "-h127.0.0.1", tls, f"-u{user}", f"-p{password}",
        "-N", "-e", query,
    )  # fmt: skip


def containers() -> list[dict]:
    ids = docker("ps", "-q", "--filter", f"label=com.smartshop.project={PROJECT}").stdout.split()
    return json.loads(docker("inspect", *ids).stdout) if ids else []


SILENCE = {
    "matchers": [{"name": "alertname", "value": ".+", "isRegex": True}],
    "startsAt": "2026-01-01T00:00:00Z",
    "endsAt": "2099-01-01T00:00:00Z",
    "createdBy": "outsider",
    "comment": "mute everything",
}
JSON = {"Content-Type": "application/json"}
# (what an outsider tries, request, the answers that mean it was refused)
HTTP_CHECKS = [
    ("Prometheus API refuses an anonymous caller", ("GET", f"{PROMETHEUS}/api/v1/targets", {}), {401}),
    ("Prometheus cannot be stopped over HTTP", ("POST", f"{PROMETHEUS}/-/quit", {}), {401, 403, 404, 405}),
    ("Prometheus' admin API refuses an anonymous snapshot", ("POST", f"{PROMETHEUS}/api/v1/admin/tsdb/snapshot", {}), {401}),
    ("Prometheus' admin API refuses an anonymous deletion", ("POST", f"{PROMETHEUS}/api/v1/admin/tsdb/delete_series?match[]=up", {}), {401}),
    ("Prometheus serves no plain HTTP", ("GET", "http://127.0.0.1:9090/api/v1/targets", {}), {400, -1}),
    ("Alertmanager refuses an anonymous silence", ("POST", f"{ALERTMANAGER}/api/v2/silences", {"json": SILENCE}), {401}),
    ("Alertmanager hides its alerts", ("GET", f"{ALERTMANAGER}/api/v2/alerts", {}), {401}),
    ("mysqld_exporter refuses an anonymous scrape", ("GET", f"{MYSQLD_EXPORTER}/metrics", {}), {401}),
    ("the API's /metrics (revenue) is not on the public port", ("GET", f"{API}/metrics", {}), {404}),
    ("no anonymous error injection (no page for the on-call)", ("GET", f"{API}/api/errors/500", {}), {401}),
    ("no anonymous forced payment outcome", ("POST", f"{API}/api/payments/process/1", {"json": {"status": "success"}}), {401}),
    ("no anonymous user listing", ("GET", f"{API}/api/users", {}), {401}),
    ("the console asks for its login", ("GET", CONSOLE, {}), {401}),
    ("the console refuses admin/admin", ("GET", CONSOLE, {"auth": ("admin", "admin")}), {401}),
    ("10,000-deep JSON is a 4xx", ("POST", f"{API}/api/users/create", {"data": "[" * 10000 + "]" * 10000, "headers": JSON}), {400, 413}),
    ("a 25-digit id is a 404", ("GET", f"{API}/api/users/{'9' * 25}", {}), {404}),
    ("an unknown method is a 405", ("PROPFIND", f"{API}/api/stats", {}), {405}),
    ("TRACE is refused on the API's port (no request echoed back: cross-site tracing)", ("TRACE", f"{API}/api/health", {"headers": {"Cookie": "session=outsider"}}), {405}),
    ("TRACE is refused on the console's port", ("TRACE", CONSOLE, {"headers": {"Cookie": "session=outsider"}}), {405}),
    ("a 1 MB body is a 413", ("POST", f"{API}/api/users/create", {"data": "x" * 1_000_000}), {413}),
    ("a right-to-left override in a name is a 422", ("POST", f"{API}/api/users/create", {"json": {"username": "bob\u202egnp"}}), {422}),
    ("a doubled slash is a 404, no redirect to the host a header names", ("GET", f"{API}/api//users", {"headers": {"Host": "evil.example"}}), {404}),
]  # fmt: skip
# POST /rate on the simulator's own loopback (its port is not published)
RATE = (
    "import urllib.request as u\n"
    "try:\n"
    "    u.urlopen(u.Request('http://127.0.0.1:9200/rate', data=b'{\"rate\": null}', method='POST'), timeout=5)\n"
    "    print(200)\n"
    "except Exception as e:\n"
    "    print(getattr(e, 'code', -1))"
)


# blackbox_exporter's /probe fetches any URL it is given: only with the login (target: itself)
PROBE = (
    "wget -q -O /dev/null --ca-certificate=/etc/blackbox_exporter/secrets/ca.pem "
    "'https://127.0.0.1:9115/probe?module=http_2xx&target=http://127.0.0.1:9115/'; echo $?"
)
# the mailbox takes no mail before STARTTLS (530), so no alert is forged or read in clear
MAIL = "import smtplib; s = smtplib.SMTP('127.0.0.1', 2525, timeout=5); print(s.mail('outsider@example.org')[0])"


def least_privilege(c: dict) -> bool:
    hc = c["HostConfig"]
    return (
        hc["CapDrop"] == ["ALL"]
        and not hc["CapAdd"]
        and "no-new-privileges" in (hc["SecurityOpt"] or [])
        and hc["ReadonlyRootfs"]
        and hc["Memory"] > 0
        and bool(hc["PidsLimit"])
    )


def checks():
    for name, (method, url, kwargs), refused in HTTP_CHECKS:
        yield name, status(method, url, **kwargs) in refused
    # a directory without its slash: nginx's redirect once named whatever Host the client sent
    login = ("admin", secret("console_admin_password"))
    moved = requests.get(
        f"{CONSOLE}/runbooks", auth=login, headers={"Host": "evil.example"}, allow_redirects=False, timeout=10
    )
    yield "the console's redirects name no host a client sent", moved.headers.get("Location") == "/runbooks/"
    root = sql("root", secret("mysql_root_password"), "--skip-ssl", "SELECT 1")
    yield "MariaDB root cannot log in over the network, even with its password", root.returncode != 0
    plain = sql("smartshop", secret("mysql_app_password"), "--skip-ssl", "SELECT 1")
    yield "MariaDB's application account refuses a connection without TLS", plain.returncode != 0
    infile = sql("smartshop", secret("mysql_app_password"), "--ssl", "SELECT @@local_infile")
    yield "MariaDB's LOAD DATA LOCAL is off", infile.stdout.strip() == "0"
    rate = docker("exec", f"{PROJECT}-simulator", "python3", "-c", RATE)
    yield "the simulator's rate cannot be changed without the token", rate.stdout.strip() == "401"
    probe = docker("exec", f"{PROJECT}-blackbox-exporter", "sh", "-c", PROBE)
    yield "blackbox_exporter lends its /probe to no anonymous caller", probe.stdout.strip() == "6"
    mail = docker("exec", f"{PROJECT}-mailbox", "python3", "-c", MAIL)
    yield "the alerts' mailbox takes no mail before STARTTLS", mail.stdout.strip() == "530"
    running = containers()
    name = f"every container ({len(running)}) drops all capabilities, gains no privileges, runs read-only, limited"
    yield name, bool(running) and all(least_privilege(c) for c in running)
    bindings = [b for c in running for bs in (c["HostConfig"]["PortBindings"] or {}).values() for b in bs]
    yield "no published port listens beyond 127.0.0.1", all(b["HostIp"] == "127.0.0.1" for b in bindings)
    files = [p for p in (SECRETS / HOST).iterdir() if p.is_file() and p.suffix != ".crt"] + [SECRETS / "ca" / "ca.key"]
    files += [SECRETS, SECRETS / HOST, SECRETS / "ca"]  # and no one else lists them
    yield (
        f"every generated secret and its directory ({len(files)}) is its owner's only",
        all(p.stat().st_mode & 0o077 == 0 for p in files),
    )
    info = json.loads(docker("info", "--format", "{{json .}}").stdout)
    yield "the engine keeps containers running across its restarts", info.get("LiveRestoreEnabled") is True


def main() -> int:
    results = list(checks())
    for name, ok in results:
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    passed = sum(ok for _, ok in results)
    print(json.dumps({"checks": len(results), "passed": passed, "failed": len(results) - passed}))
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
