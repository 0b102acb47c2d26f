"""The docker_host role: the engine runs and its API answers, the modules' SDK imports."""

import json
import shlex
import sys

import pytest


def test_engine_daemon_runs(host):
    assert host.process.filter(comm="dockerd"), "no dockerd process"


def test_api_answers_on_the_socket(host):
    sock = host.socket("unix:///var/run/docker.sock")
    assert sock.is_listening
    ping = host.run("curl -fsS --unix-socket /var/run/docker.sock http://localhost/_ping")
    assert ping.rc == 0 and ping.stdout == "OK"


def test_engine_runs_containers_on_user_networks(host):
    info = json.loads(host.run("docker info --format '{{json .}}'").stdout)
    assert info["Driver"] == "overlay2"
    assert info["ServerVersion"]


def test_python_sdk_imports_in_the_module_interpreter(host):
    # the inventory runs modules with the controller's interpreter (the project's venv)
    # (quoted: the checkout may live under a path with a space)
    result = host.run(f"{shlex.quote(sys.executable)} -c 'import docker, requests; print(docker.__version__)'")
    assert result.rc == 0, result.stderr


def _daemon_json(host):
    return json.loads(host.file("/etc/docker/daemon.json").content_string)


def test_the_engine_reads_the_cis_daemon_settings(host):
    daemon = _daemon_json(host)
    assert daemon["live-restore"] is True and daemon["no-new-privileges"] is True and daemon["icc"] is False
    assert daemon["log-opts"] == {"max-size": "10m", "max-file": "3"}
    assert daemon["userland-proxy"] is False  # published ports served by the kernel, no docker-proxy to die
    info = json.loads(host.run("docker info --format '{{json .}}'").stdout)
    assert info["LiveRestoreEnabled"] is True, "the running engine did not read daemon.json"
    assert info["LoggingDriver"] == "json-file"


def test_the_default_bridge_forbids_traffic_between_containers(host):
    bridge = json.loads(host.run("docker network inspect bridge").stdout)[0]
    assert bridge["Options"]["com.docker.network.bridge.enable_icc"] == "false"


def test_a_container_started_by_hand_gets_no_new_privileges_and_rotated_logs(host):
    """Defaults of the engine, not of the stack's container action: docker run without options."""
    images = host.run("docker images --format '{{.Repository}}:{{.Tag}}'").stdout.split()
    if not images:
        pytest.skip("no image on this engine yet (make images builds the base; make test runs it before this)")
    image = "debian:bookworm-slim" if "debian:bookworm-slim" in images else images[0]
    name = "smartshop-docker-host-probe"
    host.run(f"docker rm -f {name}")
    run = host.run(f"docker run --name {name} {image} grep NoNewPrivs /proc/self/status")
    try:
        assert run.rc == 0, run.stderr
        assert run.stdout.split() == ["NoNewPrivs:", "1"]
        log = json.loads(host.run(f"docker inspect --format '{{{{json .HostConfig.LogConfig}}}}' {name}").stdout)
        assert log["Type"] == "json-file" and log["Config"].get("max-size") == "10m"
    finally:
        host.run(f"docker rm -f {name}")
