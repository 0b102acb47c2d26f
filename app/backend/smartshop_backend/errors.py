"""API errors: every error is JSON with a message; no stack trace ever reaches a client."""

from __future__ import annotations

import logging

import MySQLdb
from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from .db import DatabaseUnavailable, DeadlineExceeded

# The table is full / a file could not grow / the disk is full: the server has no room to write.
OUT_OF_SPACE = {1114, 1021, 3}

log = logging.getLogger(__name__)


class APIError(Exception):
    status = 400

    def __init__(self, message: str, status: int | None = None, **extra) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.extra = extra


class NotFound(APIError):
    status = 404


class Conflict(APIError):
    status = 409


class Invalid(APIError):
    """The body parsed but a field is wrong: 422 naming the field."""

    status = 422


def error_body(status: int, message: str, **extra):
    body = {"error": message, "status": status}
    body.update(extra)
    return jsonify(body), status


def register(app: Flask) -> None:
    @app.errorhandler(APIError)
    def _api_error(exc: APIError):
        response, status = error_body(exc.status, exc.message, **exc.extra)
        challenge = getattr(exc, "challenge", None)
        if challenge:
            response.headers["WWW-Authenticate"] = f'{challenge} realm="smartshop"'
        return response, status

    @app.errorhandler(DeadlineExceeded)
    def _too_late(exc: DeadlineExceeded):
        app.extensions["smartshop.metrics"].db_error("deadline")
        log.warning("request deadline: %s", exc)
        seconds = app.config["SMARTSHOP_SETTINGS"].request_deadline
        return error_body(503, f"the database did not answer within {seconds} s; nothing was written, retry later")

    @app.errorhandler(DatabaseUnavailable)
    def _db_down(exc: DatabaseUnavailable):
        app.extensions["smartshop.metrics"].db_error("unavailable")
        log.warning("database unavailable: %s", exc)
        return error_body(503, "database unavailable, retry later")

    @app.errorhandler(MySQLdb.MySQLError)
    def _db_error(exc: MySQLdb.MySQLError):
        if exc.args and exc.args[0] in OUT_OF_SPACE:
            app.extensions["smartshop.metrics"].db_error("out_of_space")
            log.error("database out of space: %r", exc)
            return error_body(503, "the database is out of space; nothing was written, retry later")
        app.extensions["smartshop.metrics"].db_error(type(exc).__name__)
        log.error("database error: %r", exc)
        return error_body(503, "database error, retry later")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        messages = {
            404: "no such resource",
            405: "method not allowed on this resource",
            413: f"request body larger than {app.config['MAX_CONTENT_LENGTH']} bytes",
        }
        response, status = error_body(exc.code or 500, messages.get(exc.code or 0, exc.description or exc.name))
        # a 405 names the methods the resource has (RFC 9110 15.5.6), as Flask's own page did
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response, status

    @app.errorhandler(RecursionError)
    def _too_deep(exc: RecursionError):
        return error_body(400, "body is nested too deeply")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unexpected error")
        return error_body(500, "internal error")
