"""The grafana role where no Grafana image exists (this machine kind): nothing deployed, nothing
left behind; where an image exists (a registry or a tarball), Grafana answers with its provisioning."""

import json
import os

import pytest
import requests

MANIFEST = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "etc", "images.json")


@pytest.fixture(scope="module")
def deployed(host):
    return json.loads(host.file(MANIFEST).content_string)["sources"].get("grafana") in ("upstream", "tarball")


def test_without_an_image_nothing_is_deployed(host, deployed):
    if deployed:
        pytest.skip("a Grafana image is available here")
    assert host.run("docker inspect mol-grafana-grafana").rc != 0
    assert not host.file(os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "etc", "mol-grafana-grafana")).exists


def test_with_an_image_grafana_is_provisioned(host, deployed):
    if not deployed:
        pytest.skip("no Grafana image on this machine (see the role's loud message)")
    assert requests.get("http://127.0.0.1:33030/api/health", timeout=5).json()["database"] == "ok"
    anonymous = requests.get("http://127.0.0.1:33030/api/search", timeout=5)
    assert anonymous.status_code == 401
