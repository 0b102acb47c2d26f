from __future__ import annotations

from flask import Blueprint, jsonify

from ..shop import TRANSITIONS
from ..validation import Field, body, query_choice, query_int
from .context import run, shop

bp = Blueprint("orders", __name__, url_prefix="/api/orders")
STATUSES = ("pending", "validated", "processing", "paid", "payment_failed", "cancelled")
ORDER_FIELDS = {
    "user_id": Field(int, minimum=1, maximum=2**63 - 1),
    "product_id": Field(int, minimum=1, maximum=2**31 - 1),
    "quantity": Field(int, minimum=1, maximum=100),
}


def _create(user_id: int | None):
    fields = ORDER_FIELDS if user_id is None else {k: v for k, v in ORDER_FIELDS.items() if k != "user_id"}
    data = body(fields)
    uid = user_id if user_id is not None else data.get("user_id")
    order = run(lambda cur, ev: shop().create_order(cur, ev, uid, data.get("product_id"), data.get("quantity", 1)))
    return jsonify({"message": f"Order created: {order['product']} - {order['amount']:.2f}€", **order}), 201


@bp.post("/create")
def create():
    return _create(None)


@bp.post("/create/<int:user_id>")
def create_for_user(user_id: int):
    return _create(user_id)


@bp.get("")
def listing():
    status = query_choice("status", STATUSES)
    user_id = query_int("user_id", 0, 0, 2**63 - 1) or None
    limit, offset = query_int("limit", 50, 1, 500), query_int("offset", 0, 0, 10_000_000)
    orders = run(lambda cur, ev: shop().list_orders(cur, status, user_id, limit, offset))
    return jsonify({"orders": orders, "limit": limit, "offset": offset})


@bp.get("/<int:order_id>")
def lookup(order_id: int):
    return jsonify(run(lambda cur, ev: shop().get_order(cur, order_id)))


def _transition(action: str):
    def view(order_id: int):
        body({})
        order = run(lambda cur, ev: shop().transition(cur, ev, order_id, action))
        return jsonify({"message": f"Order {order_id} is now {order['status']}", **order})

    view.__name__ = action
    return view


for _action in TRANSITIONS:
    bp.add_url_rule(f"/{_action}/<int:order_id>", view_func=_transition(_action), methods=["POST"])
