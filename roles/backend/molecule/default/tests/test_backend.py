"""The backend role: replicas healthy on the network, secrets as files, schema migrated, JSON answers."""

import json
import os
import time

import pytest

PROJECT = "mol-backend"
REPLICAS = [f"{PROJECT}-backend-1", f"{PROJECT}-backend-2"]


def inspect(host, name):
    return host.docker(name).inspect()


def settled(host, name, wait=20):
    """The container once Docker has given its health verdict: the side effect replaces a replica
    just before these tests, and Docker checks first one interval (5 s) after the start."""
    deadline = time.monotonic() + wait
    while (c := inspect(host, name))["State"]["Health"]["Status"] == "starting" and time.monotonic() < deadline:
        time.sleep(1)
    return c


def call(host, replica, path):
    """From inside a replica: the API as the network sees it."""
    url = f"http://127.0.0.1:8000{path}"
    code = f"import urllib.request; print(urllib.request.urlopen('{url}', timeout=5).read().decode())"
    result = host.run(f'docker exec {replica} python3 -c "{code}"')
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("replica", REPLICAS)
def test_replica_healthy_non_root_restartable(host, replica):
    c = settled(host, replica)
    assert c["State"]["Health"]["Status"] == "healthy"
    assert c["Config"]["User"] == "10001:10001"
    assert c["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert "backend" in c["NetworkSettings"]["Networks"][f"{PROJECT}-net"]["Aliases"]
    assert not c["HostConfig"]["PortBindings"]  # reached through the network (nginx), not published


@pytest.mark.parametrize("replica", REPLICAS)
def test_password_comes_from_a_file_not_the_environment(host, replica):
    c = inspect(host, replica)
    env = dict(e.split("=", 1) for e in c["Config"]["Env"])
    assert "SMARTSHOP_DB_PASSWORD" not in env
    assert env["SMARTSHOP_DB_PASSWORD_FILE"] == "/run/secrets/db_password"
    folder = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "etc", f"{PROJECT}-backend")
    f = host.file(os.path.join(folder, "api", "db_password"))
    assert f.mode == 0o400 and f.uid == 10001
    # the replicas mount api/ (credentials they re-read when rotated), never the migrator's password
    mounts = {m["Destination"]: m["Source"] for m in c["Mounts"]}
    assert mounts["/run/secrets"] == os.path.join(folder, "api")
    assert "migrator_password" not in host.file(os.path.join(folder, "api")).listdir()


def test_api_answers_and_the_schema_is_migrated(host):
    root = call(host, REPLICAS[0], "/")
    assert root == {**root, "message": "SmartShop Simulation API", "status": "running", "mysql_status": "connected"}
    products = call(host, REPLICAS[1], "/api/products")["products"]
    assert {"Ecouteurs sans fil", "Montre connectée"} <= {p["name"] for p in products}


def test_migration_container_is_gone_and_no_extra_replica(host):
    names = host.run(
        f"docker ps -a --format '{{{{.Names}}}}' --filter label=com.smartshop.component=backend "
        f"--filter label=com.smartshop.project={PROJECT}"
    ).stdout.split()
    assert sorted(names) == REPLICAS
    assert host.run(f"docker inspect {PROJECT}-backend-migrate").rc != 0
