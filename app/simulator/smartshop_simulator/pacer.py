"""A token bucket shared by every simulated user of a process: the request rate, changeable
while traffic runs. None means no limit (as fast as the users go)."""

from __future__ import annotations

import time

import gevent
from gevent.lock import Semaphore


class Pacer:
    def __init__(self, rate: float | None, burst: float = 0.2) -> None:
        self._lock = Semaphore()
        self._rate: float | None = None
        self._next = time.monotonic()
        self.burst = burst
        self.set_rate(rate)

    @property
    def rate(self) -> float | None:
        return self._rate

    def set_rate(self, rate: float | None) -> None:
        if rate is not None and rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        with self._lock:
            self._rate = rate
            self._next = time.monotonic()

    def acquire(self) -> None:
        """Wait for this request's slot (slots are 1/rate apart)."""
        with self._lock:
            if self._rate is None:
                return
            now = time.monotonic()
            # never bank more than `burst` seconds of unused slots
            slot = max(self._next, now - self.burst)
            self._next = slot + 1.0 / self._rate
        delay = slot - now
        if delay > 0:
            gevent.sleep(delay)
