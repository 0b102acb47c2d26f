"""The frontend role: the console and the API on loopback, nginx balancing over the replicas."""

import os
from pathlib import Path

import requests

CONSOLE = "http://127.0.0.1:33000"
API = "http://127.0.0.1:38000"
SECRETS = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent")) / "secrets" / "instance"


def login() -> tuple[str, str]:
    return ("admin", (SECRETS / "console_admin_password").read_text().strip())


def test_container(host):
    c = host.docker("mol-frontend-frontend").inspect()
    assert c["State"]["Health"]["Status"] == "healthy"
    assert c["Config"]["User"] == "10002:10002"
    bindings = c["HostConfig"]["PortBindings"]
    assert bindings["3000/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": "33000"}]
    assert bindings["8000/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": "38000"}]
    env = dict(e.split("=", 1) for e in c["Config"]["Env"])
    assert env["SMARTSHOP_BACKENDS"] == "mol-frontend-backend-1:8000 mol-frontend-backend-2:8000"


def test_console_with_security_headers():
    r = requests.get(CONSOLE, auth=login(), timeout=5)
    assert r.status_code == 200 and "SmartShop" in r.text
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    api = requests.get(f"{CONSOLE}/api/stats", auth=login(), timeout=5)
    assert api.status_code == 200 and "total_users" in api.json()
    assert "Access-Control-Allow-Origin" not in api.headers


def test_the_console_needs_the_generated_login_and_holds_the_operator_token(host):
    assert requests.get(CONSOLE, timeout=5).status_code == 401
    assert requests.get(CONSOLE, auth=("admin", "admin"), timeout=5).status_code == 401
    # after the login, nginx adds the token: the operator listing answers; on the API port it does not
    assert requests.get(f"{CONSOLE}/api/users?limit=1", auth=login(), timeout=5).status_code == 200
    assert requests.get(f"{API}/api/users?limit=1", timeout=5).status_code == 401
    assert requests.get(f"{API}/metrics", timeout=5).status_code == 404
    files = host.file(str(SECRETS.parents[1] / "etc" / "mol-frontend-frontend"))
    assert files.mode == 0o500 and files.uid == 10002
    htpasswd = host.file(f"{files.path}/console_htpasswd")
    # bcrypt at cost 4: nginx checks it on every request
    assert htpasswd.mode == 0o400 and htpasswd.content_string.startswith("admin:$2b$04$")


def test_api_port_balances_over_both_replicas(host):
    for _ in range(40):
        assert requests.post(f"{API}/api/users/create", timeout=5).status_code == 201
    counts = []
    for replica in ("mol-frontend-backend-1", "mol-frontend-backend-2"):
        code = (
            "import urllib.request, re; token = open('/run/secrets/operator_token').read().strip();"
            " t = urllib.request.urlopen(urllib.request.Request('http://127.0.0.1:8000/metrics',"
            " headers={'Authorization': 'Bearer ' + token})).read().decode();"
            " print(sum(float(v) for v in re.findall("
            'r\'smartshop_http_requests_total{method="POST",route="/api/users/create",status="201"} (\\S+)\', t)))'
        )
        out = host.run("docker exec %s python3 -c %s", replica, code)
        assert out.rc == 0, out.stderr
        counts.append(float(out.stdout))
    assert sum(counts) == 40 and min(counts) > 0, counts


def test_not_reachable_on_other_addresses(host):
    for address in host.run("hostname -I").stdout.split():
        for port in (33000, 38000):
            assert host.run(f"timeout 3 bash -c 'exec 3<>/dev/tcp/{address}/{port}'").rc != 0
