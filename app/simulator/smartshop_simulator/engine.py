"""Runs the simulated shoppers with Locust: in this process, or as the master of workers that
may sit on other hosts (Locust's distributed mode). The rate can change while traffic runs."""

from __future__ import annotations

import re
import time
from collections import deque
from pathlib import Path
from typing import Any

import gevent
import requests
from locust.env import Environment

from .model import Config
from .pacer import Pacer
from .shopper_user import ShopperUser, Tally

SET_RATE = "smartshop_set_rate"
CONFIGURE = "smartshop_configure"
# a worker asks for its configuration once its handlers are registered: a CONFIGURE the master sent
# on the worker's connection could arrive before them and be lost
HELLO = "smartshop_hello"

# At the end of a run each shopper finishes the step under way (a creation and its retries
# included) instead of being cut mid-request: what the run counts is what the API committed.
STOP_TIMEOUT = 20.0


class Unreachable(RuntimeError):
    """The API does not answer; the message is one line saying why."""


def check_api(host: str, timeout: float = 5.0) -> None:
    try:
        response = requests.get(f"{host.rstrip('/')}/api/health", timeout=timeout)
    except requests.RequestException as exc:
        errno = re.search(r"\[Errno -?\d+\] [^'\")\]]+", str(exc))
        reason = errno.group(0) if errno else type(exc).__name__
        raise Unreachable(f"the API at {host} is unreachable ({reason})") from None
    if response.status_code != 200:
        raise Unreachable(f"the API at {host} answers {response.status_code} on /api/health (database down?)")


def _configure_users(config: Config, pacer: Pacer, tally: Tally) -> None:
    ShopperUser.config, ShopperUser.pacer, ShopperUser.tally = config, pacer, tally
    ShopperUser.host = config.host


class Simulation:
    """One run. mode 'local' runs the users here; 'master' hands them to `expect_workers` workers."""

    def __init__(
        self,
        config: Config,
        mode: str = "local",
        expect_workers: int = 0,
        master_bind_host: str = "127.0.0.1",
        master_bind_port: int = 5557,
    ) -> None:
        config.validate()
        self.config = config
        self.mode = mode
        self.expect_workers = expect_workers
        self.tally = Tally()
        self.pacer = Pacer(config.rate)
        self.worker_tallies: dict[str, dict] = {}
        self.started_at: float | None = None
        self.stopped_at: float | None = None
        self._rate_history: list[tuple[float, float | None]] = []
        self._samples: deque[tuple[float, int]] = deque(maxlen=64)  # (time, requests) for the live rate
        _configure_users(config, self.pacer, self.tally)
        self.env = Environment(user_classes=[ShopperUser], host=config.host, stop_timeout=STOP_TIMEOUT)
        self._shared_with = 0  # workers the rate was last divided among
        self._configure_sent = False  # the start's CONFIGURE went out to the workers
        if mode == "master":
            self.runner = self.env.create_master_runner(master_bind_host, master_bind_port)
            self.env.events.worker_report.add_listener(self._on_worker_report)
            self.runner.register_message(HELLO, self._on_hello)
        else:
            self.runner = self.env.create_local_runner()

    # -- control ---------------------------------------------------------------------------
    def start(self, worker_timeout: float = 60.0) -> None:
        if self.mode == "master":
            deadline = time.monotonic() + worker_timeout
            while self.runner.worker_count < self.expect_workers:
                if time.monotonic() > deadline:
                    raise Unreachable(f"only {self.runner.worker_count} of {self.expect_workers} workers connected")
                gevent.sleep(0.2)
            self._configure_sent = True
            self.runner.send_message(CONFIGURE, self._worker_config())
            self._shared_with = self.runner.worker_count
            gevent.sleep(0.5)
        self.started_at = time.monotonic()
        self._rate_history.append((self.started_at, self.config.rate))
        users = self.config.user_count()
        self.runner.start(users, spawn_rate=max(users, 1))
        self._sampler = gevent.spawn(self._sample_every, 0.5)

    def _sample_every(self, period: float) -> None:
        """Request counts every period, for the live achieved rate."""
        while self.stopped_at is None:
            self._samples.append((time.monotonic(), self.totals()["requests"]))
            if self.mode == "master" and self.runner.worker_count != self._shared_with:
                self._share_rate()  # a worker joined or was lost: the others keep the whole rate
            gevent.sleep(period)

    def _share(self) -> float | None:
        return None if self.config.rate is None else self.config.rate / max(self.runner.worker_count, 1)

    def _share_rate(self) -> None:
        self._shared_with = self.runner.worker_count
        self.runner.send_message(SET_RATE, self._share())

    def _worker_config(self) -> dict:
        """What a worker is told: never the operator token (the master's channel has neither
        encryption nor authentication), which each worker reads from its own file."""
        config = {k: v for k, v in self.config.__dict__.items() if not k.startswith("_")}
        return {**config, "rate": self._share(), "operator_token": None, "operator_token_file": None}

    def _on_hello(self, environment, msg, **kwargs) -> None:
        """A worker that joins a run under way (a restarted host) is configured as the first ones;
        before the start, the start configures every worker. A HELLO that comes once the start has
        sent its CONFIGURE is answered too, even before the users start: that CONFIGURE may have
        reached the worker before its handler existed, and was lost (a worker of CI's once ran the
        whole run unconfigured, 0 requests). A second CONFIGURE changes nothing."""
        if self._configure_sent and self.stopped_at is None:
            self.runner.send_message(CONFIGURE, self._worker_config(), client_id=msg.node_id)

    def set_rate(self, rate: float | None) -> None:
        if rate is not None and not 0 < rate <= 100_000:
            raise ValueError(f"rate must be between 0 and 100000 req/s, got {rate}")
        self.config.rate = rate
        self._rate_history.append((time.monotonic(), rate))
        users = self.config.user_count()
        if self.started_at is not None and users != self.runner.user_count:
            self.runner.start(users, spawn_rate=max(users, 1))  # enough users for the new rate
        if self.mode == "master":
            self._share_rate()
        else:
            self.pacer.set_rate(rate)

    def stop(self) -> dict:
        if self.stopped_at is None:
            self.stopped_at = time.monotonic()
            self.runner.stop()
            if self.mode == "master":
                gevent.sleep(1.5)  # last worker reports
            self.runner.quit()
        return self.summary()

    def _on_worker_report(self, client_id: str, data: dict) -> None:
        if "smartshop" in data:
            self.worker_tallies[client_id] = data["smartshop"]

    # -- figures ---------------------------------------------------------------------------
    def totals(self) -> dict:
        if self.mode == "master":
            return Tally.merge(list(self.worker_tallies.values()))
        return self.tally.as_dict()

    def snapshot(self) -> dict[str, Any]:
        totals = self.totals()
        stats = self.env.stats.total
        now = time.monotonic()
        elapsed = (self.stopped_at or now) - (self.started_at or now)
        window = [s for s in self._samples if now - s[0] <= 3.5] + [(now, totals["requests"])]
        span = window[-1][0] - window[0][0] if len(window) > 1 else 0.0
        achieved = (window[-1][1] - window[0][1]) / span if span >= 0.5 else 0.0
        return {
            "requested_rps": self.config.rate,
            "achieved_rps": round(achieved, 1),
            "p95_ms": stats.get_current_response_time_percentile(0.95) or 0,
            "elapsed_s": round(elapsed, 1),
            "workers": self.runner.worker_count if self.mode == "master" else 0,
            "worker_requests": self.worker_requests(),
            **totals,
        }

    def worker_requests(self) -> dict[str, int]:
        """Requests each worker sent, by the name it gives (`worker --name`; by default its host
        name, which Locust's client id <hostname>_<random> starts with)."""
        by_host: dict[str, int] = {}
        for client_id, tally in self.worker_tallies.items():
            name = tally.get("name") or client_id.rsplit("_", 1)[0]
            by_host[name] = by_host.get(name, 0) + tally["requests"]
        return by_host

    def summary(self) -> dict[str, Any]:
        totals = self.totals()
        elapsed = max((self.stopped_at or time.monotonic()) - (self.started_at or time.monotonic()), 1e-9)
        success, failed = totals["payments"].get("success", 0), totals["payments"].get("failed", 0)
        stats = self.env.stats.total
        return {
            "host": self.config.host,
            "duration_s": round(elapsed, 2),
            "requested_rps": self.config.rate,
            "achieved_rps": round(totals["requests"] / elapsed, 1),
            "requests": totals["requests"],
            "responses_by_code": totals["by_status"],
            "failures_by_code": totals["unexpected"],
            "error_calls": totals["error_calls"],
            "retries": totals.get("retries", 0),
            "recovered": totals.get("recovered", 0),
            "error_rate": round(totals["error_calls"] / totals["requests"], 4) if totals["requests"] else 0.0,
            "users_created": totals["users_created"],
            "orders_created": totals["orders_created"],
            "payments": {"success": success, "failed": failed},
            "payment_success_ratio": round(success / (success + failed), 4) if success + failed else None,
            "p50_ms": stats.get_response_time_percentile(0.5) if stats.num_requests else None,
            "p95_ms": stats.get_response_time_percentile(0.95) if stats.num_requests else None,
            "workers": {cid: t["requests"] for cid, t in self.worker_tallies.items()} if self.mode == "master" else {},
            "seed": self.config.seed,
        }


class WorkerEnvironment(Environment):
    """Locust sets a worker's host from each spawn message (the master's address of the API), and its
    users' from that; a worker given its own (worker --host: the API as its host reaches it) keeps it."""

    own_host: str | None = None

    @property
    def host(self) -> str | None:
        return self.own_host or self._master_host

    @host.setter
    def host(self, value: str | None) -> None:
        self._master_host = value


def run_worker(
    master_host: str,
    master_port: int,
    operator_token: str | None = None,
    operator_token_file: str | None = None,
    host: str | None = None,
    name: str | None = None,
    heartbeat_file: str | None = None,
) -> None:
    """A worker: takes its configuration and rate share from the master, reports its tallies; the
    operator token it reads from its own file (re-read when it changes)."""
    tally = Tally()
    pacer = Pacer(None)
    env = WorkerEnvironment(user_classes=[ShopperUser], stop_timeout=STOP_TIMEOUT)
    env.own_host = host.rstrip("/") if host else None
    runner = env.create_worker_runner(master_host, master_port)

    def on_configure(environment, msg, **kwargs) -> None:
        config = Config(**{**msg.data, "operator_token": operator_token, "operator_token_file": operator_token_file})
        if host:
            config.host = host.rstrip("/")  # the API as this worker's host reaches it
        if config.current_operator_token() is None:
            config.error_rate = 0.0  # the error endpoints are the operator's: without the token, none
        pacer.set_rate(config.rate)
        _configure_users(config, pacer, tally)

    def on_set_rate(environment, msg, **kwargs) -> None:
        pacer.set_rate(msg.data)

    def on_report(client_id, data) -> None:
        data["smartshop"] = {**tally.as_dict(), "name": name}

    runner.register_message(CONFIGURE, on_configure)
    runner.register_message(SET_RATE, on_set_rate)
    runner.send_message(HELLO)
    env.events.report_to_master.add_listener(on_report)
    if heartbeat_file:
        # touched at each of the master's heartbeats (every second): a healthcheck reads its age
        env.events.heartbeat_received.add_listener(lambda **kwargs: Path(heartbeat_file).touch())
    runner.greenlet.join()
