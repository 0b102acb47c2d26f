"""The OpenAPI 3 document of the API, served at /api/openapi.json (a test fuzzes the live app with it).

It is derived, not kept by hand: each view declares what it takes and answers with @doc (its body
as the same Field definitions body() checks it against, its Query parameters, its answers), and
document() walks the application's routes. A route without @doc fails the document and its test.
Response schemas are written here once, from domain.py's vocabulary.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from flask import current_app

from .domain import ACTIONS, LEVELS, PAYMENT_OUTCOMES, STATUSES
from .validation import Field, Query, body_schema

INT_ID = {"type": "integer", "minimum": 0, "maximum": 9223372036854775807}
TIMESTAMP = {"type": "string", "format": "date-time"}
NULLABLE_TIMESTAMP = {"type": ["string", "null"], "format": "date-time"}
ACTION_LIST = {"type": "array", "items": {"type": "string", "enum": list(ACTIONS)}}
ERROR_TEXT = {
    400: "Malformed request (body is not JSON, bad query parameter)",
    404: "No such resource",
    409: "The order's state does not allow this",
    401: "A credential is missing or wrong; nothing happened",
    413: "Body too large",
    415: "Body is not JSON",
    422: "A field is wrong; `field` names it",
    503: "Database unavailable",
}
BODY_ERRORS = (400, 413, 415, 422)


def _obj(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


def _ints(*names: str) -> dict[str, Any]:
    return {name: {"type": "integer"} for name in names}


SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": _obj(["error", "status"], {"error": {"type": "string"}, **_ints("status"), "field": {"type": "string"}}),
    "User": _obj(
        ["id", "username", "created_at", "logged_in"],
        {
            **_ints("id"),
            "username": {"type": "string"},
            "email": {"type": ["string", "null"]},
            "created_at": TIMESTAMP,
            "last_login_at": NULLABLE_TIMESTAMP,
            "logged_in": {"type": "boolean"},
        },
    ),
    "Order": _obj(
        ["id", "user_id", "product", "amount", "status", "actions"],
        {
            **_ints("id", "order_id", "user_id", "product_id", "quantity"),
            "product": {"type": "string"},
            "amount": {"type": "number"},
            "status": {"type": "string", "enum": list(STATUSES)},
            "actions": {**ACTION_LIST, "description": "What the order's status allows now (domain.py)"},
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
        },
    ),
    "Payment": _obj(
        ["payment_id", "order_id", "status", "amount"],
        {
            **_ints("payment_id", "order_id"),
            "status": {"type": "string", "enum": list(PAYMENT_OUTCOMES)},
            "requested_status": {"type": ["string", "null"], "enum": [*PAYMENT_OUTCOMES, None]},
            "amount": {"type": "number"},
            "order_status": {"type": "string", "enum": list(STATUSES)},
            "order_actions": ACTION_LIST,
        },
    ),
    "Stats": _obj(
        [
            "total_users",
            "active_users_today",
            "orders_last_10min",
            "orders_last_60min",
            "pending_orders",
            "payments_last_hour",
            "total_success_payments",
            "total_failed_payments",
            "activities_last_hour",
        ],
        {
            **_ints("total_users", "active_users_today", "orders_last_10min", "orders_last_60min", "pending_orders"),
            "payments_last_hour": _obj(list(PAYMENT_OUTCOMES), _ints(*PAYMENT_OUTCOMES)),
            **_ints("total_success_payments", "total_failed_payments"),
            "activities_last_hour": _obj(list(LEVELS), _ints(*LEVELS)),
            **_ints("total_orders"),
            "orders_by_status": _obj(list(STATUSES), _ints(*STATUSES)),
            "revenue_total": {"type": "number"},
            "generated_at": TIMESTAMP,
        },
    ),
    "ActivityEntry": _obj(
        ["id", "created_at", "level", "message", "text"],
        {
            **_ints("id"),
            "created_at": TIMESTAMP,
            "level": {"type": "string", "enum": list(LEVELS)},
            "message": {"type": "string"},
            "text": {"type": "string"},
        },
    ),
}


SECURITY_SCHEMES = {
    "operatorToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "The operator token (<secrets_dir>/<host>/api_operator_token)",
    },
    "scrapeBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "User prometheus, the scrape password (<secrets_dir>/<host>/scrape_password)",
    },
}


def ref(name: str) -> dict[str, str]:
    if name not in SCHEMAS:
        raise KeyError(f"no schema {name}")
    return {"$ref": f"#/components/schemas/{name}"}


def list_schema(key: str, item: str) -> dict[str, Any]:
    """{key: [item, ...]} as the list endpoints answer."""
    return _obj([key], {key: {"type": "array", "items": ref(item)}})


def doc(
    summary: str,
    tag: str,
    *,
    answer: dict[str, Any] | None = None,
    status: int = 200,
    body: dict[str, Field] | None = None,
    query: tuple[Query, ...] = (),
    headers: tuple[dict[str, Any], ...] = (),
    errors: tuple[int, ...] = (),
    responses: dict[str, Any] | None = None,
    content_type: str = "application/json",
    database: bool = True,
) -> Callable:
    """Declare what a view takes and answers; `body` is the dict of Fields the view checks."""

    def declare(view: Callable) -> Callable:
        view.openapi = {
            "summary": summary,
            "tag": tag,
            "answer": answer if answer is not None else {"type": "object"},
            "status": status,
            "body": body,
            "query": query,
            "headers": headers,
            "errors": errors,
            "responses": responses,
            "content_type": content_type,
            "database": database,
        }
        return view

    return declare


def _json(schema: dict[str, Any], description: str, content_type: str = "application/json") -> dict[str, Any]:
    return {"description": description, "content": {content_type: {"schema": schema}}}


PATH_PARAM = re.compile(r"<(?:int:)?([a-z_]+)>")


def _operation(rule, spec: dict[str, Any], operation_id: str) -> dict[str, Any]:
    parameters = [{"name": n, "in": "path", "required": True, "schema": INT_ID} for n in PATH_PARAM.findall(rule.rule)]
    parameters += [q.parameter() for q in spec["query"]] + list(spec["headers"])
    errors = (*spec["errors"], *(BODY_ERRORS if spec["body"] is not None else ()))
    if spec["responses"] is not None:
        responses = dict(spec["responses"])
    else:
        responses = {str(spec["status"]): _json(spec["answer"], spec["summary"], spec["content_type"])}
    if spec["database"]:  # a 503 when the database is unavailable
        responses.update({str(code): _json(ref("Error"), ERROR_TEXT[code]) for code in sorted({*errors, 503})})
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": spec["summary"],
        "tags": [spec["tag"]],
        "responses": responses,
    }
    if parameters:
        operation["parameters"] = parameters
    if spec["body"] is not None:
        operation["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": body_schema(spec["body"])}},
        }
    return operation


def undocumented_routes(app) -> list[str]:
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static" and not hasattr(app.view_functions[rule.endpoint], "openapi")
    )


def document(version: str) -> dict[str, Any]:
    app = current_app
    missing = undocumented_routes(app)
    if missing:
        raise RuntimeError(f"routes without @doc: {missing}")
    paths: dict[str, Any] = {}
    rules_per_view = Counter(rule.endpoint for rule in app.url_map.iter_rules())
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static":
            continue
        spec = app.view_functions[rule.endpoint].openapi
        path = PATH_PARAM.sub(r"{\1}", rule.rule)
        # one operation id per path: the view's name, and the path's last word when a view has several
        base = rule.endpoint.split(".")[-1]
        name = re.sub(r"\W", "_", path.strip("/").split("/")[-1]) if rules_per_view[rule.endpoint] > 1 else base
        schemes = getattr(app.view_functions[rule.endpoint], "smartshop_auth", ())
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            operation = _operation(rule, spec, f"{rule.endpoint.split('.')[0]}_{name}")
            if schemes:  # "" is anonymous access: some requests of the route need no credential
                operation["security"] = [{scheme: []} if scheme else {} for scheme in schemes]
                operation["responses"]["401"] = _json(ref("Error"), ERROR_TEXT[401])
            paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "SmartShop API",
            "version": version,
            "description": "Demo e-commerce API of SmartShop Stack.",
        },
        "paths": paths,
        "components": {"schemas": SCHEMAS, "securitySchemes": SECURITY_SCHEMES},
    }
