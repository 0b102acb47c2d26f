#!/usr/bin/env python3
"""Put the collections requirements.yml names (and what they depend on) in collections/, as links to
the copies the `ansible` package installed in the virtualenv.

ansible.cfg turns off the scan of Python's path for collections: the `ansible` package carries about
185 of them, and Mitogen lists every one for each task that runs a collection's module (a tenth of
an idempotent re-run went there). Ansible then finds the project's collections in collections/ only.

A collection already in collections/ (installed there by ansible-galaxy) is left as it is. A link
whose version differs from requirements.yml fails, naming the collection.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "collections" / "ansible_collections"


def installed() -> Path:
    """The virtualenv's ansible_collections directory (a namespace package of the `ansible` package)."""
    import ansible_collections

    for entry in ansible_collections.__path__:
        path = Path(entry)
        if (path / "community").is_dir():
            return path
    sys.exit("link_collections: the `ansible` package's collections are not installed (make setup)")


def manifest(path: Path) -> dict:
    return json.loads((path / "MANIFEST.json").read_text())["collection_info"]


def main() -> int:
    requirements = yaml.safe_load((ROOT / "requirements.yml").read_text())["collections"]
    wanted = {c["name"]: str(c["version"]) for c in requirements}
    source = installed()
    todo, done = list(wanted), set()
    while todo:
        name = todo.pop()
        if name in done:
            continue
        done.add(name)
        namespace, collection = name.split(".")
        link = TARGET / namespace / collection
        origin = source / namespace / collection
        if link.exists() and not link.is_symlink():
            info = manifest(link)  # installed by ansible-galaxy: kept
        else:
            if not origin.is_dir():
                sys.exit(f"link_collections: {name} is not in {source}")
            info = manifest(origin)
            link.parent.mkdir(parents=True, exist_ok=True)
            relative = os.path.relpath(origin, link.parent)
            if not (link.is_symlink() and os.readlink(link) == relative):
                link.unlink(missing_ok=True)  # a link to another venv's copy, or none
                link.symlink_to(relative)
        if name in wanted and info["version"] != wanted[name]:
            sys.exit(f"link_collections: {name} is {info['version']} here, requirements.yml pins {wanted[name]}")
        todo.extend(info.get("dependencies") or {})
    print(f"collections/: {', '.join(sorted(done))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
