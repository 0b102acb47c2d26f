from __future__ import annotations

import hashlib
import re

from flask import Blueprint, jsonify, request

from ..auth import operator_for_some, require_operator
from ..domain import PAYMENT_OUTCOMES
from ..errors import APIError
from ..openapi import doc, list_schema, ref
from ..validation import LIMIT, Field, Query, body
from .context import run, shop

bp = Blueprint("payments", __name__, url_prefix="/api/payments")
KEY = re.compile(r"[\x21-\x7e]{1,128}")
PAYMENT_FIELDS = {"status": Field(str, choices=PAYMENT_OUTCOMES)}
ORDER_ID = Query("order_id", 0)
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "pattern": f"^{KEY.pattern}$"},
}


@bp.post("/process/<int:order_id>")
@doc("Pay an order in processing", "payments", answer=ref("Payment"), status=201, body=PAYMENT_FIELDS,
     headers=(IDEMPOTENCY_KEY,), errors=(404, 409))  # fmt: skip
@operator_for_some
def process(order_id: int):
    """Pay an order. A requested status is honoured (operator token only: forcing outcomes is a test
    tool); otherwise PAYMENT_SUCCESS_RATIO decides.

    With an Idempotency-Key header, a retry returns the first answer and writes nothing new.
    """
    data = body(PAYMENT_FIELDS)
    if data.get("status") is not None:
        require_operator("a payment with a requested status")
    key = request.headers.get("Idempotency-Key")
    if key is not None and not KEY.fullmatch(key):
        raise APIError("Idempotency-Key must be 1 to 128 visible ASCII characters", 400, field="Idempotency-Key")
    fingerprint = hashlib.sha256(f"{request.path}\n".encode() + request.get_data()).hexdigest()

    def work(cur, events):
        if key is not None:
            stored = shop().claim_idempotency_key(cur, key, request.path, fingerprint)
            if stored is not None:
                return *stored, True
        try:
            payment = shop().pay(cur, events, order_id, data.get("status"))
            answer = 201, {"message": f"Payment {payment['status']} for order {order_id}", **payment}
        except APIError as exc:
            if key is None:
                raise
            answer = exc.status, {"error": exc.message, "status": exc.status, **exc.extra}
        if key is not None:
            shop().store_idempotent_answer(cur, key, *answer)
        return *answer, False

    status, payload, replayed = run(work)
    response = jsonify(payload)
    response.status_code = status
    if key is not None:
        response.headers["Idempotent-Replayed"] = "true" if replayed else "false"
    return response


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
