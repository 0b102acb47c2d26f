"""The network role: containers on the stack network find each other by name."""

import json

import pytest


def network(host, name):
    result = host.run(f"docker network inspect {name}")
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)[0]


@pytest.mark.parametrize(("name", "internal"), [("mol-network-net", False), ("mol-network-internal", True)])
def test_network_exists_with_settings(host, name, internal):
    net = network(host, name)
    assert net["Driver"] == "bridge"
    assert net["Internal"] is internal
    assert net["Labels"]["com.smartshop.project"] == "mol-network"


def test_a_network_with_a_fixed_range_gets_it(host):
    net = network(host, "mol-network-fixed")
    assert net["IPAM"]["Config"] == [{"Subnet": "10.199.40.0/24", "Gateway": "10.199.40.1"}]


def test_containers_resolve_each_other_by_name(host):
    image = host.run("docker image inspect -f '{{.Id}}' debian:bookworm-slim")
    assert image.rc == 0, "the base image should exist (images role ran in another scenario or make up)"
    try:
        host.run_test("docker run -d --name mol-network-a --network mol-network-net debian:bookworm-slim sleep 60")
        probe = host.run(
            "docker run --name mol-network-b --network mol-network-net debian:bookworm-slim getent hosts mol-network-a"
        )
        assert probe.rc == 0, probe.stderr
        ip = network(host, "mol-network-net")["Containers"]
        assert any(probe.stdout.split()[0] == c["IPv4Address"].split("/")[0] for c in ip.values())
    finally:
        host.run("docker rm -f mol-network-a mol-network-b")
