#!/usr/bin/python
# The three moves smartshop.stack.container makes to replace a running container without losing it:
# set it aside (stopped, renamed) while its successor starts, then drop it or put it back.
# community.docker has no module that renames a container; this one uses its API client.

from __future__ import annotations

import traceback

from ansible_collections.community.docker.plugins.module_utils.common_api import AnsibleDockerClient

DOCUMENTATION = r"""
---
module: container_aside
short_description: Keep a container aside while its replacement starts, then drop it or put it back
description:
  - Used by M(smartshop.stack.container) when a change recreates a running container. The old one is
    stopped and renamed C(<name>-previous) (I(state=aside)); the new one is created under I(name).
    When the new one is healthy the old one is removed (I(state=absent)); when it fails, the new one is
    removed and the old one renamed back and started (I(state=restored)). Its image, command,
    environment, ports and limits are the ones it had; its named volumes and the files it mounts
    from the host are shared, as they are now.
  - Each state is idempotent and safe after an interrupted run. I(state=aside) first removes an
    older C(<name>-previous) (a newer container of that name exists). I(state=restored) with no
    C(<name>-previous) changes nothing and says so. I(state=absent) with none changes nothing.
options:
  name: {description: The service's container name., type: str, required: true}
  state:
    description: What to do with the previous container.
    type: str
    required: true
    choices: [aside, restored, absent]
  stop_timeout:
    description: Seconds between SIGTERM and SIGKILL when the container is stopped; by default the container's own.
    type: int
  labels:
    description:
      - Labels a C(<name>-previous) must carry to be this stack's. One that lacks them (a container of
        someone else's that happens to have the name) is never removed nor started; I(state=aside)
        fails naming it, I(state=restored) and I(state=absent) leave it and say so.
    type: dict
    default: {}
author: SmartShop Stack
"""

EXAMPLES = r"""
- name: Set the running container aside
  smartshop.stack.container_aside:
    name: smartshop-mysql
    state: aside
    stop_timeout: 30
"""

RETURN = r"""
previous: {description: The name the old container has while aside., returned: always, type: str}
restored: {description: Whether a previous container was put back under I(name)., returned: always, type: bool}
foreign:
  description: Whether a C(<name>-previous) without I(labels) exists (left as it is).
  returned: always
  type: bool
"""

SUFFIX = "-previous"
ARGUMENT_SPEC = {
    "name": {"type": "str", "required": True},
    "state": {"type": "str", "required": True, "choices": ["aside", "restored", "absent"]},
    "stop_timeout": {"type": "int"},
    "labels": {"type": "dict", "default": {}},
}
VERBS = {"aside": "set aside", "restored": "put back", "absent": "remove"}


def previous_name(name: str) -> str:
    return name + SUFFIX


def ours(container: dict, labels: dict) -> bool:
    """Whether an inspected container carries every one of these labels with its value."""
    have = (container.get("Config") or {}).get("Labels") or {}
    return all(have.get(key) == str(value) for key, value in labels.items())


def _remove(client, container_id: str) -> None:
    client.delete_call("/containers/{0}", container_id, params={"v": 0, "force": 1})


def main() -> None:
    client = AnsibleDockerClient(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
    )
    params = client.module.params
    name, state = params["name"], params["state"]
    previous = previous_name(name)
    result = {"changed": False, "previous": previous, "restored": False, "foreign": False}
    try:
        current, old = client.get_container(name), client.get_container(previous)
        if old and not ours(old, params["labels"]):
            stranger = (
                f"container {previous} exists and is not this one's predecessor (it lacks the labels"
                f" {params['labels']}): it is left as it is. Rename or remove it (`docker rm {previous}`)."
            )
            if state == "aside":
                client.fail(stranger + " Nothing was changed.", **result)
            result.update(msg=stranger, foreign=True)
            old = None
        if state == "absent":
            if old:
                result["changed"] = True
                if not client.check_mode:
                    _remove(client, old["Id"])
        elif state == "aside":
            if not current:
                client.fail(f"container {name} does not exist: there is nothing to set aside", **result)
            result["changed"] = True
            if not client.check_mode:
                if old:
                    _remove(client, old["Id"])
                if current["State"].get("Running"):
                    timeout = {} if params["stop_timeout"] is None else {"t": params["stop_timeout"]}
                    client.post_call("/containers/{0}/stop", current["Id"], params=timeout)
                client.post_call("/containers/{0}/rename", current["Id"], params={"name": previous})
        elif old:  # restored
            result.update(changed=True, restored=True)
            if not client.check_mode:
                if current:
                    _remove(client, current["Id"])
                client.post_call("/containers/{0}/rename", old["Id"], params={"name": name})
                client.post_call("/containers/{0}/start", old["Id"])
        elif "msg" not in result:
            result["msg"] = f"no {previous} to put back"
    except Exception as exc:  # the engine's error, said once, with the module's state
        client.fail(
            f"container {name}: could not {VERBS[state]} the previous container: {exc}",
            exception=traceback.format_exc(),
            **result,
        )
    client.module.exit_json(**result)


if __name__ == "__main__":
    main()
