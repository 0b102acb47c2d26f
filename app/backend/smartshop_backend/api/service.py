"""Service endpoints: the seed's root answer, readiness, metrics, the OpenAPI document."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from ..metrics import exposition
from ..openapi import document
from .context import db
from .stats import compute

bp = Blueprint("service", __name__)


@bp.get("/")
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
def health():
    if db().ping():
        return jsonify({"status": "ok", "database": "ok"})
    return jsonify({"status": "unavailable", "database": "unreachable", "error": "database unavailable"}), 503


@bp.get("/metrics")
def metrics():
    def read_stats():
        with db().transaction() as cur:
            return compute(cur)

    payload, content_type = exposition(read_stats)
    return Response(payload, content_type=content_type)


@bp.get("/api/openapi.json")
def openapi():
    return jsonify(document(current_app.config["SMARTSHOP_SETTINGS"].version))
