"""A small HTTP endpoint beside a running simulation: its figures, its rate, its metrics.

GET  /status   the live figures (JSON)
POST /rate     {"rate": 200} (or {"rate": null} for no limit): change the rate now; needs the API's
               operator token (Authorization: Bearer <token>), the one the simulator runs with
GET  /metrics  Prometheus exposition: requested and achieved rate, requests, errors, created objects
"""

from __future__ import annotations

import hmac
import json

from gevent.pywsgi import WSGIServer
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from .engine import Simulation


class SimulationCollector:
    def __init__(self, simulation: Simulation) -> None:
        self.simulation = simulation

    def collect(self):
        snap = self.simulation.snapshot()
        requested = GaugeMetricFamily("smartshop_simulator_requested_rps", "Requested rate (req/s); 0 = no limit")
        requested.add_metric([], snap["requested_rps"] or 0)
        yield requested
        achieved = GaugeMetricFamily("smartshop_simulator_achieved_rps", "Achieved rate over the last seconds")
        achieved.add_metric([], snap["achieved_rps"])
        yield achieved
        requests = CounterMetricFamily("smartshop_simulator_requests", "Requests sent, by HTTP status", labels=["code"])
        for code, n in snap["by_status"].items():
            requests.add_metric([code], n)
        yield requests
        errors = CounterMetricFamily(
            "smartshop_simulator_unexpected_responses", "Responses other than expected, by status", labels=["code"]
        )
        for code, n in snap["unexpected"].items():
            errors.add_metric([code], n)
        yield errors
        injected = CounterMetricFamily("smartshop_simulator_error_calls", "Calls to the error endpoints on purpose")
        injected.add_metric([], snap["error_calls"])
        yield injected
        retries = CounterMetricFamily(
            "smartshop_simulator_retries", "Creations sent again with their Idempotency-Key after a transient answer"
        )
        retries.add_metric([], snap.get("retries", 0))
        yield retries
        created = CounterMetricFamily("smartshop_simulator_created", "Objects created", labels=["kind"])
        created.add_metric(["user"], snap["users_created"])
        created.add_metric(["order"], snap["orders_created"])
        yield created
        payments = CounterMetricFamily("smartshop_simulator_payments", "Payments made, by result", labels=["result"])
        for result in ("success", "failed"):
            payments.add_metric([result], snap["payments"].get(result, 0))
        yield payments
        # a distributed run (the master): the workers connected, and what each sent (the sum is
        # smartshop_simulator_requests_total)
        workers = GaugeMetricFamily("smartshop_simulator_workers", "Workers connected to this master (0: local run)")
        workers.add_metric([], snap["workers"])
        yield workers
        sent = CounterMetricFamily(
            "smartshop_simulator_worker_requests", "Requests sent by each worker, by its host name", labels=["worker"]
        )
        for name, n in snap["worker_requests"].items():
            sent.add_metric([name], n)
        yield sent


class ControlServer:
    def __init__(self, simulation: Simulation, host: str, port: int) -> None:
        self.simulation = simulation
        self.registry = CollectorRegistry()
        self.registry.register(SimulationCollector(simulation))
        self.server = WSGIServer((host, port), self.app, log=None, error_log=None)

    @property
    def port(self) -> int:
        return self.server.server_port

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop(timeout=1)

    def app(self, environ, start_response):
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/")
        if path == "/metrics" and method == "GET":
            return self._reply(start_response, 200, generate_latest(self.registry), "text/plain; version=0.0.4")
        if path == "/status" and method == "GET":
            return self._json(start_response, 200, self.simulation.snapshot())
        if path == "/rate" and method == "POST":
            token = self.simulation.config.current_operator_token()
            given = environ.get("HTTP_AUTHORIZATION", "")
            if not token or not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                needs = "POST /rate needs the operator token (Authorization: Bearer <token>)"
                return self._json(start_response, 401, {"error": needs})
            try:
                size = min(int(environ.get("CONTENT_LENGTH") or 0), 4096)
                body = json.loads(environ["wsgi.input"].read(size) or b"{}")
                rate = body["rate"]
                if rate is not None:
                    rate = float(rate)
                self.simulation.set_rate(rate)
            except (ValueError, KeyError, TypeError) as exc:
                return self._json(start_response, 400, {"error": f'expected {{"rate": number|null}}: {exc}'})
            return self._json(start_response, 200, {"requested_rps": rate})
        return self._json(start_response, 404, {"error": f"no {method} {path}; try GET /status, POST /rate"})

    @staticmethod
    def _json(start_response, status: int, payload: dict):
        return ControlServer._reply(start_response, status, json.dumps(payload).encode(), "application/json")

    @staticmethod
    def _reply(start_response, status: int, body: bytes, content_type: str):
        reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}[status]
        start_response(f"{status} {reason}", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]
