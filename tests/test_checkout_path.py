"""A checkout under a path with a space works: `make up` runs ansible-playbook from the checkout's
.venv, and inventory/local hands that Python to Mitogen, which reads it as a shell command line.
Unquoted, '/tmp/my dir/.venv/bin/python' was split at the space and the first task was unreachable."""

import sys
from pathlib import Path

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


def test_the_local_inventory_runs_from_a_python_under_a_path_with_a_space(playbook_runner, tmp_path):
    python = python_under_a_space(tmp_path)
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK)
    code, output = playbook_runner(tmp_path, "-i", "inventory/local", str(playbook), python=python)
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
