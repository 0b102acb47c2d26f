from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, jsonify

from .. import activity
from ..counters import ORDER_STATUSES, Counters
from ..validation import query_choice, query_int
from .context import run, shop

bp = Blueprint("stats", __name__)


def compute(cur: Any) -> dict[str, Any]:
    raw = Counters.read(cur)
    totals, windows = raw["totals"], raw["windows"]

    def window(name: str, index: int) -> int:
        return windows.get(name, (0, 0))[index]

    by_status = {status: max(totals.get(f"orders_{status}", 0), 0) for status in ORDER_STATUSES}
    return {
        "total_users": totals.get("users", 0),
        "active_users_today": raw["active_users_today"],
        "orders_last_10min": window("orders", 0),
        "orders_last_60min": window("orders", 1),
        "pending_orders": by_status["pending"],
        "payments_last_hour": {"success": window("payments_success", 1), "failed": window("payments_failed", 1)},
        "total_success_payments": totals.get("payments_success", 0),
        "total_failed_payments": totals.get("payments_failed", 0),
        "activities_last_hour": {level: window(f"activity_{level}", 1) for level in activity.LEVELS},
        "total_orders": totals.get("orders", 0),
        "orders_by_status": by_status,
        "revenue_total": round(totals.get("revenue_cents", 0) / 100, 2),
        "generated_at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }


@bp.get("/api/stats")
def stats():
    return jsonify(run(lambda cur, ev: compute(cur)))


@bp.get("/api/activity")
@bp.get("/api/logs")
def recent_activity():
    limit = query_int("limit", 50, 1, 500)
    level = query_choice("level", activity.LEVELS)
    return jsonify({"entries": run(lambda cur, ev: activity.recent(cur, limit, level)), "limit": limit})


@bp.get("/api/products")
def products():
    return jsonify({"products": run(lambda cur, ev: shop().products(cur))})
