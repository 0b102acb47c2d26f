"""Check a role's container memory limits before anything changes (``smartshop.stack.memory_limits``).

Each entry of ``limits`` names a variable, the least the service runs under (``floor``) and why.
The action reads each variable as the play sees it (defaults, inventory, ``-e``), and fails naming
every variable that is not a size the container module reads (``512m``, ``1g``, a number of bytes:
ansible-core's ``human_to_bytes``, as ``smartshop.stack.memory_at_least``) or is below its floor:

    mysql_memory_limit must be a size such as 512m or 1g, at least 256m (MariaDB holds ...); got '8m'.

Why before anything changes: a limit the engine accepts but the service cannot start under would
leave it restarting; one the container module cannot read would fail only when it reached that
container, the others already replaced. One message format for every role: the roles keep only
their data. It changes nothing, so it runs the same in check mode.
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.smartshop.stack.plugins.test.stack import memory_at_least

ARGUMENT_SPEC = {
    "limits": {
        "type": "list",
        "elements": "dict",
        "required": True,
        "options": {
            "name": {"type": "str", "required": True},
            "floor": {"type": "str", "required": True},
            "why": {"type": "str", "required": True},
        },
    },
}


def problems(limits: list[dict], values: dict) -> list[str]:
    """One message per limit whose value (from `values`, by name) is no size or below its floor."""
    found = []
    for limit in limits:
        name = limit["name"]
        if name not in values:
            found.append(f"{name} is not defined: the role's defaults should set it.")
            continue
        if not memory_at_least(values[name], limit["floor"]):
            found.append(
                f"{name} must be a size such as 512m or 1g, at least {limit['floor']} ({limit['why']}); "
                f"got '{values[name]}'."
            )
    return found


class ActionModule(ActionBase):
    """Runs in check mode too (ActionBase's default): it only reads."""

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        task_vars = task_vars or {}
        values = {}
        for limit in args["limits"]:
            name = limit["name"]
            if name in task_vars:
                try:
                    values[name] = self._templar.template(task_vars[name])
                except Exception as exc:  # an undefined or broken template in the inventory
                    raise AnsibleActionFail(f"{name} cannot be read: {exc}") from exc
        found = problems(args["limits"], values)
        result["changed"] = False
        result["checked"] = {limit["name"]: str(values.get(limit["name"])) for limit in args["limits"]}
        if found:
            result["failed"] = True
            result["msg"] = " ".join(found)
        return result
