"""Credentials given as files are re-read when the file changes, so rotating one restarts nothing.

A file may list several values, one per line: while a rotation runs the API accepts the old and the
new one, and presents the first (its database password). A file that becomes unreadable or invalid
keeps the last good values (and says so in the log) rather than locking everyone out."""

from __future__ import annotations

import logging
import os
import threading

log = logging.getLogger(__name__)

_cache: dict[str, tuple[tuple[int, int, int], tuple[str, ...]]] = {}
_lock = threading.Lock()


def problem(values: tuple[str, ...]) -> str | None:
    """Why these values cannot be credentials, or None."""
    if not values:
        return "it is empty"
    for value in values:
        if len(value) < 16 or not value.isprintable() or value != value.strip():
            return "each line must be at least 16 printable characters without surrounding spaces"
    return None


def parse(text: str) -> tuple[str, ...]:
    """The non-blank lines (kept as they are: a value with surrounding spaces is refused)."""
    return tuple(line for line in text.splitlines() if line.strip())


def values(path: str, fallback: tuple[str, ...]) -> tuple[str, ...]:
    """The values in `path` now (cached until the file changes), else `fallback`."""
    if not path:
        return fallback
    with _lock:
        cached = _cache.get(path)
        try:
            info = os.stat(path)
            key = (info.st_ino, info.st_mtime_ns, info.st_size)
            if cached and cached[0] == key:
                return cached[1]
            with open(path, encoding="utf-8") as handle:
                found = parse(handle.read())
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("credential file %s cannot be read (%s); keeping the values read before", path, exc)
            return cached[1] if cached else fallback
        why = problem(found)
        if why:
            log.warning("credential file %s is not usable (%s); keeping the values read before", path, why)
            return cached[1] if cached else fallback
        if cached:
            log.info("credential file %s changed: %d value(s) accepted now", path, len(found))
        _cache[path] = (key, found)
        return found
