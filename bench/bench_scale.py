"""How site.yml's converge and its idempotent re-run grow with the number of hosts.

For each host count, the benchmark makes that many real hosts as molecule/multi-host does (its
prepare.yml: containers with their own sshd and Docker engine, reached over SSH, images through the
registry of the monitoring host), on the scenario's network (10.199.0.0/24, the containers'
addresses only): db1 runs the database and the API, mon1 the monitoring, the simulator, the
registry and the edge, and each further host (app1, app2, ...) is one more app host behind the edge.
It converges site.yml, runs it again (which must change nothing), optionally runs it again under
other strategies, then removes the hosts (molecule/multi-host/cleanup.yml). Do not run it while
molecule/multi-host runs: they share the network and the hosts' names.

    python bench/bench_scale.py --hosts 2 3 4 [--strategies mitogen_linear linear mitogen_linear:1]

A re-run is named STRATEGY or STRATEGY:FORKS (forks otherwise from ansible.cfg). A re-run that fails
is reported with its error and does not stop the others.

Prints one line per run and, last, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "molecule" / "multi-host"
RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def layout(count: int) -> dict[str, list[str]]:
    """Which groups each host is in: db1 and mon1, then count - 2 more app hosts."""
    if count < 2:
        raise SystemExit("--hosts: at least 2 (db1 and mon1)")
    hosts = {"db1": ["mysql_hosts", "app_hosts"], "mon1": ["monitoring_hosts", "simulator_hosts", "registry_hosts"]}
    hosts["mon1"].append("edge_hosts")
    for n in range(1, count - 1):
        hosts[f"app{n}"] = ["app_hosts"]
    return hosts


def inventory(count: int, workdir: Path) -> dict:
    hosts = layout(count)
    address = {name: f"10.199.0.{11 + i}" for i, name in enumerate(hosts)}
    # how molecule/multi-host reaches its hosts and what it sets for all of them (its molecule.yml and
    # the shared .config/molecule/config.yml), with its ephemeral directory made this run's
    scenario = yaml.safe_load((SCENARIO / "molecule.yml").read_text())["provisioner"]["inventory"]["group_vars"]
    shared = yaml.safe_load((ROOT / ".config" / "molecule" / "config.yml").read_text())
    ephemeral = (
        json.dumps({**shared["provisioner"]["inventory"]["group_vars"]["all"], **scenario["all"]}),
        json.dumps(scenario["docker_hosts"]),
    )
    every, reach = (json.loads(text.replace("${MOLECULE_EPHEMERAL_DIRECTORY}", str(workdir))) for text in ephemeral)
    every["smartshop_image_source"] = "registry"  # the shared file's default is auto
    groups: dict[str, dict] = {
        "docker_hosts": {
            "hosts": {name: {"ansible_host": address[name], "smartshop_project": f"mh-{name}"} for name in hosts},
            "vars": reach,
        },
        "simulator_worker_hosts": {"hosts": {}},
    }
    for name, placed in hosts.items():
        for group in placed:
            groups.setdefault(group, {"hosts": {}})["hosts"][name] = None
    return {
        "all": {
            "vars": every,
            "children": groups,
        }
    }


class PlaybookFailed(Exception):
    pass


def playbook(
    playbook: Path, inventory_file: Path, workdir: Path, strategy: str | None = None, forks: str | None = None
) -> tuple[float, dict]:
    """Runs a playbook; its wall time and, per host, (ok, changed, unreachable, failed)."""
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(workdir / "facts"),
        "MOLECULE_EPHEMERAL_DIRECTORY": str(workdir),  # what prepare.yml and cleanup.yml read
    }
    if strategy:
        env["ANSIBLE_STRATEGY"] = strategy
        if strategy.startswith("mitogen_") and not (ROOT / "plugins" / "strategy" / f"{strategy}.py").exists():
            # Mitogen's other strategies (mitogen_free, ...), to measure before the project ships one
            import ansible_mitogen.plugins.strategy as mitogen_strategies

            env["ANSIBLE_STRATEGY_PLUGINS"] = f"{ROOT / 'plugins' / 'strategy'}:{mitogen_strategies.__path__[0]}"
    if forks:
        env["ANSIBLE_FORKS"] = forks
    started = time.monotonic()
    result = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), "-i", str(inventory_file), str(playbook)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    took = time.monotonic() - started
    (workdir / f"{playbook.stem}-{int(started)}.log").write_text(result.stdout + result.stderr)
    recap = {m[1]: tuple(int(x) for x in m.groups()[1:]) for m in RECAP.finditer(result.stdout)}
    if result.returncode != 0:
        raise PlaybookFailed(
            f"{playbook.name} failed ({result.returncode}):\n{result.stdout[-4000:]}{result.stderr[-2000:]}"
        )
    return took, recap


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[2, 3, 4])
    parser.add_argument(
        "--strategies",
        nargs="+",
        default=["mitogen_linear"],
        help="strategies the re-run is timed under, each STRATEGY or STRATEGY:FORKS",
    )
    args = parser.parse_args()
    figures = []
    for count in args.hosts:
        with tempfile.TemporaryDirectory(prefix=f"bench-scale-{count}-") as tmp:
            workdir = Path(tmp)
            inventory_file = workdir / "hosts.yml"
            inventory_file.write_text(yaml.safe_dump(inventory(count, workdir)))
            try:
                prepared, _ = playbook(SCENARIO / "prepare.yml", inventory_file, workdir)
                converged, recap = playbook(ROOT / "site.yml", inventory_file, workdir)
                row = {"hosts": count, "prepare_s": round(prepared), "converge_s": round(converged), "reruns": {}}
                print(f"{count} hosts: prepare {prepared:.0f} s, converge {converged:.0f} s", flush=True)
                for name in args.strategies:
                    strategy, _, forks = name.partition(":")
                    try:
                        took, recap = playbook(ROOT / "site.yml", inventory_file, workdir, strategy, forks or None)
                    except PlaybookFailed as failed:
                        row["reruns"][name] = {"failed": str(failed)[-400:]}
                        print(f"{count} hosts: re-run ({name}) FAILED: {failed}", flush=True)
                        continue
                    changed = sum(r[1] for r in recap.values())
                    row["reruns"][name] = {"s": round(took, 1), "changed": changed}
                    print(f"{count} hosts: re-run ({name}) {took:.1f} s, changed={changed}", flush=True)
                figures.append(row)
            except PlaybookFailed as failed:
                raise SystemExit(str(failed)) from None
            finally:
                subprocess.run(
                    [str(Path(sys.executable).with_name("ansible-playbook")), "-i", str(inventory_file),
                     str(SCENARIO / "cleanup.yml")],
                    cwd=ROOT, env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")},
                    capture_output=True, check=False,
                )  # fmt: skip
    print(json.dumps({"scale": figures}))


if __name__ == "__main__":
    main()
