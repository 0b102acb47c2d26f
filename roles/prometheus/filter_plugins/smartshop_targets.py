"""Scrape targets across the inventory.

Each role that runs something Prometheus scrapes shares a fact describing its endpoints as
``{"local": ["<container>:<port>", ...], "remote": ["<address>:<published port>", ...]}``, where
``remote`` is empty when the ports are not published. A Prometheus reaches the components of its
own host by name on the stack network, and those of the other hosts through the address and port
they publish.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ansible.errors import AnsibleFilterError


def _lookup(variables: Mapping, path: str) -> Mapping:
    value = variables
    for key in path.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return {}
        value = value[key]
    return value


def smartshop_targets(hosts: Iterable[str], hostvars: Mapping, fact: str, here: str) -> list[str]:
    """The `host:port` a Prometheus on `here` scrapes for the endpoints each of `hosts` lists in
    `fact` (a dotted path such as ``exporters_targets.node``)."""
    targets: list[str] = []
    for host in hosts:
        if host not in hostvars:
            raise AnsibleFilterError(f"smartshop_targets: '{host}' is not in the inventory")
        endpoints = _lookup(hostvars[host], fact)
        if not isinstance(endpoints, Mapping):
            raise AnsibleFilterError(f"smartshop_targets: {fact} of {host} is {endpoints!r}, not {{local, remote}}")
        local, remote = list(endpoints.get("local") or []), list(endpoints.get("remote") or [])
        if host == here:
            chosen = local
        elif len(remote) == len(local):
            chosen = remote
        else:
            raise AnsibleFilterError(
                f"{', '.join(local)} on {host} not published, so Prometheus on {here} cannot scrape it: publish it "
                f"(the role's *_publish or *_port variable) on an address {here} reaches, or run Prometheus on {host}."
            )
        targets.extend(target for target in chosen if target not in targets)
    return targets


class FilterModule:
    def filters(self):
        return {"smartshop_targets": smartshop_targets}
