"""Errors on purpose, to exercise monitoring: the only place a 500 is ever answered. Operator only:
an anonymous caller must not be able to page the on-call."""

from __future__ import annotations

from flask import Blueprint, jsonify

from .. import domain
from ..auth import operator_only
from ..openapi import doc, ref
from ..validation import Field, body
from .context import metrics, run, shop

bp = Blueprint("errors", __name__, url_prefix="/api/errors")
CUSTOM_FIELDS = {
    "message": Field(str, max_length=200),
    "level": Field(str, choices=domain.LEVELS),
    "code": Field(int, minimum=400, maximum=499),
}


def _log(level: str, message: str) -> None:
    run(lambda cur, ev: shop()._log(cur, ev, level, message))


@bp.get("/404")
@doc("A 404 on purpose", "errors", responses={"404": {"description": "Simulated 404", "content": {
    "application/json": {"schema": ref("Error")}}}})  # fmt: skip
@operator_only
def not_found():
    metrics().simulated_errors.labels(code="404").inc()
    _log("medium", "Simulated error 404")
    return jsonify({"error": "Simulated 404: resource not found", "status": 404, "simulated": True}), 404


@bp.get("/500")
@doc("A 500 on purpose (the only one)", "errors", responses={"500": {"description": "Simulated server error",
     "content": {"application/json": {"schema": ref("Error")}}}})  # fmt: skip
@operator_only
def server_error():
    metrics().simulated_errors.labels(code="500").inc()
    _log("high", "Simulated error 500")
    return jsonify({"error": "Simulated 500: internal server error", "status": 500, "simulated": True}), 500


@bp.post("/custom")
@doc("A 4xx of your choice on purpose", "errors", body=CUSTOM_FIELDS, responses={"4XX": {
     "description": "The error asked for", "content": {"application/json": {"schema": ref("Error")}}}})  # fmt: skip
@operator_only
def custom():
    data = body(CUSTOM_FIELDS)
    code = data.get("code", 400)
    message = data.get("message", "Custom simulated error")
    metrics().simulated_errors.labels(code="custom").inc()
    _log(data.get("level", "high"), f"Custom error {code}: {message}")
    return jsonify({"error": message, "status": code, "simulated": True}), code
