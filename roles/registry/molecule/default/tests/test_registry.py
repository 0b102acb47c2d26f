"""The registry role, and the images role in registry mode: images built once, pushed over HTTPS
with the generated account, and used by digest; nothing answers without the account."""

import json
import os
from pathlib import Path

import pytest
import requests

EPHEMERAL = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
CA = str(EPHEMERAL / "secrets" / "ca" / "ca.crt")
PASSWORD = (EPHEMERAL / "secrets" / "instance" / "registry_password").read_text().strip()
REGISTRY = "127.0.0.1:25000"
URL = f"https://{REGISTRY}"
ACCOUNT = ("smartshop", PASSWORD)
MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
    ]
)


def manifest():
    return json.loads((EPHEMERAL / "etc" / "images.json").read_text())


def test_the_images_are_used_by_digest_from_the_registry():
    images = manifest()["images"]
    assert manifest()["source"] == "registry"
    assert set(images) == {"registry", "node_exporter"}
    for component, ref in images.items():
        assert ref.startswith(f"{REGISTRY}/smartshop/"), (component, ref)
        assert "@sha256:" in ref, (component, ref)


def test_the_registry_runs_the_image_it_serves(host):
    c = host.docker("mol-registry-registry").inspect()
    assert c["State"]["Health"]["Status"] == "healthy"
    pushed = host.run("docker image inspect --format '{{.Id}}' " + manifest()["images"]["registry"])
    assert pushed.rc == 0 and c["Image"] == pushed.stdout.strip()
    assert host.run("docker exec mol-registry-registry id -u").stdout.strip() == "10004"
    bindings = c["HostConfig"]["PortBindings"]["5000/tcp"]
    assert [(b["HostIp"], b["HostPort"]) for b in bindings] == [("127.0.0.1", "25000")]


def test_catalog_lists_the_pushed_repositories():
    answer = requests.get(f"{URL}/v2/_catalog", auth=ACCOUNT, verify=CA, timeout=10)
    assert answer.status_code == 200
    assert {"smartshop/registry", "smartshop/node_exporter"} <= set(answer.json()["repositories"])


@pytest.mark.parametrize("component", ["registry", "node_exporter"])
def test_each_image_is_served_whole_by_its_digest(component):
    """What a host without the image fetches: the manifest by digest, then every layer and the config."""
    name, digest = manifest()["images"][component].removeprefix(f"{REGISTRY}/").split("@")
    answer = requests.get(
        f"{URL}/v2/{name}/manifests/{digest}", headers={"Accept": MANIFEST_TYPES}, auth=ACCOUNT, verify=CA, timeout=10
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["Docker-Content-Digest"] == digest
    body = answer.json()
    blobs = [body["config"]] + body["layers"]
    assert len(blobs) >= 2
    for blob in blobs:
        head = requests.head(f"{URL}/v2/{name}/blobs/{blob['digest']}", auth=ACCOUNT, verify=CA, timeout=10)
        assert head.status_code == 200, blob["digest"]
        assert int(head.headers["Content-Length"]) == blob["size"]


def test_the_engine_pulls_by_digest_with_the_login(host):
    """What every other host does: the engine trusts the registry through certs.d, and pulls by
    digest with the login docker_login stored. The image's names in the registry are taken away
    first, so the engine has to ask the registry for the manifest (its layers it keeps: other
    scenarios may run this image meanwhile; test_each_image_is_served_whole_by_its_digest fetches
    every layer)."""
    ca = host.file(f"/etc/docker/certs.d/{REGISTRY}/ca.crt")
    assert ca.exists and ca.content_string == Path(CA).read_text()
    ref = manifest()["images"]["node_exporter"]
    image_id = host.check_output("docker image inspect --format '{{.Id}}' %s", ref)
    names = host.check_output("docker image inspect --format '{{join .RepoTags \" \"}}' %s", image_id).split()
    for name in [n for n in names if n.startswith(f"{REGISTRY}/")] + [ref]:
        host.run("docker image rm %s", name)  # untags only: the image keeps its other name
    assert host.run("docker image inspect %s", ref).rc != 0
    pulled = host.run("docker pull %s", ref)
    assert pulled.rc == 0, pulled.stderr
    assert "Digest: " + ref.split("@")[1] in pulled.stdout
    assert host.check_output("docker image inspect --format '{{.Id}}' %s", ref) == image_id


@pytest.mark.parametrize(
    "auth", [None, ("smartshop", "wrong-password"), ("admin", PASSWORD)], ids=["anonymous", "wrong", "other-user"]
)
def test_nothing_answers_without_the_account(auth):
    for path in ("/v2/", "/v2/_catalog", "/v2/smartshop/node_exporter/tags/list"):
        answer = requests.get(f"{URL}{path}", auth=auth, verify=CA, timeout=10)
        assert answer.status_code == 401, path
        assert "Basic" in answer.headers.get("WWW-Authenticate", "")


def test_plain_http_is_refused():
    answer = requests.get(f"http://{REGISTRY}/v2/", timeout=10)
    assert answer.status_code == 400
    assert "HTTPS" in answer.text


def test_the_certificate_is_the_stack_authority():
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{URL}/v2/", verify=True, timeout=10)  # the system's authorities do not know it


def test_account_file_is_private_and_hashed(host):
    f = host.file(str(EPHEMERAL / "etc" / "mol-registry-registry" / "htpasswd"))
    assert f.mode == 0o400 and f.uid == 10004
    user, hashed = f.content_string.strip().split(":", 1)
    assert user == "smartshop" and hashed.startswith("$2")
    assert PASSWORD not in f.content_string
