"""A restore up to a moment across hosts (make test-drills): db1's database goes back to a moment
between a backup and a mistake made by the API's own account (every name it touched overwritten, as a
bad release would); app1's replicas and mon1's Prometheus, edge and simulator keep running, and
mon1's history since the backup stays. Named to run after test_multi_host.py (which takes the first
backup) and before the rolling updates."""

from __future__ import annotations

import time

import requests
from test_multi_host import API, EPHEMERAL, ansible_playbook, database, drill, prometheus, said_by


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
    assert code == 0, output["stats"]
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
    assert code == 0, output["stats"]
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
