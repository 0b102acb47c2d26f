"""The API against a real MariaDB: the seed's contract, the state machine, clear errors."""

from __future__ import annotations

import re

import pytest

SEED_STATS_KEYS = {
    "total_users",
    "active_users_today",
    "orders_last_10min",
    "orders_last_60min",
    "pending_orders",
    "payments_last_hour",
    "total_success_payments",
    "total_failed_payments",
    "activities_last_hour",
}


def stats(client) -> dict:
    r = client.get("/api/stats")
    assert r.status_code == 200
    return r.get_json()


def new_user(client, **body) -> dict:
    r = client.post("/api/users/create", json=body) if body else client.post("/api/users/create")
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def new_order(client, user_id: int, product: str = "Montre connectée") -> dict:
    products = {p["name"]: p["id"] for p in client.get("/api/products").get_json()["products"]}
    r = client.post(f"/api/orders/create/{user_id}", json={"product_id": products[product]})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def to_processing(client, order_id: int) -> None:
    for action in ("validate", "process"):
        r = client.post(f"/api/orders/{action}/{order_id}")
        assert r.status_code == 200, r.get_json()


def activity_texts(client, limit: int = 50) -> list[str]:
    return [e["text"] for e in client.get(f"/api/activity?limit={limit}").get_json()["entries"]]


# -- service -----------------------------------------------------------------------------


def test_root_answers_the_seed_json(client):
    r = client.get("/")
    assert r.status_code == 200
    body = r.get_json()
    assert body["message"] == "SmartShop Simulation API"
    assert body["status"] == "running"
    assert body["mysql_status"] == "connected"
    assert "Access-Control-Allow-Origin" not in r.headers


def test_health_includes_the_database(client):
    r = client.get("/api/health")
    assert r.status_code == 200
    assert r.get_json() == {"status": "ok", "database": "ok"}


def test_openapi_document_lists_the_contract(client):
    doc = client.get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    for path in (
        "/api/users/create",
        "/api/orders/create/{user_id}",
        "/api/payments/process/{order_id}",
        "/api/errors/custom",
        "/api/stats",
    ):
        assert path in doc["paths"]


# -- users -------------------------------------------------------------------------------


def test_create_user_without_body_gets_a_realistic_name(client):
    before = stats(client)["total_users"]
    user = new_user(client)
    assert re.fullmatch(r"[A-Z][a-z]+\d{1,3}", user["username"])
    assert user["message"] == f"User created: {user['username']}"
    assert stats(client)["total_users"] == before + 1
    assert f"User created: {user['username']} (low)" in activity_texts(client)


def test_create_user_with_a_name_then_duplicate_is_409(client):
    user = new_user(client, username="alice_test", email="alice@example.org")
    assert (user["username"], user["email"]) == ("alice_test", "alice@example.org")
    r = client.post("/api/users/create", json={"username": "alice_test"})
    assert r.status_code == 409
    assert "taken" in r.get_json()["error"]


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({"username": 12}, 422, "username"),
        ({"username": "a"}, 422, "username"),
        ({"email": "not-an-email"}, 422, "email"),
        ({"nickname": "x"}, 422, "nickname"),
    ],
)
def test_create_user_bad_fields_name_the_field(client, payload, status, field):
    r = client.post("/api/users/create", json=payload)
    assert r.status_code == status
    assert r.get_json()["field"] == field
    assert field in r.get_json()["error"]


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        ("{not json", "application/json", 400),
        ("[1, 2]", "application/json", 400),
        ("username=x", "application/x-www-form-urlencoded", 415),
    ],
)
def test_malformed_bodies(client, data, content_type, status):
    before = stats(client)["total_users"]
    r = client.post("/api/users/create", data=data, content_type=content_type)
    assert r.status_code == status
    assert r.get_json()["error"]
    assert stats(client)["total_users"] == before  # nothing written


def test_body_over_the_limit_is_413(client, app):
    limit = app.config["MAX_CONTENT_LENGTH"]
    r = client.post("/api/users/create", data="x" * (limit + 1), content_type="application/json")
    assert r.status_code == 413
    assert str(limit) in r.get_json()["error"]


def test_login_logout_and_active_users_today(client):
    user = new_user(client)
    before = stats(client)["active_users_today"]
    r = client.post(f"/api/users/login/{user['id']}")
    assert r.status_code == 200 and r.get_json()["logged_in"] is True
    client.post(f"/api/users/login/{user['id']}")  # same user, same day: counted once
    assert stats(client)["active_users_today"] == before + 1
    r = client.post(f"/api/users/logout/{user['id']}")
    assert r.status_code == 200 and r.get_json()["logged_in"] is False
    assert client.get(f"/api/users/{user['id']}").get_json()["last_login_at"]


def test_unknown_user_is_404(client):
    for r in (
        client.get("/api/users/999999999"),
        client.post("/api/users/login/999999999"),
        client.post("/api/orders/create/999999999"),
    ):
        assert r.status_code == 404
        assert "not found" in r.get_json()["error"]


def test_user_listing_and_paging(client):
    new_user(client)
    r = client.get("/api/users?limit=2")
    assert r.status_code == 200 and len(r.get_json()["users"]) <= 2
    assert client.get("/api/users?limit=0").status_code == 400
    assert client.get("/api/users?limit=abc").status_code == 400


# -- orders ------------------------------------------------------------------------------


def test_catalog_has_the_seed_products(client):
    products = {p["name"]: p["price"] for p in client.get("/api/products").get_json()["products"]}
    assert products["Ecouteurs sans fil"] == 89.99
    assert products["Montre connectée"] == 199.99
    assert 39.99 in products.values()


def test_order_lifecycle_to_paid(client):
    user = new_user(client)
    before = stats(client)
    order = new_order(client, user["id"])
    assert (order["status"], order["amount"], order["product"]) == ("pending", 199.99, "Montre connectée")
    # with each order, the actions its status allows (the console shows exactly those)
    assert order["actions"] == ["validate", "cancel"]
    assert client.get(f"/api/orders/{order['id']}").get_json()["actions"] == ["validate", "cancel"]
    mid = stats(client)
    assert mid["pending_orders"] == before["pending_orders"] + 1
    assert mid["orders_last_10min"] == before["orders_last_10min"] + 1
    assert mid["orders_last_60min"] == before["orders_last_60min"] + 1
    to_processing(client, order["id"])
    r = client.post(f"/api/payments/process/{order['id']}", json={"status": "success"})
    assert r.status_code == 201
    payment = r.get_json()
    assert (payment["status"], payment["order_status"], payment["amount"]) == ("success", "paid", 199.99)
    assert payment["order_actions"] == []
    assert client.get(f"/api/orders/{order['id']}").get_json()["actions"] == []
    after = stats(client)
    assert after["pending_orders"] == before["pending_orders"]
    assert after["total_success_payments"] == before["total_success_payments"] + 1
    assert after["payments_last_hour"]["success"] == before["payments_last_hour"]["success"] + 1
    assert f"Payment success for order {order['id']} - 199.99€ (low)" in activity_texts(client)


def test_requested_failure_is_recorded_as_failure(client):
    """The seed recorded a payment asked as 'failed' as a success."""
    user = new_user(client)
    order = new_order(client, user["id"], "Ecouteurs sans fil")
    to_processing(client, order["id"])
    before = stats(client)
    payment = client.post(f"/api/payments/process/{order['id']}", json={"status": "failed"}).get_json()
    assert (payment["status"], payment["order_status"]) == ("failed", "payment_failed")
    after = stats(client)
    assert after["total_failed_payments"] == before["total_failed_payments"] + 1
    assert after["total_success_payments"] == before["total_success_payments"]
    assert f"Payment failed for order {order['id']} - 89.99€ (medium)" in activity_texts(client)
    listed = client.get(f"/api/payments?order_id={order['id']}").get_json()["payments"]
    assert [p["status"] for p in listed] == ["failed"]  # one payment, recorded once
    # retry: back to processing, then pay again
    assert client.post(f"/api/orders/process/{order['id']}").status_code == 200
    again = client.post(f"/api/payments/process/{order['id']}", json={"status": "success"}).get_json()
    assert again["order_status"] == "paid"
    assert again["payment_id"] != payment["payment_id"]


@pytest.mark.parametrize(
    ("steps", "action", "state"),
    [
        ([], "process", "pending"),
        (["validate"], "validate", "validated"),
        (["validate", "process", "pay"], "cancel", "paid"),
        (["cancel"], "validate", "cancelled"),
        (["cancel"], "pay", "cancelled"),
        ([], "pay", "pending"),
    ],
)
def test_invalid_transitions_are_409_with_a_message(client, steps, action, state):
    order = new_order(client, new_user(client)["id"])
    for step in steps:
        url = f"/api/payments/process/{order['id']}" if step == "pay" else f"/api/orders/{step}/{order['id']}"
        assert client.post(url, json={"status": "success"} if step == "pay" else None).status_code in (200, 201)
    url = f"/api/payments/process/{order['id']}" if action == "pay" else f"/api/orders/{action}/{order['id']}"
    r = client.post(url)
    assert r.status_code == 409
    body = r.get_json()
    assert body["order_status"] == state
    assert state in body["error"]
    assert action not in body["actions"]  # what the order does allow, for the client to offer


def test_cancel_before_paid(client):
    order = new_order(client, new_user(client)["id"])
    to_processing(client, order["id"])
    before = stats(client)
    r = client.post(f"/api/orders/cancel/{order['id']}")
    assert r.status_code == 200 and r.get_json()["status"] == "cancelled"
    assert stats(client)["orders_by_status"]["cancelled"] == before["orders_by_status"]["cancelled"] + 1


def test_order_without_user_picks_an_existing_one(client):
    new_user(client)
    r = client.post("/api/orders/create")
    assert r.status_code == 201
    order = r.get_json()
    assert client.get(f"/api/users/{order['user_id']}").status_code == 200


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"product_id": "one"}, "product_id"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": True}, "quantity"),
        ({"product_id": 99999}, "product_id"),
    ],
)
def test_order_bad_fields(client, payload, field):
    user = new_user(client)
    r = client.post(f"/api/orders/create/{user['id']}", json=payload)
    assert r.status_code == 422
    assert r.get_json()["field"] == field


def test_unknown_order_is_404(client):
    for r in (
        client.get("/api/orders/999999999"),
        client.post("/api/orders/validate/999999999"),
        client.post("/api/payments/process/999999999"),
    ):
        assert r.status_code == 404


def test_payment_bad_status_is_422(client):
    order = new_order(client, new_user(client)["id"])
    to_processing(client, order["id"])
    r = client.post(f"/api/payments/process/{order['id']}", json={"status": "maybe"})
    assert r.status_code == 422 and r.get_json()["field"] == "status"
    assert client.get(f"/api/orders/{order['id']}").get_json()["status"] == "processing"  # nothing lost


# -- idempotency -------------------------------------------------------------------------


def test_idempotency_key_replays_the_first_answer(client):
    order = new_order(client, new_user(client)["id"])
    to_processing(client, order["id"])
    headers = {"Idempotency-Key": f"pay-{order['id']}-abc"}
    first = client.post(f"/api/payments/process/{order['id']}", json={"status": "success"}, headers=headers)
    before = stats(client)
    second = client.post(f"/api/payments/process/{order['id']}", json={"status": "success"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert stats(client)["total_success_payments"] == before["total_success_payments"]
    assert len(client.get(f"/api/payments?order_id={order['id']}").get_json()["payments"]) == 1
    other = client.post(f"/api/payments/process/{order['id']}", json={"status": "failed"}, headers=headers)
    assert other.status_code == 422 and other.get_json()["field"] == "Idempotency-Key"


def test_bad_idempotency_key_is_400(client):
    r = client.post("/api/payments/process/1", headers={"Idempotency-Key": "x" * 200})
    assert r.status_code == 400


# -- stats, activity, errors ---------------------------------------------------------------


def test_stats_has_every_seed_key(client):
    body = stats(client)
    assert set(body) >= SEED_STATS_KEYS
    assert set(body["payments_last_hour"]) == {"success", "failed"}
    assert set(body["activities_last_hour"]) == {"low", "medium", "high"}


def test_activity_levels_and_filter(client):
    client.get("/api/errors/500")
    entries = client.get("/api/activity?level=high&limit=5").get_json()["entries"]
    assert entries and all(e["level"] == "high" for e in entries)
    assert client.get("/api/activity?level=urgent").status_code == 400
    assert client.get("/api/logs?limit=1").status_code == 200


def test_simulated_errors(client):
    before = stats(client)["activities_last_hour"]
    r404, r500 = client.get("/api/errors/404"), client.get("/api/errors/500")
    assert (r404.status_code, r500.status_code) == (404, 500)
    assert r500.get_json()["simulated"] is True
    custom = client.post("/api/errors/custom", json={"code": 418, "message": "teapot", "level": "medium"})
    assert custom.status_code == 418 and custom.get_json()["error"] == "teapot"
    assert client.post("/api/errors/custom").status_code == 400
    assert client.post("/api/errors/custom", json={"code": 500}).status_code == 422
    after = stats(client)["activities_last_hour"]
    assert after["high"] >= before["high"] + 2
    assert after["medium"] >= before["medium"] + 2


def test_unknown_route_and_method_are_json(client):
    r = client.get("/api/nothing-here")
    assert r.status_code == 404 and r.get_json()["error"]
    r = client.delete("/api/stats")
    assert r.status_code == 405 and r.get_json()["error"]
    # the methods the resource has, as RFC 9110 asks of a 405
    assert set(r.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    r = client.get("/api/orders/create")
    assert r.status_code == 405 and set(r.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}


def test_options_names_the_methods_with_no_body(client):
    r = client.options("/api/orders/create")
    assert r.status_code == 204 and r.data == b""
    assert set(r.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}
    assert "Content-Type" not in r.headers  # Flask's default said text/html
    assert client.options("/api/nothing-here").status_code == 404


def test_metrics_use_route_templates(client):
    user = new_user(client)
    client.post(f"/api/users/login/{user['id']}")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'route="/api/users/login/<int:user_id>"' in text
    assert f"/api/users/login/{user['id']}" not in text
    assert "smartshop_http_request_duration_seconds_bucket" in text
    assert re.search(r"^smartshop_users_created_total \d", text, re.M)
    assert 'smartshop_payments_total{result="failed"}' in text
    assert "smartshop_build_info{" in text
    assert re.search(r"^smartshop_shop_users \d", text, re.M)
    assert "smartshop_database_up 1.0" in text


def test_migrations_are_idempotent_and_recorded(migrated, mariadb):
    from smartshop_backend.migrate import available, migrate

    assert migrate(migrated) == []  # the session already applied them: nothing new
    from .conftest import root_connection

    conn = root_connection(mariadb, "smartshop")
    with conn.cursor() as cur:
        cur.execute("SELECT version FROM schema_migrations ORDER BY version")
        assert [row[0] for row in cur.fetchall()] == [m.version for m in available()]
    conn.close()


# -- who may call what (issue "Secure on a real network") -----------------------------------

OPERATOR_ROUTES = [
    ("get", "/api/errors/404"),
    ("get", "/api/errors/500"),
    ("post", "/api/errors/custom"),
    ("get", "/api/users"),
    ("get", "/metrics"),
]


@pytest.mark.parametrize(("method", "url"), OPERATOR_ROUTES)
def test_operator_routes_refuse_anyone_without_the_token_and_do_nothing(anonymous, client, method, url):
    before = stats(client)["activities_last_hour"]
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": "Basic !!"}):
        r = getattr(anonymous, method)(url, headers=headers)
        assert r.status_code == 401, (url, headers, r.status_code)
        assert "token" in r.get_json()["error"] or "credentials" in r.get_json()["error"]
        assert r.headers["WWW-Authenticate"].split()[0] in ("Bearer", "Basic")
    assert stats(client)["activities_last_hour"] == before  # no error was logged, nobody paged


def test_metrics_take_the_scrape_credentials(anonymous):
    from .conftest import SCRAPE_PASSWORD

    assert anonymous.get("/metrics", auth=("prometheus", SCRAPE_PASSWORD)).status_code == 200
    assert anonymous.get("/metrics", auth=("prometheus", SCRAPE_PASSWORD + "x")).status_code == 401
    assert anonymous.get("/metrics", auth=("admin", SCRAPE_PASSWORD)).status_code == 401


def test_the_shop_stays_public_and_a_requested_payment_outcome_is_the_operators(anonymous):
    user = new_user(anonymous)
    assert anonymous.post(f"/api/users/login/{user['id']}").status_code == 200
    order = new_order(anonymous, user["id"])
    to_processing(anonymous, order["id"])
    forced = anonymous.post(f"/api/payments/process/{order['id']}", json={"status": "success"})
    assert forced.status_code == 401 and "operator token" in forced.get_json()["error"]
    paid = anonymous.post(f"/api/payments/process/{order['id']}")
    assert paid.status_code == 201 and paid.get_json()["status"] in ("success", "failed")


def test_the_document_says_which_routes_need_which_credential(anonymous):
    doc = anonymous.get("/api/openapi.json").get_json()
    assert set(doc["components"]["securitySchemes"]) == {"operatorToken", "scrapeBasic"}
    assert doc["paths"]["/api/errors/500"]["get"]["security"] == [{"operatorToken": []}]
    assert doc["paths"]["/metrics"]["get"]["security"] == [{"scrapeBasic": []}, {"operatorToken": []}]
    assert doc["paths"]["/api/payments/process/{order_id}"]["post"]["security"] == [{}, {"operatorToken": []}]
    assert "security" not in doc["paths"]["/api/users/create"]["post"]


# -- hostile input ----------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [1_000, 10_000])
def test_deeply_nested_json_is_a_400_or_413_and_changes_nothing(client, depth):
    before = stats(client)["total_users"]
    r = client.post("/api/users/create", data="[" * depth + "]" * depth, content_type="application/json")
    assert r.status_code in (400, 413), r.status_code
    assert "Traceback" not in r.get_data(as_text=True)
    assert stats(client)["total_users"] == before


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/errors/custom", '{"message": "a\\ud800b"}'),
        ("/api/errors/custom", '{"message": "\\udfff", "code": 418}'),
        ("/api/users/create", '{"username": "\\ud83d"}'),
        ("/api/users/create", '{"\\ud800": 1}'),
    ],
)
def test_a_lone_surrogate_escape_is_a_400_and_logs_nothing(client, url, body):
    """JSON's \\ud800 without its pair decodes to a code point UTF-8 cannot hold: the log row
    of /api/errors/custom failed to encode and the client got a 500."""
    before = activity_texts(client)
    users = stats(client)["total_users"]
    r = client.post(url, data=body, content_type="application/json")
    assert r.status_code == 400, (r.status_code, r.get_data(as_text=True))
    assert r.get_json()["error"].startswith("body is not valid Unicode")
    assert not re.search(r"\\ud[89a-f]", r.get_data(as_text=True), re.IGNORECASE)  # nothing echoed back
    assert activity_texts(client) == before
    assert stats(client)["total_users"] == users
    # a valid pair (an emoji) is still welcome where text is free
    ok = client.post(
        "/api/errors/custom", data='{"message": "\\ud83d\\ude00", "code": 418}', content_type="application/json"
    )
    assert ok.status_code == 418 and ok.get_json()["error"] == "\U0001f600"


@pytest.mark.parametrize(
    "url", ["/api/users/" + "9" * 25, "/api/orders/" + "1" * 20, "/api/users/" + "9" * 5000, "/api/users/-1"]
)
def test_ids_outside_the_documented_range_are_404_never_5xx(client, url):
    assert client.get(url).status_code == 404


def test_an_offset_beyond_its_cap_is_a_400(client):
    r = client.get("/api/users?offset=100000000000")
    assert r.status_code == 400 and r.get_json()["field"] == "offset"


def test_an_unknown_method_is_a_405_and_adds_no_metric_series(client):
    r = client.open("/api/stats", method="PROPFIND")
    assert r.status_code == 405
    text = client.get("/metrics").get_data(as_text=True)
    assert 'method="PROPFIND"' not in text
    assert 'method="other"' in text


@pytest.mark.parametrize(
    "payload",
    [
        {"username": "bob\u202egnp"},  # right-to-left override: displays as another name
        {"email": "eve\u200b@example.org"},  # zero-width space
        {"email": "mallory@example.org\n[high] forged log line"},
        {"email": "x\x00y@example.org"},
    ],
)
def test_names_and_emails_with_control_or_direction_characters_are_refused(client, payload):
    r = client.post("/api/users/create", json=payload)
    assert r.status_code == 422
    assert r.get_json()["field"] == next(iter(payload))
