"""Service endpoints: the seed's root answer, readiness, metrics, the OpenAPI document."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from ..auth import scraper_or_operator
from ..metrics import exposition
from ..openapi import doc, document
from .context import db
from .stats import compute

bp = Blueprint("service", __name__)


@bp.get("/")
@doc(
    "The seed's status answer",
    "service",
    answer={
        "type": "object",
        "required": ["message", "status", "mysql_status"],
        "properties": {
            "message": {"type": "string"},
            "status": {"type": "string"},
            "mysql_status": {"type": "string", "enum": ["connected", "disconnected"]},
        },
    },
    database=False,
)
def root():
    connected = db().ping()
    return jsonify(
        {
            "message": "SmartShop Simulation API",
            "status": "running",
            "mysql_status": "connected" if connected else "disconnected",
            "version": current_app.config["SMARTSHOP_SETTINGS"].version,
        }
    )


@bp.get("/api/health")
@doc("Readiness, including the database", "service")
def health():
    if db().ping():
        return jsonify({"status": "ok", "database": "ok"})
    return jsonify({"status": "unavailable", "database": "unreachable", "error": "database unavailable"}), 503


@bp.get("/metrics")
@doc("Prometheus exposition", "service", answer={"type": "string"}, content_type="text/plain", database=False)
@scraper_or_operator
def metrics():
    def read_stats():
        with db().transaction() as cur:
            return compute(cur)

    payload, content_type = exposition(read_stats)
    return Response(payload, content_type=content_type)


@bp.get("/api/openapi.json")
@doc("This document", "service", database=False)
def openapi():
    return jsonify(document(current_app.config["SMARTSHOP_SETTINGS"].version))
