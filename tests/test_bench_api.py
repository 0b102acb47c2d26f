"""bench/bench_api.py starts quietly: its output is figures, and a traceback in it reads as a failure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_bench_starts_without_a_traceback():
    # Importing the bench loads ansible-core (testing.stack uses the container action's probe), whose
    # import probes getaddrinfo with a port it expects refused; gevent's resolver thread printed that.
    env = {k: v for k, v in os.environ.items() if k != "GEVENT_RESOLVER"}
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_api.py"), "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "{mixed,stats}" in run.stdout
    assert "Traceback" not in run.stderr and "failed with" not in run.stderr, run.stderr
