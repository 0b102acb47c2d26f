"""The controller's side of smartshop.stack.lease: who asks for the lease.

The controller's id is a random value kept in ``~/.smartshop/controller-id`` (mode 0600, made on
first use): each user's home on each machine is one controller, as each has its own run lock
(plugins/strategy/mitogen_linear.py) and its own credentials. The module is told that id, the user
and machine to show, the run's pid and command, and when it asked. A lease this controller left
behind (a run killed or failed) is taken over with a warning naming that run; one broken with
``break_lease`` is named too.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import secrets
import socket
import sys
import tempfile
import time
from pathlib import Path

from ansible import context
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

ARGUMENT_SPEC = {
    "path": {"type": "path", "required": True},
    "state": {"type": "str", "choices": ["held", "released"], "default": "held"},
    "break_lease": {"type": "bool", "default": False},
}


def controller_id(home: Path | None = None) -> str:
    """This controller's id, made once. Written whole beside its place, then linked there (a link
    fails when the name exists): two first runs at once agree on one, and neither reads it half
    made (created empty with O_EXCL, then written, a run's other host read it empty)."""
    path = (home or Path.home()) / ".smartshop" / "controller-id"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        fd, draft = tempfile.mkstemp(dir=path.parent, prefix=".controller-id.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(secrets.token_hex(16) + "\n")
            os.chmod(draft, 0o600)
            with contextlib.suppress(FileExistsError):  # another run made it first: its id is this controller's
                os.link(draft, path)
        finally:
            os.unlink(draft)
    value = path.read_text(encoding="utf-8").strip()
    if not value:
        raise AnsibleActionFail(f"{path} is empty: remove it, the next run makes a new one")
    return value


def holder() -> dict[str, object]:
    command = " ".join([os.path.basename(sys.argv[0]), *(str(a) for a in context.CLIARGS.get("args") or ())])
    return {
        "controller": controller_id(),
        "who": f"{getpass.getuser()}@{socket.gethostname()}",
        # a task runs in a worker the run's process forked
        "pid": os.getppid(),
        "command": command,
        "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        me = holder()
        answer = self._execute_module(
            module_name="smartshop.stack.lease", module_args={**args, "holder": me}, task_vars=task_vars
        )
        result.update(answer)
        found = answer.get("held_by") or {}
        if answer.get("taken") == "own" and found.get("pid") != me["pid"]:
            Display().warning(
                f"{self._task.get_name()}: this controller's earlier run (pid {found.get('pid')},"
                f" {found.get('command')}, since {found.get('since')}) ended without giving back the stack's"
                f" lease on {task_vars.get('inventory_hostname')} ({args['path']}): this run takes it over."
            )
        if answer.get("taken") == "broken":
            Display().warning(
                f"{self._task.get_name()}: the lease of another controller's run ({found.get('who')}, pid"
                f" {found.get('pid')}, {found.get('command')}, since {found.get('since')}) on"
                f" {task_vars.get('inventory_hostname')} is broken (smartshop_lease_break): make sure that"
                " run has ended."
            )
        return result
