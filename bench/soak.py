"""`make soak DURATION=1800 RATE=30`: the simulator at a steady rate against the running stack
(`make up`, through 127.0.0.1:8000) for DURATION seconds, then what a long run changes: the
unexpected 5xx, each container's memory at the start, after the warm-up and at the end, and the
size of every table. Target: 0 unexpected 5xx, memory flat after the warm-up (at most +10 %),
the tables that only serve recent figures bounded (prune.py). The last line is one JSON object.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parent.parent
PROJECT = os.environ.get("SMARTSHOP_PROJECT", "smartshop")
SECRETS = Path(os.environ.get("SMARTSHOP_SECRETS_DIR", Path.home() / ".smartshop" / "secrets")) / "localhost"
DURATION = float(os.environ.get("DURATION", "1800"))
RATE = os.environ.get("RATE", "30")
API_URL = os.environ.get("API_URL", "http://127.0.0.1:8000")
WARMUP = min(300.0, DURATION / 5)

TABLES_SQL = (
    "SELECT table_name, ROUND((data_length + index_length) / 1048576, 2)"
    " FROM information_schema.tables WHERE table_schema = 'smartshop' ORDER BY table_name"
)
# growth is judged on the containers that hold real memory (a few MiB move by more than 10 %)
SIGNIFICANT_MIB = 32


def memory(client: docker.DockerClient) -> dict[str, float]:
    """MiB each of the stack's containers uses now (the cgroup's usage less its page cache)."""
    used = {}
    for container in client.containers.list(filters={"label": f"com.smartshop.project={PROJECT}"}):
        stats = container.stats(stream=False)["memory_stats"]
        cache = stats.get("stats", {}).get("inactive_file", stats.get("stats", {}).get("cache", 0))
        used[container.name] = round((stats.get("usage", 0) - cache) / 1048576, 1)
    return dict(sorted(used.items()))


def tables(client: docker.DockerClient) -> dict[str, dict]:
    """Rows (counted exactly) and MiB on disk of each table of the shop."""
    database = client.containers.get(f"{PROJECT}-mysql")
    root = (SECRETS / "mysql_root_password").read_text().splitlines()[0].strip()

    def query(sql: str) -> list[list[str]]:
        code, out = database.exec_run(
            ["mariadb", "-uroot", "-N", "-B", "smartshop", "-e", sql], environment={"MYSQL_PWD": root}
        )
        if code != 0:
            raise SystemExit(f"soak: cannot read the table sizes: {out.decode()[-300:]}")
        return [line.split("\t") for line in out.decode().splitlines()]

    sizes = {name: {"mib": float(mib)} for name, mib in query(TABLES_SQL)}
    # names from information_schema, quoted: the only SQL built here
    counts = " UNION ALL ".join(f"SELECT '{name}', COUNT(*) FROM `{name}`" for name in sizes)  # noqa: S608
    for name, rows in query(counts):
        sizes[name]["rows"] = int(rows)
    return sizes


def main() -> int:
    client = docker.from_env()
    token_file = SECRETS / "api_operator_token"
    if token_file.read_text().startswith("$ANSIBLE_VAULT"):
        raise SystemExit(
            "soak: the stack's credentials are kept in Ansible Vault; soak reads clear copies only"
            " (smartshop_secrets_vault off)"
        )
    start_memory, start_tables = memory(client), tables(client)
    print(f"soak: {DURATION:.0f} s at {RATE} req/s against {API_URL}; memory at start {start_memory}")
    simulator = subprocess.Popen(
        [
            *(sys.executable, "-m", "smartshop_simulator", "run", "--host", API_URL, "--rate", RATE),
            *("--duration", str(DURATION), "--progress-every", "60", "--operator-token-file", str(token_file)),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "app" / "simulator")},
    )
    time.sleep(WARMUP)
    warm_memory = memory(client)
    print(f"soak: memory after the {WARMUP:.0f} s warm-up {warm_memory}", flush=True)
    out, _ = simulator.communicate(timeout=DURATION + 300)
    summary = json.loads(out.strip().splitlines()[-1])
    end_memory, end_tables = memory(client), tables(client)
    unexpected_5xx = sum(n for code, n in summary["failures_by_code"].items() if str(code).startswith("5"))
    growth = {
        name: round((end_memory[name] - warm_memory[name]) / warm_memory[name] * 100, 1)
        for name in end_memory
        if warm_memory.get(name)
    }
    significant = [growth[name] for name in growth if warm_memory[name] >= SIGNIFICANT_MIB]
    print(f"{'container':<32}{'start MiB':>10}{'warm MiB':>10}{'end MiB':>10}{'growth':>9}")
    for name in end_memory:
        print(
            f"{name:<32}{start_memory.get(name, 0):>10}{warm_memory.get(name, 0):>10}{end_memory[name]:>10}"
            f"{growth.get(name, 0):>8}%"
        )
    print(f"{'table':<24}{'rows before':>12}{'rows after':>12}{'MiB after':>11}")
    for name, size in end_tables.items():
        print(f"{name:<24}{start_tables.get(name, {}).get('rows', 0):>12}{size['rows']:>12}{size['mib']:>11}")
    result = {
        "duration_s": summary["duration_s"],
        "requested_rps": summary["requested_rps"],
        "achieved_rps": summary["achieved_rps"],
        "requests": summary["requests"],
        "unexpected_5xx": unexpected_5xx,
        "failures_by_code": summary["failures_by_code"],
        # over the containers using at least 32 MiB after the warm-up
        "max_memory_growth_pct": max(significant) if significant else 0.0,
        "memory_mib": {"start": start_memory, "warm": warm_memory, "end": end_memory},
        "tables": end_tables,
    }
    print(json.dumps(result))
    return 0 if unexpected_5xx == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
