"""Simulator unit tests: seeded randomness, no network."""

import random
import time

import gevent
import pytest

from smartshop_simulator.model import DEFAULT_WEIGHTS, Config, Shopper, parse_weights
from smartshop_simulator.pacer import Pacer


def test_pacer_spaces_requests_at_the_rate():
    pacer = Pacer(200.0)
    started = time.monotonic()
    for _ in range(100):
        pacer.acquire()
    elapsed = time.monotonic() - started
    assert 0.45 <= elapsed <= 0.7  # 100 slots at 200/s: 0.5 s


def test_pacer_rate_changes_at_once_and_none_is_unlimited():
    pacer = Pacer(10.0)
    pacer.set_rate(None)
    started = time.monotonic()
    for _ in range(1000):
        pacer.acquire()
    assert time.monotonic() - started < 0.2
    with pytest.raises(ValueError, match="positive"):
        pacer.set_rate(0)


def test_pacer_shared_by_greenlets():
    pacer = Pacer(100.0)
    started = time.monotonic()
    gevent.joinall([gevent.spawn(lambda: [pacer.acquire() for _ in range(10)]) for _ in range(5)])
    assert 0.4 <= time.monotonic() - started <= 0.65  # 50 slots at 100/s


def test_error_rate_and_payment_ratio_follow_the_config():
    config = Config(host="http://x", error_rate=0.1, success_ratio=0.8, seed=3)
    shopper = Shopper(config, random.Random(3))
    shopper.user_id = 1
    actions = [shopper.next_action() for _ in range(20_000)]
    errors = sum(a.startswith("error_") for a in actions) / len(actions)
    assert abs(errors - 0.1) < 0.01
    outcomes = [shopper.payment_outcome() for _ in range(20_000)]
    assert abs(outcomes.count("success") / len(outcomes) - 0.8) < 0.01


def test_first_action_creates_the_account():
    shopper = Shopper(Config(host="http://x", error_rate=0.0), random.Random(1))
    assert shopper.next_action() == "new_user"


def test_same_seed_same_choices():
    def draws(seed):
        shopper = Shopper(Config(host="http://x"), random.Random(seed))
        shopper.user_id = 1
        return [shopper.next_action() for _ in range(50)]

    assert draws(5) == draws(5)
    assert draws(5) != draws(6)


def test_weights_parse_and_validate():
    weights = parse_weights("login=1,create_order=50")
    assert weights["login"] == 1 and weights["create_order"] == 50
    assert weights["stats"] == DEFAULT_WEIGHTS["stats"]
    with pytest.raises(ValueError, match="name=number"):
        parse_weights("login=lots")
    with pytest.raises(ValueError, match="unknown weights"):
        Config(host="http://x", weights={"teleport": 1}).validate()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("rate", -1, "rate"),
        ("success_ratio", 1.5, "success ratio"),
        ("error_rate", 2, "error rate"),
        ("users", 0, "users"),
    ],
)
def test_bad_config_names_the_setting(field, value, message):
    config = Config(host="http://x")
    setattr(config, field, value)
    with pytest.raises(ValueError, match=message):
        config.validate()


def test_user_count_follows_the_rate():
    assert Config(host="x", rate=20).user_count() == 4
    assert Config(host="x", rate=2000).user_count() == 200
    assert Config(host="x", rate=20, users=9).user_count() == 9
