"""The Locust user: one HTTP request per task, paced by the process's shared Pacer."""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from itertools import count

import gevent
from locust import FastHttpUser, constant, task
from locust.exception import StopUser

from .model import Config, Shopper
from .pacer import Pacer

NEXT_STEP = {"pending": "validate", "validated": "process", "processing": "pay", "payment_failed": "process"}
OPEN = set(NEXT_STEP)
INTENTIONAL = {"error_404": 404, "error_500": 500, "error_custom": 400}
# The server could not do it now (a gateway, the database, a replica in restart): try again, with
# the same Idempotency-Key, after BACKOFF[attempt] seconds.
TRANSIENT = {0, 502, 503, 504}
BACKOFF = (0.2, 0.5, 1.0, 2.0)


@dataclass
class Tally:
    """What this process's users did; cumulative, so a master can sum its workers' latest."""

    requests: int = 0
    by_status: Counter = field(default_factory=Counter)
    unexpected: Counter = field(default_factory=Counter)
    by_action: Counter = field(default_factory=Counter)
    users_created: int = 0
    orders_created: int = 0
    payments: Counter = field(default_factory=Counter)
    error_calls: int = 0
    retries: int = 0  # attempts made again with the same Idempotency-Key
    recovered: int = 0  # creations that succeeded on a retry

    def as_dict(self) -> dict:
        return {
            "requests": self.requests,
            "by_status": {str(k): v for k, v in self.by_status.items()},
            "unexpected": {str(k): v for k, v in self.unexpected.items()},
            "by_action": dict(self.by_action),
            "users_created": self.users_created,
            "orders_created": self.orders_created,
            "payments": dict(self.payments),
            "error_calls": self.error_calls,
            "retries": self.retries,
            "recovered": self.recovered,
        }

    @staticmethod
    def merge(parts: list[dict]) -> dict:
        total = Tally()
        for part in parts:
            total.requests += part["requests"]
            total.by_status.update(part["by_status"])
            total.unexpected.update(part["unexpected"])
            total.by_action.update(part["by_action"])
            total.users_created += part["users_created"]
            total.orders_created += part["orders_created"]
            total.payments.update(part["payments"])
            total.error_calls += part["error_calls"]
            total.retries += part.get("retries", 0)
            total.recovered += part.get("recovered", 0)
        return total.as_dict()


class ShopperUser(FastHttpUser):
    """Configured by the engine through class attributes before the runner starts."""

    wait_time = constant(0)
    config: Config = None  # type: ignore[assignment]
    pacer: Pacer = None  # type: ignore[assignment]
    tally: Tally = None  # type: ignore[assignment]
    _ids = count()

    def on_start(self) -> None:
        # a worker's users may be spawned before its configuration arrives (a worker joining a run
        # under way): they wait for it
        deadline = time.monotonic() + 30
        while ShopperUser.config is None and time.monotonic() < deadline:
            gevent.sleep(0.1)
        if ShopperUser.config is None:
            raise StopUser()
        seed = self.config.seed
        self.shopper = Shopper(self.config, random.Random(None if seed is None else seed * 100_003 + next(self._ids)))

    def _count(self, action: str, response) -> int:
        """Tally one answer; its status."""
        self.tally.requests += 1
        self.tally.by_status[response.status_code] += 1
        self.tally.by_action[action] += 1
        return response.status_code

    def call(self, action: str, method: str, path: str, expected: int, **kwargs) -> dict | None:
        self.pacer.acquire()
        with self.client.request(method, path, name=action, catch_response=True, **kwargs) as response:
            status = self._count(action, response)
            if status == expected:
                response.success()
                if action in INTENTIONAL:
                    self.tally.error_calls += 1
                try:
                    return response.json()
                except ValueError:
                    return None
            self.tally.unexpected[status] += 1
            response.failure(f"{action}: expected {expected}, got {status}")
            return None

    def create(self, action: str, path: str, expected: int, headers: dict | None = None, **kwargs) -> dict | None:
        """A creation, with an Idempotency-Key: retried with the same key while the answer is
        transient, so that each one the shopper makes has exactly one effect."""
        headers = {**(headers or {}), "Idempotency-Key": uuid.uuid4().hex}
        for attempt in range(self.config.retries + 1):
            last = attempt == self.config.retries
            self.pacer.acquire()
            with self.client.request(
                "POST", path, name=action, catch_response=True, headers=headers, **kwargs
            ) as response:
                status = self._count(action, response)
                if status == expected:
                    response.success()
                    self.tally.recovered += attempt > 0
                    try:
                        return response.json()
                    except ValueError:
                        return None
                if status in TRANSIENT and not last:
                    response.success()  # not the shopper's failure yet: it tries again
                    self.tally.retries += 1
                else:
                    self.tally.unexpected[status] += 1
                    response.failure(f"{action}: expected {expected}, got {status}")
                    return None
            gevent.sleep(BACKOFF[min(attempt, len(BACKOFF) - 1)])
        return None

    @task
    def step(self) -> None:
        if self.config.probe_path:
            self.call("probe", "GET", self.config.probe_path, 200)
            return
        action = self.shopper.next_action()
        getattr(self, f"_{action}")()

    # -- one request each ----------------------------------------------------------------
    def _new_user(self) -> None:
        user = self.create("create_user", "/api/users/create", 201)
        if user:
            self.shopper.user_id, self.shopper.logged_in, self.shopper.orders = user["id"], False, {}
            self.tally.users_created += 1

    def _login(self) -> None:
        if self.call("login", "POST", f"/api/users/login/{self.shopper.user_id}", 200):
            self.shopper.logged_in = True

    def _logout(self) -> None:
        if self.call("logout", "POST", f"/api/users/logout/{self.shopper.user_id}", 200):
            self.shopper.logged_in = False

    def _create_order(self) -> None:
        order = self.create("create_order", f"/api/orders/create/{self.shopper.user_id}", 201)
        if order:
            self.shopper.orders[order["id"]] = order["status"]
            self.tally.orders_created += 1

    def _advance_order(self) -> None:
        order_id = self.shopper.open_order(lambda status: status in OPEN)
        if order_id is None:
            self._create_order()
            return
        step = NEXT_STEP[self.shopper.orders[order_id]]
        if step == "pay":
            # a requested outcome is the operator's (the success ratio applies); otherwise the API decides
            requested = {"json": {"status": self.shopper.payment_outcome()}} if self.config.operator_token else {}
            url = f"/api/payments/process/{order_id}"
            payment = self.create("pay", url, 201, headers=self.config.operator_headers, **requested)
            if payment:
                self.tally.payments[payment["status"]] += 1
                self._settle(order_id, payment["order_status"])
            return
        order = self.call(step, "POST", f"/api/orders/{step}/{order_id}", 200)
        if order:
            self._settle(order_id, order["status"])

    def _cancel_order(self) -> None:
        order_id = self.shopper.open_order(lambda status: status in OPEN)
        if order_id is None:
            self._stats()
            return
        order = self.call("cancel", "POST", f"/api/orders/cancel/{order_id}", 200)
        if order:
            self._settle(order_id, order["status"])

    def _settle(self, order_id: int, status: str) -> None:
        if status in OPEN:
            self.shopper.orders[order_id] = status
        else:
            self.shopper.orders.pop(order_id, None)

    def _stats(self) -> None:
        self.call("stats", "GET", "/api/stats", 200)

    def _activity(self) -> None:
        self.call("activity", "GET", "/api/activity?limit=20", 200)

    def _error_404(self) -> None:
        self.call("error_404", "GET", "/api/errors/404", 404, headers=self.config.operator_headers)

    def _error_500(self) -> None:
        self.call("error_500", "GET", "/api/errors/500", 500, headers=self.config.operator_headers)

    def _error_custom(self) -> None:
        self.call(
            "error_custom",
            "POST",
            "/api/errors/custom",
            400,
            json={"message": "simulated", "level": "high"},
            headers=self.config.operator_headers,
        )
