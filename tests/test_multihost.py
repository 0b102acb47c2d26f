"""A multi-host inventory, checked offline through site.yml's preflight (run with --tags nothing,
so that nothing else runs): the monitoring host scrapes the other hosts at the addresses they
publish, the API finds the database on its host, and an inventory that cannot work fails naming
what to change. molecule/multi-host runs the same layout for real."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "inventory" / "example-multihost"


def preflight(ansible_playbook, inventory: Path, *extra: str) -> tuple[int, str]:
    return ansible_playbook(
        "-i", str(inventory), "tests/playbooks/multihost_targets.yml", "--tags", "nothing",
        "-e", "ansible_connection=local", "-e", "ansible_become=false", *extra,
    )  # fmt: skip


def printed(output: str, kind: str) -> dict[str, dict]:
    return {
        host: json.loads(body.replace('\\"', '"')) for host, body in re.findall(rf'"{kind} (\S+) (\{{.*\}})"', output)
    }


def test_the_example_inventory_wires_hosts_through_their_addresses(ansible_playbook):
    code, output = preflight(ansible_playbook, EXAMPLE)
    assert code == 0, output[-3000:]
    assert printed(output, "SCRAPE") == {
        "mon1.example.internal": {
            "backend": ["10.0.0.12:8101", "10.0.0.12:8102"],
            "node": ["10.0.0.11:9100", "10.0.0.12:9100", "smartshop-node-exporter:9100"],
            "mysqld": ["10.0.0.11:9104"],
            "simulator": ["smartshop-simulator:9200"],
        }
    }
    assert printed(output, "DATABASE") == {"app1.example.internal": {"host": "10.0.0.11", "port": 3306}}


def test_replicas_and_ports_follow_the_inventory(ansible_playbook):
    code, output = preflight(ansible_playbook, EXAMPLE, "-e", "backend_replicas=3", "-e", "mysql_port=3307")
    assert code == 0, output[-3000:]
    assert printed(output, "SCRAPE")["mon1.example.internal"]["backend"] == [
        "10.0.0.12:8101",
        "10.0.0.12:8102",
        "10.0.0.12:8103",
    ]
    assert printed(output, "DATABASE")["app1.example.internal"] == {"host": "10.0.0.11", "port": 3307}


def test_a_database_published_on_loopback_only_is_refused(ansible_playbook):
    code, output = preflight(ansible_playbook, EXAMPLE, "-e", "mysql_bind_address=127.0.0.1")
    assert code != 0
    assert "The database runs on db1.example.internal and publishes its port on '127.0.0.1'" in output, output[-3000:]
    assert "set mysql_bind_address (or smartshop_bind_address) for db1.example.internal" in output


def test_a_port_bound_to_every_interface_is_reached_at_ansible_host(ansible_playbook):
    """The stack-wide bind left at 127.0.0.1, each part published on 0.0.0.0: other hosts reach each
    at its ansible_host (an earlier rule advertised 127.0.0.1 here and refused the inventory)."""
    every = [f"-e{role}_bind_address=0.0.0.0" for role in ("mysql", "backend", "frontend", "exporters", "simulator")]
    code, output = preflight(ansible_playbook, EXAMPLE, "-e", "smartshop_bind_address=127.0.0.1", *every)
    assert code == 0, output[-3000:]
    assert printed(output, "DATABASE") == {"app1.example.internal": {"host": "10.0.0.11", "port": 3306}}
    assert printed(output, "SCRAPE")["mon1.example.internal"]["mysqld"] == ["10.0.0.11:9104"]
    assert printed(output, "SCRAPE")["mon1.example.internal"]["backend"] == ["10.0.0.12:8101", "10.0.0.12:8102"]


def test_scrape_targets_on_loopback_are_refused(ansible_playbook):
    code, output = preflight(ansible_playbook, EXAMPLE, "-e", "exporters_bind_address=127.0.0.1")
    assert code != 0
    assert "127.0.0.1:9100" in output and "is its own loopback" in output, output[-3000:]


def test_a_missing_group_is_named(tmp_path, ansible_playbook):
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    hosts = yaml.safe_load((EXAMPLE / "hosts.yml").read_text())
    del hosts["all"]["children"]["app_hosts"]
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))
    shutil.copytree(ROOT / "inventory" / "local" / "group_vars", inventory / "group_vars")
    code, output = preflight(ansible_playbook, inventory)
    assert code != 0
    assert "Inventory group app_hosts must list at least one host" in output, output[-3000:]


def test_an_archive_of_a_database_without_a_binary_log_is_refused(ansible_playbook):
    """backup_hosts (mon1 in the example) archives db1's binary log: without one, or with a keep time
    that is no number of hours, site.yml stops in its preflight, naming the variable."""
    code, output = preflight(ansible_playbook, EXAMPLE, "-e", "mysql_binlog=false")
    assert code != 0
    assert (
        "backup_hosts lists mon1.example.internal to archive the binary log, and mysql_binlog is false on "
        "db1.example.internal" in output
    ), output[-3000:]
    code, output = preflight(ansible_playbook, EXAMPLE, "-e", "mysql_archive_keep_hours=0")
    assert code != 0
    assert "mysql_archive_keep_hours must be a whole number of hours, 1 or more; got mon1.example.internal: '0'" in (
        output
    )


def test_an_archive_on_another_host_needs_the_database_published_beyond_loopback(ansible_playbook):
    code, output = preflight(ansible_playbook, EXAMPLE, "-e", "mysql_publish=false")
    assert code != 0
    assert "The binary-log archive on mon1.example.internal reaches this database" in output, output[-3000:]
    assert "it publishes none (mysql_publish is false)" in output
