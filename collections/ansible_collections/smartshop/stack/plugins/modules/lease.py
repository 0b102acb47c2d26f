#!/usr/bin/python
# The host's side of the stack's lease: one run, from one controller, changes a stack's hosts at a
# time. The controller's own lock (the strategy's flock) cannot see a run started elsewhere.

from __future__ import annotations

import contextlib
import json
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
---
module: lease
short_description: Hold a stack's lease on a host, or give it back
description:
  - A JSON file on the host (I(path)) names the controller whose run is changing the stack there. It
    is created atomically (written aside, then linked to I(path), which fails when one exists), so of
    two controllers starting at once one holds it and the other is refused.
  - I(state=held) takes the lease when there is none; takes it over when its holder is this
    controller (a run of the same controller that ended without giving it back, killed or failed; the
    controller's own run lock keeps two of its runs from overlapping); or, with I(break_lease), from
    another controller. Otherwise it fails naming the holder and changes nothing.
  - I(state=released) removes the lease when this controller holds it; another's is left as it is.
  - A lease is bookkeeping, not the stack's state. The module never reports C(changed), so an
    idempotent run still reports C(changed=0). In check mode it writes nothing; another
    controller's lease still stops a dry run (what it would plan is what that run is changing).
  - Used through its action plugin, which fills in I(holder) from the controller.
options:
  path: {description: The lease file on the host., type: path, required: true}
  state: {description: Hold or give back., type: str, choices: [held, released], default: held}
  holder:
    description: Who asks (C(controller) the controller's id, and what to show of it).
    type: dict
    required: true
  break_lease:
    description: Take over a lease another controller holds (its run has ended without giving it back).
    type: bool
    default: false
author: SmartShop Stack
"""

EXAMPLES = r"""
- name: Hold the stack's lease on the host
  smartshop.stack.lease:
    path: /etc/smartshop/leases/smartshop.json
"""

RETURN = r"""
held_by: {description: The lease found on the host (none when there was none)., returned: always, type: dict}
taken:
  description: How the lease was taken (new, own, broken), or why not (dry run, released, not ours, none).
  returned: always
  type: str
"""


def describe(record: dict) -> str:
    return (
        f"{record.get('who', 'unknown')}, pid {record.get('pid', '?')}, {record.get('command', '?')},"
        f" since {record.get('since', '?')}"
    )


def read(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as handle:
            record = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"controller": "", "who": "unreadable lease"}
    return record if isinstance(record, dict) else {"controller": "", "who": "unreadable lease"}


def write(path: str, record: dict, replace: bool) -> bool:
    """Write the lease; with replace False only where none exists (False when one does)."""
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, staged = tempfile.mkstemp(prefix=".lease-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(record, handle)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(staged, path)
            return True
        try:
            os.link(staged, path)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(staged)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "state": {"type": "str", "choices": ["held", "released"], "default": "held"},
            "holder": {"type": "dict", "required": True},
            "break_lease": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    path, holder = module.params["path"], module.params["holder"]
    ours = str(holder.get("controller") or "")
    if not ours:
        module.fail_json(msg="lease: holder.controller is required (the action plugin fills it in)")
    found = read(path)
    result = {"changed": False, "held_by": found or {}}
    mine = found is not None and found.get("controller") == ours

    if module.params["state"] == "released":
        if mine and not module.check_mode:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        taken = "released" if mine else ("not ours" if found else "none")
        module.exit_json(**result, taken=taken)

    if found is not None and not mine and not module.params["break_lease"]:
        module.fail_json(
            **result,
            msg=(
                f"another controller's run ({describe(found)}) is changing this stack on this host (its lease:"
                f" {path}); nothing was changed. Run again when that run has ended. If it has ended without"
                f" giving the lease back (killed, failed), and only then, break it: -e smartshop_lease_break=true"
            ),
        )
    if module.check_mode:
        module.exit_json(**result, taken="dry run")
    try:
        if found is None:
            if write(path, holder, replace=False):
                module.exit_json(**result, taken="new")
            again = read(path)  # a lease appeared between the read and the link
            if again is not None and again.get("controller") != ours:
                module.fail_json(
                    **{**result, "held_by": again},
                    msg=(
                        f"another controller's run ({describe(again)}) took this stack's lease on this host"
                        f" ({path}) as this run asked for it; nothing was changed. Run again when that run has ended."
                    ),
                )
        write(path, holder, replace=True)
    except OSError as exc:
        module.fail_json(**result, msg=f"lease: cannot write {path}: {exc}")
    module.exit_json(**result, taken="own" if mine or found is None else "broken")


if __name__ == "__main__":
    main()
