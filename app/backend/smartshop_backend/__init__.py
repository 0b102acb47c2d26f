"""SmartShop backend: a Flask application factory."""

from __future__ import annotations

from flask import Flask

from . import errors, requestlog
from .config import Settings
from .counters import Counters
from .db import Database
from .metrics import get_metrics
from .shop import Shop

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, database: Database | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        JSON_SORT_KEYS=False,
        SMARTSHOP_SETTINGS=settings,
    )
    app.json.sort_keys = False
    app.extensions["smartshop.db"] = database or Database(settings)
    app.extensions["smartshop.metrics"] = get_metrics(settings.version)
    app.extensions["smartshop.shop"] = Shop(Counters(settings.counter_shards), settings.payment_success_ratio)

    from .api import orders, payments, service, simulated_errors, stats, users

    for module in (service, users, orders, payments, simulated_errors, stats):
        app.register_blueprint(module.bp)
    errors.register(app)
    requestlog.install(app)
    return app
