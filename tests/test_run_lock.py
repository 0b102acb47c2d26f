"""One run at a time changes the stack from this machine: the Makefile's targets that change it hold
RUN_LOCK (flock). Two `make up` at once raced to create the same containers (one failed with
Docker's 409 "name already in use"); now the second says so and stops before it touches anything.
`ansible-playbook` run directly holds its stack's lock too (the project's strategy): the second
run of the same stack is refused before its first task, naming the first."""

from __future__ import annotations

import fcntl
import os
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


# ---- ansible-playbook run directly: the strategy (plugins/strategy/mitogen_linear.py) holds the lock
# of each stack (smartshop_project) its plays' hosts belong to, ~/.smartshop/locks/<project>.lock

ANSIBLE_PLAYBOOK = str(ROOT / ".venv" / "bin" / "ansible-playbook")


def inventory(tmp_path: Path, project: str) -> Path:
    path = tmp_path / f"{project}.yml"
    path.write_text(
        "all:\n  hosts:\n    h1:\n      ansible_connection: local\n"
        '      ansible_python_interpreter: "{{ ansible_playbook_python }}"\n'
        f"  vars:\n    smartshop_project: \"{project[:4]}{{{{ '{project[4:]}' }}}}\"\n"  # templated, as a user may
    )
    return path


def one_task(name: str, task: str) -> str:
    return f"- hosts: all\n  gather_facts: false\n  tasks:\n    - name: {name}\n      {task}\n"


def playbook_env(tmp_path: Path) -> dict[str, str]:
    """The project's ansible.cfg (its strategy) with this test's HOME: the locks and fact cache are the test's."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "SMARTSHOP_"))}
    return {**env, "HOME": str(home), "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}


def waiting_run(tmp_path: Path, project: str) -> tuple[subprocess.Popen, Path]:
    """A run that holds its stack until the test creates `release` (or 120 s pass)."""
    release = tmp_path / f"release-{project}"
    book = tmp_path / "wait.yml"
    book.write_text(one_task("Wait for the test", f"ansible.builtin.wait_for: {{path: '{release}', timeout: 120}}"))
    run = started(tmp_path, project, book)
    lock = tmp_path / "home" / ".smartshop" / "locks" / f"{project}.lock"
    deadline = time.monotonic() + 60
    while f"pid {run.pid}," not in (lock.read_text() if lock.exists() else ""):
        assert run.poll() is None, run.stdout.read()
        assert time.monotonic() < deadline, "the waiting run never took its lock"
        time.sleep(0.2)
    return run, release


def started(tmp_path: Path, project: str, book: Path, **env: str) -> subprocess.Popen:
    """`book` on the stack's host, in the background (its output, stderr included, on stdout)."""
    return subprocess.Popen(
        [ANSIBLE_PLAYBOOK, "-i", str(inventory(tmp_path, project)), str(book)],
        cwd=ROOT,
        env={**playbook_env(tmp_path), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def ping(tmp_path: Path) -> Path:
    book = tmp_path / "ping.yml"
    book.write_text(one_task("Ping", "ansible.builtin.ping:"))
    return book


def direct(tmp_path: Path, project: str, book: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    """A one-task playbook on the stack's host (as any of the project's playbooks: the lock is the strategy's)."""
    return playbook(tmp_path, inventory(tmp_path, project), book or ping(tmp_path), **env)


def playbook(tmp_path: Path, hosts: Path, book: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [ANSIBLE_PLAYBOOK, "-i", str(hosts), str(book)],
        cwd=ROOT,
        env={**playbook_env(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_direct_run_is_refused_while_another_changes_its_stack_and_runs_once_that_one_has_ended(tmp_path):
    first, release = waiting_run(tmp_path, "lock-one")
    try:
        second = direct(tmp_path, "lock-one")
        output = second.stdout + second.stderr
        assert second.returncode != 0, output
        assert f"another run (pid {first.pid}, ansible-playbook {tmp_path / 'wait.yml'}, started " in output
        assert "is changing the stack 'lock-one' from this machine" in output
        assert "nothing was changed: run this again when it has ended" in output
        assert "TASK [" not in output and "ok: [h1]" not in output  # refused before its first task
    finally:
        release.touch()
        assert first.wait(timeout=120) == 0, first.stdout.read()
    third = direct(tmp_path, "lock-one")
    assert third.returncode == 0, third.stdout + third.stderr
    assert "ok: [h1]" in third.stdout


def test_stacks_of_other_projects_and_the_implicit_localhost_do_not_wait(tmp_path):
    """Molecule's scenarios (projects of their own) run beside make up's stack; a play on Ansible's
    implicit localhost (a scenario's prepare) belongs to no stack."""
    first, release = waiting_run(tmp_path, "lock-one")
    try:
        other = direct(tmp_path, "lock-two")
        assert other.returncode == 0, other.stdout + other.stderr
        local = tmp_path / "local.yml"
        local.write_text("- hosts: localhost\n  gather_facts: false\n  tasks:\n    - ansible.builtin.ping:\n")
        implicit = direct(tmp_path, "lock-one", str(local))
        assert implicit.returncode == 0, implicit.stdout + implicit.stderr
        assert "ok: [localhost]" in implicit.stdout
        assert first.poll() is None  # the first run held its stack all along
    finally:
        release.touch()
        assert first.wait(timeout=120) == 0


def test_a_run_killed_hard_frees_its_stack_once_the_task_it_had_started_has_ended(tmp_path):
    first, release = waiting_run(tmp_path, "lock-one")
    while "TASK [Wait for the test]" not in first.stdout.readline():
        assert first.poll() is None
    time.sleep(3)  # its worker has started the task
    first.kill()
    first.wait(timeout=30)
    try:
        meanwhile = direct(tmp_path, "lock-one")  # its worker still runs the wait task
        output = meanwhile.stdout + meanwhile.stderr
        assert meanwhile.returncode != 0, output
        assert f"pid {first.pid}," in output
        assert "that process has ended, a task it had started is still finishing" in output
    finally:
        release.touch()
    deadline = time.monotonic() + 60
    while (after := direct(tmp_path, "lock-one")).returncode != 0:
        assert "another run" in after.stdout + after.stderr, after.stdout + after.stderr
        assert time.monotonic() < deadline, "the killed run's stack stayed locked"
        time.sleep(1)


def test_without_mitogen_a_run_keeps_the_lock(tmp_path):
    """SMARTSHOP_MITOGEN=0 runs the plain linear strategy (the README's way to turn Mitogen off),
    still under the stack's lock. A task's command tells which: under Mitogen its parent is Mitogen's
    interpreter for the host."""
    parent = tmp_path / "parent.yml"
    parent.write_text(
        one_task("The parent of a task's command", "ansible.builtin.shell: cat /proc/$PPID/cmdline")
        + "      register: parent\n    - name: Show it\n"
        + "      ansible.builtin.debug: {msg: 'parent={{ parent.stdout }}'}\n"
    )
    with_mitogen = direct(tmp_path, "lock-one", parent)
    assert with_mitogen.returncode == 0, with_mitogen.stdout + with_mitogen.stderr
    assert "(mitogen:" in with_mitogen.stdout
    first, release = waiting_run(tmp_path, "lock-one")
    try:
        second = direct(tmp_path, "lock-one", parent, SMARTSHOP_MITOGEN="0")
        assert second.returncode != 0, second.stdout + second.stderr
        assert f"another run (pid {first.pid}," in second.stdout + second.stderr
    finally:
        release.touch()
        assert first.wait(timeout=120) == 0
    without = direct(tmp_path, "lock-one", parent, SMARTSHOP_MITOGEN="0")
    assert without.returncode == 0, without.stdout + without.stderr
    assert "parent=" in without.stdout and "(mitogen:" not in without.stdout, without.stdout
    assert "Mitogen is not installed" not in without.stdout + without.stderr  # turned off, not missing


def test_a_run_over_two_stacks_stops_at_the_first_play_of_the_one_held_and_says_so(tmp_path):
    first, release = waiting_run(tmp_path, "lock-one")
    hosts = tmp_path / "two.yml"
    hosts.write_text(
        "all:\n  hosts:\n"
        "    free: {ansible_connection: local, smartshop_project: lock-two}\n"
        "    held: {ansible_connection: local, smartshop_project: lock-one}\n"
        '  vars: {ansible_python_interpreter: "{{ ansible_playbook_python }}"}\n'
    )
    book = tmp_path / "two-plays.yml"
    one = one_task("Ping", "ansible.builtin.ping:")
    book.write_text(one.replace("hosts: all", "hosts: free") + one.replace("hosts: all", "hosts: held"))
    try:
        run = playbook(tmp_path, hosts, book)
    finally:
        release.touch()
        assert first.wait(timeout=120) == 0
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    assert "ok: [free]" in output and "ok: [held]" not in output
    assert "is changing the stack 'lock-one'" in output
    assert "this run stops before this play, after the ones before it" in output
    assert "nothing was changed" not in output


def test_with_a_wait_a_second_run_waits_for_the_first_then_runs(tmp_path):
    """SMARTSHOP_LOCK_WAIT=<seconds> (make engine's 600: the Molecule lanes run it side by side)."""
    first, release = waiting_run(tmp_path, "lock-one")
    second = started(tmp_path, "lock-one", ping(tmp_path), SMARTSHOP_LOCK_WAIT="120")
    try:
        while "Waiting for another run" not in (line := second.stdout.readline()):
            assert line, "the second run ended without waiting"
        assert f"(pid {first.pid}, ansible-playbook {tmp_path / 'wait.yml'}, started " in line
        assert "(SMARTSHOP_LOCK_WAIT=120)" in line
        time.sleep(3)
        assert second.poll() is None  # still waiting: the first holds its stack
    finally:
        release.touch()
        assert first.wait(timeout=120) == 0
    rest = second.communicate(timeout=120)[0]
    assert second.returncode == 0, rest
    assert "ok: [h1]" in rest


@pytest.mark.parametrize("wait", ["soon", "-1", "nan", "1e9"])
def test_a_bad_wait_is_refused_naming_the_variable(tmp_path, wait):
    run = direct(tmp_path, "lock-one", SMARTSHOP_LOCK_WAIT=wait)
    assert run.returncode != 0
    assert f"SMARTSHOP_LOCK_WAIT is a number of seconds, 0 to 86400; got '{wait}'" in run.stdout + run.stderr
    assert "ok: [h1]" not in run.stdout
