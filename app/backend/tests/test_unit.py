"""Unit tests: no database. Randomness is seeded; files are temporary."""

import random
import re

import pytest

from smartshop_backend.config import ConfigError, Settings
from smartshop_backend.counters import Counters
from smartshop_backend.migrate import Migration, available
from smartshop_backend.names import random_username
from smartshop_backend.shop import TRANSITIONS, Shop


def test_settings_defaults():
    s = Settings.from_env({})
    assert (s.db_host, s.db_port, s.payment_success_ratio) == ("mysql", 3306, 0.8)


def test_password_from_file(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("s3cret-value\n")
    s = Settings.from_env({"SMARTSHOP_DB_PASSWORD_FILE": str(secret)})
    assert s.db_password == "s3cret-value"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"SMARTSHOP_DB_PORT": "abc"}, "SMARTSHOP_DB_PORT"),
        ({"SMARTSHOP_DB_PORT": "70000"}, "SMARTSHOP_DB_PORT"),
        ({"PAYMENT_SUCCESS_RATIO": "1.5"}, "PAYMENT_SUCCESS_RATIO"),
        ({"PAYMENT_SUCCESS_RATIO": "most"}, "PAYMENT_SUCCESS_RATIO"),
        ({"SMARTSHOP_DB_PASSWORD_FILE": "/nonexistent/pw"}, "SMARTSHOP_DB_PASSWORD_FILE"),
        ({"SMARTSHOP_DB_PASSWORD": "a", "SMARTSHOP_DB_PASSWORD_FILE": "/x"}, "SMARTSHOP_DB_PASSWORD"),
    ],
)
def test_bad_settings_name_the_variable(env, variable):
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env(env)


def test_random_usernames_look_like_the_seed():
    rng = random.Random(7)
    names = {random_username(rng) for _ in range(200)}
    assert all(re.fullmatch(r"[A-Z][a-z]+\d{1,3}", n) for n in names)
    assert len(names) > 150


def test_requested_payment_outcome_is_honoured():
    shop = Shop(Counters(4), payment_success_ratio=1.0, rng=random.Random(1))
    assert shop.outcome("failed") == "failed"  # the seed recorded this as a success
    assert Shop(Counters(4), 0.0).outcome("success") == "success"


@pytest.mark.parametrize("ratio", [0.8, 0.5, 0.95])
def test_random_outcome_follows_the_ratio(ratio):
    shop = Shop(Counters(4), payment_success_ratio=ratio, rng=random.Random(42))
    draws = [shop.outcome(None) for _ in range(20_000)]
    assert abs(draws.count("success") / len(draws) - ratio) < 0.01


def test_state_machine_cannot_leave_terminal_states():
    for sources, _target in TRANSITIONS.values():
        assert "paid" not in sources
        assert "cancelled" not in sources


def test_migrations_are_numbered_and_split():
    found = available()
    assert [m.version for m in found] == sorted({m.version for m in found})
    assert found[0].version == 1
    statements = Migration(9, "x", "-- comment\nCREATE TABLE a (id INT);\nINSERT INTO a VALUES (1);\n").statements()
    assert statements == ["CREATE TABLE a (id INT)", "INSERT INTO a VALUES (1)"]


def test_seed_catalog_in_migrations():
    sql = "\n".join(m.sql for m in available())
    for name, price in (("Ecouteurs sans fil", "89.99"), ("Montre connectée", "199.99")):
        assert f"('{name}', {price})" in sql
    assert "39.99" in sql


def test_status_change_moves_one_order_between_statuses():
    assert Counters.status_change("pending", "validated") == {"orders_validated": 1, "orders_pending": -1}
    assert Counters.status_change(None, "pending") == {"orders_pending": 1}
