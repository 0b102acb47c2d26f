"""Each role's meta/argument_specs.yml is its interface, kept by hand: every variable of its
defaults with a real type, secrets no_log, one entry point per task file called from outside the
role, each reading the main entry's definitions; the README is generated from it and never stale."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import role_docs  # noqa: E402

ROLES = role_docs.all_roles()
TYPES = {"str", "int", "float", "bool", "list", "dict", "path"}


def test_roles_found():
    assert {"docker_host", "images", "network", "mysql", "backend", "prometheus"} <= set(ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_the_main_entry_point_documents_exactly_the_defaults(role):
    options, values = role_docs.specs(role)["main"]["options"], role_docs.defaults(role)
    assert list(options) == list(values), (
        f"{role}: only in argument_specs {sorted(set(options) - set(values))}, "
        f"only in defaults {sorted(set(values) - set(options))}"
    )


@pytest.mark.parametrize("role", ROLES)
def test_every_variable_has_a_real_type_and_its_own_description(role):
    options = role_docs.specs(role)["main"]["options"]
    for name, option in options.items():
        assert option["type"] in TYPES, f"{role}: {name} is typed {option['type']}"
        assert len(option["description"]) > 15, f"{role}: {name}"
    descriptions = [o["description"] for o in options.values()]
    repeated = {
        d for d in descriptions if descriptions.count(d) > 1 and "restart policy" not in d and "network" not in d
    }
    assert not repeated, f"{role}: one description for several variables: {repeated}"


@pytest.mark.parametrize("role", ROLES)
def test_literal_defaults_agree_with_the_spec(role):
    options, values = role_docs.specs(role)["main"]["options"], role_docs.defaults(role)
    for name, option in options.items():
        if "default" in option:
            assert option["default"] == values[name], f"{role}: {name} defaults to {values[name]!r}"
        elif "{{" not in str(values[name]):
            assert option.get("no_log"), f"{role}: {name} has a literal default the spec does not give"


@pytest.mark.parametrize("role", ROLES)
def test_public_variables_are_prefixed(role):
    assert all(name.startswith(f"{role}_") for name in role_docs.defaults(role))


@pytest.mark.parametrize("role", ROLES)
def test_secrets_are_no_log(role):
    for name, option in role_docs.specs(role)["main"]["options"].items():
        if name.endswith("_password"):
            assert option.get("no_log") is True, f"{role}: {name} must be no_log"
            assert "default" not in option, f"{role}: {name} shows a default"


def _called_from_outside() -> set[tuple[str, str]]:
    """(role, tasks file) pairs other playbooks and roles include with tasks_from."""
    called = set()
    files = [ROOT / "site.yml", *ROOT.glob("playbooks/**/*.yml"), *ROOT.glob("tests/playbooks/*.yml")]
    files += list(ROOT.glob("roles/*/tasks/*.yml"))
    for path in files:
        for block in re.findall(r"include_role:\n((?:\s+\w+:.*\n)+)", path.read_text()):
            name = re.search(r"name:\s*(\S+)", block)
            tasks_from = re.search(r"tasks_from:\s*(\S+)", block)
            if not (name and tasks_from):
                continue
            # tasks_from names the entry point: the file without .yml (Ansible validates the entry
            # point of that name, and would not with the extension)
            assert not tasks_from.group(1).endswith(".yml"), f"{path}: tasks_from {tasks_from.group(1)}"
            here = tasks_from.group(1) + ".yml"
            role = name.group(1).strip("\"'")
            if "{{" in role:  # site.yml loops over every placed role
                called |= {(r, here) for r in ROLES if (ROOT / "roles" / r / "tasks" / here).exists()}
            else:
                called.add((role, here))
    return called


def test_site_yml_runs_the_exports_of_every_role_that_has_some():
    placement = role_docs.load(ROOT / "playbooks" / "vars" / "placement.yml")
    assert set(placement["smartshop_exporting_roles"]) == {
        role for role in ROLES if (ROOT / "roles" / role / "tasks" / "exports.yml").exists()
    }


def test_the_tasks_files_called_from_outside_are_found():
    assert {("mysql", "exports.yml"), ("backend", "preflight.yml"), ("mysql", "install.yml")} <= _called_from_outside()


@pytest.mark.parametrize(("role", "tasks_file"), sorted(_called_from_outside()))
def test_every_tasks_file_called_from_outside_is_an_entry_point(role, tasks_file):
    spec = role_docs.specs(role)
    entry = tasks_file.removesuffix(".yml")
    assert entry in spec, f"{role}: tasks/{tasks_file} is included from outside but has no entry point {entry}"
    main = spec["main"].get("options", {})
    options = spec[entry].get("options", {})
    for name, option in options.items():
        assert option == main[name], f"{role}/{entry}: {name} differs from the main entry's definition"
    text = (ROOT / "roles" / role / "tasks" / tasks_file).read_text()
    read = {name for name in main if re.search(rf"\b{name}\b", text)}
    assert read <= set(options), f"{role}/{entry} reads {sorted(read - set(options))} without declaring them"


PKI_INCLUDE = re.compile(r"include_role:\s*\n\s*name: pki\b[\s\S]*?when: pki_files is not defined")


def _read_pki_files(role: str) -> set[tuple[str, str]]:
    """(directory, file name) of each of the role's tasks files and templates that reads pki_files."""
    return {
        (sub, path.name)
        for sub in ("tasks", "templates")
        for path in (ROOT / "roles" / role / sub).glob("*")
        if path.is_file() and "pki_files" in path.read_text()
    }


@pytest.mark.parametrize("role", [role for role in ROLES if role != "pki" and _read_pki_files(role)])
def test_a_role_that_copies_the_certificates_issues_them_when_it_runs_on_its_own(role):
    """`site.yml --tags <role>` skips the certificates play: the role must issue pki_files itself
    (the console's role did not, and `--tags frontend` failed on 'pki_files' is undefined)."""
    tasks = ROOT / "roles" / role / "tasks"
    readers = _read_pki_files(role)
    outside_only = {here for owner, here in _called_from_outside() if owner == role} - {"main.yml"}
    direct = [
        here
        for here in outside_only
        if ("tasks", here) in readers and not PKI_INCLUDE.search((tasks / here).read_text())
    ]
    uses_from_main = any(not (sub == "tasks" and name in outside_only) for sub, name in readers)
    assert not uses_from_main or PKI_INCLUDE.search((tasks / "main.yml").read_text()), (
        f"{role}: tasks/main.yml does not include role pki"
    )
    assert direct == [], f"{role}: {direct} read pki_files, are run from outside, and do not include role pki"


def test_readmes_are_generated_from_the_specs():
    assert role_docs.main(["--check"]) == 0, "run python tools/role_docs.py"
