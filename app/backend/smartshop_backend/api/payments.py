from __future__ import annotations

import hashlib
import json
import re

import pymysql
from flask import Blueprint, jsonify, request

from ..errors import APIError
from ..validation import Field, body, query_int
from .context import run, shop

bp = Blueprint("payments", __name__, url_prefix="/api/payments")
KEY = re.compile(r"[\x21-\x7e]{1,128}")
DUPLICATE_KEY = 1062


@bp.post("/process/<int:order_id>")
def process(order_id: int):
    """Pay an order. A requested status is honoured; otherwise PAYMENT_SUCCESS_RATIO decides.

    With an Idempotency-Key header, a retry returns the first answer and writes nothing new.
    """
    data = body({"status": Field(str, choices=("success", "failed"))})
    key = request.headers.get("Idempotency-Key")
    if key is not None and not KEY.fullmatch(key):
        raise APIError("Idempotency-Key must be 1 to 128 visible ASCII characters", 400, field="Idempotency-Key")
    fingerprint = hashlib.sha256(f"{request.path}\n".encode() + request.get_data()).hexdigest()

    def work(cur, events):
        if key is not None:
            try:
                # Holds the key's row lock until commit: a concurrent retry waits here, then sees the answer.
                cur.execute(
                    "INSERT INTO idempotency_keys (idem_key, endpoint, request_hash, status_code, response)"
                    " VALUES (%s, %s, %s, 0, '')",
                    (key, request.path, fingerprint),
                )
            except pymysql.err.IntegrityError as exc:
                if exc.args[0] != DUPLICATE_KEY:
                    raise
                cur.execute(
                    "SELECT request_hash, status_code, response FROM idempotency_keys WHERE idem_key = %s", (key,)
                )
                stored = cur.fetchone()
                if stored["request_hash"] != fingerprint:
                    raise APIError(
                        "Idempotency-Key was already used for a different request", 422, field="Idempotency-Key"
                    ) from None
                return stored["status_code"], json.loads(stored["response"]), True
        try:
            payment = shop().pay(cur, events, order_id, data.get("status"))
            answer = 201, {"message": f"Payment {payment['status']} for order {order_id}", **payment}
        except APIError as exc:
            if key is None:
                raise
            answer = exc.status, {"error": exc.message, "status": exc.status, **exc.extra}
        if key is not None:
            cur.execute(
                "UPDATE idempotency_keys SET status_code = %s, response = %s WHERE idem_key = %s",
                (answer[0], json.dumps(answer[1]), key),
            )
        return answer[0], answer[1], False

    status, payload, replayed = run(work)
    response = jsonify(payload)
    response.status_code = status
    if key is not None:
        response.headers["Idempotent-Replayed"] = "true" if replayed else "false"
    return response


@bp.get("")
def listing():
    order_id = query_int("order_id", 0, 0, 2**63 - 1) or None
    limit = query_int("limit", 50, 1, 500)
    return jsonify({"payments": run(lambda cur, ev: shop().list_payments(cur, order_id, limit))})
