"""site.yml as users run it: every container healthy, private, and the database usable."""

import json
import os
import shlex

import pytest

PROJECT = "mol-stack"
SECRETS = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "secrets", "instance")


def containers(host):
    ids = host.run(f"docker ps -aq --filter label=com.smartshop.project={PROJECT}").stdout.split()
    return [host.docker(i).inspect() for i in ids]


def test_the_stack_has_its_containers(host):
    names = sorted(c["Name"].lstrip("/") for c in containers(host))
    assert names == ["mol-stack-mysql"]


@pytest.mark.parametrize("field", ["health", "restart", "bindings"])
def test_every_container_is_healthy_restartable_and_private(host, field):
    for c in containers(host):
        name = c["Name"]
        if field == "health":
            assert c["State"]["Health"]["Status"] == "healthy", name
        elif field == "restart":
            assert c["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped", name
        else:
            for bindings in (c["HostConfig"]["PortBindings"] or {}).values():
                assert all(b["HostIp"] == "127.0.0.1" for b in bindings), name


def test_every_container_is_on_the_stack_network(host):
    for c in containers(host):
        assert "mol-stack-net" in c["NetworkSettings"]["Networks"], c["Name"]


def test_application_user_reaches_the_database_through_the_published_port(host):
    with open(os.path.join(SECRETS, "mysql_app_password"), encoding="utf-8") as handle:
        password = handle.read().split()[0]
    # a client on the host, through 127.0.0.1:23306, as the API's integration tests will
    cmd = (
        "docker run --rm --network host --entrypoint mariadb mol-stack-image "
        f"-h127.0.0.1 -P23306 -usmartshop -p{shlex.quote(password)} smartshop -N -B -e 'SELECT DATABASE()'"
    )
    image = host.docker("mol-stack-mysql").inspect()["Config"]["Image"]
    result = host.run(cmd.replace("mol-stack-image", image))
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "smartshop"


def test_manifest_records_the_image_source(host):
    manifest = json.loads(
        host.file(os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "etc", "images.json")).content_string
    )
    assert manifest["sources"]["mysql"] in ("upstream", "airgap")
    assert manifest["images"]["mysql"] == host.docker("mol-stack-mysql").inspect()["Config"]["Image"]
