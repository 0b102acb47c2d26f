"""Fixtures shared by the application's tests: the Docker engine, the images `make images`
built, and the application in containers (app/testing/stack.py)."""

from __future__ import annotations

import contextlib
import os
import re
import sys
from pathlib import Path

import docker
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from testing import stack as containers

ANONYMOUS = re.compile(r"[0-9a-f]{64}")
LEFT_BEHIND = pytest.StashKey[set[str] | None]()


def _anonymous_volumes() -> set[str] | None:
    """The engine's anonymous volumes no container uses, or None when no engine answers. An image
    that declares a VOLUME (MariaDB's /var/lib/mysql) gets one per container that mounts nothing
    there, and the engine keeps it after the container unless its removal asks (`v=True`)."""
    try:
        volumes = docker.from_env().volumes.list(filters={"dangling": True})
    except docker.errors.DockerException:
        return None
    return {volume.name for volume in volumes if ANONYMOUS.fullmatch(volume.name)}


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):  # the run's controller, once
        session.config.stash[LEFT_BEHIND] = _anonymous_volumes()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The run fails when its containers left volumes behind (about 120 MB per MariaDB), and
    removes them: a test that removes a container must remove its anonymous volumes with it."""
    if hasattr(session.config, "workerinput"):
        return
    before = session.config.stash.get(LEFT_BEHIND, None)
    after = _anonymous_volumes()
    if before is None or after is None or not (after - before):
        return
    left = sorted(after - before)
    client = docker.from_env()
    for name in left:
        with contextlib.suppress(docker.errors.APIError):
            client.volumes.get(name).remove()
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(
            f"FAILED: the tests left {len(left)} anonymous volume(s) behind (removed now): {', '.join(left)}."
            " Remove a test's containers with `.remove(force=True, v=True)`.",
            red=True,
        )
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


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
