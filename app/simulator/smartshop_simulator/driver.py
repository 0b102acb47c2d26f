"""The one traffic driver: the CLI's `run` and the menu's traffic choices both start a simulation,
its control endpoint, and loop here until a duration, a number of completed payments or a stop."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import gevent

if TYPE_CHECKING:  # the engine imports Locust, which must be imported first by the entry points
    from .engine import Simulation


# the longest the driver waits before it looks at `stop` again (seconds)
STOP_POLL = 1.0


def progress_line(snap: dict) -> str:
    requested = "max" if snap["requested_rps"] is None else f"{snap['requested_rps']:g}"
    codes = " ".join(f"{code}:{n}" for code, n in sorted(snap["by_status"].items()))
    pay = snap["payments"]
    return (
        f"[{snap['elapsed_s']:>6.1f}s] req/s {snap['achieved_rps']:>7.1f} / {requested:<5} "
        f"p95 {snap['p95_ms']:>4} ms | {codes} | users {snap['users_created']} orders {snap['orders_created']} "
        f"payments {pay.get('success', 0)}✓ {pay.get('failed', 0)}✗"
    )


def start_control(simulation: Simulation, bind: str, port: int):
    """The control endpoint (GET /status, POST /rate, GET /metrics) when a port is given."""
    if not port:
        return None
    from .control import ControlServer

    control = ControlServer(simulation, bind, port)
    control.start()
    print(f"control: http://{bind}:{control.port}/status", file=sys.stderr, flush=True)
    return control


def drive(
    simulation: Simulation,
    *,
    duration: float | None,
    cycles: int | None,
    stop: list,
    on_tick: Callable[[dict], None] | None = None,
    tick: float = 1.0,
    wait: Callable[[float], None] = gevent.sleep,
) -> None:
    """Start the simulation and run until `duration` seconds, `cycles` completed payments, or
    something appended to `stop`. It waits in steps of at most STOP_POLL seconds, calling
    wait(seconds) (the menu reads the keyboard there), and calls on_tick with a snapshot every `tick`
    seconds of waiting and at the end of `duration`. A stop (SIGTERM from `docker stop`) is seen
    within a step, whatever the tick: with ticks of a minute, the engine's 10 s grace ended first
    and the simulator was killed, its summary never printed."""
    simulation.start()
    deadline = None if duration is None else time.monotonic() + duration
    step, waited = min(tick, STOP_POLL), 0.0
    while not stop:
        wait(min(step, max(0.0, deadline - time.monotonic())) if deadline else step)
        waited += step
        ended = bool(deadline) and time.monotonic() >= deadline
        if on_tick and (waited >= tick - 1e-9 or ended):
            on_tick(simulation.snapshot())
            waited = 0.0
        if ended:
            break
        if cycles is not None and sum(simulation.totals()["payments"].values()) >= cycles:
            break
