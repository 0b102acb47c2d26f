"""The stack's lease (smartshop.stack.lease, playbooks/tasks/lease.yml): a run from another
controller (here, another home: its own controller id and its own run lock) is refused while a run
holds the stack on a host, naming it, and changes nothing; the same controller takes back a lease
its earlier run left; smartshop_lease_break takes another's; of two controllers asking at once one
holds it; a host refused gives back what the run took on the others. Real ansible-playbook runs on
this machine, each host's configuration directory under tmp_path."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import Pool
from pathlib import Path

import pytest
import yaml
from stack_collection import plugin


@pytest.fixture
def stack(tmp_path):
    """An inventory of two hosts (this machine, each its own configuration directory)."""
    hosts = {
        name: {"ansible_connection": "local", "smartshop_config_dir": str(tmp_path / name), "smartshop_project": "lt"}
        for name in ("h1", "h2")
    }
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    return inventory


def lease_of(stack: Path, host: str) -> Path:
    return stack.parent / host / "leases" / "lt.json"


def run(playbook_runner, stack: Path, home: str, *extra: str) -> tuple[int, str]:
    directory = stack.parent / home
    directory.mkdir(exist_ok=True)
    return playbook_runner(directory, "-i", str(stack), "tests/playbooks/lease.yml", *extra)


def said(output: str) -> dict[str, str]:
    return dict(re.findall(r'"LEASE (\S+) ([^"]+)"', output))


def recap(output: str) -> dict[str, tuple[int, int]]:
    return {
        host: (int(changed), int(failed))
        for host, changed, failed in re.findall(
            r"(\S+)\s*:\s*ok=\d+\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", output
        )
    }


def test_a_lease_left_by_one_controller_refuses_another_and_is_taken_back_by_its_own(playbook_runner, stack):
    code, output = run(playbook_runner, stack, "alice")  # a run that held the lease and failed
    assert code == 0, output[-3000:]
    assert said(output) == {"h1": "new", "h2": "new"}
    assert recap(output) == {"h1": (0, 0), "h2": (0, 0)}  # bookkeeping: nothing reported changed
    alice = json.loads(lease_of(stack, "h1").read_text())
    assert alice["command"] == "ansible-playbook tests/playbooks/lease.yml" and "@" in alice["who"]
    assert isinstance(alice["pid"], int) and alice["controller"]
    assert lease_of(stack, "h1").stat().st_mode & 0o777 == 0o600

    code, output = run(playbook_runner, stack, "bob")
    assert code != 0, output[-3000:]
    assert "another controller's run (" in output and "is changing this stack on this host" in output
    assert f"since {alice['since']}" in output and "nothing was changed" in output
    assert "-e smartshop_lease_break=true" in output
    assert json.loads(lease_of(stack, "h1").read_text()) == alice  # bob's run left it as it was

    code, output = run(playbook_runner, stack, "alice")
    assert code == 0, output[-3000:]
    assert said(output) == {"h1": "own", "h2": "own"}
    assert "this controller's earlier run" in output and "ended without giving back" in output


def test_breaking_takes_another_controllers_lease_and_each_gives_back_only_its_own(playbook_runner, stack):
    assert run(playbook_runner, stack, "alice")[0] == 0
    code, output = run(playbook_runner, stack, "bob", "-e", "smartshop_lease_break=true")
    assert code == 0, output[-3000:]
    assert said(output) == {"h1": "broken", "h2": "broken"}
    assert "is broken (smartshop_lease_break)" in output
    bob = json.loads(lease_of(stack, "h1").read_text())

    code, output = run(playbook_runner, stack, "alice", "-e", "lease_state=released")
    assert code == 0, output[-3000:]
    assert said(output) == {"h1": "not ours", "h2": "not ours"}
    assert json.loads(lease_of(stack, "h1").read_text()) == bob

    code, output = run(playbook_runner, stack, "bob", "-e", "lease_state=released")
    assert code == 0, output[-3000:]
    assert said(output) == {"h1": "released", "h2": "released"}
    assert not lease_of(stack, "h1").exists() and not lease_of(stack, "h2").exists()


def test_a_host_held_elsewhere_stops_the_run_and_gives_back_what_it_took(playbook_runner, stack):
    assert run(playbook_runner, stack, "bob", "--limit", "h2")[0] == 0  # bob's run holds h2 only
    code, output = run(playbook_runner, stack, "alice")
    assert code != 0, output[-3000:]
    assert recap(output) == {"h1": (0, 1), "h2": (0, 1)}  # the whole run stops, both hosts
    assert "h2: another controller's run" in output, output[-3000:]
    assert "gave back the leases it had taken on the other hosts" in output
    assert not lease_of(stack, "h1").exists()  # alice's lease on h1 is given back
    assert lease_of(stack, "h2").exists()


def test_of_two_controllers_asking_at_once_one_holds_the_lease(playbook_runner, stack):
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(lambda home: run(playbook_runner, stack, home, "--limit", "h1"), ["alice", "bob"]))
    codes = sorted(code for code, _ in outcomes)
    assert codes[0] == 0 and codes[1] != 0, [o[-2000:] for _, o in outcomes]
    winner = next(output for code, output in outcomes if code == 0)
    assert said(winner) == {"h1": "new"}
    holder = json.loads(lease_of(stack, "h1").read_text())
    loser = next(output for code, output in outcomes if code != 0)
    assert f"pid {holder['pid']}" in loser, loser[-2000:]


def test_a_dry_run_writes_no_lease_and_is_refused_by_another_controllers(playbook_runner, stack):
    code, output = run(playbook_runner, stack, "bob", "--check")
    assert code == 0, output[-3000:]
    assert said(output) == {"h1": "dry run", "h2": "dry run"}
    assert not lease_of(stack, "h1").exists() and not lease_of(stack, "h2").exists()
    assert run(playbook_runner, stack, "alice")[0] == 0
    code, output = run(playbook_runner, stack, "bob", "--check")
    assert code != 0, output[-3000:]
    assert "another controller's run (" in output and "nothing was changed" in output


def made_id(home: Path) -> str:
    """The lease action's controller_id, in a process of its own (as each host's worker runs it)."""
    return plugin("action", "lease").controller_id(home)


def test_a_controller_id_made_by_runs_at_once_is_one_and_never_read_half_made(tmp_path):
    """A run's hosts ask for the controller's id at once on its first run (a new home): each gets the
    same id, never an empty file (created empty, then written, one host of CI's run read it empty)."""
    for attempt in range(20):
        home = tmp_path / f"home-{attempt}"
        with Pool(8) as pool:
            ids = pool.map(made_id, [home] * 16)
        assert len(set(ids)) == 1 and len(ids[0]) == 32, ids
        written = home / ".smartshop" / "controller-id"
        assert written.read_text() == ids[0] + "\n" and written.stat().st_mode & 0o777 == 0o600
        assert [p.name for p in written.parent.iterdir()] == ["controller-id"]  # no draft left
