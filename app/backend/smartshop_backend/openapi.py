"""The OpenAPI 3 document of the API, served at /api/openapi.json (a test fuzzes the live app with it)."""

from __future__ import annotations

from typing import Any

INT_ID = {"type": "integer", "minimum": 0, "maximum": 9223372036854775807}
TIMESTAMP = {"type": "string", "format": "date-time"}
NULLABLE_TIMESTAMP = {"type": ["string", "null"], "format": "date-time"}
STATUSES = ["pending", "validated", "processing", "paid", "payment_failed", "cancelled"]
LEVELS = ["low", "medium", "high"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "Malformed request (body is not JSON, bad query parameter)",
        404: "No such resource",
        409: "The order's state does not allow this",
        413: "Body too large",
        415: "Body is not JSON",
        422: "A field is wrong; `field` names it",
        503: "Database unavailable",
    }
    return {str(c): _json(_ref("Error"), text[c]) for c in (*codes, 503)}


def _path_id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": INT_ID}


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def _body(schema_name: str) -> dict[str, Any]:
    return {"required": False, "content": {"application/json": {"schema": _ref(schema_name)}}}


PAGING = [
    _query("limit", {"type": "integer", "minimum": 1, "maximum": 500}),
    _query("offset", {"type": "integer", "minimum": 0, "maximum": 10_000_000}),
]
BODY_ERRORS = (400, 413, 415, 422)


def document(version: str) -> dict[str, Any]:
    user = {
        "type": "object",
        "required": ["id", "username", "created_at", "logged_in"],
        "properties": {
            "id": {"type": "integer"},
            "username": {"type": "string"},
            "email": {"type": ["string", "null"]},
            "created_at": TIMESTAMP,
            "last_login_at": NULLABLE_TIMESTAMP,
            "logged_in": {"type": "boolean"},
        },
    }
    order = {
        "type": "object",
        "required": ["id", "user_id", "product", "amount", "status"],
        "properties": {
            "id": {"type": "integer"},
            "order_id": {"type": "integer"},
            "user_id": {"type": "integer"},
            "product_id": {"type": "integer"},
            "product": {"type": "string"},
            "quantity": {"type": "integer"},
            "amount": {"type": "number"},
            "status": {"type": "string", "enum": STATUSES},
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
        },
    }
    payment = {
        "type": "object",
        "required": ["payment_id", "order_id", "status", "amount"],
        "properties": {
            "payment_id": {"type": "integer"},
            "order_id": {"type": "integer"},
            "status": {"type": "string", "enum": ["success", "failed"]},
            "requested_status": {"type": ["string", "null"], "enum": ["success", "failed", None]},
            "amount": {"type": "number"},
            "order_status": {"type": "string", "enum": STATUSES},
        },
    }
    counts_by_level = {
        "type": "object",
        "required": LEVELS,
        "properties": {level: {"type": "integer"} for level in LEVELS},
    }
    stats = {
        "type": "object",
        "required": [
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
        "properties": {
            "total_users": {"type": "integer"},
            "active_users_today": {"type": "integer"},
            "orders_last_10min": {"type": "integer"},
            "orders_last_60min": {"type": "integer"},
            "pending_orders": {"type": "integer"},
            "payments_last_hour": {
                "type": "object",
                "required": ["success", "failed"],
                "properties": {"success": {"type": "integer"}, "failed": {"type": "integer"}},
            },
            "total_success_payments": {"type": "integer"},
            "total_failed_payments": {"type": "integer"},
            "activities_last_hour": counts_by_level,
            "total_orders": {"type": "integer"},
            "orders_by_status": {"type": "object", "additionalProperties": {"type": "integer"}},
            "revenue_total": {"type": "number"},
            "generated_at": TIMESTAMP,
        },
    }
    entry = {
        "type": "object",
        "required": ["id", "created_at", "level", "message", "text"],
        "properties": {
            "id": {"type": "integer"},
            "created_at": TIMESTAMP,
            "level": {"type": "string", "enum": LEVELS},
            "message": {"type": "string"},
            "text": {"type": "string"},
        },
    }
    schemas = {
        "Error": {
            "type": "object",
            "required": ["error", "status"],
            "properties": {"error": {"type": "string"}, "status": {"type": "integer"}, "field": {"type": "string"}},
        },
        "User": user,
        "Order": order,
        "Payment": payment,
        "Stats": stats,
        "ActivityEntry": entry,
        "UserCreate": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "username": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{1,63}$"},
                "email": {"type": "string", "format": "email", "maxLength": 254},
            },
        },
        "OrderCreate": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "user_id": {"type": "integer", "minimum": 1},
                "product_id": {"type": "integer", "minimum": 1},
                "quantity": {"type": "integer", "minimum": 1, "maximum": 100},
            },
        },
        "OrderCreateForUser": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "product_id": {"type": "integer", "minimum": 1},
                "quantity": {"type": "integer", "minimum": 1, "maximum": 100},
            },
        },
        "PaymentRequest": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"status": {"type": "string", "enum": ["success", "failed"]}},
        },
        "CustomError": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "message": {"type": "string", "maxLength": 200},
                "level": {"type": "string", "enum": LEVELS},
                "code": {"type": "integer", "minimum": 400, "maximum": 499},
            },
        },
        "Empty": {"type": "object", "additionalProperties": False, "properties": {}},
    }

    def transition(action: str, summary: str) -> dict[str, Any]:
        return {
            "post": {
                "operationId": f"{action}Order",
                "summary": summary,
                "tags": ["orders"],
                "parameters": [_path_id("order_id")],
                "requestBody": _body("Empty"),
                "responses": {"200": _json(order, "The order in its new state"), **_errors(404, 409, *BODY_ERRORS)},
            }
        }

    paths: dict[str, Any] = {
        "/": {
            "get": {
                "operationId": "root",
                "summary": "The seed's status answer",
                "tags": ["service"],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["message", "status", "mysql_status"],
                            "properties": {
                                "message": {"type": "string"},
                                "status": {"type": "string"},
                                "mysql_status": {"type": "string", "enum": ["connected", "disconnected"]},
                            },
                        },
                        "API status",
                    )
                },
            }
        },
        "/api/health": {
            "get": {
                "operationId": "health",
                "summary": "Readiness, including the database",
                "tags": ["service"],
                "responses": {"200": _json({"type": "object"}, "Ready"), **_errors()},
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "summary": "Prometheus exposition",
                "tags": ["service"],
                "responses": {
                    "200": {"description": "Metrics", "content": {"text/plain": {"schema": {"type": "string"}}}}
                },
            }
        },
        "/api/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "tags": ["service"],
                "responses": {"200": _json({"type": "object"}, "OpenAPI document")},
            }
        },
        "/api/users/create": {
            "post": {
                "operationId": "createUser",
                "summary": "Create a user (a random realistic name when none is given)",
                "tags": ["users"],
                "requestBody": _body("UserCreate"),
                "responses": {"201": _json(user, "Created"), **_errors(409, *BODY_ERRORS)},
            }
        },
        "/api/users": {
            "get": {
                "operationId": "listUsers",
                "summary": "Users, newest first",
                "tags": ["users"],
                "parameters": PAGING,
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["users"],
                            "properties": {"users": {"type": "array", "items": user}},
                        },
                        "Users",
                    ),
                    **_errors(400),
                },
            }
        },
        "/api/users/{user_id}": {
            "get": {
                "operationId": "getUser",
                "summary": "One user",
                "tags": ["users"],
                "parameters": [_path_id("user_id")],
                "responses": {"200": _json(user, "The user"), **_errors(404)},
            }
        },
        "/api/users/login/{user_id}": {
            "post": {
                "operationId": "login",
                "summary": "Log a user in",
                "tags": ["users"],
                "parameters": [_path_id("user_id")],
                "requestBody": _body("Empty"),
                "responses": {"200": _json(user, "Logged in"), **_errors(404, *BODY_ERRORS)},
            }
        },
        "/api/users/logout/{user_id}": {
            "post": {
                "operationId": "logout",
                "summary": "Log a user out",
                "tags": ["users"],
                "parameters": [_path_id("user_id")],
                "requestBody": _body("Empty"),
                "responses": {"200": _json(user, "Logged out"), **_errors(404, *BODY_ERRORS)},
            }
        },
        "/api/orders/create": {
            "post": {
                "operationId": "createOrder",
                "summary": "Create an order (random user and product when not given)",
                "tags": ["orders"],
                "requestBody": _body("OrderCreate"),
                "responses": {"201": _json(order, "Created"), **_errors(404, 409, *BODY_ERRORS)},
            }
        },
        "/api/orders/create/{user_id}": {
            "post": {
                "operationId": "createOrderForUser",
                "summary": "Create an order for a user",
                "tags": ["orders"],
                "parameters": [_path_id("user_id")],
                "requestBody": _body("OrderCreateForUser"),
                "responses": {"201": _json(order, "Created"), **_errors(404, 409, *BODY_ERRORS)},
            }
        },
        "/api/orders": {
            "get": {
                "operationId": "listOrders",
                "summary": "Orders, newest first",
                "tags": ["orders"],
                "parameters": [
                    _query("status", {"type": "string", "enum": STATUSES}),
                    _query("user_id", {"type": "integer", "minimum": 0}),
                    *PAGING,
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["orders"],
                            "properties": {"orders": {"type": "array", "items": order}},
                        },
                        "Orders",
                    ),
                    **_errors(400),
                },
            }
        },
        "/api/orders/{order_id}": {
            "get": {
                "operationId": "getOrder",
                "summary": "One order",
                "tags": ["orders"],
                "parameters": [_path_id("order_id")],
                "responses": {"200": _json(order, "The order"), **_errors(404)},
            }
        },
        "/api/orders/validate/{order_id}": transition("validate", "pending -> validated"),
        "/api/orders/process/{order_id}": transition("process", "validated or payment_failed -> processing"),
        "/api/orders/cancel/{order_id}": transition("cancel", "any state before paid -> cancelled"),
        "/api/payments/process/{order_id}": {
            "post": {
                "operationId": "pay",
                "summary": "Pay an order in processing",
                "tags": ["payments"],
                "parameters": [
                    _path_id("order_id"),
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,128}$"},
                    },
                ],
                "requestBody": _body("PaymentRequest"),
                "responses": {"201": _json(payment, "Payment made"), **_errors(404, 409, *BODY_ERRORS)},
            }
        },
        "/api/payments": {
            "get": {
                "operationId": "listPayments",
                "summary": "Payments, newest first",
                "tags": ["payments"],
                "parameters": [_query("order_id", {"type": "integer", "minimum": 0}), PAGING[0]],
                "responses": {
                    "200": _json(
                        {"type": "object", "required": ["payments"], "properties": {"payments": {"type": "array"}}},
                        "Payments",
                    ),
                    **_errors(400),
                },
            }
        },
        "/api/errors/404": {
            "get": {
                "operationId": "simulate404",
                "summary": "A 404 on purpose",
                "tags": ["errors"],
                "responses": _errors(404),
            }
        },
        "/api/errors/500": {
            "get": {
                "operationId": "simulate500",
                "summary": "A 500 on purpose (the only one)",
                "tags": ["errors"],
                "responses": {"500": _json(_ref("Error"), "Simulated server error"), **_errors()},
            }
        },
        "/api/errors/custom": {
            "post": {
                "operationId": "simulateCustom",
                "summary": "A 4xx of your choice on purpose",
                "tags": ["errors"],
                "requestBody": _body("CustomError"),
                "responses": {"4XX": _json(_ref("Error"), "The error asked for"), **_errors()},
            }
        },
        "/api/stats": {
            "get": {
                "operationId": "stats",
                "summary": "Shop statistics (the seed's keys and more)",
                "tags": ["stats"],
                "responses": {"200": _json(stats, "Statistics"), **_errors()},
            }
        },
        "/api/products": {
            "get": {
                "operationId": "products",
                "summary": "The catalog",
                "tags": ["stats"],
                "responses": {
                    "200": _json(
                        {"type": "object", "required": ["products"], "properties": {"products": {"type": "array"}}},
                        "Products",
                    ),
                    **_errors(),
                },
            }
        },
    }
    activity_op = {
        "summary": "Recent activity log entries, newest first",
        "tags": ["stats"],
        "parameters": [
            _query("limit", {"type": "integer", "minimum": 1, "maximum": 500}),
            _query("level", {"type": "string", "enum": LEVELS}),
        ],
        "responses": {
            "200": _json(
                {
                    "type": "object",
                    "required": ["entries"],
                    "properties": {"entries": {"type": "array", "items": entry}},
                },
                "Entries",
            ),
            **_errors(400),
        },
    }
    paths["/api/activity"] = {"get": {"operationId": "activity", **activity_op}}
    paths["/api/logs"] = {"get": {"operationId": "logs", **activity_op}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "SmartShop API",
            "version": version,
            "description": "Demo e-commerce API of SmartShop Stack.",
        },
        "paths": paths,
        "components": {"schemas": schemas},
    }
