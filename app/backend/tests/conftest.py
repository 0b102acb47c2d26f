"""Fixtures: a real MariaDB in a container (the image the images role provides), migrated,
with the same least-privilege users as the mysql role; the Flask app bound to it."""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterator

import docker
import pymysql
import pytest

from smartshop_backend import create_app
from smartshop_backend.config import Settings
from smartshop_backend.migrate import migrate

CONTAINER = "smartshop-test-mariadb"
# The operator's credentials of the test app (the roles generate them per host).
OPERATOR_TOKEN = secrets.token_urlsafe(32)
SCRAPE_PASSWORD = secrets.token_urlsafe(24)
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


@pytest.fixture(scope="session")
def mariadb(docker_client, images) -> Iterator[dict]:
    """A fresh server for the session: host, port, root password."""
    with contextlib.suppress(docker.errors.NotFound):
        docker_client.containers.get(CONTAINER).remove(force=True)
    root_password = secrets.token_hex(16)
    container = docker_client.containers.run(
        images["mysql"],
        command=["--skip-name-resolve", "--character-set-server=utf8mb4", "--max-connections=500"],
        name=CONTAINER,
        user="999:999",
        environment={"MARIADB_ROOT_PASSWORD": root_password, "MARIADB_ROOT_HOST": "%"},
        ports={"3306/tcp": ("127.0.0.1", None)},
        healthcheck={
            "test": ["CMD", "healthcheck.sh", "--connect", "--innodb_initialized"],
            "interval": 1_000_000_000,
            "timeout": 5_000_000_000,
            "retries": 60,
        },
        tmpfs={"/var/lib/mysql": "uid=999,gid=999,mode=0755"},
        detach=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            container.reload()
            if container.attrs["State"].get("Health", {}).get("Status") == "healthy":
                break
            if container.status == "exited" or time.monotonic() > deadline:
                pytest.fail(f"MariaDB did not become healthy:\n{container.logs().decode()[-3000:]}")
            time.sleep(0.5)
        port = int(container.ports["3306/tcp"][0]["HostPort"])
        yield {"host": "127.0.0.1", "port": port, "root_password": root_password, "container": container}
    finally:
        container.remove(force=True)


def root_connection(server: dict, database: str | None = None) -> pymysql.Connection:
    return pymysql.connect(
        host=server["host"],
        port=server["port"],
        user="root",
        password=server["root_password"],
        database=database,
        autocommit=True,
    )


@pytest.fixture(scope="session")
def settings(mariadb) -> Settings:
    """The same grants as the mysql role: the app has data rights only, the migrator schema rights."""
    app_password, migrator_password = secrets.token_hex(16), secrets.token_hex(16)
    conn = root_connection(mariadb)
    with conn.cursor() as cur:
        cur.execute("CREATE DATABASE smartshop CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        cur.execute("CREATE USER 'smartshop'@'%%' IDENTIFIED BY %s", (app_password,))
        cur.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON smartshop.* TO 'smartshop'@'%'")
        cur.execute("CREATE USER 'smartshop_migrator'@'%%' IDENTIFIED BY %s", (migrator_password,))
        cur.execute(
            "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP, REFERENCES"
            " ON smartshop.* TO 'smartshop_migrator'@'%'"
        )
    conn.close()
    return Settings(
        db_host=mariadb["host"],
        db_port=mariadb["port"],
        db_name="smartshop",
        db_user="smartshop",
        db_password=app_password,
        migrator_user="smartshop_migrator",
        migrator_password=migrator_password,
        pool_size=16,
        operator_token=OPERATOR_TOKEN,
        scrape_password=SCRAPE_PASSWORD,
    )


@pytest.fixture(scope="session")
def migrated(settings) -> Settings:
    migrate(settings)
    return settings


@pytest.fixture(scope="session")
def app(migrated):
    application = create_app(migrated)
    application.testing = True
    return application


@pytest.fixture
def client(app):
    """The operator: every route answers (operator routes too)."""
    test_client = app.test_client()
    test_client.environ_base["HTTP_AUTHORIZATION"] = OPERATOR["Authorization"]
    return test_client


@pytest.fixture
def anonymous(app):
    """Anyone who reaches the API: no credential."""
    return app.test_client()
