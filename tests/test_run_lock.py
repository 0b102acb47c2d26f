"""One run at a time changes the stack from this machine: the Makefile's targets that change it hold
RUN_LOCK (flock). Two `make up` at once raced to create the same containers (one failed with
Docker's 409 "name already in use"); now the second says so and stops before it touches anything."""

from __future__ import annotations

import fcntl
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def make(target: str, lock: Path, *args: str) -> tuple[subprocess.CompletedProcess, float]:
    """make <target> with an inventory of no host: were the lock ever gone, the playbook would run
    and change nothing (and the test would fail on its "PLAY" lines), never touch this machine's stack."""
    config = lock.parent / "ansible.cfg"
    config.parent.mkdir(parents=True, exist_ok=True)
    (lock.parent / "hosts.ini").write_text("")
    config.write_text(f"[defaults]\ninventory = {lock.parent / 'hosts.ini'}\n")
    started = time.monotonic()
    result = subprocess.run(
        ["make", "--no-print-directory", target, f"RUN_LOCK={lock}", f"ANSIBLE_CONFIG={config}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return result, time.monotonic() - started


@pytest.mark.parametrize("target", ["up", "down", "backup", "restore", "rotate-secrets"])
def test_a_second_run_is_refused_before_it_touches_anything(tmp_path, target):
    lock = tmp_path / "run.lock"
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # the first run, still going
        result, elapsed = make(target, lock)
    assert result.returncode != 0
    assert f"make {target}: another run (up, down, backup, restore or rotate-secrets)" in result.stderr
    assert str(lock) in result.stderr
    assert "PLAY" not in result.stdout  # no playbook started
    assert elapsed < 60, elapsed


def test_the_lock_is_free_again_once_a_run_has_ended(tmp_path):
    lock = tmp_path / "run.lock"
    first, _ = make("up", lock, "ARGS=--version")  # ansible-playbook prints its version and ends
    assert first.returncode == 0, first.stderr
    assert "ansible-playbook [core" in first.stdout
    assert first.stdout.startswith("ansible-playbook site.yml --version\n")  # the command is shown
    second, _ = make("up", lock, "ARGS=--version")
    assert second.returncode == 0, second.stderr
