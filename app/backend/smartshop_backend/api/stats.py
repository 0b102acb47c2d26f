from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, jsonify

from .. import activity, domain
from ..counters import Counters
from ..openapi import doc, list_schema, ref
from ..validation import LIMIT, Query
from .context import run, shop

bp = Blueprint("stats", __name__)
LEVEL = Query("level", choices=domain.LEVELS)


def compute(cur: Any) -> dict[str, Any]:
    raw = Counters.read(cur)
    totals, windows = raw["totals"], raw["windows"]

    def window(name: str, index: int) -> int:
        return windows.get(name, (0, 0))[index]

    by_status = {status: max(totals.get(f"orders_{status}", 0), 0) for status in domain.STATUSES}
    return {
        "total_users": totals.get("users", 0),
        "active_users_today": raw["active_users_today"],
        "orders_last_10min": window("orders", 0),
        "orders_last_60min": window("orders", 1),
        "pending_orders": by_status["pending"],
        "payments_last_hour": {"success": window("payments_success", 1), "failed": window("payments_failed", 1)},
        "total_success_payments": totals.get("payments_success", 0),
        "total_failed_payments": totals.get("payments_failed", 0),
        "activities_last_hour": {level: window(f"activity_{level}", 1) for level in domain.LEVELS},
        "total_orders": totals.get("orders", 0),
        "orders_by_status": by_status,
        "revenue_total": round(totals.get("revenue_cents", 0) / 100, 2),
        "generated_at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }


@bp.get("/api/stats")
@doc("Shop statistics (the seed's keys and more)", "stats", answer=ref("Stats"))
def stats():
    return jsonify(run(lambda cur, ev: compute(cur)))


@bp.get("/api/activity")
@bp.get("/api/logs")
@doc("Recent activity log entries, newest first", "stats", answer=list_schema("entries", "ActivityEntry"),
     query=(LIMIT, LEVEL), errors=(400,))  # fmt: skip
def recent_activity():
    limit, level = LIMIT.get(), LEVEL.get()
    return jsonify({"entries": run(lambda cur, ev: activity.recent(cur, limit, level)), "limit": limit})


@bp.get("/api/products")
@doc("The catalog", "stats", answer={"type": "object", "required": ["products"],
     "properties": {"products": {"type": "array"}}})  # fmt: skip
def products():
    return jsonify({"products": run(lambda cur, ev: shop().products(cur))})
