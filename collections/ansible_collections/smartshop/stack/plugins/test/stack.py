"""Tests of the sizes every role's preflight checks (through the action smartshop.stack.memory_limits).

memory_at_least
---------------
Whether a container's memory limit is a size the container module accepts (``512m``, ``1g``,
``1.5g``, a number of bytes: read with the same function, ansible-core's ``human_to_bytes``) and
is at least ``floor``. A value it cannot read is not at least anything, so one assert names the
variable for both mistakes, before anything changes (the module itself would fail only when it
reached that container, after the others were replaced; a limit the engine accepts but the
service cannot start under would leave it restarting):

    - ansible.builtin.assert:
        that: mysql_memory_limit is smartshop.stack.memory_at_least('256m')
        fail_msg: "mysql_memory_limit must be a size such as 512m or 1g, at least 256m; got ..."

ipv4_address
------------
Whether a value is an IPv4 address, what the roles publish a port on (``127.0.0.1``, ``0.0.0.0``).
A host name such as ``localhost`` is not: the container module would refuse it only when it
reached that container, after the roles before it changed their hosts. Nor is an IPv6 address:
the roles write ``address:port`` without brackets, in port mappings and URLs alike, so ``::1``
failed half-way too.

    - ansible.builtin.assert:
        that: mysql_bind_address is smartshop.stack.ipv4_address
"""

from __future__ import annotations

import ipaddress

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.formatters import human_to_bytes


def _bytes(value: object) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return human_to_bytes(str(value).strip())
    except (ValueError, TypeError):
        return None


def memory_at_least(value: object, floor: object) -> bool:
    """`value` reads as a size (what the container module accepts) of at least `floor`."""
    minimum = _bytes(floor)
    if minimum is None:
        raise AnsibleFilterError(f"memory_at_least: the floor {floor!r} is not a size such as 256m")
    size = _bytes(value)
    return size is not None and size >= minimum


def ipv4_address(value: object) -> bool:
    """`value` is an IPv4 address in dotted form (no blanks, no leading zeros)."""
    if not isinstance(value, str):
        return False
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return True


class TestModule:
    def tests(self):
        return {"memory_at_least": memory_at_least, "ipv4_address": ipv4_address}
