"""The linear strategy, run over Mitogen when the controller has it (requirements-dev.txt pins it).

Mitogen keeps one Python interpreter per target and sends it each module once, instead of a new
process and a zipped module per task: an idempotent `make up` takes about a third of the time
(docs/measurements.md). Without the package (an interpreter outside .venv), the plain linear
strategy runs, and says so once. SMARTSHOP_MITOGEN=0 turns Mitogen off for a run (ANSIBLE_STRATEGY=linear
does too, but that strategy is Ansible's own: it takes no run lock).

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
That path, and only it, is taken whole (tests/test_checkout_path.py); the project's inventories name
it as `{{ ansible_playbook_python }}`, unquoted, which plain Ansible (SMARTSHOP_MITOGEN=0) quotes itself.

One run at a time changes a stack from this machine, whoever starts it (`make up`, `ansible-playbook
site.yml`, Jenkins, a Molecule scenario): before its first play touches a host, a run holds
`~/.smartshop/locks/<project>.lock` (flock, `SMARTSHOP_LOCK_DIR` another directory) for each
`smartshop_project` its plays' hosts belong to, until the ansible-playbook process ends, even killed.
A second run on the same project stops there, before any task, naming the first (its pid, its
playbooks, when it started), or with SMARTSHOP_LOCK_WAIT=<seconds> waits that long for it to end
(`make engine`, which every Molecule lane runs first, waits: the lanes run it two at a time).
Stacks of other projects (the Molecule scenarios' beside `make up`'s) do not wait for each other;
Ansible's implicit localhost belongs to none (tests/test_run_lock.py).
"""

from __future__ import annotations

import fcntl
import os
import re
import sys
import time
from pathlib import Path

from ansible import context
from ansible.errors import AnsibleError
from ansible.template import Templar
from ansible.utils.display import Display

_MITOGEN = os.environ.get("SMARTSHOP_MITOGEN", "1").strip().lower() not in ("0", "false", "no", "off")

try:
    if not _MITOGEN:
        raise ImportError("SMARTSHOP_MITOGEN is off")
    import ansible_mitogen.affinity
    import ansible_mitogen.transport_config
    from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule as _Base

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

    class _Base(_Linear):
        def __init__(self, tqm):
            if _MITOGEN:
                Display().warning(
                    "Mitogen is not installed in this interpreter: the plain linear strategy runs "
                    "(slower). `make setup` installs it into .venv."
                )
            super().__init__(tqm)


# project -> the locked file's descriptor, held until this process ends (never closed before)
_HELD: dict[str, int] = {}
# host name -> its project, looked up once per run
_PROJECTS: dict[str, str] = {}
# the plays this process has started (a refusal before the first says nothing was changed)
_PLAYS: list[str] = []


def lock_dir() -> Path:
    return Path(os.environ.get("SMARTSHOP_LOCK_DIR") or Path.home() / ".smartshop" / "locks")


def _holder(fd: int) -> str:
    """What the run holding the lock wrote in it (its pid, its command, when it started)."""
    return os.pread(fd, 4096, 0).decode(errors="replace").strip() or "unknown"


def _ended(holder: str) -> str:
    """A run killed hard leaves its workers to finish the task under way: they keep the lock until then."""
    found = re.match(r"pid (\d+),", holder)
    if not found:
        return ""
    try:
        os.kill(int(found.group(1)), 0)
    except ProcessLookupError:
        return "; that process has ended, a task it had started is still finishing"
    except PermissionError:
        pass
    return ""


def _wait_seconds() -> float:
    given = os.environ.get("SMARTSHOP_LOCK_WAIT", "0").strip() or "0"
    try:
        seconds = float(given)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 86400:
        raise AnsibleError(f"SMARTSHOP_LOCK_WAIT is a number of seconds, 0 to 86400; got {given!r}")
    return seconds


def _locked(fd: int, path: Path, project: str) -> bool:
    """Take the lock at once, or within SMARTSHOP_LOCK_WAIT seconds (0, the default: at once)."""
    deadline = time.monotonic() + _wait_seconds()
    said = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            if not said:
                Display().display(
                    f"Waiting for another run ({_holder(fd)}) to end: it holds {path}, the stack "
                    f"'{project}' (SMARTSHOP_LOCK_WAIT={os.environ['SMARTSHOP_LOCK_WAIT']})",
                    stderr=True,
                )
                said = True
            time.sleep(0.5)


def hold(project: str, first_play: bool = True) -> None:
    """Lock `project` for the rest of this process, or fail naming the run that holds it."""
    if project in _HELD:
        return
    directory = lock_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / (re.sub(r"[^A-Za-z0-9_.-]", "_", project) + ".lock")
    # O_CLOEXEC: a program a task starts (an engine, a container's process) must not keep the lock
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    if not _locked(fd, path, project):
        holder = _holder(fd)
        os.close(fd)
        raise AnsibleError(
            f"another run ({holder}{_ended(holder)}) is changing the stack '{project}' from "
            f"this machine (it holds {path}); "
            + ("nothing was changed" if first_play else "this run stops before this play, after the ones before it")
            + ": run this again when it has ended"
        ) from None
    command = " ".join([os.path.basename(sys.argv[0]), *(str(a) for a in context.CLIARGS.get("args") or ())])
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()}, {command}, started {started}\n".encode(), 0)
    _HELD[project] = fd


class StrategyModule(_Base):
    def run(self, iterator, play_context, *args, **kwargs):
        play = iterator._play
        for host in self._inventory.get_hosts(play.hosts, order=play.order):
            if getattr(host, "implicit", False):
                continue
            if host.name not in _PROJECTS:
                variables = self._variable_manager.get_vars(play=play, host=host)
                project = variables.get("smartshop_project", "smartshop")
                _PROJECTS[host.name] = str(Templar(loader=self._loader, variables=variables).template(project))
            hold(_PROJECTS[host.name], first_play=not _PLAYS)
        _PLAYS.append(play.get_name())
        return super().run(iterator, play_context, *args, **kwargs)
