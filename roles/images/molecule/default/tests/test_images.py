"""The images role: every component gets an image that keeps its upstream contract."""

import json
import os

import pytest

MANIFEST = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "etc", "images.json")

# component -> (entrypoint, user, version flag output)
CONTRACT = {
    "mysql": (["docker-entrypoint.sh"], "mysql", None),
    "prometheus": (["/bin/prometheus"], "nobody", "prometheus, version"),
    "node_exporter": (["/bin/node_exporter"], "nobody", "node_exporter, version"),
    "mysqld_exporter": (["/bin/mysqld_exporter"], "nobody", "mysqld_exporter, version"),
    "alertmanager": (["/bin/alertmanager"], "nobody", "alertmanager, version"),
}


@pytest.fixture(scope="module")
def manifest(host):
    return json.loads(host.file(MANIFEST).content_string)


def image_config(host, ref):
    result = host.run(f"docker image inspect {ref}")
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)[0]["Config"]


def test_manifest_says_where_images_come_from(manifest):
    assert manifest["source"] in ("upstream", "airgap")
    assert manifest["reason"]


@pytest.mark.parametrize("component", sorted(CONTRACT))
def test_image_keeps_the_entrypoint_contract(host, manifest, component):
    entrypoint, user, _ = CONTRACT[component]
    config = image_config(host, manifest["images"][component])
    assert config["Entrypoint"] == entrypoint
    if manifest["sources"][component] == "airgap":
        assert config["User"] == user
        assert manifest["images"][component].split(":")[1].startswith("debian12-")


@pytest.mark.parametrize("component", [c for c in sorted(CONTRACT) if CONTRACT[c][2]])
def test_daemon_runs_from_the_entrypoint(host, manifest, component):
    result = host.run(f"docker run --rm {manifest['images'][component]} --version")
    assert result.rc == 0, result.stderr
    assert CONTRACT[component][2] in (result.stdout + result.stderr)


def test_tools_beside_the_daemons(host, manifest):
    promtool = host.run(f"docker run --rm --entrypoint promtool {manifest['images']['prometheus']} --version")
    assert promtool.rc == 0 and "promtool, version" in promtool.stdout + promtool.stderr
    amtool = host.run(f"docker run --rm --entrypoint amtool {manifest['images']['alertmanager']} --version")
    assert amtool.rc == 0 and "amtool, version" in amtool.stdout + amtool.stderr


def test_http_healthcheck_tool_present(host, manifest):
    for component in ("prometheus", "node_exporter", "mysqld_exporter", "alertmanager"):
        result = host.run(f"docker run --rm --entrypoint wget {manifest['images'][component]} --help")
        assert "Usage" in result.stdout + result.stderr, component


def test_grafana_is_loaded_or_reported_missing(manifest):
    if manifest["source"] == "upstream":
        assert manifest["sources"]["grafana"] == "upstream"
    else:
        assert manifest["sources"]["grafana"] in ("tarball", "missing")
        assert ("grafana" in manifest["images"]) == (manifest["sources"]["grafana"] == "tarball")


def test_images_are_pinned(manifest):
    for ref in manifest["images"].values():
        assert not ref.endswith(":latest")
        assert ":" in ref
