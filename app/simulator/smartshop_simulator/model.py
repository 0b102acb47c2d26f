"""What a simulated shopper does (the seed's logs): create an account, log in and out, order,
validate, process, pay (outcome requested with the configured ratio), cancel some orders,
call error endpoints at the configured rate, read the statistics."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field

DEFAULT_WEIGHTS = {
    "login": 8,
    "logout": 3,
    "create_order": 15,
    "advance_order": 57,  # validate / process / pay, whichever comes next: three steps per order
    "cancel_order": 2,
    "stats": 8,
    "activity": 3,
    "new_user": 4,
}


@dataclass
class Config:
    host: str
    rate: float | None = 20.0  # requests per second for the whole run; None: as fast as possible
    users: int | None = None  # concurrent simulated users; default from the rate
    success_ratio: float = 0.8  # requested payment outcomes: success with this probability
    error_rate: float = 0.05  # share of requests sent to the error endpoints
    seed: int | None = None
    probe_path: str | None = None  # benchmark mode: every request is GET probe_path (expects 200)
    # Creations (users, orders, payments) carry an Idempotency-Key; an answer that says the server
    # could not do it now (502, 503, 504, no answer) is retried this many times with the same key.
    retries: int = 3
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    # The API's operator token: requested payment outcomes and error injection need it. Without
    # one, payments follow the API's own ratio and no error is injected.
    operator_token: str | None = field(default=None, repr=False)
    # The file the token came from: re-read when it changes, so a rotated token applies at once.
    operator_token_file: str | None = None
    _token_seen: tuple[int, int, int] | None = field(default=None, repr=False, compare=False)

    def current_operator_token(self) -> str | None:
        if self.operator_token_file:
            try:
                info = os.stat(self.operator_token_file)
                seen = (info.st_ino, info.st_mtime_ns, info.st_size)
                if seen != self._token_seen:
                    with open(self.operator_token_file, encoding="utf-8") as handle:
                        token = handle.read().strip()
                    if token:  # an emptied file keeps the token read before
                        self.operator_token, self._token_seen = token, seen
            except OSError:
                pass  # keep the token read before
        return self.operator_token

    @property
    def operator_headers(self) -> dict[str, str]:
        token = self.current_operator_token()
        return {"Authorization": f"Bearer {token}"} if token else {}

    def validate(self) -> None:
        if not 0 <= self.retries <= 10:
            raise ValueError(f"retries must be between 0 and 10, got {self.retries}")
        if self.rate is not None and not 0 < self.rate <= 100_000:
            raise ValueError(f"rate must be between 0 and 100000 req/s, got {self.rate}")
        if self.users is not None and not 1 <= self.users <= 10_000:
            raise ValueError(f"users must be between 1 and 10000, got {self.users}")
        if not 0 <= self.success_ratio <= 1:
            raise ValueError(f"success ratio must be between 0 and 1, got {self.success_ratio}")
        if not 0 <= self.error_rate <= 1:
            raise ValueError(f"error rate must be between 0 and 1, got {self.error_rate}")
        unknown = set(self.weights) - set(DEFAULT_WEIGHTS)
        if unknown:
            raise ValueError(f"unknown weights {sorted(unknown)}; known: {sorted(DEFAULT_WEIGHTS)}")
        if any(w < 0 for w in self.weights.values()) or not any(self.weights.values()):
            raise ValueError("weights must be non-negative and not all zero")

    def user_count(self) -> int:
        if self.users:
            return self.users
        if self.rate is None:
            return 32
        # enough concurrency to sustain the rate at ~100 ms per request, within sane bounds
        return int(min(max(self.rate / 10, 4), 500))


def parse_weights(text: str) -> dict[str, float]:
    """'login=10,create_order=30' -> the default weights with those replaced."""
    weights = dict(DEFAULT_WEIGHTS)
    for item in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = item.partition("=")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"weight '{item}' is not name=number") from None
    return weights


class Shopper:
    """One simulated customer's state and choices; random draws come from a seeded generator."""

    def __init__(self, config: Config, rng: random.Random) -> None:
        self.config = config
        self.rng = rng
        self.user_id: int | None = None
        self.logged_in = False
        self.orders: dict[int, str] = {}  # open orders and their status

    def next_action(self) -> str:
        if self.rng.random() < self.config.error_rate:
            return self.rng.choice(("error_404", "error_500", "error_custom"))
        if self.user_id is None:
            return "new_user"
        names = list(self.config.weights)
        return self.rng.choices(names, weights=[self.config.weights[n] for n in names])[0]

    def payment_outcome(self) -> str:
        return "success" if self.rng.random() < self.config.success_ratio else "failed"

    def open_order(self, predicate=lambda status: True) -> int | None:
        candidates = [oid for oid, status in self.orders.items() if predicate(status)]
        return self.rng.choice(candidates) if candidates else None
