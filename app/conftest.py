"""Fixtures shared by the application's tests: the Docker engine, the images `make images`
built, and the application in containers (app/testing/stack.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import docker
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from testing import stack as containers


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    return docker.from_env()


@pytest.fixture(scope="session")
def images() -> dict[str, str]:
    """component -> image reference, from the images role's manifest."""
    try:
        return containers.manifest_images()
    except containers.StackError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def container_prefix() -> str:
    """The prefix of the containers and networks a session starts: one per pytest-xdist worker
    (make app-test runs two, each with its own stack on the one engine); read from the environment
    xdist gives its workers, so that a run without xdist works too."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return f"smartshop-test-{worker}" if worker else "smartshop-test"


@pytest.fixture(scope="session")
def app_stack(docker_client, images, container_prefix):
    """MariaDB, the migration, two backend replicas and the console, in containers."""
    try:
        stack = containers.start(
            docker_client, images, container_prefix, replicas=2, backend_env={"SMARTSHOP_WORKERS": "2"}
        )
    except containers.StackError as exc:
        pytest.fail(str(exc))
    yield {
        "console": stack.console,
        "api": stack.api,
        "backend": stack.backend,
        "backend_direct": stack.backend_direct,
        "containers": stack.containers,
        "network": stack.network.name,
        "operator": stack.operator,
        "operator_token": stack.operator_token,
        "console_login": stack.console_login,
        "secrets_dir": stack.secrets_dir,
    }
    stack.stop()
