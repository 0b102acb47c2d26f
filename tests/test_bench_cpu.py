"""bench/cpu.py, which splits a benchmark's CPU per request between the parts of the stack: the
cgroup and /proc/stat layouts it reads, the arithmetic, and (with the images) a real container's
CPU time seen growing while it works and not while it sleeps."""

from __future__ import annotations

import secrets
import sys
import time
from pathlib import Path

import docker
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import cpu  # noqa: E402
from testing.stack import manifest_images  # noqa: E402


def test_a_container_cpu_time_is_read_from_cgroup_v1_or_v2(tmp_path):
    v1 = tmp_path / "v1" / "cpuacct" / "docker" / "abc"
    v1.mkdir(parents=True)
    (v1 / "cpuacct.usage").write_text("1500000000\n")
    assert cpu.container_cpu_ns("abc", tmp_path / "v1") == 1_500_000_000
    v2 = tmp_path / "v2" / "system.slice" / "docker-abc.scope"
    v2.mkdir(parents=True)
    (v2 / "cpu.stat").write_text("usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n")
    assert cpu.container_cpu_ns("abc", tmp_path / "v2") == 2_500_000_000
    assert cpu.container_cpu_ns("other", tmp_path / "v2") is None


def test_the_machine_busy_time_counts_irq_and_steal_not_idle_or_iowait(tmp_path, monkeypatch):
    stat = tmp_path / "stat"
    #                user nice system idle iowait irq softirq steal guest guest_nice
    stat.write_text("cpu  100 10 50 800 40 5 15 20 0 0\ncpu0 50 5 25 400 20 2 8 10 0 0\n")
    monkeypatch.setattr(cpu.os, "sysconf", lambda name: 100)  # USER_HZ: a tick is 10 ms
    busy, total = cpu.machine_busy_ns(stat)
    assert busy == 200 * 10_000_000
    assert total == 1040 * 10_000_000


def test_per_request_splits_the_window_and_leaves_the_rest_to_the_machine():
    before = cpu.Snapshot(parts={"backend": 0, "mysql": 0}, own=0, busy=0, elapsed_cores=0)
    after = cpu.Snapshot(
        parts={"backend": 600_000_000, "mysql": 300_000_000},
        own=100_000_000,
        busy=1_200_000_000,
        elapsed_cores=1_500_000_000,
    )
    figures = cpu.per_request(before, after, requests=1000)
    assert figures == {
        "backend": 0.6,
        "mysql": 0.3,
        "rest of the machine": 0.2,
        "load generator": 0.1,
        "total": 1.2,
        "busy_pct": 80.0,
    }
    assert cpu.line(figures).endswith("= 1.20 ms of CPU per request, machine 80.0 % busy")
    assert cpu.per_request(before, after, requests=0) == {}


@pytest.mark.needs_images
def test_a_real_container_is_counted_while_it_works_and_not_while_it_sleeps():
    client = docker.from_env()
    name = f"smartshop-cpu-{secrets.token_hex(3)}"
    container = client.containers.run(
        manifest_images()["backend"],
        ["sh", "-c", "sleep 2; end=$(($(date +%s) + 3)); while [ $(date +%s) -lt $end ]; do :; done; sleep 60"],
        name=name,
        entrypoint=[],
        detach=True,
        network_mode="none",
        labels={"com.smartshop.project": name, "com.smartshop.component": "burner"},
    )
    try:
        meter = cpu.CpuMeter(client, project=name)
        start = meter.snapshot()
        assert set(start.parts) == {"burner"}, "the meter found the container by its project label"
        time.sleep(1)
        idle = meter.snapshot()
        assert idle.parts["burner"] - start.parts["burner"] < 100_000_000  # asleep: under 0.1 s
        time.sleep(5)  # the 3 s busy loop
        busy = meter.snapshot()
        assert busy.parts["burner"] - idle.parts["burner"] > 1_500_000_000  # most of a core for 3 s
        assert cpu.CpuMeter(client, prefix=name).snapshot().parts.keys() == {"burner"}
    finally:
        container.remove(force=True, v=True)
