"""The image's health check: GET /api/health on this replica. Exit 0 when it answers 200; else exit 1
with one line saying what it answered (Docker keeps it in the container's health log, and the
container action quotes it when a replica does not become healthy), not a traceback.

Run as a script (``python3 /app/smartshop_backend/healthcheck.py``): it imports nothing of the
package, so a check every 5 s does not load Flask."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

URL = "http://127.0.0.1:8000/api/health"


def check(url: str = URL, timeout: float = 2.0) -> tuple[int, str]:
    """(exit code, what to say)."""
    if not url.startswith("http://"):
        return 2, f"{url}: not an http:// URL"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 (http:// only, above)
            return (0, "") if answer.status == 200 else (1, f"{url} answered {answer.status}")
    except urllib.error.HTTPError as exc:
        return 1, f"{url} answered {exc.code}: {exc.read(300).decode('utf-8', 'replace').strip()}"
    except OSError as exc:  # refused, timed out, reset
        return 1, f"{url}: {getattr(exc, 'reason', exc)}"


if __name__ == "__main__":
    code, said = check(*sys.argv[1:2])
    if said:
        print(said, file=sys.stderr)
    sys.exit(code)
