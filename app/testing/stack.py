"""The application in containers, as the roles run it: MariaDB (least-privilege users),
the migration as a one-shot container, N backend replicas, the nginx console."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
import docker
import requests

# the check the roles' container action runs (collections/ansible_collections/smartshop/stack)
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "collections"))
from ansible_collections.smartshop.stack.plugins.action.container import probe_argv

MANIFEST = Path(os.environ.get("SMARTSHOP_IMAGES_MANIFEST", "/etc/smartshop/test-images.json"))


class StackError(RuntimeError):
    pass


def manifest_images() -> dict[str, str]:
    if not MANIFEST.exists():
        raise StackError(f"{MANIFEST} is missing: run `make images` (it builds the images)")
    refs = json.loads(MANIFEST.read_text())["images"]
    if os.environ.get("SMARTSHOP_TEST_MARIADB_IMAGE"):
        refs["mysql"] = os.environ["SMARTSHOP_TEST_MARIADB_IMAGE"]
    missing = {"mysql", "backend", "frontend"} - set(refs)
    if missing:
        raise StackError(f"no image for {sorted(missing)} in {MANIFEST}: run `make images`")
    return refs


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(container, timeout: float = 120) -> None:
    """Until the container's own health check passes, run in it as the roles' action runs it (at
    once, then every 0.5 s), or Docker says healthy: Docker 20.10's first verdict comes one interval
    (5 s) after the start."""
    deadline = time.monotonic() + timeout
    while True:
        container.reload()
        health = container.attrs["State"].get("Health", {}).get("Status")
        if health == "healthy":
            return
        if container.status in ("exited", "dead") or time.monotonic() > deadline:
            raise StackError(f"{container.name} is {container.status}/{health}:\n{container.logs().decode()[-3000:]}")
        probe = probe_argv(container.attrs)
        if container.status == "running" and probe and container.exec_run(probe).exit_code == 0:
            return
        time.sleep(0.5)


@dataclass
class Stack:
    client: docker.DockerClient
    prefix: str
    containers: list = field(default_factory=list)
    network: object = None
    console: str = ""
    api: str = ""  # the console's nginx on its API port (8000), as users reach the API
    backend: str = ""
    backend_direct: str = ""  # the first backend's address on the stack network (no docker-proxy)
    # the credentials, generated per run as the roles do: the API's operator token, the console's
    # login (user admin), and the directory of the files mounted into the console
    operator_token: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    console_password: str = field(default_factory=lambda: secrets.token_urlsafe(18), repr=False)
    secrets_dir: str = ""

    @property
    def operator(self) -> dict[str, str]:
        """Headers of an operator call."""
        return {"Authorization": f"Bearer {self.operator_token}"}

    @property
    def console_login(self) -> tuple[str, str]:
        return ("admin", self.console_password)

    def stop(self) -> None:
        for container in reversed(self.containers):
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True, v=True)
        if self.secrets_dir:
            shutil.rmtree(self.secrets_dir, ignore_errors=True)
        if self.network is not None:
            with contextlib.suppress(docker.errors.APIError):
                self.network.remove()


def start(
    client: docker.DockerClient,
    images: dict[str, str],
    prefix: str,
    replicas: int = 2,
    backend_env: dict[str, str] | None = None,
    db_tmpfs: bool = True,
) -> Stack:
    """Start the stack under names <prefix>-*; returns the console's and the first backend's URLs."""
    names = [f"{prefix}-frontend", *(f"{prefix}-backend-{i}" for i in range(1, replicas + 1)), f"{prefix}-mysql"]
    for name in names:
        with contextlib.suppress(docker.errors.NotFound):
            client.containers.get(name).remove(force=True, v=True)
    with contextlib.suppress(docker.errors.NotFound):
        client.networks.get(f"{prefix}-net").remove()
    stack = Stack(client, prefix)
    stack.network = client.networks.create(f"{prefix}-net", driver="bridge")
    try:
        _start(stack, images, names, replicas, backend_env or {}, db_tmpfs)
    except BaseException:
        stack.stop()
        raise
    return stack


def _start(stack: Stack, images, names, replicas, backend_env, db_tmpfs) -> None:
    client, net = stack.client, stack.network.name
    root_pw, app_pw, mig_pw = (secrets.token_hex(16) for _ in range(3))
    db = client.containers.run(
        images["mysql"],
        name=names[-1],
        user="999:999",
        detach=True,
        network=net,
        command=["--skip-name-resolve", "--max-connections=500"],
        environment={"MARIADB_ROOT_PASSWORD": root_pw, "MARIADB_DATABASE": "smartshop"},
        healthcheck={
            "test": ["CMD", "healthcheck.sh", "--connect", "--innodb_initialized"],
            "interval": 1_000_000_000,
            "retries": 120,
        },
        tmpfs={"/var/lib/mysql": "uid=999,gid=999,mode=0755"} if db_tmpfs else None,
    )
    stack.containers.append(db)
    stack.network.disconnect(db)
    stack.network.connect(db, aliases=["mysql"])
    wait_healthy(db)
    grants = (
        f"CREATE USER 'smartshop'@'%' IDENTIFIED BY '{app_pw}';"
        " GRANT SELECT, INSERT, UPDATE, DELETE ON smartshop.* TO 'smartshop'@'%';"
        f" CREATE USER 'smartshop_migrator'@'%' IDENTIFIED BY '{mig_pw}';"
        " GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP, REFERENCES"
        " ON smartshop.* TO 'smartshop_migrator'@'%';"
    )
    code, output = db.exec_run(["mariadb", "-uroot", f"-p{root_pw}", "-e", grants])
    if code != 0:
        raise StackError(output.decode())
    env = {"SMARTSHOP_DB_HOST": "mysql"}
    migration = client.containers.run(
        images["backend"],
        command=["migrate"],
        network=net,
        detach=True,
        environment={**env, "SMARTSHOP_MIGRATOR_PASSWORD": mig_pw},
    )
    result = migration.wait(timeout=120)
    logs = migration.logs().decode()
    migration.remove(v=True)
    if result["StatusCode"] != 0:
        raise StackError(f"migration failed:\n{logs}")
    backends = []
    for i, name in enumerate(names[1:-1]):
        backends.append(
            client.containers.run(
                images["backend"],
                name=name,
                detach=True,
                network=net,
                environment={
                    **env,
                    "SMARTSHOP_DB_PASSWORD": app_pw,
                    "SMARTSHOP_OPERATOR_TOKEN": stack.operator_token,
                    **backend_env,
                },
                ports={"8000/tcp": ("127.0.0.1", None)} if i == 0 else {},
            )
        )
    stack.containers.extend(backends)
    for backend in backends:
        wait_healthy(backend)
    # the console's credential files, as the frontend role writes them (bcrypt login, the token)
    stack.secrets_dir = tempfile.mkdtemp(prefix=f"{stack.prefix}-secrets-")
    os.chmod(stack.secrets_dir, 0o711)  # noqa: S103 - the console's user reaches its files, lists nothing
    login = f"admin:{bcrypt.hashpw(stack.console_password.encode(), bcrypt.gensalt(rounds=10)).decode()}"
    for name, content in (("console_htpasswd", login), ("operator_token", stack.operator_token)):
        path = Path(stack.secrets_dir) / name
        path.write_text(content)
        os.chown(path, 10002, 10002)  # the console's user in the image
        path.chmod(0o400)
    frontend = client.containers.run(
        images["frontend"],
        name=names[0],
        detach=True,
        network=net,
        environment={
            "SMARTSHOP_BACKENDS": " ".join(f"{n}:8000" for n in names[1:-1]),
            "SMARTSHOP_GRAFANA_URL": "http://grafana.test:3030",
            "SMARTSHOP_PROMETHEUS_URL": "http://prometheus.test:9090",
            "SMARTSHOP_CONSOLE_HTPASSWD_FILE": "/run/secrets/console_htpasswd",
            "SMARTSHOP_OPERATOR_TOKEN_FILE": "/run/secrets/operator_token",
        },
        volumes={stack.secrets_dir: {"bind": "/run/secrets", "mode": "ro"}},
        ports={"3000/tcp": ("127.0.0.1", None), "8000/tcp": ("127.0.0.1", None)},
        read_only=True,
        tmpfs={"/run/smartshop": "uid=10002,gid=10002,mode=0700"},
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
    )
    stack.containers.append(frontend)
    wait_healthy(frontend)
    frontend.reload()
    backends[0].reload()
    stack.console = f"http://127.0.0.1:{frontend.ports['3000/tcp'][0]['HostPort']}"
    stack.api = f"http://127.0.0.1:{frontend.ports['8000/tcp'][0]['HostPort']}"
    stack.backend = f"http://127.0.0.1:{backends[0].ports['8000/tcp'][0]['HostPort']}"
    stack.backend_direct = f"http://{backends[0].attrs['NetworkSettings']['Networks'][net]['IPAddress']}:8000"
    if requests.get(f"{stack.console}/api/health", auth=stack.console_login, timeout=5).status_code != 200:
        raise StackError("the console does not reach the API")
