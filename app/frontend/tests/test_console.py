"""The admin console in a real browser (Debian's chromium driven by Playwright), through nginx,
against two backend replicas and MariaDB in containers. Each section is clicked through and
the numbers on the page must change."""

from __future__ import annotations

import json
import re
import shutil
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from playwright.sync_api import Page, expect, sync_playwright
from testing.stack import wait_healthy

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, app_stack):
    username, password = app_stack["console_login"]
    context = browser.new_context(http_credentials={"username": username, "password": password})
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: msg.type == "error" and "Failed to load resource" not in msg.text and page.errors.append(msg.text),
    )
    page.goto(app_stack["console"])
    expect(page.get_by_test_id("api-status")).to_have_text("API OK")
    yield page
    assert page.errors == [], page.errors  # no script error, no CSP violation
    context.close()


def stat(page: Page, key: str) -> str:
    return page.locator(f'[data-stat="{key}"]').inner_text()


def number(page: Page, key: str) -> float:
    return float(re.sub(r"[^0-9.]", "", stat(page, key)) or 0)


def wait_number(page: Page, key: str, expected: float) -> None:
    expect(page.locator(f'[data-stat="{key}"]')).to_have_text(re.compile(rf"^{int(expected)}(\.| |$)"))


def order_row(page: Page, order_id: str):
    return page.locator(f'#orders-body tr[data-order-id="{order_id}"]')


def test_security_headers_and_same_origin_api(app_stack):
    r = requests.get(app_stack["console"], auth=app_stack["console_login"], timeout=5)
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    api = requests.get(f"{app_stack['console']}/api/stats", auth=app_stack["console_login"], timeout=5)
    assert api.status_code == 200
    assert "Access-Control-Allow-Origin" not in api.headers


@pytest.mark.parametrize(
    "path",
    ["/", "/index.html", "/config.json", "/api/stats", "/api/errors/500", "/charts/orders", "/vendor/chart.min.js"],
)
def test_the_console_asks_for_its_login(app_stack, path):
    for auth in (None, ("admin", "wrong-password"), ("root", app_stack["console_login"][1])):
        r = requests.get(f"{app_stack['console']}{path}", auth=auth, timeout=5)
        assert r.status_code == 401, (path, auth, r.status_code)
        # the browser asks for the login; a script reads why, as JSON like every other error
        assert r.headers["WWW-Authenticate"] == 'Basic realm="SmartShop console"', (path, r.headers)
        assert r.headers["Content-Type"] == "application/json", (path, r.headers)
        assert r.json()["status"] == 401 and "console_admin_password" in r.json()["error"], (path, r.text)
        assert r.headers["WWW-Authenticate"].startswith("Basic")
    assert requests.get(f"{app_stack['console']}/healthz", timeout=5).status_code == 200  # the healthcheck


def test_charts_without_a_prometheus_say_so_and_chart_js_comes_from_debian(app_stack):
    """A console whose inventory has no Prometheus: each chart answers a clear 503, never a query
    of the browser's; Chart.js is Debian's copy, served by the console."""
    login = app_stack["console_login"]
    for name in ("orders", "payments", "errors", "latency"):
        r = requests.get(f"{app_stack['console']}/charts/{name}", auth=login, timeout=5)
        assert r.status_code == 503, (name, r.status_code)
        assert "no Prometheus configured" in r.json()["error"]
    script = requests.get(f"{app_stack['console']}/vendor/chart.min.js", auth=login, timeout=5)
    assert script.status_code == 200
    assert script.headers["Content-Type"].startswith("application/javascript")
    assert "Chart.js v3" in script.text[:300]


def test_the_console_adds_the_operator_token_so_the_browser_never_holds_it(app_stack, browser):
    """After the login, nginx calls the operator routes with the token; the page never sees it."""
    r = requests.get(f"{app_stack['console']}/api/users?limit=1", auth=app_stack["console_login"], timeout=5)
    assert r.status_code == 200 and "users" in r.json()
    assert app_stack["operator_token"] not in r.text
    username, password = app_stack["console_login"]
    context = browser.new_context(http_credentials={"username": username, "password": password})
    page = context.new_page()
    bodies: list[str] = []
    page.on("response", lambda response: bodies.append(response.text() if response.ok else ""))
    page.goto(app_stack["console"])
    expect(page.get_by_test_id("api-status")).to_have_text("API OK")
    page.wait_for_load_state("networkidle")
    assert bodies and not any(app_stack["operator_token"] in body for body in bodies)
    context.close()


def test_the_public_api_port_hides_metrics_and_guards_operator_routes(app_stack):
    api = app_stack["api"]
    assert requests.get(f"{api}/api/stats", timeout=5).status_code == 200  # the shop stays public
    metrics = requests.get(f"{api}/metrics", headers=app_stack["operator"], timeout=5)
    assert metrics.status_code == 404 and metrics.json()["error"]
    assert requests.get(f"{api}/api/errors/500", timeout=5).status_code == 401
    assert requests.get(f"{api}/api/errors/500", headers=app_stack["operator"], timeout=5).status_code == 500


def _raw(url: str, request: bytes) -> tuple[int, str, str]:
    """Send request bytes as they are (no client library would send a broken request line)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(request)
        answer = b""
        while True:
            try:
                chunk = conn.recv(65536)
            except ConnectionResetError:
                # nginx answered, then closed with part of a refused request unread: the kernel sends
                # a reset, which can reach us before our last recv (the answer is whole: json.loads)
                if not answer:
                    raise
                break
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.decode("latin-1").partition("\r\n\r\n")
    content_type = next(
        (line.split(":", 1)[1].strip() for line in head.split("\r\n") if line.lower().startswith("content-type:")), ""
    )
    return int(head.split()[1]), content_type, body


@pytest.mark.parametrize("port", ["api", "console"])
@pytest.mark.parametrize(
    ("request_bytes", "status", "says"),
    [
        (b"GARBAGE\r\n\r\n", 400, "malformed request"),
        (b"GET /api/users/%00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400, "malformed request"),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 414, "path too long"),
        (
            b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\nConnection: close\r\n\r\n",
            400,
            "headers too large",
        ),
        (
            b"POST /api/users/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 70000\r\n"
            b"Connection: close\r\n\r\n" + b"a" * 70000,
            413,
            "body too large",
        ),
        (b"GET /.smartshop/errors/400 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404, "no such resource"),
        (b"TRACE /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 405, "method not allowed"),
    ],
    ids=[
        "request-line",
        "nul-in-path",
        "path-too-long",
        "header-too-large",
        "body-too-large",
        "error-page-itself",
        "trace",
    ],
)
def test_what_nginx_refuses_itself_is_json_like_the_api(app_stack, port, request_bytes, status, says):
    """nginx answers these before any replica sees them; its own pages were HTML, and a broken
    request line sent to a named error location was a 500."""
    code, content_type, body = _raw(app_stack[port], request_bytes)
    assert code == status, body
    assert content_type == "application/json"
    assert json.loads(body) == {"error": json.loads(body)["error"], "status": status}
    assert says in json.loads(body)["error"]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
@pytest.mark.parametrize("path", ["/", "/index.html", "/runbooks/ApiSlow.md", "/charts/orders"])
def test_a_write_to_the_consoles_files_is_a_json_405_and_the_file_stays(app_stack, method, path):
    """Logged in, a write to one of the console's files: nginx's own 405 page was HTML. A chart
    answered any method (its query is sent as GET): it is read-only too."""
    console, login = app_stack["console"], app_stack["console_login"]
    before = requests.get(f"{console}{path}", auth=login, timeout=5)
    r = requests.request(method, f"{console}{path}", auth=login, data=b"x", timeout=5)
    assert r.status_code == 405, (method, path, r.status_code, r.text[:200])
    assert r.headers["Content-Type"] == "application/json", r.headers
    assert r.json() == {"error": "method not allowed on this resource", "status": 405}
    assert r.headers["Allow"] == "GET, HEAD"  # what the resource has (RFC 9110)
    assert r.headers["X-Frame-Options"] == "DENY"  # the console's headers are kept
    after = requests.get(f"{console}{path}", auth=login, timeout=5)
    assert after.status_code == before.status_code and after.content == before.content
    assert "Allow" not in after.headers  # named on the 405 only


@pytest.mark.parametrize("path", ["/runbooks", "/api"])
def test_a_redirect_nginx_makes_trusts_no_host_header(app_stack, path):
    """A directory without its slash: the Location was http://<the client's Host>:3000/...: any
    name a client sent, and the container's port rather than the published one."""
    r = requests.get(
        f"{app_stack['console']}{path}",
        auth=app_stack["console_login"],
        headers={"Host": "evil.example"},
        allow_redirects=False,
        timeout=5,
    )
    assert r.status_code == 301 and r.headers["Location"] == f"{path}/", r.headers


@pytest.mark.parametrize("port", ["api", "console"])
def test_a_405_names_the_methods_the_api_route_has(app_stack, port):
    """Through nginx, a replica's 405 keeps its Allow header (the route's methods, RFC 9110)."""
    login = app_stack["console_login"] if port == "console" else None
    r = requests.delete(f"{app_stack[port]}/api/orders/create", auth=login, timeout=5)
    assert r.status_code == 405 and r.json()["status"] == 405, r.text[:200]
    assert set(r.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}


def test_writes_beyond_the_per_client_rate_get_429_and_reads_do_not(app_stack, docker_client, images, container_prefix):
    """A console whose write limit is 1/s with a burst of 2, in front of the same replicas."""
    backends = " ".join(f"{c.name}:8000" for c in app_stack["containers"] if "-backend-" in c.name)
    limited = docker_client.containers.run(
        images["frontend"],
        name=f"{container_prefix}-frontend-limited",
        detach=True,
        network=app_stack["network"],
        environment={"SMARTSHOP_BACKENDS": backends, "SMARTSHOP_WRITE_RATE": "1", "SMARTSHOP_WRITE_BURST": "2"},
        ports={"8000/tcp": ("127.0.0.1", None)},
    )
    try:
        wait_healthy(limited)
        limited.reload()
        api = f"http://127.0.0.1:{limited.ports['8000/tcp'][0]['HostPort']}"
        statuses = [requests.post(f"{api}/api/errors/custom", timeout=5).status_code for _ in range(6)]
        assert statuses.count(429) >= 3, statuses  # the burst of 2 (and at most 1 refill) got through
        refused = requests.post(f"{api}/api/errors/custom", timeout=5)
        assert refused.status_code == 429 and refused.json()["status"] == 429
        assert refused.headers["Retry-After"] == "1"
        assert refused.headers["X-Content-Type-Options"] == "nosniff"
        assert all(requests.get(f"{api}/api/stats", timeout=5).status_code == 200 for _ in range(6))
    finally:
        limited.remove(force=True, v=True)


def test_when_no_replica_can_answer_the_api_port_says_so_in_json(app_stack, docker_client, images, container_prefix):
    """An nginx (as an edge would be) whose only replica is a name on the network where nothing
    listens: 502 in the API's JSON shape, with Retry-After, never nginx's HTML page."""
    lonely = docker_client.containers.run(
        images["frontend"],
        name=f"{container_prefix}-frontend-no-replica",
        detach=True,
        network=app_stack["network"],
        environment={"SMARTSHOP_BACKENDS": f"{app_stack['containers'][0].name}:9"},  # a port nothing serves
        ports={"8000/tcp": ("127.0.0.1", None)},
    )
    try:
        wait_healthy(lonely)
        lonely.reload()
        api = f"http://127.0.0.1:{lonely.ports['8000/tcp'][0]['HostPort']}"
        for method in ("GET", "POST"):
            answer = requests.request(method, f"{api}/api/users/create", timeout=10)
            assert answer.status_code == 502 and answer.headers["Content-Type"] == "application/json"
            assert answer.json() == {"error": "no API replica could take the request, retry later", "status": 502}
            assert answer.headers["Retry-After"] == "1"
            assert answer.headers["X-Content-Type-Options"] == "nosniff"
    finally:
        lonely.remove(force=True, v=True)


def test_links_to_grafana_and_prometheus(page):
    expect(page.locator("#link-grafana")).to_have_attribute("href", "http://grafana.test:3030")
    expect(page.locator("#link-prometheus")).to_have_attribute("href", "http://prometheus.test:9090")


def test_users_section(page):
    users = number(page, "total_users")
    page.click("#create-user")
    wait_number(page, "total_users", users + 1)
    page.fill("#user-name", "browser_user")
    page.click("#create-user")
    wait_number(page, "total_users", users + 2)
    row = page.locator("#users-body tr", has_text="browser_user")
    expect(row).to_have_count(1)
    active = number(page, "active_users_today")
    row.get_by_role("button", name="Connexion", exact=True).click()
    expect(row.locator("td").nth(2)).to_have_text("oui")
    wait_number(page, "active_users_today", active + 1)
    expect(page.locator("#activity-list")).to_contain_text("User logged in: browser_user (low)")
    row.get_by_role("button", name="Déconnexion", exact=True).click()
    expect(row.locator("td").nth(2)).to_have_text("non")


def create_order(page: Page, product: str) -> str:
    label = page.locator("#order-product option", has_text=product).first.inner_text()
    page.select_option("#order-product", label=label)
    before = (
        page.locator("#orders-body tr").first.get_attribute("data-order-id")
        if page.locator("#orders-body tr").count()
        else None
    )
    page.click("#create-order")
    expect(page.get_by_test_id("last-result")).to_contain_text("Création commande: 201")
    first = page.locator("#orders-body tr").first
    expect(first).not_to_have_attribute("data-order-id", before or "none")
    return first.get_attribute("data-order-id")


def test_orders_and_payments_section(page):
    page.click("#create-user")
    expect(page.get_by_test_id("last-result")).to_contain_text("201")
    pending, last10 = number(page, "pending_orders"), number(page, "orders_last_10min")
    successes, failures = number(page, "total_success_payments"), number(page, "total_failed_payments")

    paid = create_order(page, "Montre connectée")
    wait_number(page, "pending_orders", pending + 1)
    wait_number(page, "orders_last_10min", last10 + 1)
    row = order_row(page, paid)
    expect(row.locator(".status")).to_have_text("pending")
    # the buttons are exactly the actions the API allows on the order
    expect(row.get_by_role("button")).to_have_text(["Valider", "Annuler"])
    row.get_by_role("button", name="Valider", exact=True).click()
    expect(row.locator(".status")).to_have_text("validated")
    row.get_by_role("button", name="Traiter", exact=True).click()
    expect(row.locator(".status")).to_have_text("processing")
    row.get_by_role("button", name="Payer ✓", exact=True).click()
    expect(row.locator(".status")).to_have_text("paid")
    expect(row.get_by_role("button")).to_have_count(0)
    wait_number(page, "total_success_payments", successes + 1)
    expect(page.locator("#activity-list")).to_contain_text(f"Payment success for order {paid} - 199.99€ (low)")

    failed = create_order(page, "Ecouteurs sans fil")
    row = order_row(page, failed)
    row.get_by_role("button", name="Valider", exact=True).click()
    row.get_by_role("button", name="Traiter", exact=True).click()
    expect(row.locator(".status")).to_have_text("processing")
    row.get_by_role("button", name="Payer ✗", exact=True).click()
    expect(row.locator(".status")).to_have_text("payment_failed")
    expect(row.get_by_role("button")).to_have_text(["Retraiter", "Annuler"])
    wait_number(page, "total_failed_payments", failures + 1)

    cancelled = create_order(page, "Coque")
    row = order_row(page, cancelled)
    row.get_by_role("button", name="Annuler", exact=True).click()
    expect(row.locator(".status")).to_have_text("cancelled")
    wait_number(page, "pending_orders", pending)  # all three left pending


def test_an_api_that_does_not_answer_is_said_unreachable_and_the_console_goes_on(page):
    """The network fails under the console (the browser's requests reset, as a dropped connection
    would): the badge and the last result say so, with no script error (the fixture checks), and the
    console comes back by itself once the API answers again."""
    page.route("**/api/**", lambda route: route.abort("connectionreset"))
    expect(page.get_by_test_id("api-status")).to_have_text("API injoignable")
    page.click("#create-user")
    expect(page.get_by_test_id("last-result")).to_have_text("Création utilisateur: pas de réponse — API injoignable")
    page.unroute("**/api/**")
    expect(page.get_by_test_id("api-status")).to_have_text("API OK")
    page.click("#create-user")
    expect(page.get_by_test_id("last-result")).to_contain_text("Création utilisateur: 201")


def test_error_simulation_section(page):
    before = stat(page, "activities_last_hour")
    page.click("#error-404")
    expect(page.get_by_test_id("last-result")).to_contain_text("Erreur 404: 404")
    page.click("#error-500")
    expect(page.get_by_test_id("last-result")).to_contain_text("Erreur 500: 500")
    page.fill("#error-message", "panne simulée")
    page.click("#error-custom")
    expect(page.get_by_test_id("last-result")).to_contain_text("Erreur personnalisée: 400 — panne simulée")
    expect(page.locator("#activity-list")).to_contain_text("Custom error 400: panne simulée (high)")
    expect(page.locator('[data-stat="activities_last_hour"]')).not_to_have_text(before)


def test_stats_refresh_without_reload(page, app_stack):
    users = number(page, "total_users")
    requests.post(f"{app_stack['backend']}/api/users/create", timeout=5)  # behind the page's back
    wait_number(page, "total_users", users + 1)


SLOW_REPLICA = """
import http.server, json, time
class Slow(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        time.sleep(float(self.path.rsplit("=", 1)[-1]) if "=" in self.path else 0)
        body = json.dumps({"served_by": "slow"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("", 8000), Slow).serve_forever()
"""


def test_a_drained_replica_gets_no_request_once_those_it_holds_have_finished(
    app_stack, docker_client, images, tmp_path, container_prefix
):
    """The edge's drain (a rolling update): a replica listed in SMARTSHOP_DRAINED_DIR is rendered
    down. `reload SECONDS` returns once the request in flight to it has been answered, which it is,
    and fails, naming the wait, when that takes longer."""
    replica = next(c.name for c in app_stack["containers"] if "-backend-" in c.name)
    drained = tmp_path / "drained"
    drained.mkdir()
    drained.chmod(0o755)
    slow = docker_client.containers.run(
        images["backend"],
        name=f"{container_prefix}-slow-replica",
        entrypoint=["python3", "-c", SLOW_REPLICA],
        detach=True,
        network=app_stack["network"],
    )
    edge = docker_client.containers.run(
        images["frontend"],
        name=f"{container_prefix}-frontend-edge",
        detach=True,
        network=app_stack["network"],
        environment={
            "SMARTSHOP_BACKENDS": f"{replica}:8000 {slow.name}:8000",
            "SMARTSHOP_DRAINED_DIR": "/run/smartshop-drained",
        },
        volumes={str(drained): {"bind": "/run/smartshop-drained", "mode": "ro"}},
        ports={"8000/tcp": ("127.0.0.1", None)},
    )
    try:
        wait_healthy(edge)
        edge.reload()
        api = f"http://127.0.0.1:{edge.ports['8000/tcp'][0]['HostPort']}"

        def served_by(path: str = "/api/stats") -> str:
            answer = requests.get(f"{api}{path}", timeout=15)
            assert answer.status_code == 200, answer.text
            return "slow" if answer.json().get("served_by") == "slow" else "replica"

        def reload(seconds: int) -> tuple[int, str, float]:
            started = time.monotonic()
            code, output = edge.exec_run(["/usr/local/bin/docker-entrypoint.sh", "reload", str(seconds)])
            return code, output.decode(), time.monotonic() - started

        assert {served_by() for _ in range(8)} == {"slow", "replica"}
        # the API replica drained: everything goes to the slow one
        (drained / "app1").write_text(f"{replica}:8000\n")
        assert reload(10)[0] == 0
        assert {served_by() for _ in range(8)} == {"slow"}

        # a request the slow replica holds for 3 s when it is drained in turn (the API one back)
        with ThreadPoolExecutor(max_workers=1) as pool:
            in_flight = pool.submit(served_by, "/api/stats?seconds=3")
            time.sleep(0.5)
            (drained / "app1").unlink()
            (drained / "app2").write_text(f"{slow.name}:8000\n")
            code, output, waited = reload(10)
            assert code == 0, output
            assert waited >= 2, waited  # it waited for the request in flight, not for nothing
            assert in_flight.result() == "slow"  # which was answered
        assert {served_by() for _ in range(8)} == {"replica"}

        # undrained, but a request held longer than the wait: the reload says so
        (drained / "app2").unlink()
        assert reload(10)[0] == 0
        with ThreadPoolExecutor(max_workers=4) as pool:
            # four at once: the balancing sends some to the slow replica
            held = [pool.submit(served_by, "/api/stats?seconds=4") for _ in range(4)]
            time.sleep(0.5)
            code, output, _ = reload(1)
            assert code == 1 and "still busy after 1 s" in output, (code, output)
            assert "slow" in {h.result() for h in held}  # all answered all the same
    finally:
        edge.remove(force=True, v=True)
        slow.remove(force=True, v=True)
