from __future__ import annotations

from flask import Blueprint, jsonify

from ..validation import Field, body, query_int
from .context import run, shop

bp = Blueprint("users", __name__, url_prefix="/api/users")

USERNAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{1,63}"
EMAIL = r"[^@\s]{1,64}@[^@\s]{1,189}\.[A-Za-z]{2,}"


@bp.post("/create")
def create():
    data = body(
        {
            "username": Field(str, pattern=USERNAME, max_length=64),
            "email": Field(str, pattern=EMAIL, max_length=254),
        }
    )
    user = run(lambda cur, ev: shop().create_user(cur, ev, data.get("username"), data.get("email")))
    return jsonify({"message": f"User created: {user['username']}", **user}), 201


@bp.get("")
def listing():
    limit, offset = query_int("limit", 50, 1, 500), query_int("offset", 0, 0, 10_000_000)
    users = run(lambda cur, ev: shop().list_users(cur, limit, offset))
    return jsonify({"users": users, "limit": limit, "offset": offset})


@bp.get("/<int:user_id>")
def lookup(user_id: int):
    return jsonify(run(lambda cur, ev: shop().get_user(cur, user_id)))


@bp.post("/login/<int:user_id>")
def login(user_id: int):
    body({})
    user = run(lambda cur, ev: shop().login(cur, ev, user_id))
    return jsonify({"message": f"User logged in: {user['username']}", **user})


@bp.post("/logout/<int:user_id>")
def logout(user_id: int):
    body({})
    user = run(lambda cur, ev: shop().logout(cur, ev, user_id))
    return jsonify({"message": f"User logged out: {user['username']}", **user})
