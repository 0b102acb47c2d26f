"""The docker_host role: the engine runs and its API answers, the modules' SDK imports."""

import json
import sys


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
    result = host.run(f"{sys.executable} -c 'import docker, requests; print(docker.__version__)'")
    assert result.rc == 0, result.stderr
