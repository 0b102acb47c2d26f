"""The network role: containers on the stack network find each other by name."""

import json
import os
import subprocess
import sys

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


def test_a_network_of_that_name_that_is_not_the_stacks_is_left_as_it_is(host):
    """Someone's own network under the name the stack uses (the seed's hand-made monitoring-network):
    docker_network removed and remade it, its containers cut off, labelled it the stack's (so `make
    down PURGE=1` would have removed it). The run fails, naming its containers, and touches nothing."""
    host.run_test("docker network create mol-network-theirs")
    try:
        host.run_test(
            "docker run -d --name mol-network-theirs-c --network mol-network-theirs debian:bookworm-slim sleep 600"
        )
        before = network(host, "mol-network-theirs")["Id"]
        playbook = os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml")
        inventory = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "inventory")
        given = json.dumps({"network_networks": [{"name": "mol-network-theirs"}]})
        ran = subprocess.run(
            [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory, "-e", given, playbook],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        said = ran.stdout + ran.stderr
        assert ran.returncode != 0, said[-3000:]
        assert "network mol-network-theirs exists and is not this stack's" in said, said[-3000:]
        assert "mol-network-theirs-c use it" in said
        after = network(host, "mol-network-theirs")
        assert after["Id"] == before and not after["Labels"]
        assert [c["Name"] for c in after["Containers"].values()] == ["mol-network-theirs-c"]
    finally:
        host.run("docker rm -f mol-network-theirs-c")
        host.run("docker network rm mol-network-theirs")
