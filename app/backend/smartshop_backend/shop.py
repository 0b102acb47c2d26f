"""The shop's service layer: users, orders, payments and their idempotency keys, every SQL
statement of the application but the activity log's and the counters'. Each function runs inside
the caller's transaction (a cursor) and returns plain data; the API layer turns it into JSON.

The rules (statuses, the actions between them) are domain.py's. A payment is taken only from a
status that allows "pay", under a row lock on the order: of concurrent payments of one order
exactly one is made, the others get 409. The database holds the same rule on its own (a unique
index over the successful payments' order ids), and its foreign keys tie payments to orders and
orders to users and products.
"""

from __future__ import annotations

import json
import random
from collections import Counter as CounterDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import MySQLdb

from . import activity
from .counters import Counters
from .domain import ACTIONS, INITIAL_STATUS, PAYMENT_LEVEL, PAYMENT_RESULT, allowed_actions
from .errors import APIError, Conflict, Invalid, NotFound
from .names import random_username

DUPLICATE_KEY = 1062
FOREIGN_KEY_MISSING = 1452
# An order with its product's name, as the API returns it (lookups and listings).
ORDER_SELECT = (
    "SELECT o.id, o.user_id, o.product_id, p.name AS product, o.quantity, o.amount, o.status,"
    " o.created_at, o.updated_at FROM orders o JOIN products p ON p.id = o.product_id"
)


@dataclass
class Events:
    """What happened in a transaction: counter changes, written once at its end (one statement),
    and what Prometheus counts once it committed."""

    totals: CounterDict = field(default_factory=CounterDict)
    per_minute: CounterDict = field(default_factory=CounterDict)
    per_day: CounterDict = field(default_factory=CounterDict)
    users_created: int = 0
    logins: int = 0
    orders: list[str] = field(default_factory=list)  # statuses entered
    payments: list[str] = field(default_factory=list)  # success / failed
    revenue: Decimal = Decimal("0")
    activity: list[str] = field(default_factory=list)  # levels


class Shop:
    def __init__(self, counters: Counters, payment_success_ratio: float, rng: random.Random | None = None) -> None:
        self.counters = counters
        self.ratio = payment_success_ratio
        self.rng = rng or random.Random()
        self._catalog: dict[int, dict[str, Any]] = {}  # the products table rarely changes: cached per process

    # -- activity -------------------------------------------------------------------------
    def _log(self, cur: Any, events: Events, level: str, message: str) -> None:
        activity.record(cur, level, message)
        events.per_minute[f"activity_{level}"] += 1
        events.activity.append(level)

    def flush(self, cur: Any, events: Events) -> None:
        """Write the transaction's counter changes (call last, inside the transaction)."""
        self.counters.add(cur, events.totals, events.per_minute, events.per_day)

    # -- users ----------------------------------------------------------------------------
    def create_user(self, cur: Any, events: Events, username: str | None, email: str | None) -> dict[str, Any]:
        attempts = 1 if username else 8
        for _ in range(attempts):
            name = username or random_username(self.rng)
            try:
                cur.execute("INSERT INTO users (username, email) VALUES (%s, %s)", (name, email))
                break
            except MySQLdb.IntegrityError as exc:
                if exc.args[0] != DUPLICATE_KEY:
                    raise
                if username:
                    raise Conflict(f"username '{username}' is taken", field="username") from None
        else:
            raise Conflict("could not find a free random username; give one") from None
        user_id = cur.lastrowid
        events.totals["users"] += 1
        self._log(cur, events, "low", f"User created: {name}")
        events.users_created += 1
        return self.get_user(cur, user_id)

    @staticmethod
    def get_user(cur: Any, user_id: int) -> dict[str, Any]:
        cur.execute(
            "SELECT id, username, email, created_at, last_login_at, logged_in FROM users WHERE id = %s", (user_id,)
        )
        row = cur.fetchone()
        if row is None:
            raise NotFound(f"user {user_id} not found")
        return _user_json(row)

    @staticmethod
    def list_users(cur: Any, limit: int, offset: int) -> list[dict[str, Any]]:
        cur.execute(
            "SELECT id, username, email, created_at, last_login_at, logged_in FROM users"
            " ORDER BY id DESC LIMIT %s OFFSET %s",
            (limit, offset),
        )
        return [_user_json(row) for row in cur.fetchall()]

    def login(self, cur: Any, events: Events, user_id: int) -> dict[str, Any]:
        cur.execute("UPDATE users SET logged_in = 1, last_login_at = UTC_TIMESTAMP(3) WHERE id = %s", (user_id,))
        user = self.get_user(cur, user_id)
        cur.execute("INSERT IGNORE INTO daily_active_users (day, user_id) VALUES (UTC_DATE(), %s)", (user_id,))
        if cur.rowcount == 1:
            events.per_day["active_users"] += 1
        self._log(cur, events, "low", f"User logged in: {user['username']}")
        events.logins += 1
        return user

    def logout(self, cur: Any, events: Events, user_id: int) -> dict[str, Any]:
        cur.execute("UPDATE users SET logged_in = 0 WHERE id = %s", (user_id,))
        user = self.get_user(cur, user_id)
        self._log(cur, events, "low", f"User logged out: {user['username']}")
        return user

    # -- catalog --------------------------------------------------------------------------
    def products(self, cur: Any) -> list[dict[str, Any]]:
        cur.execute("SELECT id, name, price FROM products ORDER BY id")
        catalog = [{"id": r["id"], "name": r["name"], "price": float(r["price"])} for r in cur.fetchall()]
        self._catalog = {p["id"]: p for p in catalog}
        return catalog

    def product(self, cur: Any, product_id: int) -> dict[str, Any] | None:
        if product_id not in self._catalog:
            self.products(cur)
        return self._catalog.get(product_id)

    # -- orders ---------------------------------------------------------------------------
    def create_order(
        self, cur: Any, events: Events, user_id: int | None, product_id: int | None, quantity: int
    ) -> dict[str, Any]:
        if user_id is None:
            user_id = self._random_user(cur, events)
        if product_id is None:
            catalog = list(self._catalog.values()) or self.products(cur)
            if not catalog:
                raise Conflict("the catalog is empty; run the migrations")
            product = self.rng.choice(catalog)
        else:
            product = self.product(cur, product_id)
            if product is None:
                raise Invalid(f"product {product_id} does not exist", field="product_id")
        amount = (Decimal(str(product["price"])) * quantity).quantize(Decimal("0.01"))
        now = _now()
        try:
            cur.execute(
                "INSERT INTO orders (user_id, product_id, quantity, amount, created_at, updated_at)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                (user_id, product["id"], quantity, amount, now, now),
            )
        except MySQLdb.IntegrityError as exc:
            if exc.args[0] == FOREIGN_KEY_MISSING:
                raise NotFound(f"user {user_id} not found", field="user_id") from None
            raise
        order_id = cur.lastrowid
        events.totals.update({"orders": 1, **Counters.status_change(None, INITIAL_STATUS)})
        events.per_minute["orders"] += 1
        label = product["name"] if quantity == 1 else f"{quantity} x {product['name']}"
        self._log(cur, events, "low", f"Order created: {label} - {activity.euros(amount)}")
        events.orders.append(INITIAL_STATUS)
        return _order_json(
            {
                "id": order_id,
                "user_id": user_id,
                "product_id": product["id"],
                "product": product["name"],
                "quantity": quantity,
                "amount": amount,
                "status": INITIAL_STATUS,
                "created_at": now,
                "updated_at": now,
            }
        )

    def _random_user(self, cur: Any, events: Events) -> int:
        cur.execute("SELECT MAX(id) AS top FROM users")
        top = cur.fetchone()["top"]
        if top:
            cur.execute("SELECT id FROM users WHERE id >= %s ORDER BY id LIMIT 1", (self.rng.randint(1, top),))
            row = cur.fetchone()
            if row:
                return row["id"]
        return self.create_user(cur, events, None, None)["id"]

    def locked_order(self, cur: Any, order_id: int) -> dict[str, Any]:
        """The order, its row locked until the transaction ends (the product is not locked)."""
        cur.execute(
            "SELECT id, user_id, product_id, quantity, amount, status, created_at, updated_at"
            " FROM orders WHERE id = %s FOR UPDATE",
            (order_id,),
        )
        row = cur.fetchone()
        if row is None:
            raise NotFound(f"order {order_id} not found")
        product = self.product(cur, row["product_id"])
        return _order_json({**row, "product": product["name"] if product else "?"})

    @staticmethod
    def get_order(cur: Any, order_id: int) -> dict[str, Any]:
        cur.execute(
            ORDER_SELECT + " WHERE o.id = %s",
            (order_id,),
        )
        row = cur.fetchone()
        if row is None:
            raise NotFound(f"order {order_id} not found")
        return _order_json(row)

    @staticmethod
    def list_orders(cur: Any, status: str | None, user_id: int | None, limit: int, offset: int) -> list[dict]:
        where, params = [], []
        if status:
            where.append("o.status = %s")
            params.append(status)
        if user_id:
            where.append("o.user_id = %s")
            params.append(user_id)
        cur.execute(
            ORDER_SELECT
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY o.id DESC LIMIT %s OFFSET %s",
            (*params, limit, offset),
        )
        return [_order_json(row) for row in cur.fetchall()]

    def _locked_for(self, cur: Any, order_id: int, action: str) -> dict[str, Any]:
        """The order, locked, when its status allows `action`; else 409 naming what it needs."""
        order = self.locked_order(cur, order_id)
        sources = ACTIONS[action].sources
        if order["status"] not in sources:
            raise Conflict(
                f"cannot {action} order {order_id}: it is {order['status']} ({action} needs {' or '.join(sources)})",
                order_status=order["status"],
                actions=order["actions"],
            )
        return order

    def transition(self, cur: Any, events: Events, order_id: int, action: str) -> dict[str, Any]:
        step = ACTIONS[action]
        order = self._locked_for(cur, order_id, action)
        self._set_status(cur, events, order_id, order["status"], step.target)
        self._log(
            cur,
            events,
            step.level,
            f"Order {step.verb}: {order_id} - {order['product']} - {activity.euros(order['amount'])}",
        )
        events.orders.append(step.target)
        return {**order, "status": step.target, "actions": allowed_actions(step.target), "updated_at": _iso(_now())}

    @staticmethod
    def _set_status(cur: Any, events: Events, order_id: int, old: str, new: str) -> None:
        cur.execute("UPDATE orders SET status = %s, updated_at = %s WHERE id = %s", (new, _now(), order_id))
        events.totals.update(Counters.status_change(old, new))

    # -- payments -------------------------------------------------------------------------
    def outcome(self, requested: str | None) -> str:
        """The requested outcome when there is one (the seed recorded 'failed' as a success); else
        success with probability PAYMENT_SUCCESS_RATIO."""
        if requested is not None:
            return requested
        return "success" if self.rng.random() < self.ratio else "failed"

    def pay(self, cur: Any, events: Events, order_id: int, requested: str | None) -> dict[str, Any]:
        order = self._locked_for(cur, order_id, "pay")
        outcome = self.outcome(requested)
        amount = Decimal(str(order["amount"]))
        try:
            cur.execute(
                "INSERT INTO payments (order_id, status, amount, requested_status) VALUES (%s, %s, %s, %s)",
                (order_id, outcome, amount, requested),
            )
        except MySQLdb.IntegrityError as exc:
            # the database's own rule (migration 0003): one successful payment per order, whatever
            # the status column says (a row changed by hand, a bug in the rules above)
            if exc.args[0] != DUPLICATE_KEY:
                raise
            raise Conflict(f"order {order_id} already has a successful payment", order_status=order["status"]) from None
        payment_id = cur.lastrowid
        new_status = PAYMENT_RESULT[outcome]
        self._set_status(cur, events, order_id, order["status"], new_status)
        totals = {f"payments_{outcome}": 1}
        if outcome == "success":
            totals["revenue_cents"] = int(amount * 100)
            events.revenue += amount
        events.totals.update(totals)
        events.per_minute[f"payments_{outcome}"] += 1
        self._log(
            cur, events, PAYMENT_LEVEL[outcome], f"Payment {outcome} for order {order_id} - {activity.euros(amount)}"
        )
        events.payments.append(outcome)
        events.orders.append(new_status)
        return {
            "payment_id": payment_id,
            "order_id": order_id,
            "status": outcome,
            "requested_status": requested,
            "amount": float(amount),
            "order_status": new_status,
            "order_actions": allowed_actions(new_status),
        }

    # -- idempotency keys -------------------------------------------------------------------
    @staticmethod
    def claim_idempotency_key(cur: Any, key: str, endpoint: str, fingerprint: str) -> tuple[int, dict] | None:
        """Claim `key` for this request, or return the answer stored for it (status, body).

        The claimed row stays locked until the transaction ends, so a concurrent retry waits here
        and then sees the answer. A key used for a different request is a 422."""
        try:
            cur.execute(
                "INSERT INTO idempotency_keys (idem_key, endpoint, request_hash, status_code, response)"
                " VALUES (%s, %s, %s, 0, '')",
                (key, endpoint, fingerprint),
            )
            return None
        except MySQLdb.IntegrityError as exc:
            if exc.args[0] != DUPLICATE_KEY:
                raise
        cur.execute("SELECT request_hash, status_code, response FROM idempotency_keys WHERE idem_key = %s", (key,))
        stored = cur.fetchone()
        if stored["request_hash"] != fingerprint:
            raise APIError("Idempotency-Key was already used for a different request", 422, field="Idempotency-Key")
        return stored["status_code"], json.loads(stored["response"])

    @staticmethod
    def store_idempotent_answer(cur: Any, key: str, status: int, payload: dict[str, Any]) -> None:
        cur.execute(
            "UPDATE idempotency_keys SET status_code = %s, response = %s WHERE idem_key = %s",
            (status, json.dumps(payload), key),
        )

    @staticmethod
    def list_payments(cur: Any, order_id: int | None, limit: int) -> list[dict[str, Any]]:
        if order_id:
            cur.execute(
                "SELECT id, order_id, status, amount, requested_status, created_at FROM payments"
                " WHERE order_id = %s ORDER BY id DESC LIMIT %s",
                (order_id, limit),
            )
        else:
            cur.execute(
                "SELECT id, order_id, status, amount, requested_status, created_at FROM payments"
                " ORDER BY id DESC LIMIT %s",
                (limit,),
            )
        return [
            {
                "payment_id": r["id"],
                "order_id": r["order_id"],
                "status": r["status"],
                "amount": float(r["amount"]),
                "requested_status": r["requested_status"],
                "created_at": _iso(r["created_at"]),
            }
            for r in cur.fetchall()
        ]


def _now() -> datetime:
    """UTC now, naive, to the millisecond (the columns' precision)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _iso(value: Any) -> str | None:
    return value.isoformat(timespec="milliseconds") + "Z" if value else None


def _user_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "username": row["username"],
        "email": row["email"],
        "created_at": _iso(row["created_at"]),
        "last_login_at": _iso(row["last_login_at"]),
        "logged_in": bool(row["logged_in"]),
    }


def _order_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "order_id": row["id"],
        "user_id": row["user_id"],
        "product_id": row["product_id"],
        "product": row["product"],
        "quantity": row["quantity"],
        "amount": float(row["amount"]),
        "status": row["status"],
        "actions": allowed_actions(row["status"]),
        "created_at": _iso(row["created_at"]),
        "updated_at": _iso(row["updated_at"]),
    }
