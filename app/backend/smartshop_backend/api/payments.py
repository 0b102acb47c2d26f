from __future__ import annotations

from flask import Blueprint, jsonify

from ..auth import operator_for_some, require_operator
from ..domain import PAYMENT_OUTCOMES
from ..openapi import doc, list_schema, ref
from ..validation import LIMIT, Field, Query, body
from .context import run, shop
from .idempotency import HEADER as IDEMPOTENCY_HEADER
from .idempotency import idempotent

bp = Blueprint("payments", __name__, url_prefix="/api/payments")
PAYMENT_FIELDS = {"status": Field(str, choices=PAYMENT_OUTCOMES)}
ORDER_ID = Query("order_id", 0)


@bp.post("/process/<int:order_id>")
@doc("Pay an order in processing", "payments", answer=ref("Payment"), status=201, body=PAYMENT_FIELDS,
     headers=(IDEMPOTENCY_HEADER,), errors=(404, 409))  # fmt: skip
@operator_for_some
def process(order_id: int):
    """Pay an order. A requested status is honoured (operator token only: forcing outcomes is a test
    tool); otherwise PAYMENT_SUCCESS_RATIO decides.

    With an Idempotency-Key header, a retry returns the first answer and writes nothing new.
    """
    data = body(PAYMENT_FIELDS)
    if data.get("status") is not None:
        require_operator("a payment with a requested status")

    def action(cur, events):
        payment = shop().pay(cur, events, order_id, data.get("status"))
        return 201, {"message": f"Payment {payment['status']} for order {order_id}", **payment}

    return idempotent(action)


@bp.get("")
@doc(
    "Payments, newest first",
    "payments",
    answer=list_schema("payments", "Payment"),
    query=(ORDER_ID, LIMIT),
    errors=(400,),
)
def listing():
    order_id = ORDER_ID.get() or None
    limit = LIMIT.get()
    return jsonify({"payments": run(lambda cur, ev: shop().list_payments(cur, order_id, limit))})
