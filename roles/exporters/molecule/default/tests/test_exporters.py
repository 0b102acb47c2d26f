"""The exporters role: mysqld_exporter reaches MariaDB with its least-privilege user; node_exporter
reads the host's filesystem; credentials in a private my.cnf."""

import os
from pathlib import Path

import pytest
import requests

EPHEMERAL = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
CA = str(EPHEMERAL / "secrets" / "ca" / "ca.crt")
SCRAPE = ("prometheus", (EPHEMERAL / "secrets" / "instance" / "scrape_password").read_text().strip())


def exec_get(host, container, url):
    """GET inside the container, over TLS checked against the stack's authority, with the scrape user."""
    out = host.run(
        f"docker exec {container} wget -q -O - --ca-certificate=/etc/smartshop/web/ca.pem "
        f"--user prometheus --password {SCRAPE[1]} {url}"
    )
    assert out.rc == 0, out.stderr
    return out.stdout


def test_mysqld_exporter_sees_the_database():
    text = requests.get("https://127.0.0.1:39104/metrics", auth=SCRAPE, verify=CA, timeout=10).text
    assert "\nmysql_up 1" in text
    assert "mysql_global_status_threads_connected" in text


def test_mysqld_exporter_credentials_file(host):
    c = host.docker("mol-exporters-mysqld-exporter").inspect()
    assert "--config.my-cnf=/etc/mysqld_exporter/my.cnf" in c["Args"]
    env = "\n".join(c["Config"]["Env"])
    assert "DATA_SOURCE_NAME" not in env
    f = host.file(
        os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "etc", "mol-exporters-mysqld-exporter", "my.cnf")
    )
    assert f.mode == 0o400 and f.uid == 65534
    assert "user=exporter" in f.content_string


def test_node_exporter_reads_the_host(host):
    c = host.docker("mol-exporters-node-exporter").inspect()
    assert c["State"]["Health"]["Status"] == "healthy"
    assert not c["HostConfig"]["PortBindings"]  # scraped on the network only, as in the seed
    mounts = {m["Destination"]: m for m in c["Mounts"]}
    assert mounts["/host"]["RW"] is False
    text = exec_get(host, "mol-exporters-node-exporter", "https://127.0.0.1:9100/metrics")
    assert "node_filesystem_size_bytes{" in text and 'mountpoint="/"' in text
    assert "node_memory_MemTotal_bytes" in text


def test_both_run_as_nobody(host):
    for name in ("mol-exporters-node-exporter", "mol-exporters-mysqld-exporter"):
        assert host.run(f"docker exec {name} id -u").stdout.strip() == "65534"


@pytest.mark.parametrize(
    "auth", [None, ("prometheus", "wrong-password"), ("admin", SCRAPE[1])], ids=["anonymous", "wrong", "other-user"]
)
def test_metrics_need_the_scrape_credentials(auth):
    assert requests.get("https://127.0.0.1:39104/metrics", auth=auth, verify=CA, timeout=10).status_code == 401


def test_no_plain_http_and_the_certificate_is_the_stacks():
    plain = requests.get("http://127.0.0.1:39104/metrics", timeout=5)  # Go answers plain HTTP with a 400
    assert plain.status_code == 400 and "mysql_up" not in plain.text
    with pytest.raises(requests.exceptions.SSLError):
        requests.get("https://127.0.0.1:39104/metrics", auth=SCRAPE, timeout=5)  # not in the system's trust


def test_the_web_configuration_is_private_and_valid(host):
    web = EPHEMERAL / "etc" / "mol-exporters-exporters-web"
    for name in ("web-config.yml", "key.pem"):
        f = host.file(str(web / name))
        assert f.mode == 0o400 and f.uid == 65534, name
    assert SCRAPE[1] not in host.file(str(web / "web-config.yml")).content_string  # a bcrypt hash only
