"""The shop's vocabulary, written once: order statuses, the actions that move an order between
them, payment outcomes and activity levels. The service layer (shop.py) enforces it, the API
returns with each order the actions allowed on it (the console shows exactly those), the OpenAPI
document, the counters and the metrics enumerate from it.

    pending --validate--> validated --process--> processing --pay--> paid
                                                     |  ^
                                                     |  '--process-- payment_failed <--pay (refused)--'
    cancel: from pending, validated, processing or payment_failed, to cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass

STATUSES = ("pending", "validated", "processing", "paid", "payment_failed", "cancelled")
INITIAL_STATUS = "pending"
PAYMENT_OUTCOMES = ("success", "failed")
LEVELS = ("low", "medium", "high")


@dataclass(frozen=True)
class Action:
    name: str
    sources: tuple[str, ...]
    target: str | None  # None: decided by the outcome (pay)
    verb: str  # as the activity log says it
    level: str  # activity level of the log entry


ACTIONS: dict[str, Action] = {
    action.name: action
    for action in (
        Action("validate", ("pending",), "validated", "validated", "low"),
        Action("process", ("validated", "payment_failed"), "processing", "processing", "low"),
        Action("pay", ("processing",), None, "paid", "low"),
        Action("cancel", ("pending", "validated", "processing", "payment_failed"), "cancelled", "cancelled", "medium"),
    )
}
# Actions taken through /api/orders/<action>/<id> (pay is /api/payments/process/<id>).
ORDER_TRANSITIONS = tuple(name for name in ACTIONS if ACTIONS[name].target is not None)
# Status an order enters after a payment, by outcome, and the activity level of that payment.
PAYMENT_RESULT = {"success": "paid", "failed": "payment_failed"}
PAYMENT_LEVEL = {"success": "low", "failed": "medium"}


def allowed_actions(status: str) -> list[str]:
    """The actions an order in `status` allows, in the order a shopper takes them."""
    return [name for name, action in ACTIONS.items() if status in action.sources]
