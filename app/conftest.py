"""Fixtures shared by the application's tests: the Docker engine, the images `make images`
built (or pulled), and a containerised stack (MariaDB, migrations, two backend replicas,
the nginx console) on a private network, as the roles will run it."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
from pathlib import Path

import docker
import pytest
import requests

MANIFEST = Path(os.environ.get("SMARTSHOP_IMAGES_MANIFEST", "/etc/smartshop/images.json"))
PREFIX = "smartshop-test"


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    return docker.from_env()


@pytest.fixture(scope="session")
def images() -> dict[str, str]:
    """component -> image reference, from the images role's manifest."""
    if not MANIFEST.exists():
        pytest.fail(f"{MANIFEST} is missing: run `make images` (it builds the images these tests use)")
    refs = json.loads(MANIFEST.read_text())["images"]
    env = {"mysql": "SMARTSHOP_TEST_MARIADB_IMAGE"}
    return {k: os.environ.get(env.get(k, ""), v) for k, v in refs.items()}


def wait_healthy(container, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        container.reload()
        health = container.attrs["State"].get("Health", {}).get("Status")
        if health == "healthy":
            return
        if container.status in ("exited", "dead") or time.monotonic() > deadline:
            pytest.fail(f"{container.name} is {container.status}/{health}:\n{container.logs().decode()[-3000:]}")
        time.sleep(0.5)


def remove(client: docker.DockerClient, name: str) -> None:
    with contextlib.suppress(docker.errors.NotFound):
        client.containers.get(name).remove(force=True)


@pytest.fixture(scope="session")
def app_stack(docker_client, images):
    """The application in containers: returns the console's and one backend's base URLs."""
    for required in ("mysql", "backend", "frontend"):
        if required not in images:
            pytest.fail(f"no {required} image in {MANIFEST}: run `make images`")
    names = [f"{PREFIX}-frontend", f"{PREFIX}-backend-1", f"{PREFIX}-backend-2", f"{PREFIX}-mysql"]
    for name in names:
        remove(docker_client, name)
    with contextlib.suppress(docker.errors.NotFound):
        docker_client.networks.get(f"{PREFIX}-net").remove()
    network = docker_client.networks.create(f"{PREFIX}-net", driver="bridge")
    root_pw, app_pw, mig_pw = (secrets.token_hex(16) for _ in range(3))
    init_sql = (
        f"CREATE USER 'smartshop'@'%' IDENTIFIED BY '{app_pw}';"
        " GRANT SELECT, INSERT, UPDATE, DELETE ON smartshop.* TO 'smartshop'@'%';"
        f" CREATE USER 'smartshop_migrator'@'%' IDENTIFIED BY '{mig_pw}';"
        " GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP, REFERENCES"
        " ON smartshop.* TO 'smartshop_migrator'@'%';"
    )
    containers = []
    try:
        db = docker_client.containers.run(
            images["mysql"],
            name=names[3],
            user="999:999",
            detach=True,
            network=network.name,
            command=["--skip-name-resolve", "--max-connections=500"],
            environment={"MARIADB_ROOT_PASSWORD": root_pw, "MARIADB_DATABASE": "smartshop"},
            healthcheck={
                "test": ["CMD", "healthcheck.sh", "--connect", "--innodb_initialized"],
                "interval": 1_000_000_000,
                "retries": 90,
            },
            tmpfs={"/var/lib/mysql": "uid=999,gid=999,mode=0755"},
        )
        network.disconnect(db)
        network.connect(db, aliases=["mysql"])
        containers.append(db)
        wait_healthy(db)
        exit_code, output = db.exec_run(["mariadb", "-uroot", f"-p{root_pw}", "-e", init_sql])
        assert exit_code == 0, output.decode()
        env = {"SMARTSHOP_DB_HOST": "mysql"}
        migration = docker_client.containers.run(
            images["backend"],
            command=["migrate"],
            network=network.name,
            remove=False,
            detach=True,
            environment={**env, "SMARTSHOP_MIGRATOR_PASSWORD": mig_pw},
        )
        result = migration.wait(timeout=120)
        logs = migration.logs().decode()
        migration.remove()
        assert result["StatusCode"] == 0, logs
        for i, name in enumerate(names[1:3], start=1):
            backend = docker_client.containers.run(
                images["backend"],
                name=name,
                detach=True,
                network=network.name,
                environment={**env, "SMARTSHOP_DB_PASSWORD": app_pw, "SMARTSHOP_WORKERS": "2"},
                ports={"8000/tcp": ("127.0.0.1", None)} if i == 1 else {},
            )
            containers.append(backend)
        for backend in containers[1:]:
            wait_healthy(backend)
        frontend = docker_client.containers.run(
            images["frontend"],
            name=names[0],
            detach=True,
            network=network.name,
            environment={
                "SMARTSHOP_BACKENDS": f"{names[1]}:8000 {names[2]}:8000",
                "SMARTSHOP_GRAFANA_URL": "http://grafana.test:3030",
                "SMARTSHOP_PROMETHEUS_URL": "http://prometheus.test:9090",
            },
            ports={"3000/tcp": ("127.0.0.1", None)},
        )
        containers.append(frontend)
        wait_healthy(frontend)
        frontend.reload()
        containers[1].reload()
        console = f"http://127.0.0.1:{frontend.ports['3000/tcp'][0]['HostPort']}"
        backend_url = f"http://127.0.0.1:{containers[1].ports['8000/tcp'][0]['HostPort']}"
        assert requests.get(f"{console}/api/health", timeout=5).status_code == 200
        yield {"console": console, "backend": backend_url, "containers": containers}
    finally:
        for container in reversed(containers):
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True)
        network.remove()
