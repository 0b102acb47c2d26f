# SmartShop Stack: the fact cache of ansible.cfg. What the hosts share (the roles' exports) is kept
# between runs in JSON files, as ansible.builtin.jsonfile keeps it, and decoded once per run.
from __future__ import annotations

from ansible.errors import AnsibleError
from ansible.plugins.cache import BaseCacheModule
from ansible.plugins.loader import cache_loader
from ansible.utils.display import Display

DOCUMENTATION = r"""
name: facts
short_description: Facts kept in JSON files between runs, decoded once per run
description:
  - Stores each host's facts through C(ansible.builtin.jsonfile), with the same files and the same
    options (C(fact_caching_connection), C(fact_caching_timeout)), and keeps what it read or wrote
    in memory for the rest of the run.
  - Ansible decodes the JSON of a persistent cache at every read, and reads a host's facts for each
    of its tasks; this plugin decodes them once (about 4 ms a task for the stack's facts).
  - The files are the same as C(ansible.builtin.jsonfile)'s; either plugin reads what the other wrote.
  - A file that is not JSON (cut short by a full disk, edited by hand) is removed, as
    C(ansible.builtin.jsonfile) removes it, but reads as no facts with a warning where jsonfile fails
    the run and asks for it again; the run shares the host's facts anew.
options:
  _uri:
    description: Directory of the JSON files (as C(ansible.builtin.jsonfile)).
    required: true
    env:
      - name: ANSIBLE_CACHE_PLUGIN_CONNECTION
    ini:
      - key: fact_caching_connection
        section: defaults
    type: path
  _prefix:
    default: ""
    description: Prefix of the file names (as C(ansible.builtin.jsonfile)).
    env:
      - name: ANSIBLE_CACHE_PLUGIN_PREFIX
    ini:
      - key: fact_caching_prefix
        section: defaults
  _timeout:
    default: 86400
    description: Seconds before the files expire, 0 never (as C(ansible.builtin.jsonfile)).
    env:
      - name: ANSIBLE_CACHE_PLUGIN_TIMEOUT
    ini:
      - key: fact_caching_timeout
        section: defaults
    type: integer
"""


class CacheModule(BaseCacheModule):
    # Not persistent itself, so Ansible hands it the facts as they are (no JSON at each read); the
    # jsonfile plugin it writes through is, and Ansible encodes and decodes for that one.
    _persistent = False

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._files = cache_loader.get(
            "ansible.builtin.jsonfile", **{name: self.get_option(name) for name in ("_uri", "_prefix", "_timeout")}
        )
        self._memory: dict[str, dict[str, object]] = {}

    def get(self, key: str) -> dict[str, object]:
        if key not in self._memory:
            try:
                self._memory[key] = self._files.get(key)  # KeyError when there is none, as jsonfile
            except AnsibleError as exc:  # not JSON: jsonfile removed the file and would end the run
                Display().warning(
                    f"The fact cache's file for {key} is removed (see the warning above): this run goes on with no "
                    "facts cached for it, and caches them anew."
                )
                raise KeyError(key) from exc
        return self._memory[key]

    def set(self, key: str, value: dict[str, object]) -> None:
        self._files.set(key, value)
        self._memory[key] = value

    def keys(self) -> list[str]:
        return sorted(set(self._memory) | set(self._files.keys()))

    def contains(self, key: object) -> bool:
        return key in self._memory or self._files.contains(key)

    def delete(self, key: str) -> None:
        self._memory.pop(key, None)
        self._files.delete(key)  # jsonfile ignores a key it does not have

    def flush(self) -> None:
        self._memory.clear()
        self._files.flush()
