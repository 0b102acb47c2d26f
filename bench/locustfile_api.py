"""Mixed workload for `make bench-api`: the shop's journey (user, login, order, validate,
process, pay with the 80/20 ratio), stats reads and error calls. Statuses the journey expects
are successes; anything else is counted as an unexpected error."""

from __future__ import annotations

import random

from locust import FastHttpUser, constant, task

EXPECTED = {
    "create_user": {201},
    "login": {200},
    "create_order": {201},
    "validate": {200},
    "process": {200},
    "pay": {201},
    "stats": {200},
    "activity": {200},
    "error_404": {404},
    "error_custom": {400},
    "logout": {200},
}


class ShopUser(FastHttpUser):
    operator: dict[str, str] = {}  # noqa: RUF012 - the operator token's header, set by bench_api.py
    wait_time = constant(0)

    def on_start(self) -> None:
        self.user_id = None

    def call(self, name: str, method: str, path: str, **kwargs) -> dict | None:
        with self.client.request(method, path, name=name, catch_response=True, **kwargs) as response:
            if response.status_code in EXPECTED[name]:
                response.success()
                try:
                    return response.json()
                except ValueError:
                    return None
            response.failure(f"unexpected {response.status_code}")
            return None

    @task
    def journey(self) -> None:
        if self.user_id is None or random.random() < 0.1:
            user = self.call("create_user", "POST", "/api/users/create")
            if not user:
                return
            self.user_id = user["id"]
        self.call("login", "POST", f"/api/users/login/{self.user_id}")
        order = self.call("create_order", "POST", f"/api/orders/create/{self.user_id}")
        if order:
            oid = order["id"]
            if random.random() < 0.1:
                self.call("validate", "POST", f"/api/orders/validate/{oid}")
            else:
                self.call("validate", "POST", f"/api/orders/validate/{oid}")
                self.call("process", "POST", f"/api/orders/process/{oid}")
                self.call("pay", "POST", f"/api/payments/process/{oid}")  # outcome by the 80/20 ratio
        self.call("stats", "GET", "/api/stats")
        if random.random() < 0.3:
            self.call("activity", "GET", "/api/activity?limit=20")
        if random.random() < 0.2:
            self.call("error_404", "GET", "/api/errors/404", headers=self.operator)
        if random.random() < 0.1:
            self.call("error_custom", "POST", "/api/errors/custom", json={"message": "bench"}, headers=self.operator)
        if random.random() < 0.2:
            self.call("logout", "POST", f"/api/users/logout/{self.user_id}")


class PingUser(FastHttpUser):
    """The ceiling of a path: the cheapest pooled request (GET /api/health, one `SELECT 1`)."""

    wait_time = constant(0)

    @task
    def ping(self) -> None:
        with self.client.get("/api/health", name="health", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"unexpected {response.status_code}")
