"""What wrong console logins cost the API: nginx checks the console's login on every request, in
the event loop that also serves the API's port. Measures `GET /api/health` through the published
API port alone, then while FLOODERS clients send wrong passwords to the console as fast as it
answers; prints both latencies and the console's refusals per second. The last line is one JSON
object.

    make bench-login-flood        # against `make up`'s stack (127.0.0.1:8000 and :3000)

With the console's hash at bcrypt's usual cost (10) the API's p50 went from 1.1 ms to 286 ms under
four such clients (docs/measurements.md, session 35); the role now hashes it at cost 4.
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time

import requests

API = os.environ.get("API_URL", "http://127.0.0.1:8000")
CONSOLE = os.environ.get("CONSOLE_URL", "http://127.0.0.1:3000")
SECONDS = float(os.environ.get("SECONDS", "10"))
FLOODERS = int(os.environ.get("FLOODERS", "4"))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(len(ordered) * share) - 1)]


def api_latencies(until: float) -> list[float]:
    """The API's health, 50 times a second, in ms."""
    session, latencies = requests.Session(), []
    while time.monotonic() < until:
        started = time.perf_counter()
        answer = session.get(f"{API}/api/health", timeout=10)
        latencies.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise SystemExit(f"/api/health answered {answer.status_code}: {answer.text[:200]}")
        time.sleep(0.02)
    return latencies


def flood(until: float, refused: list[int]) -> None:
    session, count = requests.Session(), 0
    while time.monotonic() < until:
        answer = session.get(f"{CONSOLE}/", auth=("admin", "not-the-password"), timeout=10)
        if answer.status_code != 401:
            raise SystemExit(f"a wrong login got {answer.status_code}, not 401")
        count += 1
    refused.append(count)


def summary(latencies: list[float]) -> dict:
    return {
        "requests": len(latencies),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "max_ms": round(max(latencies), 2),
    }


def main() -> None:
    alone = summary(api_latencies(time.monotonic() + SECONDS))
    print(f"API alone: {alone}", flush=True)
    until, refused = time.monotonic() + SECONDS, []
    flooders = [threading.Thread(target=flood, args=(until, refused)) for _ in range(FLOODERS)]
    for thread in flooders:
        thread.start()
    flooded = summary(api_latencies(until))
    for thread in flooders:
        thread.join()
    rate = round(sum(refused) / SECONDS, 1)
    print(f"API while {FLOODERS} clients send wrong console logins ({rate} refused/s): {flooded}", flush=True)
    print(json.dumps({"flooders": FLOODERS, "wrong_logins_per_s": rate, "api_alone": alone, "api_flooded": flooded}))


if __name__ == "__main__":
    main()
