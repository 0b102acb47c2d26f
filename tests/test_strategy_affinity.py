"""The project's strategy (plugins/strategy/mitogen_linear.py) leaves the CPUs alone: a command a
task starts may run on every CPU ansible-playbook may. Mitogen's own policy pinned such commands
to CPU 1 of a 2-CPU machine, and with them the Docker engine the docker_host role starts, and so
every container of the stack (docs/measurements.md, session 15)."""

import json
import os
import re
import textwrap

import pytest

PLAYBOOK = textwrap.dedent(
    """\
    - hosts: localhost
      gather_facts: false
      tasks:
        - name: The CPUs a command started by a task may run on
          ansible.builtin.command: python3 -c "import os, json; print(json.dumps(sorted(os.sched_getaffinity(0))))"
          register: cpus
          changed_when: false
        - name: Show them
          ansible.builtin.debug:
            msg: "cpus={{ cpus.stdout }}"
    """
)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one CPU: nothing to pin away from")
def test_a_command_started_by_a_task_may_run_on_every_cpu(playbook_runner, tmp_path):
    playbook = tmp_path / "cpus.yml"
    playbook.write_text(PLAYBOOK)
    code, output = playbook_runner(tmp_path, "-i", "localhost,", "-c", "local", str(playbook))
    assert code == 0, output[-2000:]
    assert "Mitogen is not installed" not in output, "the run must use Mitogen, as `make up` does"
    match = re.search(r'"msg": "cpus=(\[[^"]*\])"', output)
    assert match, output[-2000:]
    assert json.loads(match.group(1)) == sorted(os.sched_getaffinity(0))
