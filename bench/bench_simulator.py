"""`make bench-simulator`: one simulator process pinned to one core against a trivial endpoint
(the console's nginx /healthz, pinned to the other core): the highest achieved rate, then the
achieved rate at requested 50, 200 and 500 req/s. The last line is one JSON object."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "app"))

from testing import stack as containers  # noqa: E402

DURATION = float(os.environ.get("DURATION", "15"))
NAME = "smartshop-bench-target"


def simulate(host: str, rate: str, users: int) -> dict:
    cmd = [
        "taskset",
        "-c",
        "1",
        sys.executable,
        "-m",
        "smartshop_simulator",
        "run",
        "--host",
        host,
        "--probe-path",
        "/healthz",
        "--no-check",
        "--rate",
        rate,
        "--users",
        str(users),
        "--duration",
        str(DURATION),
        "--quiet",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "app" / "simulator")}
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    client = docker.from_env()
    image = containers.manifest_images()["frontend"]
    with contextlib.suppress(docker.errors.NotFound):
        client.containers.get(NAME).remove(force=True, v=True)
    target = client.containers.run(
        image, name=NAME, detach=True, cpuset_cpus="0", environment={"SMARTSHOP_BACKENDS": "127.0.0.1:8000"}
    )
    try:
        containers.wait_healthy(target)
        target.reload()
        ip = next(iter(target.attrs["NetworkSettings"]["Networks"].values()))["IPAddress"]
        host = f"http://{ip}:3000"
        time.sleep(1)
        peak = simulate(host, "max", 64)
        print(
            f"max: {peak['achieved_rps']} req/s (p50 {peak['p50_ms']} ms, p95 {peak['p95_ms']} ms, "
            f"unexpected {sum(peak['failures_by_code'].values())})"
        )
        result = {"max_rps": peak["achieved_rps"], "duration_s": DURATION}
        for rate in (50, 200, 500):
            run = simulate(host, str(rate), max(4, rate // 10))
            error = (run["achieved_rps"] - rate) / rate * 100
            print(f"requested {rate:>4} req/s: achieved {run['achieved_rps']:>7.1f} ({error:+.1f} %)")
            result[f"at_{rate}"] = run["achieved_rps"]
            result[f"at_{rate}_error_pct"] = round(error, 2)
    finally:
        target.remove(force=True, v=True)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
