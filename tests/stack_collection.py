"""The plugins of the project's own collection (smartshop.stack), loaded as plain modules for the
unit tests (Ansible loads them through its collection loader; their logic needs none of it)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
COLLECTION = ROOT / "collections" / "ansible_collections" / "smartshop" / "stack"
# a plugin that imports another of the collection (ansible_collections.smartshop.stack...) finds it
sys.path.insert(0, str(ROOT / "collections"))


def plugin(kind: str, name: str) -> ModuleType:
    """plugins/<kind>/<name>.py of smartshop.stack, e.g. plugin("filter", "stack")."""
    spec = importlib.util.spec_from_file_location(
        f"smartshop_stack_{kind}_{name}", COLLECTION / "plugins" / kind / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
