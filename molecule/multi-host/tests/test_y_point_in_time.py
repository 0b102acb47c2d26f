"""A restore up to a moment across hosts (make test-drills): db1's database goes back to a moment
between a backup and a mistake made by the API's own account (every name it touched overwritten, as a
bad release would); app1's replicas and mon1's Prometheus, edge and simulator keep running, and
mon1's history since the backup stays. Named to run after test_multi_host.py (which takes the first
backup) and before the rolling updates. Then db1's disk is lost, and app1's archive too: the binary
logs come from the other archive, on mon1 (backup_hosts: app1, mon1)."""

from __future__ import annotations

import time

import requests
from test_multi_host import API, EPHEMERAL, ansible_playbook, database, drill, failures, prometheus, said_by, ssh


def create_user(name: str) -> int:
    response = requests.post(f"{API}/api/users/create", json={"username": name}, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def username(user_id: int) -> str | None:
    response = requests.get(f"{API}/api/users/{user_id}", timeout=10)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return response.json()["username"]


@drill
def test_a_restore_up_to_a_moment_puts_db1_back_and_leaves_the_other_hosts_running():
    key = EPHEMERAL / "backup-key" / "backup.key"
    where = ("-e", f"backup_dir={EPHEMERAL / 'backups'}", "-e", f"backup_key_file={key}")
    stamp = int(time.time())
    before_backup = create_user(f"mh-pitr-before-{stamp}")
    code, output = ansible_playbook("playbooks/backup.yml", *where)
    assert code == 0, failures(output)
    after_backup = create_user(f"mh-pitr-after-{stamp}")
    time.sleep(1.5)
    moment = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    history_at = time.time()
    time.sleep(1.5)
    with database() as db, db.cursor() as cursor:
        cursor.execute(
            "UPDATE users SET username = CONCAT('mistake-', id) WHERE id IN (%s, %s)", (before_backup, after_backup)
        )
        db.commit()
    too_late = create_user(f"mh-pitr-too-late-{stamp}")
    assert username(before_backup) == f"mistake-{before_backup}"
    time.sleep(15)  # a scrape or two after the moment

    code, output = ansible_playbook(
        "playbooks/restore.yml", "-e", f"backup_until='{moment}'", "-e", "backup_replace=true", *where
    )
    assert code == 0, failures(output)
    saved = {host: said for host, said in said_by(output, "Say what was saved").items() if not said.get("skipped")}
    assert list(saved) == ["db1"] and saved["db1"]["msg"].startswith("Saved "), saved
    # only db1's database was replaced: mon1's snapshot was not unpacked (its volume stayed)
    unpacked = [
        host
        for play in output["plays"]
        for entry in play["tasks"]
        if entry["task"]["name"].endswith("Unpack the snapshot into a new data volume")
        for host, outcome in entry["hosts"].items()
        if outcome.get("changed")
    ]
    assert unpacked == []
    assert username(before_backup) == f"mh-pitr-before-{stamp}"
    assert username(after_backup) == f"mh-pitr-after-{stamp}"
    assert username(too_late) != f"mh-pitr-too-late-{stamp}"
    history = prometheus("/api/v1/query", query='up{job="prometheus"}', time=history_at)["data"]["result"]
    assert history, "no sample from after the backup on mon1: its history was replaced"


def archived_histories() -> list[str]:
    listing = ssh("mon1", "sudo docker exec mh-mon1-binlog-archive ls /var/lib/mysql")
    assert listing.returncode == 0, listing.stderr
    return sorted(listing.stdout.split())


@drill
def test_db1_losing_its_database_volume_a_restore_up_to_a_moment_replays_the_archive_on_mon1():
    """db1's MariaDB container and volume removed, as a dead disk would take them (and the binary logs
    with them), and app1's archive with its volume, the first of backup_hosts: make restore
    UNTIL=<moment> REPLACE=1 finds app1 without an archive and the logs in mon1's while nothing is
    stopped yet, copies them to db1 through the controller and replays them: a user made after the
    backup and before the moment is back, one made after it is not, mon1's archive begins a new
    history beside the lost server's, and app1's archive is made again and catches up."""
    key = EPHEMERAL / "backup-key" / "backup.key"
    where = ("-e", f"backup_dir={EPHEMERAL / 'backups'}", "-e", f"backup_key_file={key}")
    stamp = int(time.time())
    code, output = ansible_playbook("playbooks/backup.yml", *where)
    assert code == 0, failures(output)
    after_backup = create_user(f"mh-lost-after-{stamp}")
    time.sleep(1.5)
    moment = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    time.sleep(1.5)
    too_late = create_user(f"mh-lost-too-late-{stamp}")
    time.sleep(2)
    before = archived_histories()
    lost = ssh("db1", "sudo docker rm -f mh-db1-mysql && sudo docker volume rm mh-db1-mysql-data")
    assert lost.returncode == 0, lost.stderr
    lost = ssh("app1", "sudo docker rm -f mh-app1-binlog-archive && sudo docker volume rm mh-app1-binlog-archive")
    assert lost.returncode == 0, lost.stderr

    code, output = ansible_playbook(
        "playbooks/restore.yml", "-e", f"backup_until='{moment}'", "-e", "backup_replace=true", *where
    )
    assert code == 0, failures(output)
    saved = {host: said for host, said in said_by(output, "Say what was saved").items() if not said.get("skipped")}
    assert list(saved) == ["db1"] and "from the archive on mon1" in saved["db1"]["msg"], saved
    verified = said_by(output, "Say what was verified")
    assert verified["app1"]["msg"][-1] == "binary-log archive caught up with the database", verified
    assert username(after_backup) == f"mh-lost-after-{stamp}"
    assert username(too_late) != f"mh-lost-too-late-{stamp}"
    deadline = time.monotonic() + 30
    while len(after := archived_histories()) == len(before):
        assert time.monotonic() < deadline, after
        time.sleep(2)
    assert set(before) < set(after)
