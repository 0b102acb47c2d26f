"""The binary-log archive (roles/mysql/files/archive.sh, tasks_from archive) against the real server
of the stack's image, on a network the test makes: it keeps every log byte for byte as the server
writes it, takes up where it stopped after being killed, archives a server that began its logs
again (a restore) as a new history beside the old one, marks logs that expired before it copied them,
and finds (and copies) for a restore the logs from where a backup stands. The playbooks around it
(site.yml's archive, restore.yml's use of it after the database's volume is lost) are proved by
molecule/full-stack and molecule/multi-host (make test-drills)."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from pathlib import Path

import docker
import pytest
from test_point_in_time import USER, Server, private_dir
from testing.stack import manifest_images, wait_healthy

pytestmark = pytest.mark.needs_images

ARCHIVE_USER = "smartshop_binlog"


def owned(path: Path, mode: int) -> Path:
    os.chown(path, 999, 999)
    path.chmod(mode)
    return path


def read(container, path: str) -> bytes:
    result = container.exec_run(["cat", path])
    assert result.exit_code == 0, result.output[-500:]
    return result.output


def same_log(a: bytes, b: bytes) -> bool:
    """Equal but for the first event's flags (the server clears "in use" there when it closes a log)."""
    return len(a) == len(b) and a[:21] == b[:21] and a[22:] == b[22:]


def wait_for(check, what: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"after {timeout} s: {what}"
        time.sleep(0.3)


class Database(Server):
    """test_point_in_time's server, on the test's network, with the archive's account."""

    def __init__(self, client, image: str, name: str, network: str, volume: str) -> None:
        super().__init__(client, image, volume, None, name, secrets.token_urlsafe(18), network=network)

    def grant(self, password: str) -> None:
        self.sql(
            f"CREATE USER {ARCHIVE_USER}@'%' IDENTIFIED BY '{password}';"
            f"GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO {ARCHIVE_USER}@'%'"
        )

    def logs(self) -> list[str]:
        return [line.split("\t")[0] for line in self.sql("SHOW BINARY LOGS").splitlines()]

    def log(self, name: str) -> bytes:
        return read(self.container, f"/var/lib/mysql/{name}")


@pytest.fixture
def archive_setup(tmp_path):
    client = docker.from_env()
    prefix = f"smartshop-archive-{secrets.token_hex(3)}"
    network = client.networks.create(f"{prefix}-net")
    bin_dir = private_dir(tmp_path / "bin", "archive.sh", "common.sh")
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    password = secrets.token_urlsafe(18)
    (secrets_dir / "password").write_text(password)
    owned(secrets_dir / "password", 0o400)
    owned(secrets_dir, 0o500)
    metrics = tmp_path / "smartshop_binlog_archive.prom"
    metrics.write_text("")
    owned(metrics, 0o644)
    yield client, prefix, bin_dir, secrets_dir, metrics, password
    for container in client.containers.list(all=True, filters={"name": prefix}):
        container.remove(force=True, v=True)
    network.remove()
    for volume in client.volumes.list(filters={"name": prefix}):
        volume.remove(force=True)


def start_archive(client, image, prefix, bin_dir, secrets_dir, metrics):
    return client.containers.run(
        image, ["sh", "/opt/archive/archive.sh", "stream"], name=f"{prefix}-archive", user=USER, detach=True,
        network=f"{prefix}-net",
        environment={"ARCHIVE_HOST": f"{prefix}-db", "ARCHIVE_PORT": "3306", "ARCHIVE_USER": ARCHIVE_USER,
                     "ARCHIVE_TLS": "0", "ARCHIVE_BASENAME": "smartshop-bin", "ARCHIVE_PROJECT": "test"},
        tmpfs={"/tmp": "size=16m"},  # noqa: S108 - the container's
        # as tasks/archive.yml: healthy while it follows the server's log
        healthcheck={"test": ["CMD", "sh", "-c", "test $(( $(date +%s) - $(stat -c %Y /tmp/streaming) )) -lt 15"],
                     "interval": 10**9},
        mounts=[
            docker.types.Mount("/var/lib/mysql", f"{prefix}-archive"),
            docker.types.Mount("/opt/archive", str(bin_dir), type="bind", read_only=True),
            docker.types.Mount("/run/secrets", str(secrets_dir), type="bind", read_only=True),
            docker.types.Mount("/metrics/smartshop_binlog_archive.prom", str(metrics), type="bind"),
        ],
    )  # fmt: skip


def histories(archive) -> dict[str, list[str]]:
    listing = archive.exec_run(
        ["sh", "-c", "cd /var/lib/mysql && for d in *Z; do echo \"$d $(ls $d | tr '\\n' ' ')\"; done"]
    )
    found = {}
    for line in listing.output.decode().splitlines():
        name, *files = line.split()
        found[name] = files
    return found


def archived_whole(db: Database, archive, history: str) -> bool:
    """Every log the server holds is in the archive's history, byte for byte."""
    try:
        return all(same_log(db.log(name), read(archive, f"/var/lib/mysql/{history}/{name}")) for name in db.logs())
    except AssertionError:
        return False


def figures(metrics: Path) -> dict[str, float]:
    return {
        line.split("{")[0]: float(line.split()[-1])
        for line in metrics.read_text().splitlines()
        if line and not line.startswith("#")
    }


def find(client, image, prefix, bin_dir, start: dict, save: Path | None = None) -> tuple[int, str]:
    """archive.sh find, as tasks/archive_logs.yml runs it: the archive's volume read-only."""
    mounts = [
        docker.types.Mount("/var/lib/mysql", f"{prefix}-archive", read_only=True),
        docker.types.Mount("/opt/archive", str(bin_dir), type="bind", read_only=True),
    ]
    command = ["sh", "/opt/archive/archive.sh", "find", start["file"], str(start["position"]), start["sha256"]]
    if save:
        mounts.append(docker.types.Mount("/save", str(save), type="bind"))
        command.append("copy")
    container = client.containers.run(
        image, command, user=USER, network_mode="none", detach=True, mounts=mounts, name=f"{prefix}-find",
        environment={"ARCHIVE_BASENAME": "smartshop-bin"},
    )  # fmt: skip
    try:
        code = container.wait(timeout=120)["StatusCode"]
        return code, container.logs().decode()
    finally:
        container.remove(v=True)


def where(db: Database, name: str) -> dict:
    """Where a backup taken now stands: the log, its size, the SHA-256 of its bytes (backup.sh's)."""
    data = db.log(name)
    return {"file": name, "position": len(data), "sha256": hashlib.sha256(data[:21] + data[22:]).hexdigest()}


def test_the_archive_keeps_every_log_and_gives_a_restore_those_after_a_backup(archive_setup, tmp_path):
    client, prefix, bin_dir, secrets_dir, metrics, password = archive_setup
    image = manifest_images()["mysql"]
    db = Database(client, image, f"{prefix}-db", f"{prefix}-net", f"{prefix}-data")
    db.grant(password)
    db.sql("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(20));"
           "INSERT INTO shop.t (v) VALUES ('a')")  # fmt: skip
    archive = start_archive(client, image, prefix, bin_dir, secrets_dir, metrics)
    wait_healthy(archive, timeout=60)

    # as the server writes, across a rotation
    first = wait_for(lambda: list(histories(archive)), "a history directory")[0]
    db.sql("INSERT INTO shop.t (v) VALUES ('b'); FLUSH BINARY LOGS; INSERT INTO shop.t (v) VALUES ('c')")
    wait_for(lambda: archived_whole(db, archive, first), "the archive holds the server's two logs", 15)
    assert histories(archive)[first] == ["smartshop-bin.000001", "smartshop-bin.000002"]
    wait_for(lambda: figures(metrics).get("smartshop_binlog_archive_streaming") == 1, "its figures", 15)
    shown = figures(metrics)
    assert shown["smartshop_binlog_archive_gap"] == 0 and shown["smartshop_binlog_archive_bytes"] > 0
    wait_for(lambda: figures(metrics)["smartshop_binlog_archive_behind_bytes"] == 0, "caught up", 15)
    backup = where(db, "smartshop-bin.000002")  # a backup taken now stands here

    # killed, while the server goes on: taken up again where it stopped, nothing missing
    archive.kill()
    db.sql("INSERT INTO shop.t (v) VALUES ('d'); FLUSH BINARY LOGS; INSERT INTO shop.t (v) VALUES ('e')")
    archive.start()
    wait_for(lambda: archived_whole(db, archive, first), "the archive caught up after its restart", 30)
    assert histories(archive) == {first: [f"smartshop-bin.00000{n}" for n in (1, 2, 3)]}

    # a restore finds the logs from where the backup stands on, and copies them
    save = private_dir(tmp_path / "save")
    code, output = find(client, image, prefix, bin_dir, backup, save)
    assert code == 0, output
    found = json.loads(output.strip().splitlines()[-1])
    assert found["history"] == first and found["files"] == ["smartshop-bin.000002", "smartshop-bin.000003"]
    assert json.loads((save / "saved.json").read_text()) == found
    for name in found["files"]:
        assert same_log((save / name).read_bytes(), db.log(name)), name
    # a log of that name but other bytes (another history's), or one never archived: refused
    for wrong in ({**backup, "sha256": "0" * 64}, {**backup, "file": "smartshop-bin.000009"}):
        code, output = find(client, image, prefix, bin_dir, wrong)
        assert code == 4 and "holds no log" in output, output

    # the server begins its logs again (a restore: a new volume): a new history beside the old one
    old = {name: read(archive, f"/var/lib/mysql/{first}/{name}") for name in histories(archive)[first]}
    db.container.remove(force=True, v=True)
    time.sleep(1.1)  # a later second than the first history's
    db = Database(client, image, f"{prefix}-db", f"{prefix}-net", f"{prefix}-data2")
    db.grant(password)
    db.sql("CREATE DATABASE shop2")
    second = wait_for(lambda: [h for h in histories(archive) if h != first], "a second history", 30)[0]
    assert second > first
    wait_for(lambda: archived_whole(db, archive, second), "the new history archived", 15)
    assert {name: read(archive, f"/var/lib/mysql/{first}/{name}") for name in histories(archive)[first]} == old
    code, output = find(client, image, prefix, bin_dir, backup)  # the old backup's logs are still found
    assert code == 0 and json.loads(output.strip().splitlines()[-1])["history"] == first, output

    # away while the server removed logs it had not copied: a gap, marked and shown; a restore from a
    # backup before it is refused, naming what is missing
    before_gap = where(db, db.logs()[-1])
    archive.kill()
    # a killed container's connection lingers on the server (no FIN from a gone network namespace), and
    # the server keeps a log a replica still reads: ended here, as a long absence would end it
    for thread in db.sql("SELECT id FROM information_schema.processlist WHERE command LIKE 'Binlog Dump%'").split():
        db.sql(f"KILL {thread}")
    db.sql("CREATE TABLE shop2.x (i INT); FLUSH BINARY LOGS; INSERT INTO shop2.x VALUES (1); FLUSH BINARY LOGS")
    db.sql(f"PURGE BINARY LOGS TO '{db.logs()[-1]}'")
    archive.start()
    wait_for(lambda: figures(metrics).get("smartshop_binlog_archive_gap") == 1, "the gap shown", 30)
    assert "GAP" in archive.logs().decode()
    wait_for(lambda: archived_whole(db, archive, second), "the logs after the gap archived", 15)
    code, output = find(client, image, prefix, bin_dir, before_gap)
    assert code == 4 and "expired on the server before they were archived" in output, output
