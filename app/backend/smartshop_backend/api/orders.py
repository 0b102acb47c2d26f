from __future__ import annotations

from flask import Blueprint, jsonify

from ..domain import ACTIONS, ORDER_TRANSITIONS, STATUSES
from ..openapi import doc, list_schema, ref
from ..validation import LIMIT, OFFSET, Field, Query, body
from .context import run, shop
from .idempotency import HEADER as IDEMPOTENCY_HEADER
from .idempotency import idempotent

bp = Blueprint("orders", __name__, url_prefix="/api/orders")
ORDER_FIELDS = {
    "user_id": Field(int, minimum=1, maximum=2**63 - 1),
    "product_id": Field(int, minimum=1, maximum=2**31 - 1),
    "quantity": Field(int, minimum=1, maximum=100),
}
USER_ORDER_FIELDS = {name: spec for name, spec in ORDER_FIELDS.items() if name != "user_id"}
STATUS = Query("status", choices=STATUSES)
USER_ID = Query("user_id", 0)


def _create(user_id: int | None):
    data = body(ORDER_FIELDS if user_id is None else USER_ORDER_FIELDS)
    uid = user_id if user_id is not None else data.get("user_id")

    def action(cur, events):
        order = shop().create_order(cur, events, uid, data.get("product_id"), data.get("quantity", 1))
        return 201, {"message": f"Order created: {order['product']} - {order['amount']:.2f}€", **order}

    # with an Idempotency-Key header, a retry returns the first answer and creates no second order
    return idempotent(action)


@bp.post("/create")
@doc("Create an order (random user and product when not given)", "orders", answer=ref("Order"), status=201,
     body=ORDER_FIELDS, headers=(IDEMPOTENCY_HEADER,), errors=(404, 409))  # fmt: skip
def create():
    return _create(None)


@bp.post("/create/<int:user_id>")
@doc("Create an order for a user", "orders", answer=ref("Order"), status=201, body=USER_ORDER_FIELDS,
     headers=(IDEMPOTENCY_HEADER,), errors=(404, 409))  # fmt: skip
def create_for_user(user_id: int):
    return _create(user_id)


@bp.get("")
@doc("Orders, newest first", "orders", answer=list_schema("orders", "Order"), query=(STATUS, USER_ID, LIMIT, OFFSET),
     errors=(400,))  # fmt: skip
def listing():
    status, user_id = STATUS.get(), USER_ID.get() or None
    limit, offset = LIMIT.get(), OFFSET.get()
    orders = run(lambda cur, ev: shop().list_orders(cur, status, user_id, limit, offset))
    return jsonify({"orders": orders, "limit": limit, "offset": offset})


@bp.get("/<int:order_id>")
@doc("One order", "orders", answer=ref("Order"), errors=(404,))
def lookup(order_id: int):
    return jsonify(run(lambda cur, ev: shop().get_order(cur, order_id)))


def _transition(action: str):
    step = ACTIONS[action]

    @doc(f"{' or '.join(step.sources)} -> {step.target}", "orders", answer=ref("Order"), body={}, errors=(404, 409))
    def view(order_id: int):
        body({})
        order = run(lambda cur, ev: shop().transition(cur, ev, order_id, action))
        return jsonify({"message": f"Order {order_id} is now {order['status']}", **order})

    view.__name__ = action
    return view


for _action in ORDER_TRANSITIONS:
    bp.add_url_rule(f"/{_action}/<int:order_id>", view_func=_transition(_action), methods=["POST"])
