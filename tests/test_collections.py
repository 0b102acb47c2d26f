"""requirements.yml names every collection the project uses, at the version installed here."""

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import role_docs  # noqa: E402  (reads role YAML, !unsafe included)

MODULE_KEY = re.compile(r"^([a-z0-9_]+\.[a-z0-9_]+)\.[a-z0-9_]+$")
# lookup('ns.coll.x' / query("ns.coll.x" / | ns.coll.x / is ns.coll.x / is not ns.coll.x
IN_JINJA = re.compile(r"(?:(?:lookup|query)\(\s*['\"]|\|\s*|\bis\s+(?:not\s+)?)([a-z0-9_]+\.[a-z0-9_]+)\.[a-z0-9_]+")
SEARCHED = ["roles", "playbooks", "molecule", "site.yml"]
BUILTIN = {"ansible.builtin", "ansible.legacy"}


def yaml_files():
    for entry in SEARCHED:
        path = ROOT / entry
        files = [path] if path.is_file() else sorted(path.rglob("*.yml"))
        yield from (f for f in files if "meta" not in f.parts or f.name == "main.yml")


def used_collections() -> set[str]:
    used = set()
    for path in yaml_files():
        for kind, text in _walk(role_docs.load(path) or []):
            if kind == "key" and (match := MODULE_KEY.match(text)):
                used.add(match.group(1))
            used |= set(IN_JINJA.findall(text))
    # callback plugins named in ansible.cfg
    for line in (ROOT / "ansible.cfg").read_text().splitlines():
        if line.split("=")[0].strip() in ("callbacks_enabled", "stdout_callback"):
            used |= {
                MODULE_KEY.match(p.strip()).group(1)
                for p in line.split("=", 1)[1].split(",")
                if MODULE_KEY.match(p.strip())
            }
    # reverse-DNS label keys (com.smartshop.project) are not collections
    return {name for name in used if not name.startswith(("com.", "org.", "io."))} - BUILTIN


def _walk(node):
    """Keys (module names) and string values (lookups, filters, tests) of a YAML document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield "key", str(key)
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)
    elif isinstance(node, str):
        yield "value", node


def pinned() -> dict[str, str]:
    data = yaml.safe_load((ROOT / "requirements.yml").read_text())
    return {c["name"]: str(c["version"]) for c in data["collections"]}


def installed() -> dict[str, str]:
    galaxy = Path(sys.executable).with_name("ansible-galaxy")
    out = subprocess.run(
        [str(galaxy), "collection", "list", "--format", "json"], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    versions: dict[str, str] = {}
    for collections in json.loads(out).values():
        for name, info in collections.items():
            versions.setdefault(name, info["version"])
    return versions


def test_the_scan_finds_the_collections_we_know_we_use():
    assert {"community.docker", "community.mysql", "ansible.posix"} <= used_collections()


def own_collections() -> set[str]:
    """The project's own collections, kept in the repository (collections/ansible_collections/ns/name)."""
    base = ROOT / "collections" / "ansible_collections"
    return {f"{g.parent.parent.name}.{g.parent.name}" for g in base.glob("*/*/galaxy.yml") if g.is_file()}


def test_the_projects_own_collection_is_found_and_used():
    assert "smartshop.stack" in own_collections() & used_collections()


def test_every_used_collection_is_pinned():
    missing = used_collections() - set(pinned()) - own_collections()
    assert not missing, f"used under roles/ or playbooks/ but missing from requirements.yml: {sorted(missing)}"


def test_pins_agree_with_installed_versions():
    have = installed()
    wrong = {name: (version, have.get(name)) for name, version in pinned().items() if have.get(name) != version}
    assert not wrong, f"requirements.yml pin vs installed: {wrong}"


def _plugins_of_smartshop_stack() -> set[str]:
    """Every plugin name of the project's collection: the files of each kind, the entries of each
    filter and test file."""
    plugins = ROOT / "collections" / "ansible_collections" / "smartshop" / "stack" / "plugins"
    names = {
        path.stem for kind in ("action", "modules", "lookup", "cache") for path in (plugins / kind).glob("[!_]*.py")
    }
    for kind, method in (("filter", "filters"), ("test", "tests")):
        for path in (plugins / kind).glob("[!_]*.py"):
            text = path.read_text()
            block = re.search(rf"def {method}\(self\):\s*return \{{(.*?)\}}", text, re.S)
            assert block, f"{path}: no {method}() mapping"
            names |= set(re.findall(r"['\"]([a-z_][a-z0-9_]*)['\"]\s*:", block.group(1)))
    return names


def test_the_collection_readme_names_every_plugin():
    readme = (ROOT / "collections" / "ansible_collections" / "smartshop" / "stack" / "README.md").read_text()
    listed = set(re.findall(r"^\| `smartshop\.stack\.([a-z_][a-z0-9_]*)` \|", readme, re.M))
    plugins = _plugins_of_smartshop_stack()
    assert {
        "container",
        "container_aside",
        "memory_limits",
        "memory_at_least",
        "slo_rules",
        "secret",
        "facts",
    } <= plugins
    assert plugins - listed == set(), f"plugins missing from the collection's README: {sorted(plugins - listed)}"
    assert listed - plugins == set(), f"the README lists plugins that do not exist: {sorted(listed - plugins)}"
