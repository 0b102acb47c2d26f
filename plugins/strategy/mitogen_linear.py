"""The linear strategy, run over Mitogen when the controller has it (requirements-dev.txt pins it).

Mitogen keeps one Python interpreter per target and sends it each module once, instead of a new
process and a zipped module per task: an idempotent `make up` takes about a third of the time
(docs/measurements.md). Without the package (an interpreter outside .venv), the plain linear
strategy runs, and says so once. ANSIBLE_STRATEGY=linear turns Mitogen off for a run.

Mitogen's CPU pinning is turned off. On a machine with fewer than 4 CPUs it pins its multiplexer
to CPU 0 and every other process, the commands tasks start included, to the rest: on 2 CPUs a
Docker engine the docker_host role starts (start-stop-daemon, no service manager) ran on CPU 1
alone, and with it every container it started, the database and the API replicas included
(docs/measurements.md, session 15). Processes started by a task now get the CPUs the run has.

No task of the project is async (`async`/`poll: 0`): under Mitogen a background job of a
community.docker module (docker_image building) never starts its work: the job's process, forked
from Mitogen's clean fork parent, asks the controller for the collection's module_utils
(community.docker's common_api) and waits for the answer forever (py-spy: Mitogen's
Importer.create_module; docs/measurements.md, sessions 24-25; upstream mitogen-hq/mitogen#835, open).
A synchronous run of the same module first does not help, nor does a task-level `connection:
ansible.builtin.local`. Async `command` jobs do run (their module_utils are ansible's own).

Mitogen reads a host's interpreter as a shell command line. The implicit `localhost` Ansible makes
for an inventory without one (a Molecule scenario's, inventory/example-multihost: the pki role's
tasks are delegated to it) has the controller's own Python as its interpreter, a path Ansible does
not quote: under a checkout with a space in its path it was split there, and the task unreachable.
That path, and only it, is taken whole (tests/test_checkout_path.py).
"""

from __future__ import annotations

import sys

try:
    import ansible_mitogen.affinity
    import ansible_mitogen.transport_config
    from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule

    # Policy is Mitogen's no-op base class: the controller, its workers and their children keep
    # the affinity ansible-playbook started with.
    ansible_mitogen.affinity.policy = ansible_mitogen.affinity.Policy()

    _parse_python_path = ansible_mitogen.transport_config.parse_python_path

    def _controller_python_whole(s, *args, **kwargs):
        if s == sys.executable:
            return [s]
        return _parse_python_path(s, *args, **kwargs)

    ansible_mitogen.transport_config.parse_python_path = _controller_python_whole
except ImportError:
    from ansible.plugins.strategy.linear import StrategyModule as _Linear
    from ansible.utils.display import Display

    class StrategyModule(_Linear):
        def __init__(self, tqm):
            Display().warning(
                "Mitogen is not installed in this interpreter: the plain linear strategy runs "
                "(slower). `make setup` installs it into .venv."
            )
            super().__init__(tqm)
