"""The mysql role's scripts of a point-in-time restore, run as the role runs them, against the real
server of the stack's image: a backup (backup.sh) records where in the binary log it stands; the
binary logs are saved from the data volume once the server stopped (save-binlogs.sh); a new volume
is filled from the backup and the logs replayed up to a moment (seed.sh). What was committed before
that moment is back, what came after (here, an operator's mistaken DELETE) is not, and the checksums
read before the replay are the backup's. The playbooks around them are proved by molecule/full-stack
(make test-drills)."""

from __future__ import annotations

import datetime
import json
import os
import secrets
import shutil
import time
from pathlib import Path

import docker
import pytest
from testing.stack import manifest_images, wait_healthy

pytestmark = pytest.mark.needs_images

FILES = Path(__file__).resolve().parents[1] / "roles" / "mysql" / "files"
# as roles/mysql/vars/main.yml sets them (_mysql_binlog_flags)
BINLOG_FLAGS = [
    "--log-bin=smartshop-bin", "--server-id=1", "--binlog-format=ROW", "--binlog-row-image=MINIMAL",
    "--binlog-annotate-row-events=OFF", "--sync-binlog=1",
]  # fmt: skip
USER = "999:999"  # mysql_container_user


def private_dir(path: Path, *scripts: str) -> Path:
    """A directory the server's user alone owns, with the role's scripts in it."""
    path.mkdir()
    for script in scripts:
        shutil.copy(FILES / script, path / script)
    for item in [path, *path.iterdir()]:
        os.chown(item, 999, 999)
    path.chmod(0o700)
    return path


def one_shot(client, image: str, command: list[str], mounts: list, name: str) -> dict:
    """A container run to its end as the role's action runs it (state completed); its last line."""
    container = client.containers.run(
        image, command, name=name, user=USER, mounts=mounts, tmpfs={"/tmp": "size=64m"}, detach=True,  # noqa: S108 - the container's
        network_mode="none", entrypoint=[],
    )  # fmt: skip
    try:
        code = container.wait(timeout=300)["StatusCode"]
        output = container.logs().decode()
        assert code == 0, output[-3000:]
        return json.loads(output.strip().splitlines()[-1])
    finally:
        container.remove(force=True, v=True)


class Server:
    """MariaDB of the stack's image on a named volume, root through its socket (as the role runs it)."""

    def __init__(
        self,
        client,
        image: str,
        volume: str,
        run_dir: Path | None,
        name: str,
        password: str,
        network: str | None = None,
    ) -> None:
        """No network unless one is named; the socket's directory shared with this machine when given."""
        self.container = client.containers.run(
            image, BINLOG_FLAGS, name=name, user=USER, detach=True,
            **({"network": network} if network else {"network_mode": "none"}),
            environment={"MARIADB_ROOT_PASSWORD": password, "MARIADB_ROOT_HOST": "localhost"},
            healthcheck={"test": ["CMD", "healthcheck.sh", "--connect", "--innodb_initialized"], "interval": 5 * 10**9},
            mounts=[docker.types.Mount("/var/lib/mysql", volume)]
            + ([docker.types.Mount("/run/mysqld", str(run_dir), type="bind")] if run_dir else []),
        )  # fmt: skip
        self.password = password
        wait_healthy(self.container)  # the role's check: the entrypoint's first start (initialising) is over

    def sql(self, statement: str) -> str:
        result = self.container.exec_run(["mariadb", "-uroot", f"-p{self.password}", "-N", "-B", "-e", statement])
        assert result.exit_code == 0, result.output.decode()
        return result.output.decode().strip()

    def stop(self) -> None:
        self.container.stop(timeout=60)  # a clean shutdown closes the binary log
        self.container.remove(v=True)


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


@pytest.fixture
def engine(tmp_path):
    client = docker.from_env()
    prefix = f"smartshop-pitr-{secrets.token_hex(3)}"
    volumes = [client.volumes.create(f"{prefix}-{which}") for which in ("data", "restored")]
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    os.chown(run_dir, 999, 999)
    yield client, prefix, run_dir
    for container in client.containers.list(all=True, filters={"name": prefix}):
        container.remove(force=True, v=True)
    for volume in volumes:
        volume.remove(force=True)


def test_a_restore_up_to_a_moment_brings_back_what_was_committed_before_it_and_nothing_after(engine, tmp_path):
    client, prefix, run_dir = engine
    image = manifest_images()["mysql"]
    password = secrets.token_urlsafe(18)
    server = Server(client, image, f"{prefix}-data", run_dir, f"{prefix}-server", password)
    server.sql(
        "CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(20));"
        "CREATE TABLE shop.u (id INT); INSERT INTO shop.t (v) VALUES ('a'), ('b')"
    )

    # the backup, beside the running server, as tasks/backup.yml runs it
    backup_dir = private_dir(tmp_path / "backup", "backup.sh", "checksum.sh", "common.sh")
    login = f"[client]\nuser=root\npassword={password}\nsocket=/run/mysqld/mysqld.sock\n"
    (backup_dir / "backup.cnf").write_text(login)
    os.chown(backup_dir / "backup.cnf", 999, 999)
    backup = one_shot(client, image, ["sh", "/backup/backup.sh", "shop"], [
        docker.types.Mount("/var/lib/mysql", f"{prefix}-data", read_only=True),
        docker.types.Mount("/run/mysqld", str(run_dir), type="bind"),
        docker.types.Mount("/backup", str(backup_dir), type="bind"),
    ], f"{prefix}-backup")  # fmt: skip
    assert backup["rows"] == {"t": 2, "u": 0}
    start = backup["binlog"]
    assert start["file"] == "smartshop-bin.000001" and start["position"] > 0 and len(start["sha256"]) == 64

    # committed after the backup and before the moment: must come back; after it: must not
    server.sql("INSERT INTO shop.t (v) VALUES ('c'); INSERT INTO shop.u VALUES (1)")
    server.sql("UPDATE shop.t SET v = 'b2' WHERE v = 'b'")  # a row image of its key and changed column
    server.sql("FLUSH BINARY LOGS")  # the replay goes on over the next file
    server.sql("INSERT INTO shop.t (v) VALUES ('d')")
    time.sleep(1.2)
    moment = utc_now()
    time.sleep(1.2)
    server.sql("DELETE FROM shop.t WHERE v IN ('a', 'c')")  # the mistake a restore undoes
    server.sql("INSERT INTO shop.t (v) VALUES ('e')")

    # the binary logs saved from the volume, from the backup's on: checked while the server runs
    saved = private_dir(tmp_path / "binlog", "save-binlogs.sh", "common.sh")
    mounts = [
        docker.types.Mount("/var/lib/mysql", f"{prefix}-data", read_only=True),
        docker.types.Mount("/save", str(saved), type="bind"),
    ]
    save = ["sh", "/save/save-binlogs.sh", "smartshop-bin", start["file"], str(start["position"]), start["sha256"]]
    assert one_shot(client, image, [*save, "check"], mounts, f"{prefix}-check") == {"checked": True}
    assert sorted(path.name for path in saved.iterdir()) == ["common.sh", "save-binlogs.sh"]
    server.stop()
    # a file the volume no longer holds, or one of the same name that is not the backup's (after a
    # restore the server starts its logs again): refused, nothing saved
    for first, sha256, code, says in [
        ("smartshop-bin.000009", start["sha256"], 4, "smartshop-bin.000009, where the backup was taken, is no longer"),
        (start["file"], "0" * 64, 5, "is not the one the backup was taken in"),
    ]:
        refused = client.containers.run(
            image, ["sh", "/save/save-binlogs.sh", "smartshop-bin", first, str(start["position"]), sha256], user=USER,
            network_mode="none", entrypoint=[], detach=True, mounts=mounts,
        )  # fmt: skip
        assert refused.wait(timeout=120)["StatusCode"] == code
        assert says in refused.logs().decode()
        refused.remove(v=True)
        assert sorted(path.name for path in saved.iterdir()) == ["common.sh", "save-binlogs.sh"]
    result = one_shot(client, image, save, mounts, f"{prefix}-save")
    assert result["files"] == ["smartshop-bin.000001", "smartshop-bin.000002"] and result["bytes"] > 0
    assert json.loads((saved / "saved.json").read_text()) == result

    # a new volume from the backup, the logs replayed up to the moment
    restore_dir = private_dir(tmp_path / "restore", "seed.sh", "checksum.sh", "common.sh")
    (backup_dir / "mariadb.tar.gz").rename(restore_dir / "mariadb.tar.gz")
    seeded = one_shot(client, image, [
        "sh", "/restore/seed.sh", "shop", start["file"], str(start["position"]), moment,
    ], [
        docker.types.Mount("/var/lib/mysql", f"{prefix}-restored"),
        docker.types.Mount("/restore", str(restore_dir), type="bind"),
        docker.types.Mount("/restore/binlog", str(saved), type="bind", read_only=True),
    ], f"{prefix}-seed")  # fmt: skip
    assert seeded["checksums"] == backup["checksums"] and seeded["rows"] == backup["rows"]
    replayed = seeded["replayed"]
    assert replayed["transactions"] == 4 and replayed["until"] == moment  # 'c' and u's row are one
    assert replayed["rows"] == {"t": 4, "u": 1}
    assert replayed["last"] < moment

    restored = Server(client, image, f"{prefix}-restored", run_dir, f"{prefix}-restored", password)
    assert restored.sql("SELECT GROUP_CONCAT(v ORDER BY id) FROM shop.t") == "a,b2,c,d"
    restored.stop()
