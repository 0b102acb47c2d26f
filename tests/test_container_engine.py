"""smartshop.stack.container against the real engine: the container is what the task says. An env
variable, a mount, a published port or a tmpfs removed from the task is removed from the running
container (docker_container alone keeps them: its default comparison accepts more than asked), and
an unchanged task changes nothing. A port another process holds fails the run with what to do. A
reload (the handlers' state) runs in a running container only and says why it did not. A healthy
wait ends when the container's own check passes, not at Docker's first verdict an interval later,
and fails at once when the container exits or the engine keeps restarting it, with its last log lines.
A change whose new container fails (exits, never healthy, a port taken) puts the previous one back."""

from __future__ import annotations

import json
import secrets
import socket
import time

import docker
import pytest
from testing.stack import free_port, manifest_images

pytestmark = pytest.mark.needs_images


def run_step(ansible_playbook, name: str, state: str = "started", **given) -> tuple[int, str]:
    extra = {"reconcile_name": name, "reconcile_image": manifest_images()["backend"], "reconcile_state": state}
    extra.update({f"reconcile_{key}": value for key, value in given.items()})
    code, output = ansible_playbook(
        "-i", "localhost,", "-c", "local",
        "-e", json.dumps(extra), "tests/playbooks/container_reconcile.yml",
    )  # fmt: skip
    return code, output


def step(ansible_playbook, name: str, state: str = "started", **given) -> bool:
    code, output = run_step(ansible_playbook, name, state, **given)
    assert code == 0, output[-3000:]
    return "RECONCILE changed=True" in output


@pytest.fixture
def name(ansible_playbook):
    name = f"smartshop-reconcile-{secrets.token_hex(3)}"
    yield name
    for left in docker.from_env().containers.list(all=True, filters={"name": f"^{name}-previous$"}):
        left.remove(force=True, v=True)  # a failed test may leave one set aside
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


def run_on_a_port_held(ansible_playbook, name: str) -> tuple[int, str]:
    """A step publishing a port another process of this machine holds, failed: (the port, its output)."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        code, output = run_step(ansible_playbook, name, ports=[f"127.0.0.1:{port}:8000"])
    assert code != 0, output[-3000:]
    assert f"cannot publish port {port} on 127.0.0.1" in output, output[-3000:]
    return port, output


def test_a_port_another_process_holds_fails_naming_the_port_and_what_to_do(ansible_playbook, name):
    port, output = run_on_a_port_held(ansible_playbook, name)
    assert f"ss -ltnp 'sport = :{port}'" in output
    assert "address already in use" in output  # the engine's own words follow
    # once the port is free, the same task runs the container
    assert step(ansible_playbook, name, ports=[f"127.0.0.1:{port}:8000"]) is True
    assert docker.from_env().containers.get(name).status == "running"


def test_a_reload_runs_in_a_running_container_and_leaves_one_that_is_not(ansible_playbook, name):
    client = docker.from_env()
    reload = ["sh", "-c", "echo reloaded >> /scratch/reloads"]
    assert step(ansible_playbook, name, tmpfs=["/scratch:size=1m"]) is True
    container = client.containers.get(name)

    assert step(ansible_playbook, name, state="reloaded", reload=reload) is True
    assert container.exec_run(["cat", "/scratch/reloads"]).output == b"reloaded\n"

    code, output = run_step(ansible_playbook, name, state="reloaded", reload=["sh", "-c", "echo broken >&2; exit 3"])
    assert code != 0, output[-3000:]
    assert "the reload exited 3: broken" in output, output[-3000:]

    container.pause()
    try:
        code, output = run_step(ansible_playbook, name, state="reloaded", reload=reload)
    finally:
        container.unpause()
    assert code != 0, output[-3000:]
    assert f"container {name} is paused" in output, output[-3000:]
    assert f"docker unpause {name}" in output

    container.stop(timeout=1)
    code, output = run_step(ansible_playbook, name, state="reloaded", reload=reload)
    assert code == 0, output[-3000:]
    assert "RECONCILE changed=False said=container " + name + " is not running: nothing to reload" in output
    assert client.containers.get(name).status == "exited"  # left as it was, not started

    step(ansible_playbook, name, state="absent")
    code, output = run_step(ansible_playbook, name, state="reloaded", reload=reload)
    assert code == 0, output[-3000:]
    assert "is not running: nothing to reload" in output


READY_AFTER_A_SECOND = {
    "entrypoint": ["/bin/sh", "-c", "sleep 1; touch /scratch/ready; exec sleep infinity"],
    "tmpfs": ["/scratch:size=1m"],
}


def test_a_healthy_wait_ends_when_the_check_passes_not_at_dockers_first_verdict(ansible_playbook, name):
    # Docker would run its first check five minutes after the start: waiting for its verdict
    # would fail the 30 s timeout
    check = {"test": ["CMD", "test", "-f", "/scratch/ready"], "interval": "300s", "timeout": "2s", "retries": 1}
    assert step(ansible_playbook, name, state="healthy", healthcheck=check, healthy_timeout=30, **READY_AFTER_A_SECOND)
    container = docker.from_env().containers.get(name)
    assert container.exec_run(["test", "-f", "/scratch/ready"]).exit_code == 0
    assert container.attrs["State"]["Health"]["Status"] == "starting"  # Docker has not checked yet


def test_a_check_that_never_passes_fails_the_wait_with_its_words(ansible_playbook, name):
    check = {"test": ["CMD-SHELL", "echo not ready yet >&2; exit 1"], "interval": "300s", "timeout": "2s"}
    code, output = run_step(ansible_playbook, name, state="healthy", healthcheck=check, healthy_timeout=3)
    assert code != 0, output[-3000:]
    assert f"container {name} not healthy after 3 s" in output, output[-3000:]
    assert "its health check last said: not ready yet" in output


def test_a_container_that_exits_fails_the_wait_at_once(ansible_playbook, name):
    check = {"test": ["CMD", "true"], "interval": "300s", "timeout": "2s"}
    started = time.monotonic()
    code, output = run_step(
        ansible_playbook, name, state="healthy", healthcheck=check, healthy_timeout=120,
        entrypoint=["/bin/sh", "-c", "exit 3"], restart_policy="no",
    )  # fmt: skip
    assert code != 0, output[-3000:]
    assert f"container {name} exited (exit code 3) before it was healthy" in output, output[-3000:]
    assert time.monotonic() - started < 100, "waited for the timeout instead of failing on the exit"


def test_a_container_the_engine_keeps_restarting_fails_the_wait_with_its_last_words(ansible_playbook, name):
    # a server given a flag it does not know (mysql_extra_flags) exits at once, again and again: the
    # wait used to go on to its timeout (3 minutes for MariaDB) and say only that an exec failed
    check = {"test": ["CMD", "true"], "interval": "300s", "timeout": "2s"}
    started = time.monotonic()
    code, output = run_step(
        ansible_playbook, name, state="healthy", healthcheck=check, healthy_timeout=120,
        entrypoint=["/bin/sh", "-c", "echo unknown variable zebra-flag >&2; exit 7"],
    )  # fmt: skip
    assert code != 0, output[-3000:]
    assert f"container {name} keeps exiting before it is healthy (exit code 7, restarted" in output, output[-3000:]
    assert "unknown variable zebra-flag" in output, output[-3000:]
    assert time.monotonic() - started < 100, "waited for the timeout instead of failing on the restarts"


HEALTHY = {"test": ["CMD", "true"], "interval": "300s", "timeout": "2s"}


def test_a_change_whose_container_fails_puts_the_previous_one_back(ansible_playbook, name):
    # a new flag, image or configuration that the service refuses used to leave it down: the old
    # container was removed before the new one was known to start
    client = docker.from_env()
    assert step(ansible_playbook, name, state="healthy", healthcheck=HEALTHY, env={"VERSION": "1"})
    before = client.containers.get(name)

    code, output = run_step(
        ansible_playbook, name, state="healthy", healthcheck=HEALTHY, env={"VERSION": "2"},
        entrypoint=["/bin/sh", "-c", "echo refusing version 2 >&2; exit 3"], restart_policy="no",
    )  # fmt: skip
    assert code != 0, output[-3000:]
    assert f"container {name} exited (exit code 3) before it was healthy" in output, output[-3000:]
    assert "refusing version 2" in output  # the new container's own words, read before it was removed
    assert f"Rolled back: the previous container {name} was put back and runs healthy again" in output
    after = client.containers.get(name)
    assert after.id == before.id, "the container running is not the one that ran before"
    assert after.status == "running"
    assert "VERSION=1" in after.attrs["Config"]["Env"]
    assert not client.containers.list(all=True, filters={"name": f"^{name}-previous$"})
    # what runs is what the old task says: running it again changes nothing
    assert step(ansible_playbook, name, state="healthy", healthcheck=HEALTHY, env={"VERSION": "1"}) is False

    assert step(ansible_playbook, name, state="healthy", healthcheck=HEALTHY, env={"VERSION": "2"}) is True
    replaced = client.containers.get(name)
    assert replaced.id != before.id and "VERSION=2" in replaced.attrs["Config"]["Env"]
    assert not client.containers.list(all=True, filters={"name": f"^{name}-previous$"}), "the old one was kept"


def test_a_port_taken_on_a_change_puts_the_previous_container_back_on_its_port(ansible_playbook, name):
    client = docker.from_env()
    port = free_port()
    assert step(ansible_playbook, name, ports=[f"127.0.0.1:{port}:8000"])
    before = client.containers.get(name)
    _, output = run_on_a_port_held(ansible_playbook, name)
    assert f"Rolled back: the previous container {name} was put back and runs again" in output, output[-3000:]
    after = client.containers.get(name)
    assert (after.id, after.status) == (before.id, "running")
    assert after.ports == {"8000/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}


def test_a_container_an_interrupted_run_left_aside_is_put_back_or_dropped(ansible_playbook, name):
    # a run stopped between setting the old container aside and starting the new one (Ctrl-C, a lost
    # SSH connection) leaves only <name>-previous: the next run may fall back on it, then drops it
    client = docker.from_env()
    assert step(ansible_playbook, name, state="healthy", healthcheck=HEALTHY, env={"VERSION": "1"})
    old = client.containers.get(name)
    old.stop(timeout=1)
    old.rename(f"{name}-previous")

    code, output = run_step(
        ansible_playbook, name, state="healthy", healthcheck=HEALTHY, env={"VERSION": "2"},
        entrypoint=["/bin/sh", "-c", "exit 4"], restart_policy="no",
    )  # fmt: skip
    assert code != 0, output[-3000:]
    assert "exited (exit code 4)" in output and "Rolled back" in output, output[-3000:]
    back = client.containers.get(name)
    assert (back.id, back.status) == (old.id, "running")

    back.stop(timeout=1)
    back.rename(f"{name}-previous")
    assert step(ansible_playbook, name, state="healthy", healthcheck=HEALTHY, env={"VERSION": "2"}) is True
    assert client.containers.get(name).id != old.id
    assert not client.containers.list(all=True, filters={"name": f"^{name}-previous$"}), "the old one was kept"


def test_a_container_of_someone_elses_named_like_the_previous_one_is_never_touched(ansible_playbook, name):
    client = docker.from_env()
    assert step(ansible_playbook, name, env={"VERSION": "1"})
    before = client.containers.get(name)
    stranger = client.containers.create(manifest_images()["backend"], ["sleep", "infinity"], name=f"{name}-previous")
    code, output = run_step(ansible_playbook, name, env={"VERSION": "2"})
    assert code != 0, output[-3000:]
    assert f"container {name}-previous exists and is not this one's predecessor" in output, output[-3000:]
    assert "Nothing was changed" in output
    assert client.containers.get(f"{name}-previous").id == stranger.id
    after = client.containers.get(name)
    assert (after.id, after.status) == (before.id, "running")
    assert "VERSION=1" in after.attrs["Config"]["Env"]


@pytest.mark.parametrize(
    "labels", [{}, {"com.smartshop.project": "another-stack"}], ids=["unlabelled", "another-project"]
)
def test_a_container_of_someone_elses_with_the_name_is_never_replaced(ansible_playbook, name, labels):
    """Someone's own container (or another stack's) under the name a role uses: docker_container
    would have stopped and replaced it. The run fails before touching it, saying whose it is."""
    client = docker.from_env()
    theirs = client.containers.run(
        manifest_images()["backend"], entrypoint=["sleep", "infinity"], name=name, labels=labels, detach=True
    )
    code, output = run_step(ansible_playbook, name, env={"VERSION": "1"})
    assert code != 0, output[-3000:]
    whose = "project another-stack's" if labels else "not one of this stack's"
    assert f"container {name} exists and is {whose}" in output, output[-3000:]
    assert "this run would have replaced it. It is left as it is and nothing was changed" in output
    after = client.containers.get(name)
    assert (after.id, after.status) == (theirs.id, "running")
    assert not client.containers.list(all=True, filters={"name": f"^{name}-previous$"})
    theirs.remove(force=True, v=True)  # the fixture's teardown removes by this name too: only through the action


def test_a_previous_container_that_fails_too_once_put_back_says_so(ansible_playbook, name, tmp_path):
    # what it mounts from the host is the new one: a file both need, gone, fails both
    (tmp_path / "ok").touch()
    tmp_path.chmod(0o755)  # the image's user is not root
    needs_file = {
        "entrypoint": [
            "/bin/sh",
            "-c",
            "test -f /data/ok || { echo /data/ok is missing >&2; exit 5; }; exec sleep infinity",
        ],
        "mounts": [{"type": "bind", "source": str(tmp_path), "target": "/data", "read_only": True}],
        "restart_policy": "no",
        "healthcheck": HEALTHY,
    }
    assert step(ansible_playbook, name, state="healthy", env={"VERSION": "1"}, **needs_file)
    old = docker.from_env().containers.get(name)
    (tmp_path / "ok").unlink()
    code, output = run_step(ansible_playbook, name, state="healthy", env={"VERSION": "2"}, **needs_file)
    assert code != 0, output[-3000:]
    assert f"The previous container {name} was put back, and it fails too" in output, output[-3000:]
    assert output.count("/data/ok is missing") >= 2  # the new one's words, then the old one's
    assert "Rolled back" not in output
    back = docker.from_env().containers.get(name)
    assert back.id == old.id and back.status == "exited"


@pytest.mark.parametrize(
    "labels", [{}, {"com.smartshop.project": "another-stack"}], ids=["unlabelled", "another-project"]
)
def test_a_volume_of_someone_elses_with_the_name_is_never_mounted(ansible_playbook, name, labels):
    """A volume under the name a role's container mounts, made by someone else (by hand, another
    stack): docker_volume would have kept it and the container would have run on its data. The run
    fails before any container is made, saying whose it is; the volume and its data stay."""
    client = docker.from_env()
    theirs = client.volumes.create(f"{name}-data", labels=labels)
    try:
        client.containers.run(
            manifest_images()["backend"], entrypoint=["sh", "-c", "echo theirs > /data/file"],
            volumes={theirs.name: {"bind": "/data", "mode": "rw"}}, remove=True, user="0",
        )  # fmt: skip
        mounts = [{"type": "volume", "source": theirs.name, "target": "/data"}]
        code, output = run_step(ansible_playbook, name, mounts=mounts)
        assert code != 0, output[-3000:]
        whose = "project another-stack's" if labels else "not one of this stack's"
        assert f"volume {theirs.name} exists and is {whose}" in output, output[-3000:]
        assert "It is left as it is and nothing was changed" in output
        assert not client.containers.list(all=True, filters={"name": f"^{name}$"})
        theirs.reload()
        assert (theirs.attrs.get("Labels") or {}) == labels
        kept = client.containers.run(
            manifest_images()["backend"], entrypoint=["cat", "/data/file"],
            volumes={theirs.name: {"bind": "/data", "mode": "ro"}}, remove=True,
        )  # fmt: skip
        assert kept.decode().strip() == "theirs"
    finally:
        theirs.remove(force=True)


def test_a_volume_the_action_made_is_the_stacks_and_a_rerun_mounts_it_again(ansible_playbook, name):
    client = docker.from_env()
    mounts = [{"type": "volume", "source": f"{name}-data", "target": "/data"}]
    try:
        assert step(ansible_playbook, name, mounts=mounts) is True
        made = client.volumes.get(f"{name}-data")
        assert made.attrs["Labels"]["com.smartshop.project"] == name
        assert step(ansible_playbook, name, mounts=mounts) is False
    finally:
        step(ansible_playbook, name, state="absent")
        client.volumes.get(f"{name}-data").remove(force=True)
