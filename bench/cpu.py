"""Where a benchmark's CPU goes, per request: each container of the stack under test (the engine's
cgroup accounting, summed by `com.smartshop.component`: both replicas are "backend"), the load
generator (this process), and the rest of the machine (the kernel's network work, docker-proxy,
anything else: /proc/stat's busy time minus the parts above).

    meter = CpuMeter(docker.from_env(), project="smartshop-path")
    before = meter.snapshot()
    ...                                   # the measured window
    figures = per_request(before, meter.snapshot(), requests)

`per_request` gives milliseconds of CPU per request for each part, their `total`, and `busy_pct`, how
full the machine's cores were over the window (near 100: the figure is a CPU ceiling).
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")
# the engine's cgroupfs driver (v1, this machine) or v2, or the systemd driver's scope
_USAGE_FILES = (
    ("cpuacct/docker/{id}/cpuacct.usage", 1),
    ("docker/{id}/cpu.stat", 1000),
    ("system.slice/docker-{id}.scope/cpu.stat", 1000),
)


def container_cpu_ns(container_id: str, root: Path = CGROUP) -> int | None:
    """CPU time a container has used, in ns, from its cgroup; None when no known layout has it."""
    for pattern, scale in _USAGE_FILES:
        path = root / pattern.format(id=container_id)
        try:
            text = path.read_text()
        except OSError:
            continue
        if path.name == "cpu.stat":
            fields = dict(line.split() for line in text.splitlines() if line.strip())
            return int(fields["usage_usec"]) * scale
        return int(text.strip()) * scale
    return None


def machine_busy_ns(stat: Path = Path("/proc/stat")) -> tuple[int, int]:
    """(busy, busy + idle) CPU time of every core, in ns: user, nice, system, irq, softirq and steal
    count as busy, idle and iowait as not."""
    fields = [int(v) for v in stat.read_text().splitlines()[0].split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    tick = 1_000_000_000 // os.sysconf("SC_CLK_TCK")
    busy = (user + nice + system + irq + softirq + steal) * tick
    return busy, busy + (idle + iowait) * tick


def own_cpu_ns() -> int:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return int((usage.ru_utime + usage.ru_stime) * 1_000_000_000)


@dataclass
class Snapshot:
    parts: dict[str, int]
    own: int
    busy: int
    elapsed_cores: int


class CpuMeter:
    """The containers of one stack: those labelled `com.smartshop.project=<project>` (site.yml's), or
    those whose name starts with `prefix` (the benchmarks' own)."""

    def __init__(self, client, project: str | None = None, prefix: str | None = None) -> None:
        filters = {"label": f"com.smartshop.project={project}"} if project else {}
        self._containers = {
            container.id: (container.labels or {}).get("com.smartshop.component") or container.name
            for container in client.containers.list(filters=filters)
            if not prefix or container.name.startswith(prefix)
        }

    def snapshot(self) -> Snapshot:
        parts: dict[str, int] = {}
        for container_id, part in self._containers.items():
            used = container_cpu_ns(container_id)
            if used is not None:
                parts[part] = parts.get(part, 0) + used
        busy, total = machine_busy_ns()
        return Snapshot(parts, own_cpu_ns(), busy, total)


def per_request(before: Snapshot, after: Snapshot, requests: int) -> dict[str, float]:
    """Milliseconds of CPU per request for each part, 'load generator', 'rest of the machine', 'total',
    and 'busy_pct' (the machine's cores over the window)."""
    if requests <= 0:
        return {}
    ms = {part: (after.parts[part] - before.parts.get(part, 0)) / 1e6 / requests for part in after.parts}
    ms["load generator"] = (after.own - before.own) / 1e6 / requests
    busy = (after.busy - before.busy) / 1e6 / requests
    ms["rest of the machine"] = max(busy - sum(ms.values()), 0.0)
    figures = {part: round(value, 3) for part, value in sorted(ms.items(), key=lambda kv: -kv[1])}
    figures["total"] = round(busy, 3)
    window = after.elapsed_cores - before.elapsed_cores
    figures["busy_pct"] = round(100 * (after.busy - before.busy) / window, 1) if window else 0.0
    return figures


def line(figures: dict[str, float]) -> str:
    """One printed line: 'backend 0.61, mysql 0.28, ... = 1.10 ms of CPU per request, machine 98.7 % busy'."""
    parts = [f"{part} {value:.2f}" for part, value in figures.items() if part not in ("total", "busy_pct")]
    return f"{', '.join(parts)} = {figures['total']:.2f} ms of CPU per request, machine {figures['busy_pct']} % busy"
