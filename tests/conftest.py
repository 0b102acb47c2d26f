"""Shared helpers for the unit tests: paths of the repository, promtool, ansible-playbook."""

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "app"))

from testing.stack import manifest_images  # noqa: E402  (the images `make images` recorded)


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def _run_promtool(mount: Path, target: str, *args: str, workdir: str | None = None):
    """Run the stack's own promtool (from the Prometheus image `make images` recorded) on a mounted
    file or directory, without network."""
    image = manifest_images()["prometheus"]
    cmd = ["docker", "run", "--rm", "--network", "none", "-v", f"{mount}:{target}:ro"]
    if workdir:
        cmd += ["-w", workdir]
    return subprocess.run([*cmd, "--entrypoint", "promtool", image, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="session")
def promtool():
    """The promtool runner, as a fixture: test modules never import conftest (two exist on the
    pytest path, tests/ and app/, and the first one imported wins)."""
    return _run_promtool


def _run_playbook(
    home: Path, *args: str, env: dict[str, str] | None = None, python: Path | None = None
) -> tuple[int, str]:
    """ansible-playbook from the repository with the project's configuration, HOME and secrets under
    `home` (and `env` added); returns (exit code, stdout + stderr). `python`: run by that interpreter
    (`python -m ansible playbook`) rather than this one's ansible-playbook."""
    interpreter = python or Path(sys.executable)
    command = [str(python), "-m", "ansible", "playbook"] if python else [str(interpreter.with_name("ansible-playbook"))]
    result = subprocess.run(
        [*command, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={
            "PATH": f"{interpreter.parent}:/usr/bin:/bin",
            "HOME": str(home),
            "ANSIBLE_FORCE_COLOR": "0",
            "SMARTSHOP_SECRETS_DIR": str(home / "secrets"),
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            # every host without an interpreter of its own runs this Python; shell-quoted, as Mitogen
            # reads it (a checkout under a path with a space)
            "ANSIBLE_PYTHON_INTERPRETER": shlex.quote(str(interpreter)),
            **(env or {}),
        },
    )
    return result.returncode, result.stdout + result.stderr


@pytest.fixture
def ansible_playbook(tmp_path):
    """Run ansible-playbook with an empty HOME and secrets under tmp_path."""
    return lambda *args: _run_playbook(tmp_path, *args)


@pytest.fixture(scope="session")
def playbook_runner():
    """_run_playbook itself, for a module that runs several playbooks at once (each its own HOME)."""
    return _run_playbook
