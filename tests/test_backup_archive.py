"""The smartshop.stack.backup_archive action: a backup is one age-encrypted file that only its key
opens, the newest `keep` stay, and opening one puts back the credentials without ever replacing a
different one silently. (The whole backup and restore of a running stack is proved in
molecule/full-stack.)"""

from __future__ import annotations

import json
import stat
import tarfile

import pyrage
import pytest
from ansible.errors import AnsibleActionFail
from stack_collection import plugin

action = plugin("action", "backup_archive")


def args(**given):
    return {**{key: spec.get("default") for key, spec in action.ARGUMENT_SPEC.items()}, **given}


@pytest.fixture
def layout(tmp_path):
    secrets = tmp_path / "secrets"
    (secrets / "host1").mkdir(parents=True)
    (secrets / "ca").mkdir()
    (secrets / "host1" / "mysql_root_password").write_text("root-secret-value\n")
    (secrets / "ca" / "ca.key").write_text("-----BEGIN PRIVATE KEY-----\n")
    data = tmp_path / "mariadb.tar.gz"
    data.write_bytes(b"\x1f\x8b pretend database" * 1000)
    return {
        "key": tmp_path / "keys" / "backup.key",
        "dir": tmp_path / "backups",
        "secrets": secrets,
        "data": data,
        "tmp": tmp_path,
    }


def pack(layout, name, keep=7, binlog=None):
    created = f"{name[-16:-12]}-{name[-12:-10]}-{name[-10:-8]}T{name[-7:-5]}:{name[-5:-3]}:{name[-3:-1]}Z"
    database = {"checksums": {"orders": "123"}, "binlog": binlog}
    return action.pack(
        args(
            state="pack",
            key_file=str(layout["key"]),
            dir=str(layout["dir"]),
            name=name,
            keep=keep,
            files={"mariadb.tar.gz": str(layout["data"]), "secrets": str(layout["secrets"])},
            manifest={"name": name, "created": created, "database": database},
        )
    )


def test_the_first_backup_makes_a_private_key_and_a_file_only_it_opens(layout):
    result = pack(layout, "smartshop-20261128T010000Z")
    key = layout["key"]
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    lines = key.read_text().splitlines()
    assert lines[1].startswith("# public key: age1") and lines[2].startswith("AGE-SECRET-KEY-1")
    sealed = layout["dir"] / "smartshop-20261128T010000Z.tar.age"
    assert result["path"] == str(sealed) and result["size"] == sealed.stat().st_size
    assert stat.S_IMODE(sealed.stat().st_mode) == 0o600
    raw = sealed.read_bytes()
    assert raw.startswith(b"age-encryption.org/v1\n")
    assert b"root-secret-value" not in raw and b"pretend database" not in raw
    # what age itself does with the key file: the plain tar, with every member
    plain = pyrage.decrypt(raw, [pyrage.x25519.Identity.from_str(lines[2])])
    out = layout["tmp"] / "plain.tar"
    out.write_bytes(plain)
    with tarfile.open(out) as archive:
        names = set(archive.getnames())
    assert {"manifest.json", "mariadb.tar.gz", "secrets/host1/mysql_root_password", "secrets/ca/ca.key"} <= names


def test_a_second_backup_uses_the_same_key(layout):
    pack(layout, "smartshop-20261128T010000Z")
    key = layout["key"].read_text()
    pack(layout, "smartshop-20261128T020000Z")
    assert layout["key"].read_text() == key


def test_only_the_newest_backups_stay(layout):
    for hour in range(1, 5):
        result = pack(layout, f"smartshop-20261128T0{hour}0000Z", keep=2)
    assert result["pruned"] == ["smartshop-20261128T020000Z.tar.age"]
    assert sorted(p.name for p in layout["dir"].iterdir()) == [
        "smartshop-20261128T030000Z.tar.age",
        "smartshop-20261128T040000Z.tar.age",
    ]


def test_opening_the_newest_puts_back_lost_credentials(layout):
    pack(layout, "smartshop-20261128T010000Z")
    pack(layout, "smartshop-20261128T020000Z")
    restored = layout["tmp"] / "new-controller" / "secrets"
    result = action.open_backup(
        args(
            state="open",
            key_file=str(layout["key"]),
            dir=str(layout["dir"]),
            dest=str(layout["tmp"] / "stage"),
            secrets_dest=str(restored),
        )
    )
    assert result["name"] == "smartshop-20261128T020000Z"
    assert result["manifest"]["database"]["checksums"] == {"orders": "123"}
    assert (layout["tmp"] / "stage" / "mariadb.tar.gz").read_bytes() == layout["data"].read_bytes()
    assert result["files"]["mariadb.tar.gz"] == str(layout["tmp"] / "stage" / "mariadb.tar.gz")
    password = restored / "host1" / "mysql_root_password"
    assert password.read_text() == "root-secret-value\n"
    assert stat.S_IMODE(password.stat().st_mode) == 0o600
    assert stat.S_IMODE(password.parent.stat().st_mode) == 0o700
    assert sorted(result["secrets"]["written"]) == ["ca/ca.key", "host1/mysql_root_password"]
    assert result["changed"] is True


def test_a_different_credential_stops_the_restore_unless_told(layout):
    pack(layout, "smartshop-20261128T010000Z")
    current = layout["tmp"] / "current"
    (current / "host1").mkdir(parents=True)
    (current / "host1" / "mysql_root_password").write_text("a newer value\n")
    opening = args(
        state="open",
        key_file=str(layout["key"]),
        dir=str(layout["dir"]),
        dest=str(layout["tmp"] / "stage"),
        secrets_dest=str(current),
    )
    with pytest.raises(AnsibleActionFail, match=r"differ from the backup's: host1/mysql_root_password"):
        action.open_backup(opening)
    assert (current / "host1" / "mysql_root_password").read_text() == "a newer value\n"
    assert not (current / "ca").exists()  # nothing written when one differs
    assert not (layout["tmp"] / "stage").exists()  # and nothing decrypted left behind
    result = action.open_backup({**opening, "overwrite_secrets": True, "dest": str(layout["tmp"] / "stage2")})
    assert result["secrets"]["replaced"] == ["host1/mysql_root_password"]
    assert (current / "host1" / "mysql_root_password").read_text() == "root-secret-value\n"


def test_another_key_cannot_open_a_backup(layout):
    pack(layout, "smartshop-20261128T010000Z")
    other = layout["tmp"] / "other.key"
    other.write_text(f"{pyrage.x25519.Identity.generate()}\n")
    other.chmod(0o600)
    with pytest.raises(AnsibleActionFail, match="not the key this backup was made with"):
        action.open_backup(
            args(state="open", key_file=str(other), dir=str(layout["dir"]), dest=str(layout["tmp"] / "stage"))
        )


@pytest.mark.parametrize(
    ("problem", "message"),
    [
        ("missing", "no backup key at"),
        ("readable", "readable by others"),
        ("garbage", "must hold one age secret key"),
    ],
)
def test_a_bad_key_file_is_named(layout, problem, message):
    pack(layout, "smartshop-20261128T010000Z")
    key = layout["key"]
    if problem == "missing":
        key.unlink()
    elif problem == "readable":
        key.chmod(0o644)
    else:
        key.write_text("not a key\n")
    with pytest.raises(AnsibleActionFail, match=message):
        action.open_backup(
            args(state="open", key_file=str(key), dir=str(layout["dir"]), dest=str(layout["tmp"] / "stage"))
        )


def test_no_backup_and_an_unknown_name_are_named(layout):
    opening = args(state="open", key_file=str(layout["key"]), dir=str(layout["dir"]), dest=str(layout["tmp"] / "s"))
    layout["key"].parent.mkdir()
    layout["key"].write_text(f"{pyrage.x25519.Identity.generate()}\n")
    layout["key"].chmod(0o600)
    with pytest.raises(AnsibleActionFail, match="no backup in"):
        action.open_backup(opening)
    pack(layout, "smartshop-20261128T010000Z")
    with pytest.raises(AnsibleActionFail, match=r"no backup .*smartshop-1999.* \(in .*: smartshop-20261128T010000Z"):
        action.open_backup({**opening, "name": "smartshop-1999"})


def test_a_member_outside_the_destination_is_refused(layout):
    """A crafted archive (../ paths) encrypted to the key is refused, and writes nothing outside."""
    pack(layout, "smartshop-20261128T010000Z")
    identity = pyrage.x25519.Identity.from_str(layout["key"].read_text().splitlines()[2])
    evil = layout["tmp"] / "evil.tar"
    payload = layout["tmp"] / "payload"
    payload.write_text("owned")
    with tarfile.open(evil, "w") as archive:
        archive.add(payload, arcname="../escaped")
        manifest = layout["tmp"] / "manifest.json"
        manifest.write_text(json.dumps({}))
        archive.add(manifest, arcname="manifest.json")
    (layout["dir"] / "smartshop-20261128T090000Z.tar.age").write_bytes(
        pyrage.encrypt(evil.read_bytes(), [identity.to_public()])
    )
    with pytest.raises(AnsibleActionFail, match="not a backup archive"):
        action.open_backup(
            args(state="open", key_file=str(layout["key"]), dir=str(layout["dir"]), dest=str(layout["tmp"] / "stage"))
        )
    assert not (layout["tmp"] / "escaped").exists()


def test_pack_refuses_a_name_with_a_path_and_a_keep_below_one(layout):
    with pytest.raises(AnsibleActionFail, match="plain file name"):
        pack(layout, "../elsewhere")
    with pytest.raises(AnsibleActionFail, match="keep must be at least 1"):
        pack(layout, "smartshop-x", keep=0)


BINLOG = {"file": "smartshop-bin.000003", "position": 873, "sha256": "ab" * 32}


def open_until(layout, until, name=""):
    return action.open_backup(
        args(state="open", key_file=str(layout["key"]), dir=str(layout["dir"]), dest=str(layout["tmp"] / "stage"),
             name=name, moment=until)
    )  # fmt: skip


def test_up_to_a_moment_the_newest_backup_taken_before_it_opens(layout):
    for name in ("smartshop-20261128T010000Z", "smartshop-20261128T020000Z", "smartshop-20261128T030000Z"):
        pack(layout, name, binlog=BINLOG)
    for until, expected in [
        ("2026-11-28 02:30:00", "smartshop-20261128T020000Z"),
        ("2026-11-28T02:00:00Z", "smartshop-20261128T020000Z"),  # taken at the moment itself
        ("2026-11-28T01:59", "smartshop-20261128T010000Z"),
        ("2026-12-01 00:00", "smartshop-20261128T030000Z"),
    ]:
        opened = open_until(layout, until)
        assert opened["name"] == expected, until
        assert opened["until"] == until.replace("T", " ").removesuffix("Z") + (":00" if until.count(":") == 1 else "")
        assert opened["manifest"]["database"]["binlog"] == BINLOG


@pytest.mark.parametrize(
    ("until", "name", "message"),
    [
        ("yesterday", "", "must be a moment in UTC such as '2026-12-07 14:02:00'"),
        ("2026-13-01 00:00:00", "", "must be a moment in UTC"),
        ("2999-01-01 00:00:00", "", "is in the future"),
        ("2026-11-28 00:30:00", "", "no backup in"),
        ("2026-11-28 01:30:00", "smartshop-20261128T020000Z", "taken at 2026-11-28 02:00:00 UTC, after backup_until"),
    ],
)
def test_a_moment_no_backup_can_reach_is_named(layout, until, name, message):
    pack(layout, "smartshop-20261128T010000Z", binlog=BINLOG)
    pack(layout, "smartshop-20261128T020000Z", binlog=BINLOG)
    with pytest.raises(AnsibleActionFail, match=message.replace("(", r"\(")):
        open_until(layout, until, name)


def test_a_backup_without_its_place_in_the_binary_log_restores_only_as_it_was_taken(layout):
    pack(layout, "smartshop-20261128T010000Z", binlog=None)
    with pytest.raises(AnsibleActionFail, match="does not record where it stands in the binary log"):
        open_until(layout, "2026-11-28 02:00:00")
    assert not (layout["tmp"] / "stage").exists()  # nothing decrypted is left behind
    assert open_until(layout, "")["name"] == "smartshop-20261128T010000Z"  # as it was taken
