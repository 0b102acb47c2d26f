"""How far behind the binary-log archive runs, and what following the server costs it: the stack's
MariaDB image with its binary log (as the mysql role runs it, durable commits) and the archive's
script (roles/mysql/files/archive.sh) in containers on a network this benchmark makes.

    make bench-archive          # COMMITS=2000 by default

Two phases of COMMITS single-row commits from one client, each committed durably before the next:
without the archive, then with it. With it, after each commit the client waits until the archive's
copy of the log holds every byte the server had written when the commit returned (both files read
on the Docker host, polled every 0.2 ms): that wait is the archive's lag. Prints the commits per
second of both phases, the lag's percentiles and the server's CPU per commit; the last line is one
JSON object.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import docker
import pymysql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "app"))
from testing.stack import manifest_images, wait_healthy  # noqa: E402

COMMITS = int(os.environ.get("COMMITS", "2000"))
FLAGS = ["--log-bin=smartshop-bin", "--server-id=1", "--binlog-format=ROW", "--binlog-row-image=MINIMAL",
         "--binlog-annotate-row-events=OFF", "--sync-binlog=1", "--skip-name-resolve"]  # fmt: skip
USER = "999:999"


def cpu_ns(container) -> int:
    return container.stats(stream=False)["cpu_stats"]["cpu_usage"]["total_usage"]


def volume_path(client, name: str) -> Path:
    return Path(client.volumes.get(name).attrs["Mountpoint"])


def commits(conn, count: int, after=None) -> tuple[float, list[float]]:
    """count commits; after each, after() (the lag's wait) if given. Seconds, lags."""
    lags = []
    started = time.perf_counter()
    with conn.cursor() as cursor:
        for i in range(count):
            cursor.execute("INSERT INTO bench.t (v) VALUES (%s)", (f"row-{i}",))
            conn.commit()
            if after:
                lags.append(after())
    return time.perf_counter() - started, lags


def main() -> None:
    client = docker.from_env()
    image = manifest_images()["mysql"]
    prefix = f"smartshop-bench-archive-{secrets.token_hex(3)}"
    network = client.networks.create(f"{prefix}-net")
    work = Path(tempfile.mkdtemp(prefix="bench-archive-"))
    try:
        root_password, password = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
        server = client.containers.run(
            image, FLAGS, name=f"{prefix}-db", user=USER, detach=True, network=network.name,
            environment={"MARIADB_ROOT_PASSWORD": root_password, "MARIADB_ROOT_HOST": "localhost"},
            healthcheck={"test": ["CMD", "healthcheck.sh", "--connect", "--innodb_initialized"], "interval": 10**9},
            mounts=[docker.types.Mount("/var/lib/mysql", f"{prefix}-data")],
        )  # fmt: skip
        wait_healthy(server)
        setup = (
            f"CREATE USER smartshop_binlog@'%' IDENTIFIED BY '{password}';"
            "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO smartshop_binlog@'%';"
            f"CREATE USER bench@'%' IDENTIFIED BY '{password}'; CREATE DATABASE bench;"
            "GRANT INSERT ON bench.* TO bench@'%';"
            "CREATE TABLE bench.t (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(40))"
        )
        result = server.exec_run(["mariadb", "-uroot", f"-p{root_password}", "-e", setup])
        assert result.exit_code == 0, result.output
        server.reload()
        address = server.attrs["NetworkSettings"]["Networks"][network.name]["IPAddress"]
        conn = pymysql.connect(host=address, user="bench", password=password, autocommit=False)
        data = volume_path(client, f"{prefix}-data")

        commits(conn, 200)  # warm up
        cpu = cpu_ns(server)
        alone, _ = commits(conn, COMMITS)
        cpu_alone = (cpu_ns(server) - cpu) / COMMITS / 1e6

        for name, mode in (("bin", 0o700), ("secrets", 0o500)):
            (work / name).mkdir(mode=mode)
        for script in ("archive.sh", "common.sh"):
            shutil.copy(ROOT / "roles" / "mysql" / "files" / script, work / "bin" / script)
        (work / "secrets" / "password").write_text(password)
        for path in [work, *work.rglob("*")]:
            os.chown(path, 999, 999)
        archive = client.containers.run(
            image, ["sh", "/opt/archive/archive.sh", "stream"], name=f"{prefix}-archive", user=USER, detach=True,
            network=network.name, tmpfs={"/tmp": "size=16m"},  # noqa: S108 - the container's
            environment={"ARCHIVE_HOST": f"{prefix}-db", "ARCHIVE_PORT": "3306", "ARCHIVE_USER": "smartshop_binlog",
                         "ARCHIVE_TLS": "0"},
            mounts=[docker.types.Mount("/var/lib/mysql", f"{prefix}-archive"),
                    docker.types.Mount("/opt/archive", str(work / "bin"), type="bind", read_only=True),
                    docker.types.Mount("/run/secrets", str(work / "secrets"), type="bind", read_only=True)],
        )  # fmt: skip
        archived = volume_path(client, f"{prefix}-archive")
        deadline = time.monotonic() + 60
        while not list(archived.glob("*/smartshop-bin.000001")):
            assert time.monotonic() < deadline, archive.logs().decode()[-2000:]
            time.sleep(0.2)
        copy = next(archived.glob("*/smartshop-bin.000001"))
        log = data / "smartshop-bin.000001"

        def lag() -> float:
            written = log.stat().st_size
            since = time.perf_counter()
            while copy.stat().st_size < written:
                time.sleep(0.0002)
            return time.perf_counter() - since

        cpu = cpu_ns(server)
        followed, lags = commits(conn, COMMITS, after=lag)
        waited = sum(lags)
        cpu_followed = (cpu_ns(server) - cpu) / COMMITS / 1e6
        lags_ms = sorted(x * 1000 for x in lags)
        figures = {
            "commits": COMMITS,
            "commits_per_s_alone": round(COMMITS / alone, 1),
            # the commits' own time, without the client's wait for the archive
            "commits_per_s_followed": round(COMMITS / (followed - waited), 1),
            "lag_ms_p50": round(statistics.median(lags_ms), 2),
            "lag_ms_p99": round(lags_ms[int(len(lags_ms) * 0.99) - 1], 2),
            "lag_ms_max": round(lags_ms[-1], 2),
            "server_cpu_ms_per_commit_alone": round(cpu_alone, 3),
            "server_cpu_ms_per_commit_followed": round(cpu_followed, 3),
            "archive_bytes": copy.stat().st_size,
            "log_bytes": log.stat().st_size,
        }
        print(f"without the archive: {figures['commits_per_s_alone']} commits/s, "
              f"server {figures['server_cpu_ms_per_commit_alone']} ms CPU per commit")  # fmt: skip
        print(f"followed by it:      {figures['commits_per_s_followed']} commits/s, "
              f"server {figures['server_cpu_ms_per_commit_followed']} ms CPU per commit")  # fmt: skip
        print(f"archive's lag after a commit: p50 {figures['lag_ms_p50']} ms, p99 {figures['lag_ms_p99']} ms, "
              f"max {figures['lag_ms_max']} ms")  # fmt: skip
        print(json.dumps(figures))
        conn.close()
    finally:
        for container in client.containers.list(all=True, filters={"name": prefix}):
            container.remove(force=True, v=True)
        network.remove()
        for volume in client.volumes.list(filters={"name": prefix}):
            volume.remove(force=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
