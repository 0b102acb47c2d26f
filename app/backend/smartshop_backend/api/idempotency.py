"""Idempotency-Key on the routes that create something (users, orders, payments): a client that
retries with the key it sent the first time gets the first answer back, and nothing is written
twice. The key is claimed in the transaction that does the work, so concurrent retries wait for
the first one and then replay its answer; a key sent with a different request is a 422."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

from flask import Response, jsonify, request

from ..errors import APIError
from .context import run, shop

KEY = re.compile(r"[\x21-\x7e]{1,128}")
HEADER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "pattern": f"^{KEY.pattern}$"},
}


def idempotent(action: Callable[[Any, Any], tuple[int, dict]]) -> Response:
    """Run action(cursor, events) -> (status, payload) once per Idempotency-Key (when one is sent)."""
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
            answer = action(cur, events)
        except APIError as exc:
            if key is None:
                raise
            # refusals happen before any write; the refusal is the answer a retry gets
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
