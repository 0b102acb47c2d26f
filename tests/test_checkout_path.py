"""A checkout under a path with a space works: `make up` runs ansible-playbook from the checkout's
.venv, and inventory/local hands that Python (`ansible_playbook_python`) to the strategy. Mitogen reads
an interpreter as a shell command line: '/tmp/my dir/.venv/bin/python' was split at the space and
the first task was unreachable, until the project's strategy took the controller's own Python whole.
Plain Ansible (SMARTSHOP_MITOGEN=0) quotes it itself."""

import sys
from pathlib import Path

import pytest

PLAYBOOK = """\
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Run a command on the host, as every role does
      ansible.builtin.command: "true"
      changed_when: false
"""


def python_under_a_space(tmp_path: Path) -> Path:
    """This interpreter, reached through a path with a space: the same .venv, linked there."""
    spaced = tmp_path / "my checkout"
    spaced.mkdir()
    venv = spaced / "venv"
    venv.symlink_to(Path(sys.prefix))
    return venv / "bin" / "python"


@pytest.mark.parametrize("mitogen", ["1", "0"])
def test_the_local_inventory_runs_from_a_python_under_a_path_with_a_space(playbook_runner, tmp_path, mitogen):
    """Under Mitogen (the strategy takes the controller's own Python whole) and without it
    (SMARTSHOP_MITOGEN=0: Ansible quotes the interpreter itself; the inventory's former `| quote`
    made it look for a file named with the quotes)."""
    python = python_under_a_space(tmp_path)
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK)
    code, output = playbook_runner(
        tmp_path, "-i", "inventory/local", str(playbook), python=python, env={"SMARTSHOP_MITOGEN": mitogen}
    )
    assert code == 0, output[-2000:]
    assert "unreachable=0" in output and "failed=0" in output, output[-2000:]


DELEGATING_PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: Run a command on the controller, as the pki role does for every host
      ansible.builtin.command: "true"
      changed_when: false
      delegate_to: localhost
"""


def test_a_task_delegated_to_the_implicit_localhost_runs_from_a_python_under_a_path_with_a_space(
    playbook_runner, tmp_path
):
    """An inventory without a `localhost` (a Molecule scenario's, inventory/example-multihost): Ansible
    makes one, whose interpreter is its own Python's path, not quoted. Mitogen split it at the space:
    the pki role's first task was unreachable in `make test-role ROLE=mysql` from '/tmp/sp ace'."""
    python = python_under_a_space(tmp_path)
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    instance:\n      ansible_connection: local\n")
    playbook = tmp_path / "play.yml"
    playbook.write_text(DELEGATING_PLAYBOOK)
    code, output = playbook_runner(tmp_path, "-i", str(inventory), str(playbook), python=python)
    assert code == 0, output[-2000:]
    assert "instance -> localhost" in output and "unreachable=0" in output, output[-2000:]
