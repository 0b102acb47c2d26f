"""The filters of the project's collection (smartshop.stack): scrape_targets, which address a
Prometheus scrapes for each component of the inventory (by name on its own host, at the published
port on another), and advertise_address, the one rule for the address other hosts reach a published
port on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from stack_collection import plugin

ROOT = Path(__file__).resolve().parent.parent
_filters = plugin("filter", "stack")
smartshop_targets = _filters.scrape_targets
advertise_address = _filters.advertise_address

HOSTVARS = {
    "mon1": {
        "exporters_targets": {"node": {"local": ["s-node-exporter:9100"], "remote": ["10.0.0.13:9100"]}},
    },
    "app1": {
        "backend_scrape_targets": {
            "local": ["s-backend-1:8000", "s-backend-2:8000"],
            "remote": ["10.0.0.12:8101", "10.0.0.12:8102"],
        },
        "exporters_targets": {"node": {"local": ["s-node-exporter:9100"], "remote": ["10.0.0.12:9100"]}},
    },
    "db1": {
        "exporters_targets": {
            "node": {"local": ["s-node-exporter:9100"], "remote": []},
            "mysqld": {"local": ["s-mysqld-exporter:9104"], "remote": ["10.0.0.11:9104"]},
        },
    },
}


def test_own_host_by_name_other_hosts_by_published_address():
    hosts = ["mon1", "app1"]
    assert smartshop_targets(hosts, HOSTVARS, "exporters_targets.node", "mon1") == [
        "s-node-exporter:9100",
        "10.0.0.12:9100",
    ]
    assert smartshop_targets(hosts, HOSTVARS, "backend_scrape_targets", "mon1") == ["10.0.0.12:8101", "10.0.0.12:8102"]
    assert smartshop_targets(hosts, HOSTVARS, "backend_scrape_targets", "app1") == [
        "s-backend-1:8000",
        "s-backend-2:8000",
    ]


def test_a_nested_fact_a_host_lacks_adds_nothing():
    assert smartshop_targets(["mon1", "db1"], HOSTVARS, "exporters_targets.mysqld", "mon1") == ["10.0.0.11:9104"]
    assert smartshop_targets(["mon1"], HOSTVARS, "simulator_metrics_targets", "mon1") == []


def test_an_unpublished_remote_component_is_an_error_naming_it():
    with pytest.raises(AnsibleFilterError, match=r"s-node-exporter:9100 on db1 not published.*Prometheus on mon1"):
        smartshop_targets(["db1"], HOSTVARS, "exporters_targets.node", "mon1")


def test_an_unknown_host_is_an_error():
    with pytest.raises(AnsibleFilterError, match="'web9' is not in the inventory"):
        smartshop_targets(["web9"], HOSTVARS, "exporters_targets.node", "mon1")


def test_a_malformed_fact_is_an_error():
    with pytest.raises(AnsibleFilterError, match=r"not \{local, remote\}"):
        smartshop_targets(["x"], {"x": {"backend_scrape_targets": ["a:1"]}}, "backend_scrape_targets", "mon1")


@pytest.mark.parametrize(
    ("bind", "advertised", "host", "expected"),
    [
        # published on one address: reached there, whatever the inventory advertises
        ("10.0.0.11", "", "db1", "10.0.0.11"),
        ("127.0.0.1", "10.0.0.99", "db1", "127.0.0.1"),
        # published on every interface: the advertised address, else ansible_host
        ("0.0.0.0", "10.0.0.99", "10.0.0.11", "10.0.0.99"),
        ("0.0.0.0", "", "10.0.0.11", "10.0.0.11"),
        ("::", "", "db1.example.internal", "db1.example.internal"),
        ("0.0.0.0", "0.0.0.0", "10.0.0.11", "10.0.0.11"),
    ],
)
def test_advertise_address(bind, advertised, host, expected):
    assert advertise_address(bind, advertised, host) == expected


def test_advertise_address_without_anything_to_advertise_fails():
    with pytest.raises(AnsibleFilterError, match="no address or host name"):
        advertise_address("0.0.0.0", "", "")


def test_every_role_uses_the_one_advertise_rule():
    """No role writes its own variant of the rule (they had drifted apart)."""
    for defaults in sorted((ROOT / "roles").glob("*/defaults/main.yml")):
        text = defaults.read_text()
        assert "not in ['0.0.0.0'" not in text, f"{defaults}: use smartshop.stack.advertise_address"
        if "_advertise_address:" in text or "_public_url:" in text:
            assert "smartshop.stack.advertise_address(" in text, defaults


def test_bcrypt_hash_verifies_and_changes_only_with_the_password_or_context():
    import bcrypt

    first = _filters.bcrypt_hash("a-generated-password", "node-exporter")
    assert first.startswith("$2b$10$") and bcrypt.checkpw(b"a-generated-password", first.encode())
    assert _filters.bcrypt_hash("a-generated-password", "node-exporter") == first  # idempotent files
    assert _filters.bcrypt_hash("another-password", "node-exporter") != first
    assert _filters.bcrypt_hash("a-generated-password", "prometheus") != first
    assert not bcrypt.checkpw(b"a-generated-passwore", first.encode())


@pytest.mark.parametrize(("password", "rounds", "message"), [("", 10, "empty"), ("pw", 3, "rounds")])
def test_bcrypt_hash_refuses_what_it_cannot_hash(password, rounds, message):
    with pytest.raises(AnsibleFilterError, match=message):
        _filters.bcrypt_hash(password, "x", rounds)


def test_recorded_images_reads_a_manifest():
    text = '{"images": {"mysql": "smartshop/mariadb:debian12-0"}, "sources": {"mysql": "airgap"}, "x": 1}'
    assert _filters.recorded_images(text) == {
        "images": {"mysql": "smartshop/mariadb:debian12-0"},
        "sources": {"mysql": "airgap"},
    }


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"images": {"backend": 42', "it is not JSON"),
        ("", "it is not JSON"),
        ("[]", "it is not a JSON object"),
        ('{"images": {"backend": 42}, "sources": {}}', "its 'images' is not a map of names to strings"),
        ('{"images": {}}', "its 'sources' is not a map of names to strings"),
    ],
)
def test_recorded_images_reads_anything_else_as_no_record_with_a_warning(monkeypatch, text, problem):
    warnings = []
    monkeypatch.setattr(_filters.Display, "warning", lambda self, msg, *a, **k: warnings.append(msg))
    assert _filters.recorded_images(text, "/etc/smartshop/images.json") == {"images": {}, "sources": {}}
    assert len(warnings) == 1
    assert warnings[0].startswith(
        f"/etc/smartshop/images.json, the images an earlier run recorded, is unreadable: {problem}"
    )


def test_mysql_native_hash_is_what_the_server_stores():
    # MariaDB's PASSWORD('oldpass') and PASSWORD('newpass'), read from a 10.11 server's SHOW CREATE USER
    assert _filters.mysql_native_hash("oldpass") == "*0CB87B54D56D8754251AE4606D53C974842877BE"
    assert _filters.mysql_native_hash("newpass") == "*D8DECEC305209EEFEC43008E1D420E1AA06B19E0"
    with pytest.raises(AnsibleFilterError):
        _filters.mysql_native_hash("")


_TIERS = [{"severity": "page", "burn_rate": 14.4, "long": "1h", "short": "5m", "for": "2m"}]
_SLO = {"name": "api", "alert": "ApiBurn", "objective": 0.99, "errors": "e[$window]", "total": "t[$window]"}


def test_slo_rules_record_each_window_and_guard_the_traffic():
    slo = plugin("filter", "slo").slo_rules
    made = slo([_SLO], _TIERS, 0.05)
    assert [r["record"] for r in made["recording"]] == [
        "slo:api:error_ratio_rate5m",
        "slo:api:error_ratio_rate1h",
        "slo:api:error_ratio_rate30d",
        "slo:api:events_rate1h",
        "slo:api:error_budget_remaining",
    ]
    assert made["recording"][0]["expr"] == "(e[5m] or vector(0)) / (t[5m])"
    assert made["recording"][-1]["expr"] == "1 - slo:api:error_ratio_rate30d / 0.01"
    (alert,) = made["alerting"]
    assert alert["expr"] == (
        "slo:api:error_ratio_rate1h > 0.144 and slo:api:error_ratio_rate5m > 0.144"
        " and on() slo:api:events_rate1h > 0.05"
    )
    assert alert["labels"] == {"severity": "page", "slo": "api", "tier": "1", "long_window": "1h"}


@pytest.mark.parametrize(
    ("slos", "tiers", "message"),
    [
        ([{**_SLO, "objective": 99.5}], _TIERS, "objective must be between 0 and 1"),
        ([{**_SLO, "errors": "e[5m]"}], _TIERS, "errors must use $window"),
        ([_SLO, _SLO], _TIERS, "must be unique"),
        ([{**_SLO, "alert": "api burn"}], _TIERS, "must be CamelCase"),
        ([_SLO], [{**_TIERS[0], "short": "2h"}], "short window must be shorter"),
        ([_SLO], [{**_TIERS[0], "long": "an hour"}], "is not a duration"),
        ([_SLO], [], "at least one tier"),
    ],
)
def test_slo_rules_refuse_a_bad_spec_by_name(slos, tiers, message):
    with pytest.raises(AnsibleFilterError, match=re.escape(message)):
        plugin("filter", "slo").slo_rules(slos, tiers)


memory_at_least = plugin("test", "stack").memory_at_least


@pytest.mark.parametrize(
    ("value", "floor", "expected"),
    [
        ("1g", "256m", True),
        ("256m", "256m", True),
        ("255m", "256m", False),
        ("1.5g", "1g", True),
        ("64M", "16m", True),
        (1073741824, "256m", True),  # a number of bytes, as YAML reads it
        ("8m", "256m", False),  # accepted by the engine, MariaDB would not start under it
        ("lots", "16m", False),  # what the container module cannot read either
        ("1gb", "16m", False),
        ("-5m", "16m", False),
        ("", "16m", False),
        (None, "16m", False),
        (True, "16m", False),
    ],
)
def test_memory_at_least_reads_sizes_as_the_container_module_does(value, floor, expected):
    assert memory_at_least(value, floor) is expected


def test_memory_at_least_says_when_its_floor_is_no_size():
    with pytest.raises(AnsibleFilterError, match="the floor 'much' is not a size"):
        memory_at_least("1g", "much")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1", True),
        ("0.0.0.0", True),  # every interface, as an inventory may ask
        ("192.168.56.10", True),
        ("localhost", False),  # a name: Docker publishes on addresses only
        ("my-host.example", False),
        ("::1", False),  # IPv6: the roles write address:port without brackets
        ("[::1]", False),
        ("127.0.0.1 ", False),
        ("127.0.0.01", False),
        ("256.1.1.1", False),
        ("", False),
        (None, False),
        (2130706433, False),  # 127.0.0.1 as a number, as YAML could read a quoted-less value
    ],
)
def test_ipv4_address_is_what_a_port_is_published_on(value, expected):
    assert plugin("test", "stack").ipv4_address(value) is expected


def test_every_memory_limit_has_a_floor_in_its_role_preflight():
    """A role's new container with a memory limit its preflight does not check would escape it."""
    for defaults in ROOT.glob("roles/*/defaults/main.yml"):
        role = defaults.parts[-3]
        preflight = (ROOT / "roles" / role / "tasks" / "preflight.yml").read_text()
        for variable in re.findall(r"^([a-z_]+_memory_limit):", defaults.read_text(), re.M):
            # a literal floor ({name: x, floor: 256m, ...}) or one the role computes (backend: per worker)
            literal = rf"name: {variable}, floor: \d+[mg],"
            computed = rf"- name: {variable}\n\s+floor: \"\{{\{{ _{role}_memory_floor_mib \}}\}}m\""
            assert re.search(literal, preflight) or re.search(computed, preflight), (
                f"roles/{role}: {variable} has no floor in tasks/preflight.yml"
            )


memory_limits = plugin("action", "memory_limits")
_LIMITS = [
    {"name": "mysql_memory_limit", "floor": "256m", "why": "MariaDB holds 150 MiB"},
    {"name": "backend_memory_limit", "floor": "128m", "why": "a replica holds 59 MiB"},
]


def test_memory_limits_names_every_limit_below_its_floor_or_unreadable():
    found = memory_limits.problems(_LIMITS, {"mysql_memory_limit": "8m", "backend_memory_limit": "lots"})
    assert found == [
        "mysql_memory_limit must be a size such as 512m or 1g, at least 256m (MariaDB holds 150 MiB); got '8m'.",
        "backend_memory_limit must be a size such as 512m or 1g, at least 128m (a replica holds 59 MiB); got 'lots'.",
    ]
    assert memory_limits.problems(_LIMITS, {"mysql_memory_limit": "1g", "backend_memory_limit": "128m"}) == []
    missing = memory_limits.problems(_LIMITS[:1], {})
    assert missing == ["mysql_memory_limit is not defined: the role's defaults should set it."]


@pytest.mark.parametrize(
    ("extra", "ok", "expected"),
    [
        ([], True, "read first=512m second=64m"),
        # a value from another variable is read as the play sees it, here below its floor
        (["-e", "base_limit=100m"], False, "first_memory_limit must be a size such as 512m or 1g, at least 256m"),
        (
            ["-e", "second_memory_limit=1gb"],
            False,
            "second_memory_limit must be a size such as 512m or 1g, at least 32m (the second holds 20 MiB); got '1gb'.",
        ),
        (["--check"], True, "read first=512m second=64m"),
    ],
)
def test_memory_limits_reads_each_variable_as_the_play_sees_it(ansible_playbook, extra, ok, expected):
    code, out = ansible_playbook("tests/playbooks/memory_limits.yml", *extra)
    assert (code == 0) is ok, out
    assert expected in out, out
    assert "changed=0" in out
