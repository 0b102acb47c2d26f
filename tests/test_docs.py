"""What the documentation names exists: each `make <target>` is a target of the Makefile, each
path in backquotes is a file or directory of the repository (from its root or from the page's own
folder), each relative link leads somewhere. docs/measurements.md is left out: a log of past
sessions, it names files as they were then."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted(
    [
        ROOT / "README.md",
        ROOT / "app" / "README.md",
        ROOT / "app" / "simulator" / "README.md",
        ROOT / "collections" / "ansible_collections" / "smartshop" / "stack" / "README.md",
        *ROOT.glob("roles/*/README.md"),
        *(page for page in ROOT.glob("docs/**/*.md") if page.name != "measurements.md"),
    ]
)
TOP = "roles|playbooks|tests|tools|bench|app|molecule|docs|inventory|collections|backend|simulator|frontend"
PATH = re.compile(rf"`((?:{TOP}|\.ci)/[\w./-]+)`")
MAKE = re.compile(r"`make ([a-z][\w-]*)")
LINK = re.compile(r"\]\(([^)#:\s]+)(?:#[^)]*)?\)")


def _targets() -> set[str]:
    return set(re.findall(r"^([a-zA-Z][\w-]*):", (ROOT / "Makefile").read_text(), re.M))


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_what_a_page_names_exists(page):
    text = page.read_text()
    missing = [f"make {t}" for t in MAKE.findall(text) if t not in _targets()]
    missing += [
        path
        for path in PATH.findall(text)
        if "*" not in path and not (ROOT / path).exists() and not (page.parent / path).exists()
    ]
    missing += [link for link in LINK.findall(text) if not (page.parent / link).exists()]
    assert missing == [], f"{page.relative_to(ROOT)} names what does not exist: {missing}"


def test_the_pages_name_things_to_check():
    """The patterns still find what the pages say (a page rewritten in another style would pass
    silently): the README alone names make targets, paths and links."""
    text = (ROOT / "README.md").read_text()
    assert len(MAKE.findall(text)) >= 10
    assert len(PATH.findall(text)) >= 20
    assert len(LINK.findall(text)) >= 3
