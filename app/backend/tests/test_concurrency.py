"""Transitions are atomic under concurrency: real threads, a real MariaDB, row locks."""

from __future__ import annotations

import threading
import uuid

from .test_api import new_order, new_user, stats, to_processing


def hammer(app, n: int, method: str, url: str, **kwargs) -> list:
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def worker(i: int) -> None:
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {app.config['SMARTSHOP_SETTINGS'].operator_token}"
        barrier.wait()
        response = getattr(client, method)(url, **kwargs)
        results[i] = (response.status_code, response.get_json())

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_ten_concurrent_payments_make_exactly_one(app, client):
    order = new_order(client, new_user(client)["id"])
    to_processing(client, order["id"])
    before = stats(client)
    results = hammer(app, 10, "post", f"/api/payments/process/{order['id']}", json={"status": "success"})
    codes = sorted(code for code, _ in results)
    assert codes == [201] + [409] * 9, results
    payments = client.get(f"/api/payments?order_id={order['id']}").get_json()["payments"]
    assert len(payments) == 1
    assert stats(client)["total_success_payments"] == before["total_success_payments"] + 1


def test_concurrent_retries_with_one_idempotency_key_pay_once(app, client):
    order = new_order(client, new_user(client)["id"])
    to_processing(client, order["id"])
    results = hammer(
        app,
        8,
        "post",
        f"/api/payments/process/{order['id']}",
        json={"status": "failed"},
        headers={"Idempotency-Key": f"retry-{order['id']}"},
    )
    assert {code for code, _ in results} == {201}
    assert len({body["payment_id"] for _, body in results}) == 1
    assert len(client.get(f"/api/payments?order_id={order['id']}").get_json()["payments"]) == 1


def test_concurrent_validate_and_cancel_leave_a_consistent_order(app, client):
    order = new_order(client, new_user(client)["id"])
    before = stats(client)["orders_by_status"]
    results = hammer(app, 6, "post", f"/api/orders/cancel/{order['id']}")
    assert sorted(code for code, _ in results) == [200] + [409] * 5
    after = stats(client)["orders_by_status"]
    assert after["cancelled"] == before["cancelled"] + 1
    assert after["pending"] == before["pending"] - 1


def test_retries_of_a_creation_with_one_idempotency_key_create_once(app, client):
    """POST /api/users/create and /api/orders/create/<user> take Idempotency-Key like payments: the
    retries a client makes after a timeout (here all at once) create one user and one order."""
    before = stats(client)
    users = hammer(app, 6, "post", "/api/users/create", json={}, headers={"Idempotency-Key": f"u-{uuid.uuid4()}"})
    assert {code for code, _ in users} == {201}, users
    assert len({body["id"] for _, body in users}) == 1
    user_id = users[0][1]["id"]
    orders = hammer(
        app, 6, "post", f"/api/orders/create/{user_id}", json={}, headers={"Idempotency-Key": f"o-{user_id}"}
    )
    assert {code for code, _ in orders} == {201}, orders
    assert len({body["id"] for _, body in orders}) == 1
    after = stats(client)
    assert after["total_users"] == before["total_users"] + 1
    assert after["total_orders"] == before["total_orders"] + 1
    # the same key on another request is refused, and a new key is a new order
    other = client.post("/api/orders/create", json={"user_id": user_id}, headers={"Idempotency-Key": f"o-{user_id}"})
    assert other.status_code == 422 and other.get_json()["field"] == "Idempotency-Key"
    again = client.post(f"/api/orders/create/{user_id}", json={}, headers={"Idempotency-Key": f"o2-{user_id}"})
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "false"
    replay = client.post(f"/api/orders/create/{user_id}", json={}, headers={"Idempotency-Key": f"o2-{user_id}"})
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.get_json()["id"] == again.get_json()["id"]
