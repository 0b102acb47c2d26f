"""The lookup smartshop.stack.context_hash: an image's tag is a hash of what its build reads, so an
unchanged context never rebuilds and any change (a file's content, a name, the base image) does."""

from __future__ import annotations

import hashlib
import os

import pytest
from ansible.errors import AnsibleError
from stack_collection import plugin

_lookup = plugin("lookup", "context_hash")


def _tag(context, **options) -> str:
    return _lookup.LookupModule().run([str(context)], **options)[0]


@pytest.fixture
def context(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM debian:bookworm-slim\n")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "main.py").write_text("print('shop')\n")
    (tmp_path / ".dockerignore").write_text("tests\n")
    return tmp_path


def test_same_inputs_same_tag_and_the_documented_form(context):
    def sha1(data: bytes) -> str:
        return hashlib.sha1(data).hexdigest()  # noqa: S324 - what the lookup documents

    lines = sorted(
        [
            "Dockerfile:" + sha1(b"FROM debian:bookworm-slim\n"),
            "app/main.py:" + sha1(b"print('shop')\n"),
            ".dockerignore:" + sha1(b"tests\n"),
        ],
        key=str.lower,
    )
    expected = hashlib.sha256(("\\n".join(lines) + "base-id").encode()).hexdigest()[:12]
    assert _tag(context, salt="base-id") == expected
    assert _tag(context, salt="base-id") == _tag(context, salt="base-id")
    assert len(_tag(context, length=20)) == 20


@pytest.mark.parametrize(
    "change",
    [
        lambda c: (c / "app" / "main.py").write_text("print('shop!')\n"),  # a content
        lambda c: (c / "app" / "main.py").rename(c / "app" / "server.py"),  # a name
        lambda c: (c / "app" / "new.py").write_text(""),  # a new, empty file
        lambda c: (c / ".env").write_text("X=1\n"),  # a hidden file
    ],
    ids=["content", "name", "new-file", "hidden-file"],
)
def test_any_input_changes_the_tag(context, change):
    before = _tag(context, salt="b")
    change(context)
    assert _tag(context, salt="b") != before


def test_the_base_image_changes_the_tag(context):
    assert _tag(context, salt="sha256:aaa") != _tag(context, salt="sha256:bbb")


@pytest.mark.parametrize(
    "ignored", ["tests/test_x.py", "app/__pycache__/m.cpython-311.pyc", "app/m.pyc", ".pytest_cache/v"]
)
def test_tests_and_caches_do_not_change_the_tag(context, ignored):
    before = _tag(context)
    path = context / ignored
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("anything")
    assert _tag(context) == before


def test_the_checkout_location_does_not_change_the_tag(context, tmp_path_factory):
    other = tmp_path_factory.mktemp("elsewhere") / "ctx"
    os.rename(context, other)
    assert _tag(other, salt="s") == _tag(f"{other}/../ctx", salt="s")
    (context).mkdir()
    for name in ("Dockerfile", ".dockerignore", "app/main.py"):
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        (context / name).write_bytes((other / name).read_bytes())
    assert _tag(context, salt="s") == _tag(other, salt="s")


def test_bad_input_is_named(tmp_path):
    with pytest.raises(AnsibleError, match="is not a directory"):
        _tag(tmp_path / "missing")
    with pytest.raises(AnsibleError, match="length 0 must be between 1 and 64"):
        _tag(tmp_path, length=0)
    with pytest.raises(AnsibleError, match="unknown option"):
        _tag(tmp_path, sallt="x")
