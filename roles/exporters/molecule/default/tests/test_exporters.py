"""The exporters role: mysqld_exporter reaches MariaDB with its least-privilege user; node_exporter
reads the host's filesystem; credentials in a private my.cnf."""

import os

import requests


def exec_get(host, container, url):
    out = host.run(f"docker exec {container} wget -q -O - {url}")
    assert out.rc == 0, out.stderr
    return out.stdout


def test_mysqld_exporter_sees_the_database():
    text = requests.get("http://127.0.0.1:39104/metrics", timeout=10).text
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
    text = exec_get(host, "mol-exporters-node-exporter", "http://127.0.0.1:9100/metrics")
    assert "node_filesystem_size_bytes{" in text and 'mountpoint="/"' in text
    assert "node_memory_MemTotal_bytes" in text


def test_both_run_as_nobody(host):
    for name in ("mol-exporters-node-exporter", "mol-exporters-mysqld-exporter"):
        assert host.run(f"docker exec {name} id -u").stdout.strip() == "65534"
