"""smartshop.stack.container against the real engine: the container is what the task says. An env
variable, a mount, a published port or a tmpfs removed from the task is removed from the running
container (docker_container alone keeps them: its default comparison accepts more than asked), and
an unchanged task changes nothing."""

from __future__ import annotations

import json
import secrets
import sys

import docker
import pytest
from testing.stack import free_port, manifest_images

pytestmark = pytest.mark.needs_images


def step(ansible_playbook, name: str, state: str = "started", **given) -> bool:
    extra = {"reconcile_name": name, "reconcile_image": manifest_images()["backend"], "reconcile_state": state}
    extra.update({f"reconcile_{key}": value for key, value in given.items()})
    code, output = ansible_playbook(
        "-i", "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}",
        "-e", json.dumps(extra), "tests/playbooks/container_reconcile.yml",
    )  # fmt: skip
    assert code == 0, output[-3000:]
    return "RECONCILE changed=True" in output


@pytest.fixture
def name(ansible_playbook):
    name = f"smartshop-reconcile-{secrets.token_hex(3)}"
    yield name
    step(ansible_playbook, name, state="absent")


def test_what_a_task_drops_leaves_the_container_and_a_rerun_changes_nothing(ansible_playbook, name, tmp_path):
    client = docker.from_env()
    port = free_port()
    full = {
        "env": {"KEEP": "1", "DROP": "2"},
        "mounts": [{"type": "bind", "source": str(tmp_path), "target": "/data", "read_only": True}],
        "ports": [f"127.0.0.1:{port}:8000"],
        "tmpfs": ["/scratch:size=1m"],
    }
    assert step(ansible_playbook, name, **full) is True
    before = client.containers.get(name).attrs
    assert "DROP=2" in before["Config"]["Env"]
    assert before["HostConfig"]["PortBindings"] == {"8000/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
    assert [m["Destination"] for m in before["Mounts"]] == ["/data"]
    assert before["HostConfig"]["Tmpfs"] == {"/scratch": "size=1m"}
    assert step(ansible_playbook, name, **full) is False, "the same task a second time changed the container"

    assert step(ansible_playbook, name, env={"KEEP": "1"}) is True
    after = client.containers.get(name).attrs
    assert "KEEP=1" in after["Config"]["Env"]
    assert not any(e.startswith("DROP=") for e in after["Config"]["Env"]), after["Config"]["Env"]
    assert not after["HostConfig"]["PortBindings"], after["HostConfig"]["PortBindings"]
    assert not after["NetworkSettings"]["Ports"].get("8000/tcp"), after["NetworkSettings"]["Ports"]
    assert after["Mounts"] == []
    assert not after["HostConfig"].get("Tmpfs")
    assert step(ansible_playbook, name, env={"KEEP": "1"}) is False
