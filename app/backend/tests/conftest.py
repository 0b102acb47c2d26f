"""Fixtures: a real MariaDB in a container (the image the images role provides), migrated,
with the same least-privilege users as the mysql role; the Flask app bound to it."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pymysql
import pytest

from smartshop_backend import create_app
from smartshop_backend.config import Settings
from smartshop_backend.migrate import migrate

# The operator's credentials of the test app (the roles generate them per host).
OPERATOR_TOKEN = secrets.token_urlsafe(32)
SCRAPE_PASSWORD = secrets.token_urlsafe(24)
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


def _certificate(subject: str, key, issuer: str, issuer_key, ca: bool, ip: str | None = None):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ip:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), False)
    return builder.sign(issuer_key, hashes.SHA256())


def _tls_files(directory: Path) -> dict[str, Path]:
    """A CA, the server's certificate for 127.0.0.1 only (signed by it), and a CA that signed nothing."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = serialization.Encoding.PEM
    files = {}
    ca_key, other_key, server_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = _certificate("test CA", ca_key, "test CA", ca_key, ca=True)
    for name, cert in (
        ("ca.pem", ca),
        ("other-ca.pem", _certificate("other CA", other_key, "other CA", other_key, ca=True)),
        ("server.pem", _certificate("mariadb", server_key, "test CA", ca_key, ca=False, ip="127.0.0.1")),
    ):
        files[name] = directory / name
        files[name].write_bytes(cert.public_bytes(pem))
    files["server-key.pem"] = directory / "server-key.pem"
    files["server-key.pem"].write_bytes(
        server_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    directory.chmod(0o755)
    for path in files.values():
        path.chmod(0o644)  # the server runs as uid 999; a throw-away key of the test
    return files


@pytest.fixture(scope="session")
def mariadb(docker_client, images, tmp_path_factory, container_prefix) -> Iterator[dict]:
    """A fresh server for the session: host, port, root password; TLS offered with a certificate
    for 127.0.0.1 only (tls: the CA that signed it and one that did not)."""
    name = f"{container_prefix}-mariadb"
    with contextlib.suppress(docker.errors.NotFound):
        docker_client.containers.get(name).remove(force=True, v=True)
    root_password = secrets.token_hex(16)
    tls = _tls_files(tmp_path_factory.mktemp("tls"))
    container = docker_client.containers.run(
        images["mysql"],
        command=[
            "--skip-name-resolve",
            "--character-set-server=utf8mb4",
            "--max-connections=500",
            "--ssl-ca=/tls/ca.pem",
            "--ssl-cert=/tls/server.pem",
            "--ssl-key=/tls/server-key.pem",
        ],
        name=name,
        user="999:999",
        environment={"MARIADB_ROOT_PASSWORD": root_password, "MARIADB_ROOT_HOST": "%"},
        volumes={str(tls["ca.pem"].parent): {"bind": "/tls", "mode": "ro"}},
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
        yield {"host": "127.0.0.1", "port": port, "root_password": root_password, "container": container, "tls": tls}
    finally:
        container.remove(force=True, v=True)


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
