"""Database down: 503 with a JSON error, no stack trace; back up: the API recovers without a restart."""

from __future__ import annotations

import contextlib
import time

import docker
import pytest
from testing.stack import free_port, wait_healthy

from smartshop_backend import create_app
from smartshop_backend.config import Settings
from smartshop_backend.migrate import migrate

NAME = "smartshop-test-mariadb-outage"


@pytest.fixture
def outage_server(docker_client, images):
    with contextlib.suppress(docker.errors.NotFound):
        docker_client.containers.get(NAME).remove(force=True)
    port = free_port()
    container = docker_client.containers.run(
        images["mysql"],
        name=NAME,
        user="999:999",
        detach=True,
        command=["--skip-name-resolve"],
        environment={"MARIADB_ROOT_PASSWORD": "outage-root-password", "MARIADB_DATABASE": "smartshop"},
        ports={"3306/tcp": ("127.0.0.1", port)},
        healthcheck={"test": ["CMD", "healthcheck.sh", "--connect"], "interval": 1_000_000_000, "retries": 60},
    )
    try:
        wait_healthy(container)
        yield container, port
    finally:
        container.remove(force=True)


def test_database_down_gives_503_then_recovers(outage_server):
    container, port = outage_server
    settings = Settings(
        db_host="127.0.0.1",
        db_port=port,
        db_user="root",
        db_password="outage-root-password",
        migrator_user="root",
        migrator_password="outage-root-password",
        connect_timeout=2,
        operator_token="outage-operator-token-0123456789",
    )
    migrate(settings)
    client = create_app(settings).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer outage-operator-token-0123456789"
    assert client.post("/api/users/create").status_code == 201

    container.stop(timeout=10)
    for url, method in (("/api/stats", "get"), ("/api/users/create", "post"), ("/api/health", "get")):
        r = getattr(client, method)(url)
        assert r.status_code == 503, (url, r.status_code)
        body = r.get_json()
        assert "unavailable" in body["error"]
        assert "Traceback" not in r.get_data(as_text=True)
    root = client.get("/").get_json()
    assert root["mysql_status"] == "disconnected"
    assert "smartshop_database_up 0.0" in client.get("/metrics").get_data(as_text=True)

    container.start()
    wait_healthy(container)
    deadline = time.monotonic() + 30
    while client.get("/api/health").status_code != 200:
        assert time.monotonic() < deadline, "the API did not recover"
        time.sleep(0.5)
    assert client.post("/api/users/create").status_code == 201
    assert client.get("/api/stats").get_json()["total_users"] == 2
