from __future__ import annotations

from flask import Blueprint, jsonify

from ..auth import operator_only
from ..openapi import doc, list_schema, ref
from ..validation import LIMIT, OFFSET, Field, body
from .context import run, shop
from .idempotency import HEADER as IDEMPOTENCY_HEADER
from .idempotency import idempotent

bp = Blueprint("users", __name__, url_prefix="/api/users")

USERNAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{1,63}"
EMAIL = r"[^@\s]{1,64}@[^@\s]{1,189}\.[A-Za-z]{2,}"
USER_FIELDS = {
    "username": Field(str, pattern=USERNAME, max_length=64),
    "email": Field(str, pattern=EMAIL, max_length=254),
}


@bp.post("/create")
@doc("Create a user (a random realistic name when none is given)", "users", answer=ref("User"), status=201,
     body=USER_FIELDS, headers=(IDEMPOTENCY_HEADER,), errors=(409,))  # fmt: skip
def create():
    """With an Idempotency-Key header, a retry returns the first answer and creates no one new."""
    data = body(USER_FIELDS)

    def action(cur, events):
        user = shop().create_user(cur, events, data.get("username"), data.get("email"))
        return 201, {"message": f"User created: {user['username']}", **user}

    return idempotent(action)


@bp.get("")
@doc("Users, newest first", "users", answer=list_schema("users", "User"), query=(LIMIT, OFFSET), errors=(400,))
@operator_only
def listing():
    limit, offset = LIMIT.get(), OFFSET.get()
    users = run(lambda cur, ev: shop().list_users(cur, limit, offset))
    return jsonify({"users": users, "limit": limit, "offset": offset})


@bp.get("/<int:user_id>")
@doc("One user", "users", answer=ref("User"), errors=(404,))
def lookup(user_id: int):
    return jsonify(run(lambda cur, ev: shop().get_user(cur, user_id)))


@bp.post("/login/<int:user_id>")
@doc("Log a user in", "users", answer=ref("User"), body={}, errors=(404,))
def login(user_id: int):
    body({})
    user = run(lambda cur, ev: shop().login(cur, ev, user_id))
    return jsonify({"message": f"User logged in: {user['username']}", **user})


@bp.post("/logout/<int:user_id>")
@doc("Log a user out", "users", answer=ref("User"), body={}, errors=(404,))
def logout(user_id: int):
    body({})
    user = run(lambda cur, ev: shop().logout(cur, ev, user_id))
    return jsonify({"message": f"User logged out: {user['username']}", **user})
