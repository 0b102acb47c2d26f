"""Every role documents its public variables in meta/argument_specs.yml and its README."""

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "tasks").is_dir())


def defaults(role: str) -> set[str]:
    path = ROOT / "roles" / role / "defaults" / "main.yml"
    return set(yaml.safe_load(path.read_text()) or {}) if path.exists() else set()


def spec_options(role: str) -> set[str]:
    spec = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    return set(spec["argument_specs"]["main"].get("options", {}))


def test_roles_found():
    assert {"docker_host", "images", "network", "mysql"} <= set(ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_argument_specs_match_defaults(role):
    assert spec_options(role) == defaults(role), (
        f"{role}: only in argument_specs {sorted(spec_options(role) - defaults(role))}, "
        f"only in defaults {sorted(defaults(role) - spec_options(role))}"
    )


@pytest.mark.parametrize("role", ROLES)
def test_public_variables_are_prefixed(role):
    assert all(name.startswith(f"{role}_") for name in defaults(role))


@pytest.mark.parametrize("role", ROLES)
def test_readme_documents_every_variable(role):
    readme = (ROOT / "roles" / role / "README.md").read_text()
    for heading in ("## Requirements", "## Role Variables", "## Dependencies", "## Example Playbook", "## License"):
        assert heading in readme, f"{role}/README.md lacks {heading}"
    undocumented = [name for name in defaults(role) if name not in readme]
    assert not undocumented, f"{role}/README.md does not mention {undocumented}"


@pytest.mark.parametrize("role", ROLES)
def test_secrets_are_no_log(role):
    spec = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    for name, option in spec["argument_specs"]["main"].get("options", {}).items():
        if name.endswith("_password"):
            assert option.get("no_log") is True, f"{role}: {name} must be no_log"
