# SmartShop Stack: the tag of an image built from a directory, a hash of everything the build reads.
from __future__ import annotations

import fnmatch
import hashlib
import os
import re

from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase

DOCUMENTATION = r"""
name: context_hash
short_description: A short hash of a build context's files (paths and contents) and of a salt
description:
  - For each directory given, lists every file below it (hidden ones included, symbolic links
    followed as files), leaves out compiled Python (C(*.pyc)) and whatever sits in a C(tests),
    C(__pycache__) or C(.pytest_cache) directory, and hashes the lines
    C(<relative path>:<sha1 of the content>) (sorted ignoring case, joined by a literal backslash-n) followed by I(salt)
    with SHA-256.
  - Returns the first I(length) hexadecimal digits. Same files and salt, same value; any change to
    a file, a name, or the salt (the base image's id), another value. It replaces a find module
    call and a template per image (an idempotent run asks nothing of the Docker host for it).
options:
  _terms:
    description: Build context directories, on the controller.
    required: true
  salt:
    description: Appended to the listing before hashing (the base image's id).
    default: ""
  length:
    description: Number of hexadecimal digits returned.
    type: int
    default: 12
"""

EXAMPLES = r"""
tag: "{{ 'debian12-' ~ lookup('smartshop.stack.context_hash', role_path ~ '/files/airgap/prometheus', salt=base_id) }}"
"""

RETURN = r"""
_raw:
  description: One hash per directory.
  type: list
  elements: str
"""

EXCLUDED_DIRS = re.compile(r"/(tests|__pycache__|\.pytest_cache)/")
EXCLUDED_NAMES = ("*.pyc",)


def _sha1(path: str) -> str:
    digest = hashlib.sha1()  # noqa: S324 - a content fingerprint, as Ansible's find module gives
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def listing(context: str) -> str:
    """The sorted `<relative path>:<sha1>` lines of the files a build of `context` reads."""
    lines = []
    for directory, _dirs, files in os.walk(context, followlinks=True):
        for name in files:
            if any(fnmatch.fnmatch(name, pattern) for pattern in EXCLUDED_NAMES):
                continue
            path = os.path.join(directory, name)
            if EXCLUDED_DIRS.search(path) or not os.path.isfile(path):
                continue
            lines.append(f"{os.path.relpath(path, context)}:{_sha1(path)}")
    # sorted ignoring case and joined by the two characters backslash and n: how earlier versions
    # of the images role computed the tags in a template, kept so an upgrade rebuilds nothing
    return "\\n".join(sorted(lines, key=str.lower))


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        unknown = set(kwargs) - {"salt", "length"}
        if unknown:
            raise AnsibleError(f"smartshop.stack.context_hash: unknown option(s) {sorted(unknown)}")
        salt = str(kwargs.get("salt", ""))
        try:
            length = int(kwargs.get("length", 12))
        except (TypeError, ValueError):
            raise AnsibleError("smartshop.stack.context_hash: length must be a whole number") from None
        if not 1 <= length <= 64:
            raise AnsibleError(f"smartshop.stack.context_hash: length {length} must be between 1 and 64")
        values = []
        for term in terms:
            context = os.path.abspath(os.path.expanduser(str(term)))
            if not os.path.isdir(context):
                raise AnsibleError(f"smartshop.stack.context_hash: {context} is not a directory")
            values.append(hashlib.sha256((listing(context) + salt).encode()).hexdigest()[:length])
        return values
