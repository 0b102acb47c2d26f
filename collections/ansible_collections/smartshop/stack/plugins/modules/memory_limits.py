# The documentation of the smartshop.stack.memory_limits action (plugins/action/memory_limits.py),
# which does all its work on the controller.

DOCUMENTATION = r"""
---
module: memory_limits
short_description: Check a role's container memory limits against the least each service runs under
description:
  - Reads each variable of I(limits) as the play sees it and fails, naming every one that is not a
    size the container module reads (C(512m), C(1g), a number of bytes) or is below its I(floor).
  - Every role's preflight runs it, so C(-e mysql_memory_limit=8m), which the engine accepts and
    MariaDB cannot start under, fails before anything changes.
  - Changes nothing; runs the same in check mode.
options:
  limits:
    description: The limits to check.
    type: list
    elements: dict
    required: true
    suboptions:
      name: {description: The variable holding the limit., type: str, required: true}
      floor: {description: The least the service runs under (a size such as C(256m))., type: str, required: true}
      why: {description: Why that floor; shown in the failure., type: str, required: true}
author: SmartShop Stack
"""

EXAMPLES = r"""
- name: Check the memory limits
  smartshop.stack.memory_limits:
    limits:
      - {name: mysql_memory_limit, floor: 256m, why: "MariaDB holds about 150 MiB idle"}
"""

RETURN = r"""
checked: {description: Each variable and the value read., returned: always, type: dict}
msg: {description: "One sentence per limit that failed, naming the variable.", returned: failed, type: str}
"""
