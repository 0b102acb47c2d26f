"""A checkout under a path with a space works: `make up` runs ansible-playbook from the checkout's
.venv, and inventory/local hands that Python to Mitogen, which reads it as a shell command line.
Unquoted, '/tmp/my dir/.venv/bin/python' was split at the space and the first task was unreachable."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PLAYBOOK = """\
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Run a command on the host, as every role does
      ansible.builtin.command: "true"
      changed_when: false
"""


def test_the_local_inventory_runs_from_a_python_under_a_path_with_a_space(tmp_path):
    spaced = tmp_path / "my checkout"
    spaced.mkdir()
    venv = spaced / "venv"
    venv.symlink_to(Path(sys.prefix))  # the same .venv, reached through a path with a space
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK)
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "ansible", "playbook", "-i", "inventory/local", str(playbook)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_FORCE_COLOR": "0",
            "SMARTSHOP_SECRETS_DIR": str(tmp_path / "secrets"),
            "PYTHONWARNINGS": os.environ.get("PYTHONWARNINGS", ""),
        },
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-2000:]
    assert "unreachable=0" in output and "failed=0" in output, output[-2000:]
