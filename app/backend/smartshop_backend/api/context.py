"""Access to the application's services from a request."""

from __future__ import annotations

from typing import Any

from flask import current_app

from ..db import Database
from ..metrics import Metrics
from ..shop import Events, Shop


def db() -> Database:
    return current_app.extensions["smartshop.db"]


def shop() -> Shop:
    return current_app.extensions["smartshop.shop"]


def metrics() -> Metrics:
    return current_app.extensions["smartshop.metrics"]


def run(work) -> Any:
    """Run work(cursor, events) in one transaction, then count what it did."""
    events = Events()

    def in_transaction(cur):
        events.__init__()  # a retried transaction starts its events afresh
        result = work(cur, events)
        shop().flush(cur, events)
        return result

    result = db().run(in_transaction)
    metrics().count(events)
    return result
