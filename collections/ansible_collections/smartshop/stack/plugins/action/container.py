"""Run a container of the stack: the one place that knows what every stack container shares.

Every role runs its containers through this action (``smartshop.stack.container``), so the
network, the labels teardown finds them by, the restart policy, log rotation, the healthcheck and
the wait until healthy are written once. It fills those in and hands the result to
``community.docker.docker_container``, whose idempotence, check mode and diff it keeps. The named
volumes a container mounts are created first, with the same labels (``make down PURGE=1`` finds
them by those).

Every container runs with the least it needs, and a role cannot forget it: every capability
dropped (``cap_add`` gives one back, with a comment at the call saying why), ``no-new-privileges``,
a read-only root filesystem (``tmpfs`` lists where a process must write; ``read_only: false`` is
the escape hatch), and memory and pids limits, which every running state requires.

A container of that name that is not the stack's (its com.smartshop.project label is another
project's, or missing: someone's own container) is never stopped, renamed or replaced: the task
fails before touching it, saying whose it is.

What the task gives is what the container has: an env variable, a mount, a published port or a
tmpfs removed from the task is removed from the container (recreated), not left running.

A change never leaves a service down that ran before it. docker_container is first asked, in check
mode, what it would do (with nothing to change that is the only call, as before). When it would
recreate a running container, the old one is stopped and renamed ``<name>-previous``
(``smartshop.stack.container_aside``), the new one created; once it runs (and, for ``healthy``,
passes its check) the old one is removed. When the new one does not start or is not healthy, it is
removed and the old one renamed back, started and waited healthy: the task fails with the cause and
says it rolled back. A ``<name>-previous`` an interrupted run left behind is put back or dropped the
same way.

States: ``healthy`` (started and waited healthy; the default), ``started``, ``absent``,
``completed`` (a one-shot command: run to its end, fail on a non-zero exit, removed after; its
output is in ``container.Output``), ``restarted`` (restart an existing container, for handlers) and
``reloaded`` (for handlers: run ``reload_command`` inside a running container, a SIGHUP or a
graceful reload; a container that is not running has nothing to reload, as it reads its
configuration when it starts, and is left as it is; a paused one fails, saying so).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

# Labels every container carries; playbooks/teardown.yml and the tests find the stack by them.
LABEL_PREFIX = "com.smartshop"
STATES = ("healthy", "started", "absent", "completed", "restarted", "reloaded")
# The states that act on an existing container only: no image, volume or limits to give.
EXISTING_ONLY = ("absent", "restarted", "reloaded")
# Always set: no capability but those a call adds back, and no gaining privileges through
# setuid binaries or file capabilities after start.
CAP_DROP = ["ALL"]
SECURITY_OPTS = ["no-new-privileges"]
# docker_container compares most list and dict options "allow_more_present": what the task gives
# must be on the container, more is fine. So an env variable, a mount, a published port or a tmpfs
# dropped from a role or an inventory (mysql_publish: false) stayed on the running container, and
# the run said ok. Strict for every option this action sets: the container is what the task says.
# (env and labels are compared with the image's own added, as the engine merges them.)
STRICT = (
    "env", "labels", "mounts", "published_ports", "tmpfs",
    "capabilities", "cap_drop", "security_opts", "log_options",
)  # fmt: skip

ARGUMENT_SPEC = {
    "name": {"type": "str", "required": True},
    "image": {"type": "str"},
    "component": {"type": "str"},
    "project": {"type": "str"},
    "network": {"type": "str"},
    "aliases": {"type": "list", "elements": "str", "default": []},
    "command": {"type": "list", "elements": "str"},
    "entrypoint": {"type": "list", "elements": "str"},
    "env": {"type": "dict", "default": {}},
    "user": {"type": "str"},
    "mounts": {"type": "list", "elements": "dict", "default": []},
    "published_ports": {"type": "list", "elements": "str", "default": []},
    "healthcheck": {"type": "dict"},
    "labels": {"type": "dict", "default": {}},
    "restart_policy": {
        "type": "str",
        "default": "unless-stopped",
        "choices": ["no", "on-failure", "always", "unless-stopped"],
    },
    "restart": {"type": "bool", "default": False},
    "state": {"type": "str", "default": "healthy", "choices": list(STATES)},
    "healthy_timeout": {"type": "int", "default": 60},
    "log_max_size": {"type": "str", "default": "10m"},
    "log_max_files": {"type": "int", "default": 3},
    "read_only": {"type": "bool", "default": True},
    "tmpfs": {"type": "list", "elements": "str", "default": []},
    "cap_add": {"type": "list", "elements": "str", "default": []},
    "memory": {"type": "str"},
    "pids_limit": {"type": "int"},
    "stop_timeout": {"type": "int"},
    "reload_command": {"type": "list", "elements": "str"},
}
# What every state but those of EXISTING_ONLY needs.
RUNNING_REQUIRES = ("image", "component", "network", "memory", "pids_limit")


def _env_value(name: str, value: object) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, (Mapping, list)):
        raise AnsibleActionFail(f"env {name}: give a string or a number, not {value!r}")
    return str(value)


def labels(project: str, component: str) -> dict[str, str]:
    return {f"{LABEL_PREFIX}.project": project, f"{LABEL_PREFIX}.component": component}


def volume_args(args: Mapping, project: str) -> list[dict]:
    """community.docker.docker_volume arguments for each named volume the container mounts."""
    if args["state"] in EXISTING_ONLY:
        return []
    return [
        {"name": mount["source"], "labels": labels(project, args["component"]), "state": "present"}
        for mount in args["mounts"]
        if mount.get("type") == "volume" and mount.get("source")
    ]


def container_args(args: Mapping, project: str) -> dict:
    """The community.docker.docker_container arguments for one stack container."""
    name, state = args["name"], args["state"]
    if state == "absent":
        return {"name": name, "state": "absent"}
    if state == "restarted":
        return {"name": name, "state": "started", "restart": True}
    missing = [key for key in RUNNING_REQUIRES if not args.get(key)]
    if missing:
        raise AnsibleActionFail(f"container {name}: {', '.join(missing)} required for state {state}")
    network = {"name": args["network"]}
    if args["aliases"]:
        network["aliases"] = list(args["aliases"])
    module = {
        "name": name,
        "image": args["image"],
        "networks": [network],
        "networks_cli_compatible": True,
        "network_mode": args["network"],
        "mounts": list(args["mounts"]),
        "published_ports": list(args["published_ports"]),
        "env": {key: _env_value(key, value) for key, value in args["env"].items()},
        "labels": {**{str(k): str(v) for k, v in args["labels"].items()}, **labels(project, args["component"])},
        "log_driver": "json-file",
        "log_options": {"max-size": args["log_max_size"], "max-file": str(args["log_max_files"])},
        "restart": args["restart"],
        "read_only": args["read_only"],
        "tmpfs": list(args["tmpfs"]),
        "cap_drop": list(CAP_DROP),
        "capabilities": [str(cap).upper() for cap in args["cap_add"]],
        "security_opts": list(SECURITY_OPTS),
        "memory": args["memory"],
        "pids_limit": args["pids_limit"],
        "comparisons": dict.fromkeys(STRICT, "strict"),
    }
    if args["pids_limit"] <= 0:
        raise AnsibleActionFail(f"container {name}: pids_limit must be a positive number, not {args['pids_limit']}")
    for optional in ("command", "entrypoint", "user", "healthcheck", "stop_timeout"):
        if args.get(optional) is not None:
            module[optional] = args[optional]
    if state == "completed":
        module.update(state="started", detach=False, cleanup=True, restart_policy="no")
    else:
        module.update(state=state, restart_policy=args["restart_policy"])
        if state == "healthy":
            module["state"] = "started"  # the action waits, running the health check itself
    return module


def probe_argv(container: Mapping | None) -> list[str] | None:
    """The command that runs a container's health check once, as Docker would, bounded by its
    timeout, from the container's inspect result (the task's check or the image's); None when the
    container has none.

    Docker 20.10 runs a container's first check one interval after it starts (``start_interval``
    came with Docker 25): waiting for its verdict cost every container 6.5-7 s of a converge whatever
    the service needed. The action runs the same check as soon as the container runs and goes on
    when it passes; Docker's own verdict follows at its first interval."""
    check = ((container or {}).get("Config") or {}).get("Healthcheck") or {}
    test = check.get("Test") or []
    timeout = max(1, round((check.get("Timeout") or 30 * 10**9) / 10**9))
    if len(test) < 2 or test[0] not in ("CMD", "CMD-SHELL"):
        return None  # none, NONE (disabled) or inherited ([] means the image's, already merged)
    if test[0] == "CMD-SHELL":
        return ["timeout", str(timeout), "/bin/sh", "-c", str(test[1])]
    return ["timeout", str(timeout), *(str(part) for part in test[1:])]


def health_of(container: Mapping | None) -> tuple[str, str]:
    """(the container's status, its health status) from an inspect result."""
    state = (container or {}).get("State") or {}
    return state.get("Status", ""), (state.get("Health") or {}).get("Status", "")


# The engine's words when a published port is taken: "listen tcp4 127.0.0.1:3000: bind: address
# already in use" (the userland proxy off) or "Bind for 0.0.0.0:3000 failed: port is already allocated".
PORT_TAKEN = re.compile(
    r"(?:listen (?:tcp|udp)[46]? |Bind for )\[?([0-9a-fA-F.:]*?)\]?:(\d+)(?::| failed).*?"
    r"(?:address already in use|port is already allocated)"
)


def explain_failure(name: str, message: str) -> str:
    """The engine's error, led by what to do when it is one a user can fix (a port taken)."""
    taken = PORT_TAKEN.search(message)
    if not taken:
        return message
    address, port = taken.group(1) or "every address", taken.group(2)
    return (
        f"container {name} cannot publish port {port} on {address}: another process or container on"
        f" this Docker host already holds it (`ss -ltnp 'sport = :{port}'`, `docker ps --filter"
        f" publish={port}` name it). Stop it, or give this service another port (the role's *_port"
        f" variable, in its README), then run again. The engine said: {message}"
    )


def reload_verdict(name: str, info: Mapping) -> str | None:
    """What a reload of a container does given community.docker.docker_container_info's answer:
    None to run the command, "skip" when the container is absent or not running (it reads its
    configuration when it starts), or the message a failure gives (paused: the process would go on
    with the configuration it has)."""
    if not info.get("exists"):
        return "skip"
    status = ((info.get("container") or {}).get("State") or {}).get("Status", "")
    if status == "running":
        return None
    if status == "paused":
        return (
            f"container {name} is paused: it cannot take the reload and would go on with its old"
            f" configuration once unpaused. Unpause it (`docker unpause {name}`), then run again."
        )
    return "skip"  # created, exited, dead, restarting: it reads its configuration when it starts


def whose(project: str | None) -> str:
    """Whose a container or volume of the stack's name is, by its project label, in a refusal."""
    return f"project {project}'s" if project else f"not one of this stack's (it has no {LABEL_PREFIX}.project label)"


def stranger(name: str, plan: Mapping | None, project: str) -> str | None:
    """The failure's message when docker_container's plan would replace a container of that name
    that is not this stack's (someone's own, or another project's: its project label differs or it
    has none), None otherwise. Such a container is never stopped, renamed or removed."""
    if not plan or not plan.get("changed"):
        return None
    container = plan.get("container") or {}
    if not container.get("Id"):
        return None  # none yet: it would be created
    found = ((container.get("Config") or {}).get("Labels") or {}).get(f"{LABEL_PREFIX}.project")
    if found == project:
        return None
    return (
        f"container {name} exists and is {whose(found)}: this run would have replaced it. It is left as it is"
        f" and nothing was changed. Rename or remove it (`docker rename {name} <another name>`,"
        f" `docker rm -f {name}`), or give this stack's container another name (the role's"
        f" *_container_name variable, or smartshop_project for all), then run again."
    )


def foreign_volume(volume: Mapping | None, project: str) -> str | None:
    """The failure's message when a named volume the container would mount exists and is not this
    stack's (its project label differs or it has none: someone's data, or another stack's), None
    otherwise. docker_volume leaves such a volume as it is, and the container would have used it."""
    if not volume or not volume.get("Name"):
        return None  # none yet: it is created with the stack's labels
    found = (volume.get("Labels") or {}).get(f"{LABEL_PREFIX}.project")
    if found == project:
        return None
    name = volume["Name"]
    return (
        f"volume {name} exists and is {whose(found)}: this run would have mounted it, with its data, into the"
        f" stack's container. It is left as it is and nothing was changed. If it is no one's data,"
        f" remove it (`docker volume rm {name}`); otherwise give this stack's volume another name (the"
        f" role's *_volume variable, or smartshop_project for all), then run again."
    )


def network_missing(message: str, args: Mapping) -> bool:
    """Whether docker_container failed because the container's network does not exist."""
    network = args.get("network")
    return bool(network) and f"network named {network} could not be found" in message


def replacement(plan: Mapping) -> str | None:
    """What a change docker_container planned (its check-mode result) does to the container of that
    name: "recreate" a running one (it is set aside first, to be put back should its successor fail),
    "create" one where there is none (an older one set aside by an interrupted run may be put
    back), or None (started, updated in place, or recreated while not running: nothing to keep)."""
    actions = plan.get("actions") or []
    created = any("created" in action for action in actions)
    removed = any("removed" in action for action in actions)
    if created and removed:
        running = (((plan.get("container") or {}).get("State")) or {}).get("Running")
        return "recreate" if running else None
    return "create" if created else None


# A container the engine restarts after each exit (its restart policy) that has exited this many
# times during the wait, before its check passed, will not pass: a bad flag or configuration.
# Docker's back-off (0.1, 0.2, 0.4 s) reaches it within seconds, where the wait would go on to its
# timeout (3 minutes for MariaDB) while the engine kept restarting it. Counted from the wait's start:
# RestartCount also holds the restarts of the container's past (a crash drill's, say).
CRASH_LOOP_RESTARTS = 3
# The container's last log lines, in a failure's message (no community.docker module reads logs).
LOG_LINES = 20


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        if args["state"] == "reloaded":
            return {**result, **self._reload(args, task_vars)}
        project = args["project"] or self._templar.template(task_vars.get("smartshop_project", "smartshop"))
        module_args = container_args(args, str(project))
        volumes_changed = False
        for volume in volume_args(args, str(project)):
            created = self._execute_module(
                module_name="community.docker.docker_volume", module_args=volume, task_vars=task_vars
            )
            if created.get("failed"):
                return {**result, **created}
            foreign = foreign_volume(created.get("volume"), str(project))
            if foreign:
                return {**result, "failed": True, "changed": volumes_changed, "msg": foreign}
            volumes_changed = volumes_changed or bool(created.get("changed"))
        plan = None
        if args["state"] in ("healthy", "started"):
            # what docker_container would do (in a dry run, that is the task's result)
            plan = self._docker_container(module_args, task_vars, check_mode=True)
            if plan.get("failed") and not self._task.check_mode:
                plan = None  # the real call fails the same way, and its error is explained below
        foreign = stranger(args["name"], plan, str(project))
        if foreign:
            return {**result, "failed": True, "changed": volumes_changed, "msg": foreign}
        if plan is not None and (self._task.check_mode or not plan.get("changed")):
            result.update(plan)  # nothing to change, or a dry run: the plan is the answer
            move = None
        else:
            move = replacement(plan) if plan is not None else None
            if move == "recreate":
                aside = self._aside(args, str(project), "aside", task_vars)
                if aside.get("failed"):
                    return {**result, **aside}
            result.update(self._docker_container(module_args, task_vars))
        result["changed"] = bool(result.get("changed")) or volumes_changed
        if self._task.check_mode and result.get("failed") and network_missing(str(result.get("msg", "")), args):
            # a dry run where the stack's network does not exist yet (a fresh engine, after a purge): the
            # network role's task just said it would create it, so this container would be created on it
            result.pop("exception", None)
            result.update(
                failed=False,
                changed=True,
                msg=f"container {args['name']} would be created, on network {args['network']} (this run makes it)",
            )
        failure = None
        if result.get("failed"):
            message = str(result.get("msg", ""))
            failure = explain_failure(args["name"], message)
            if failure != message:
                # the module's own error summary would be shown first, in the engine's words only
                result.pop("exception", None)
                result["msg"] = failure
        probe = probe_argv(result.get("container")) if args["state"] == "healthy" else None
        if probe and not failure and not self._task.check_mode:
            failure = self._wait_healthy(args["name"], probe, args["healthy_timeout"], result, task_vars)
            if failure:
                result.update(failed=True, msg=failure)
        if move is None:
            return result
        if failure:
            return self._put_back(args, str(project), result, failure, task_vars)
        dropped = self._aside(args, str(project), "absent", task_vars)
        if dropped.get("failed") or dropped.get("msg"):
            result.setdefault("warnings", []).append(str(dropped.get("msg")))
        return result

    def _docker_container(self, module_args: dict, task_vars: dict, check_mode: bool = False) -> dict:
        """community.docker.docker_container with these arguments; in check mode when asked (the plan of
        a change), whatever the task's own mode."""
        task_check_mode = self._task.check_mode
        self._task.check_mode = task_check_mode or check_mode
        try:
            return self._execute_module(
                module_name="community.docker.docker_container", module_args=dict(module_args), task_vars=task_vars
            )
        finally:
            self._task.check_mode = task_check_mode

    def _aside(self, args: Mapping, project: str, state: str, task_vars: dict) -> dict:
        module_args = {"name": args["name"], "state": state, "labels": labels(project, args["component"])}
        if args.get("stop_timeout") is not None:
            module_args["stop_timeout"] = args["stop_timeout"]
        return self._execute_module(
            module_name="smartshop.stack.container_aside", module_args=module_args, task_vars=task_vars
        )

    def _put_back(self, args: Mapping, project: str, result: dict, failure: str, task_vars: dict) -> dict:
        """The new container failed: remove it and put the previous one back, running as it was."""
        name = args["name"]
        back = self._aside(args, project, "restored", task_vars)
        if back.get("failed"):
            said = (
                f"{failure}\n\nThe previous container could not be put back: {back.get('msg')} (`docker ps -a"
                f" --filter name={name}` shows what is left; the previous one is {name}-previous while it is aside)"
            )
            return {**result, "changed": True, "failed": True, "msg": said}
        if not back.get("restored"):  # there was none: the failure stands as it is
            return {**result, "msg": f"{failure}\n\n{back['msg']}"} if back.get("foreign") else result
        info = self._execute_module(
            module_name="community.docker.docker_container_info", module_args={"name": name}, task_vars=task_vars
        )
        container = info.get("container") or {}
        probe = probe_argv(container) if args["state"] == "healthy" else None
        again = None
        if probe:
            again = self._wait_healthy(name, probe, args["healthy_timeout"], {"container": container}, task_vars)
        if again:
            said = (
                f"{failure}\n\nThe previous container {name} was put back, and it fails too (it reads the files"
                f" it mounts from this host as they are now): {again}"
            )
        else:
            said = (
                f"{failure}\n\nRolled back: the previous container {name} was put back and runs"
                f"{' healthy' if probe else ''} again, with the image and settings it had (this change is not"
                " applied to it). Correct what the message above says, then run again."
            )
        # the new container the result described is gone; the one running is the one that ran before
        result.pop("container", None)
        return {**result, "changed": True, "failed": True, "msg": said, "rolled_back": not again}

    def _wait_healthy(self, name: str, probe: list[str], timeout: int, result: dict, task_vars: dict) -> str | None:
        """Run the container's health check until it passes (None) or the timeout; the failure's
        message otherwise. Docker's own verdict counts as well: an image whose shell lacks
        ``timeout`` is waited for as docker_container would."""
        if health_of(result.get("container"))[1] == "healthy":
            return None
        deadline = time.monotonic() + timeout
        restarted_before = (result.get("container") or {}).get("RestartCount") or 0
        while True:
            ran = self._execute_module(
                module_name="community.docker.docker_container_exec",
                module_args={"container": name, "argv": probe},
                task_vars=task_vars,
            )
            if not ran.get("failed") and ran.get("rc") == 0:
                return None
            said = (ran.get("stderr") or ran.get("stdout") or ran.get("msg") or f"exit {ran.get('rc')}").strip()
            info = self._execute_module(
                module_name="community.docker.docker_container_info", module_args={"name": name}, task_vars=task_vars
            )
            container = info.get("container") or {}
            status, health = health_of(container)
            if health == "healthy":
                return None
            code = (container.get("State") or {}).get("ExitCode")
            restarts = (container.get("RestartCount") or 0) - restarted_before
            if status in ("exited", "dead"):
                before = f"container {name} {status} (exit code {code}) before it was healthy"
                return before + self._logs(name, task_vars)
            if restarts >= CRASH_LOOP_RESTARTS:
                return (
                    f"container {name} keeps exiting before it is healthy (exit code {code}, restarted {restarts}"
                    " times; the engine goes on restarting it)" + self._logs(name, task_vars)
                )
            if time.monotonic() > deadline:
                return (
                    f"container {name} not healthy after {timeout} s ({status}, {health or 'no health yet'}):"
                    f" its health check last said: {said[-500:]}" + self._logs(name, task_vars)
                )
            time.sleep(0.5)

    def _logs(self, name: str, task_vars: dict) -> str:
        """The end of a failure's message: the container's last log lines (the engine's CLI, read only:
        no community.docker module returns a container's logs), or where to read them."""
        ran = self._execute_module(
            module_name="ansible.builtin.command",
            module_args={"argv": ["sh", "-c", f'docker logs --tail {LOG_LINES} "$0" 2>&1', name]},
            task_vars=task_vars,
        )
        text = str(ran.get("stdout") or "").strip()
        if ran.get("failed") or ran.get("rc") != 0 or not text:
            return f": `docker logs {name}` says why"
        return f". Its last log lines (`docker logs {name}`):\n{text[-2000:]}"

    def _reload(self, args: Mapping, task_vars: dict) -> dict:
        """state=reloaded: reload_command inside the container when it runs; changed when it ran."""
        name = args["name"]
        if not args.get("reload_command"):
            raise AnsibleActionFail(f"container {name}: reload_command required for state reloaded")
        info = self._execute_module(
            module_name="community.docker.docker_container_info", module_args={"name": name}, task_vars=task_vars
        )
        if info.get("failed"):
            return info
        verdict = reload_verdict(name, info)
        if verdict == "skip":
            return {"changed": False, "msg": f"container {name} is not running: nothing to reload"}
        if verdict is not None:
            return {"failed": True, "msg": verdict}
        if self._task.check_mode:
            return {"changed": True, "msg": f"container {name} would be reloaded"}
        ran = self._execute_module(
            module_name="community.docker.docker_container_exec",
            module_args={"container": name, "argv": list(args["reload_command"])},
            task_vars=task_vars,
        )
        if ran.get("failed") or ran.get("rc", 0) != 0:
            said = (ran.get("stderr") or ran.get("msg") or "").strip()
            return {**ran, "failed": True, "msg": f"container {name}: the reload exited {ran.get('rc')}: {said}"}
        return {**ran, "changed": True}
