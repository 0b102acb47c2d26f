"""SmartShop backend: a Flask application factory."""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter, ValidationError

from . import errors, requestlog
from .config import Settings
from .counters import Counters
from .db import Database, set_deadline
from .metrics import get_metrics
from .shop import Shop

__all__ = ["create_app"]

ID_MAX = 2**63 - 1  # the documented range of every id (openapi.INT_ID)


class IdConverter(IntegerConverter):
    """<int:...> in every route: an id outside 0..2^63-1 (or 5,000 digits long) matches no route, so
    it is a 404 rather than a database error."""

    def __init__(self, map, *args, **kwargs) -> None:
        kwargs.setdefault("max", ID_MAX)
        super().__init__(map, *args, **kwargs)

    def to_python(self, value: str):
        if len(value) > len(str(ID_MAX)):
            raise ValidationError()
        return super().to_python(value)


class SmartShopFlask(Flask):
    def make_default_options_response(self):
        """OPTIONS: 204 and the route's methods in Allow. Flask's answer was a 200 with an empty
        body labelled text/html, the API's only HTML content type."""
        response = super().make_default_options_response()
        response.status_code = 204
        del response.headers["Content-Type"]
        return response


def create_app(settings: Settings | None = None, database: Database | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = SmartShopFlask(__name__)
    app.url_map.converters["int"] = IdConverter
    # A path with doubled slashes (/api//users) is a JSON 404 like any unknown path. Werkzeug's
    # default answered it with a 308 in HTML whose Location was built from the Host header (behind
    # nginx without the port: http://127.0.0.1/api/users), a redirect the errors handler never saw.
    app.url_map.merge_slashes = False
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

    @app.before_request
    def _deadline() -> None:
        set_deadline(settings.request_deadline)

    @app.teardown_request
    def _no_deadline(_exc) -> None:
        set_deadline(None)

    return app
