"""Unit tests: no database. Randomness is seeded; files are temporary."""

import logging
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from smartshop_backend import create_app, db, domain, server
from smartshop_backend.config import ConfigError, Settings
from smartshop_backend.counters import Counters
from smartshop_backend.migrate import Migration, available
from smartshop_backend.names import random_username
from smartshop_backend.openapi import document, undocumented_routes
from smartshop_backend.shop import Shop


def test_settings_defaults():
    s = Settings.from_env({})
    assert (s.db_host, s.db_port, s.payment_success_ratio) == ("mysql", 3306, 0.8)


def test_password_from_file(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("s3cret-value\n")
    s = Settings.from_env({"SMARTSHOP_DB_PASSWORD_FILE": str(secret)})
    assert s.db_password == "s3cret-value"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"SMARTSHOP_DB_PORT": "abc"}, "SMARTSHOP_DB_PORT"),
        ({"SMARTSHOP_DB_PORT": "70000"}, "SMARTSHOP_DB_PORT"),
        ({"PAYMENT_SUCCESS_RATIO": "1.5"}, "PAYMENT_SUCCESS_RATIO"),
        ({"PAYMENT_SUCCESS_RATIO": "most"}, "PAYMENT_SUCCESS_RATIO"),
        ({"SMARTSHOP_DB_PASSWORD_FILE": "/nonexistent/pw"}, "SMARTSHOP_DB_PASSWORD_FILE"),
        ({"SMARTSHOP_DB_PASSWORD": "a", "SMARTSHOP_DB_PASSWORD_FILE": "/x"}, "SMARTSHOP_DB_PASSWORD"),
        ({"SMARTSHOP_OPERATOR_TOKEN": "short"}, "SMARTSHOP_OPERATOR_TOKEN"),
        ({"SMARTSHOP_SCRAPE_PASSWORD": " padded-password-123 "}, "SMARTSHOP_SCRAPE_PASSWORD"),
        ({"SMARTSHOP_DB_SSL_CA": "/nonexistent/ca.pem"}, "SMARTSHOP_DB_SSL_CA"),
    ],
)
def test_bad_settings_name_the_variable(env, variable):
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env(env)


def test_a_database_ca_makes_every_connection_tls_and_secrets_stay_out_of_repr(tmp_path):
    from smartshop_backend.config import connect_args

    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    s = Settings.from_env({"SMARTSHOP_DB_SSL_CA": str(ca), "SMARTSHOP_OPERATOR_TOKEN": "t" * 32})
    args = connect_args(s)
    assert args["ssl"] == {"ca": str(ca)}
    assert "ssl-verify-server-cert=1" in Path(args["read_default_file"]).read_text().splitlines()
    assert connect_args(Settings.from_env({})) == {}
    assert "t" * 32 not in repr(s)


def test_random_usernames_look_like_the_seed():
    rng = random.Random(7)
    names = {random_username(rng) for _ in range(200)}
    assert all(re.fullmatch(r"[A-Z][a-z]+\d{1,3}", n) for n in names)
    assert len(names) > 150


def test_requested_payment_outcome_is_honoured():
    shop = Shop(Counters(4), payment_success_ratio=1.0, rng=random.Random(1))
    assert shop.outcome("failed") == "failed"  # the seed recorded this as a success
    assert Shop(Counters(4), 0.0).outcome("success") == "success"


@pytest.mark.parametrize("ratio", [0.8, 0.5, 0.95])
def test_random_outcome_follows_the_ratio(ratio):
    shop = Shop(Counters(4), payment_success_ratio=ratio, rng=random.Random(42))
    draws = [shop.outcome(None) for _ in range(20_000)]
    assert abs(draws.count("success") / len(draws) - ratio) < 0.01


def test_state_machine_cannot_leave_terminal_states():
    for action in domain.ACTIONS.values():
        assert "paid" not in action.sources
        assert "cancelled" not in action.sources
    assert domain.allowed_actions("paid") == domain.allowed_actions("cancelled") == []


def test_every_status_is_reachable_and_every_action_lands_on_a_status():
    targets = {domain.INITIAL_STATUS, *domain.PAYMENT_RESULT.values()}
    targets |= {action.target for action in domain.ACTIONS.values() if action.target}
    assert targets == set(domain.STATUSES)
    assert {s for action in domain.ACTIONS.values() for s in action.sources} <= set(domain.STATUSES)


@pytest.mark.parametrize(
    ("status", "actions"),
    [
        ("pending", ["validate", "cancel"]),
        ("validated", ["process", "cancel"]),
        ("processing", ["pay", "cancel"]),
        ("payment_failed", ["process", "cancel"]),
        ("paid", []),
    ],
)
def test_allowed_actions_follow_the_seed_flow(status, actions):
    assert domain.allowed_actions(status) == actions


class _NoDatabase:
    def ping(self):
        return False


def test_every_route_is_in_the_openapi_document_with_its_methods():
    app = create_app(Settings.from_env({}), database=_NoDatabase())
    assert undocumented_routes(app) == []
    with app.app_context():
        doc = document("test")
    routes = {
        (re.sub(r"<(?:int:)?([a-z_]+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert routes == documented
    operation_ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids))


@pytest.mark.parametrize("path", ["//api//health", "/api//users", "/api/orders//1", "/api/users/1/"])
def test_an_odd_path_is_a_json_404_never_a_redirect_built_from_the_host_header(path):
    client = create_app(Settings.from_env({}), database=_NoDatabase()).test_client()
    # PATH_INFO as the server passes it (the test client would read "//api" as a host name)
    response = client.get("/", headers={"Host": "evil.example"}, environ_overrides={"PATH_INFO": path})
    assert response.status_code == 404, response.headers.get("Location")
    assert "Location" not in response.headers
    assert response.get_json() == {"error": "no such resource", "status": 404}


def test_request_schemas_are_the_validation_fields():
    """The documented body of an order is what body() checks: change a Field, the document follows."""
    from smartshop_backend.api.orders import ORDER_FIELDS

    app = create_app(Settings.from_env({}), database=_NoDatabase())
    with app.app_context():
        doc = document("test")
    schema = doc["paths"]["/api/orders/create"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["quantity"] == {"type": "integer", "minimum": 1, "maximum": 100}
    assert set(schema["properties"]) == set(ORDER_FIELDS)
    order = doc["components"]["schemas"]["Order"]["properties"]
    assert order["status"]["enum"] == list(domain.STATUSES)
    assert order["actions"]["items"]["enum"] == list(domain.ACTIONS)


def test_migrations_are_numbered_and_split():
    found = available()
    assert [m.version for m in found] == sorted({m.version for m in found})
    assert found[0].version == 1
    statements = Migration(9, "x", "-- comment\nCREATE TABLE a (id INT);\nINSERT INTO a VALUES (1);\n").statements()
    assert statements == ["CREATE TABLE a (id INT)", "INSERT INTO a VALUES (1)"]


def test_seed_catalog_in_migrations():
    sql = "\n".join(m.sql for m in available())
    for name, price in (("Ecouteurs sans fil", "89.99"), ("Montre connectée", "199.99")):
        assert f"('{name}', {price})" in sql
    assert "39.99" in sql


def test_status_change_moves_one_order_between_statuses():
    assert Counters.status_change("pending", "validated") == {"orders_validated": 1, "orders_pending": -1}
    assert Counters.status_change(None, "pending") == {"orders_pending": 1}


def test_credential_files_are_reread_so_a_rotation_restarts_nothing(tmp_path):
    """The operator token and the scrape password are files the API re-reads when they change: while
    a rotation runs both lines open the door, after it only the new one does; a file that turns
    unreadable or invalid keeps the values read before."""
    import base64
    import os

    old, new = "old-operator-token-0123456789", "new-operator-token-0123456789"
    token, scrape = tmp_path / "operator_token", tmp_path / "scrape_password"
    token.write_text(old + "\n")
    scrape.write_text("old-scrape-password-0123\n")
    env = {"SMARTSHOP_OPERATOR_TOKEN_FILE": str(token), "SMARTSHOP_SCRAPE_PASSWORD_FILE": str(scrape)}
    from smartshop_backend.db import DatabaseUnavailable

    class Down(_NoDatabase):  # an operator gets past the door, then finds no database: 503
        def run(self, *args, **kwargs):
            raise DatabaseUnavailable("no database in a unit test")

    client = create_app(Settings.from_env(env), database=Down()).test_client()

    def status(value: str) -> int:
        return client.get("/api/errors/404", headers={"Authorization": f"Bearer {value}"}).status_code

    def scrape_status(password: str) -> int:
        basic = base64.b64encode(f"prometheus:{password}".encode()).decode()
        return client.get("/metrics", headers={"Authorization": f"Basic {basic}"}).status_code

    def rewrite(path, text: str) -> None:  # as Ansible does: a new file moved over the old one
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)

    assert (status(old), status(new)) == (503, 401)
    rewrite(token, f"{new}\n{old}\n")
    assert (status(old), status(new)) == (503, 503)
    rewrite(token, new + "\n")
    assert (status(old), status(new)) == (401, 503)
    for broken in ("", "short\n"):
        rewrite(token, broken)
        assert (status(old), status(new)) == (401, 503)
    token.unlink()
    assert status(new) == 503
    assert scrape_status("old-scrape-password-0123") == 200
    rewrite(scrape, "new-scrape-password-0123\nold-scrape-password-0123\n")
    assert scrape_status("old-scrape-password-0123") == 200
    rewrite(scrape, "new-scrape-password-0123\n")
    assert (scrape_status("old-scrape-password-0123"), scrape_status("new-scrape-password-0123")) == (401, 200)


def test_new_database_connections_present_the_password_of_now(tmp_path):
    password = tmp_path / "db_password"
    password.write_text("first-password-0123456\n")
    settings = Settings.from_env({"SMARTSHOP_DB_PASSWORD_FILE": str(password)})
    assert settings.current_db_password() == "first-password-0123456"
    password.write_text("second-password-0123456789\n")
    assert settings.current_db_password() == "second-password-0123456789"


@pytest.mark.parametrize(("threads", "pool", "starts"), [("4", "8", True), ("7", "8", True), ("8", "8", False)])
def test_serve_refuses_a_pool_smaller_than_its_threads_and_the_pruner(threads, pool, starts):
    """A thread that found every connection taken would wait for one with no deadline."""
    env = {"SMARTSHOP_THREADS": threads, "SMARTSHOP_DB_POOL_SIZE": pool, "SMARTSHOP_BIND": "127.0.0.1:8123"}
    if starts:
        argv = server.command(env, Settings.from_env(env))
        assert argv[argv.index("--blocking-threads") + 1] == threads
        assert argv[argv.index("--workers") + 1] == "2"
        assert (argv[argv.index("--host") + 1], argv[argv.index("--port") + 1]) == ("127.0.0.1", "8123")
        assert argv[-1] == "smartshop_backend.wsgi:app"
        return
    result = subprocess.run(  # as the image starts it: refused before any server starts, exit 2
        [sys.executable, "-m", "smartshop_backend", "serve"],
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "SMARTSHOP_DB_POOL_SIZE (8) must be at least SMARTSHOP_THREADS + 1 (9)" in result.stdout + result.stderr


@pytest.mark.parametrize(("name", "value"), [("SMARTSHOP_BIND", "8000"), ("SMARTSHOP_BIND", "host:port"),
                                             ("SMARTSHOP_WORKERS", "0"), ("SMARTSHOP_THREADS", "many")])  # fmt: skip
def test_serve_names_a_bad_server_setting(name, value):
    with pytest.raises(ConfigError, match=name):
        server.command({name: value}, Settings.from_env({}))


def test_serve_empties_the_metrics_directory_of_a_previous_run(tmp_path):
    (tmp_path / "counter_1234.db").write_bytes(b"stale")
    (tmp_path / "sub").mkdir()
    server.clear_metrics_dir({"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)})
    assert list(tmp_path.iterdir()) == []
    server.clear_metrics_dir({"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "new")})
    assert (tmp_path / "new").is_dir()


def test_a_failed_ping_is_logged_with_the_drivers_reason_at_most_every_ten_seconds(caplog):
    # nothing listens on port 1 of the loopback: the connection is refused at once
    nowhere = {"SMARTSHOP_DB_HOST": "127.0.0.1", "SMARTSHOP_DB_PORT": "1", "SMARTSHOP_DB_PASSWORD": "x"}
    settings = Settings.from_env(nowhere)
    database = db.Database(settings)
    with caplog.at_level(logging.WARNING, logger="smartshop_backend.db"):
        assert database.ping() is False
        assert database.ping() is False  # within ten seconds: not logged again
        database._ping_logged -= db.PING_LOG_EVERY  # ten seconds later
        assert database.ping() is False
    said = [r.getMessage() for r in caplog.records if r.name == "smartshop_backend.db"]
    assert len(said) == 2, said
    assert all(m.startswith("database ping failed: ") and "127.0.0.1" in m for m in said), said


def test_the_health_check_says_in_one_line_what_the_api_answered(tmp_path):
    import http.server
    import threading

    class Health(http.server.BaseHTTPRequestHandler):
        status = 503

        def do_GET(self):
            body = b'{"status": "unavailable", "database": "unreachable"}'
            self.send_response(Health.status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    script = Path(__file__).resolve().parents[1] / "smartshop_backend" / "healthcheck.py"
    server_ = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server_.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server_.server_address[1]}/api/health"
    try:
        ran = subprocess.run([sys.executable, str(script), url], capture_output=True, text=True, timeout=10)
        assert ran.returncode == 1
        assert ran.stderr == f'{url} answered 503: {{"status": "unavailable", "database": "unreachable"}}\n'
        Health.status = 200
        ran = subprocess.run([sys.executable, str(script), url], capture_output=True, text=True, timeout=10)
        assert (ran.returncode, ran.stderr) == (0, "")
    finally:
        server_.shutdown()
        server_.server_close()
    ran = subprocess.run([sys.executable, str(script), url], capture_output=True, text=True, timeout=10)
    assert ran.returncode == 1 and ran.stderr.startswith(f"{url}: ") and "refused" in ran.stderr, ran.stderr
    assert "Traceback" not in ran.stderr
