"""Write a role's meta/argument_specs.yml and the variables section of its README from its
defaults/main.yml, where each variable is preceded by comment lines describing it.

    python tools/role_docs.py backend frontend ...

Types come from the default value (int, float, bool, list, dict, str); a templated default
('{{ ... }}') is 'raw' (its checks are in the role's preflight). *_password variables are no_log.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def described_defaults(role: str) -> list[tuple[str, object, str]]:
    text = (ROOT / "roles" / role / "defaults" / "main.yml").read_text()
    values = yaml.safe_load(text) or {}
    out, comments, after_variable = [], [], False
    for line in text.splitlines():
        if line.startswith("#"):
            # a comment block describes the variables that follow it, up to the next comment
            # block or blank line
            if after_variable:
                comments, after_variable = [], False
            comments.append(line.lstrip("# ").strip())
        elif line and not line.startswith((" ", "-", "---")) and ":" in line:
            name = line.split(":", 1)[0]
            if name in values:
                out.append((name, values[name], " ".join(comments) or name))
                after_variable = True
        elif not line.strip():
            comments, after_variable = [], False
    missing = set(values) - {n for n, _, _ in out}
    if missing:
        raise SystemExit(f"{role}: could not place {sorted(missing)}")
    return out


def kind(value: object) -> str:
    if isinstance(value, str) and "{{" in value:
        return "raw"
    return {bool: "bool", int: "int", float: "float", list: "list", dict: "dict"}.get(type(value), "str")


def write(role: str, summary: str) -> None:
    options = {}
    for name, value, description in described_defaults(role):
        option: dict = {"type": kind(value), "description": description}
        if kind(value) not in ("raw",) and not name.endswith("_password"):
            option["default"] = value
        if name.endswith("_password"):
            option["no_log"] = True
        options[name] = option
    spec = {"argument_specs": {"main": {"short_description": summary, "options": options}}}
    path = ROOT / "roles" / role / "meta" / "argument_specs.yml"
    path.write_text("---\n" + yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=110))


README = """# Role `{role}`

{intro}

## Requirements

{requirements}

## Role Variables

Defaults (`defaults/main.yml`); `meta/argument_specs.yml` is generated from them
(`python tools/role_docs.py {role}`):

```yaml
{defaults}
```

| variable | meaning |
| --- | --- |
{rows}

## Dependencies

None declared; `site.yml` runs it after the roles whose facts it reads (see the defaults).

## Example Playbook

```yaml
{example}
```

Tests: `make test-role ROLE={role}`{extra_tests}.

## License

MIT
"""


def readme(role: str, intro: str, requirements: str, example: str, extra_tests: str = "") -> None:
    defaults = (ROOT / "roles" / role / "defaults" / "main.yml").read_text().split("\n", 1)[1].rstrip()
    rows = "\n".join(f"| `{n}` | {d} |" for n, _, d in described_defaults(role))
    (ROOT / "roles" / role / "README.md").write_text(
        README.format(
            role=role,
            intro=intro,
            requirements=requirements,
            defaults=defaults,
            rows=rows,
            example=example,
            extra_tests=extra_tests,
        )
    )


def main(roles: list[str]) -> int:
    for role in roles:
        meta = yaml.safe_load((ROOT / "roles" / role / "meta" / "main.yml").read_text())
        write(role, meta["galaxy_info"]["description"])
        print(f"wrote roles/{role}/meta/argument_specs.yml")
        intro_file = ROOT / "roles" / role / "meta" / "readme.yml"
        if intro_file.exists():
            readme(role, **yaml.safe_load(intro_file.read_text()))
            print(f"wrote roles/{role}/README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
