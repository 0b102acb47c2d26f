"""Who may call what. The shop's routes are public (seed-compatible); operator routes (error
injection, a payment with a requested outcome, the user listing, /metrics) need the operator's
Bearer token; /metrics also takes the scrape credentials Prometheus presents (HTTP basic auth, user
``prometheus``). Tokens are compared in constant time; a missing or wrong one is a 401 that says
which credential the route takes, and nothing happens."""

from __future__ import annotations

import base64
import binascii
import hmac
from functools import wraps

from flask import current_app, request

from .errors import APIError

SCRAPE_USER = "prometheus"


class Unauthorized(APIError):
    status = 401

    def __init__(self, message: str, challenge: str) -> None:
        super().__init__(message)
        self.challenge = challenge


def _same(given: str | None, accepted: tuple[str, ...]) -> bool:
    """Whether `given` is one of the accepted values (two while a rotation runs), in constant time."""
    if given is None:
        return False
    matches = [hmac.compare_digest(given.encode(), value.encode()) for value in accepted if value]
    return any(matches)


def _credentials() -> tuple[str | None, str | None, str | None]:
    """(bearer token, basic user, basic password) from the Authorization header, each None when absent."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip(), None, None
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, None, None
        return None, user, password
    return None, None, None


def is_operator() -> bool:
    token, _, _ = _credentials()
    return _same(token, current_app.config["SMARTSHOP_SETTINGS"].operator_tokens())


def require_operator(what: str = "this route") -> None:
    if is_operator():
        return
    if not current_app.config["SMARTSHOP_SETTINGS"].operator_tokens():
        raise Unauthorized(f"{what} is disabled: the API has no operator token configured", "Bearer")
    raise Unauthorized(f"{what} needs the operator token (Authorization: Bearer <token>)", "Bearer")


def operator_only(view):
    @wraps(view)
    def guarded(*args, **kwargs):
        require_operator()
        return view(*args, **kwargs)

    guarded.smartshop_auth = ("operatorToken",)
    return guarded


def scraper_or_operator(view):
    """For /metrics: the scrape credentials (basic auth, user prometheus) or the operator token."""

    @wraps(view)
    def guarded(*args, **kwargs):
        _, user, password = _credentials()
        scrape_passwords = current_app.config["SMARTSHOP_SETTINGS"].scrape_passwords()
        if not (user == SCRAPE_USER and _same(password, scrape_passwords)) and not is_operator():
            raise Unauthorized(
                "metrics need the scrape credentials (basic auth, user prometheus) or the operator token", "Basic"
            )
        return view(*args, **kwargs)

    guarded.smartshop_auth = ("scrapeBasic", "operatorToken")
    return guarded


def operator_for_some(view):
    """Documents a public route where some requests need the operator token (the view checks)."""
    view.smartshop_auth = ("", "operatorToken")
    return view
