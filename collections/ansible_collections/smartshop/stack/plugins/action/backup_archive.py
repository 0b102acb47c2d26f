"""Seal a backup into one encrypted file on the controller, or open one (``smartshop.stack.backup_archive``).

A backup is one tar archive encrypted in the age format (https://age-encryption.org) to the X25519
key in ``key_file``: ``<dir>/<name>.tar.age``, mode 0600. The key file is made on first use (mode
0600, in age-keygen's layout), so ``age -d -i <key_file> <backup>`` opens a backup without this
project. Without the key no backup can be read: keep a copy of it away from this machine.

``state: pack`` puts ``files`` (archive name: a file or a directory on the controller) and
``manifest`` (as ``manifest.json``) into ``<dir>/<name>.tar.age``, then keeps the newest ``keep``
backups of ``dir`` and deletes the older ones.

``state: open`` decrypts a backup (``name``: a backup's name or path; by default the newest of
``dir``) into ``dest`` and returns its manifest and the path of each member. With ``secrets_dest``
it puts the backup's ``secrets/`` tree there: files missing there are written (mode 0600), equal
ones are left, and a different one fails the task naming it, unless ``overwrite_secrets``. With
``moment`` (UTC: a point-in-time restore) the newest backup taken at or before it is opened
(or ``name``, which must be), it must record where it stands in the binary log, and the moment comes
back as ``until``, 'YYYY-MM-DD HH:MM:SS'.
"""

from __future__ import annotations

import datetime
import filecmp
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
from pathlib import Path

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

SUFFIX = ".tar.age"
ARGUMENT_SPEC = {
    "state": {"type": "str", "required": True, "choices": ["pack", "open"]},
    "key_file": {"type": "path", "required": True},
    "dir": {"type": "path", "required": True},
    "name": {"type": "str", "default": ""},
    "files": {"type": "dict", "default": {}},
    "manifest": {"type": "dict", "default": {}},
    "keep": {"type": "int", "default": 7},
    "dest": {"type": "path"},
    "secrets_dest": {"type": "path"},
    "overwrite_secrets": {"type": "bool", "default": False},
    "moment": {"type": "str", "default": ""},
}
# a backup's name ends with the UTC time it was taken (backup.yml: <project>-YYYYMMDDTHHMMSSZ)
TAKEN = re.compile(r"(\d{8}T\d{6}Z)$")
MOMENT_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M")


def _pyrage():
    try:
        import pyrage
    except ImportError as exc:  # pragma: no cover - depends on the controller's packages
        raise AnsibleActionFail(
            "backups need the Python package pyrage on the controller (pip install -r requirements-dev.txt)"
        ) from exc
    return pyrage


def _private(path: Path, directory: bool = False) -> None:
    path.chmod(0o700 if directory else 0o600)


def load_identity(key_file: Path, create: bool):
    """The X25519 identity in key_file; made (mode 0600) when missing and `create`."""
    pyrage = _pyrage()
    if not key_file.exists():
        if not create:
            raise AnsibleActionFail(
                f"no backup key at {key_file}: a backup opens only with the key it was made with "
                "(put a copy there, or name it with SMARTSHOP_BACKUP_KEY_FILE)"
            )
        key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        identity = pyrage.x25519.Identity.generate()
        created = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(f"# created: {created}\n# public key: {identity.to_public()}\n{identity}\n")
        return identity
    if key_file.stat().st_mode & 0o077:
        raise AnsibleActionFail(f"the backup key {key_file} is readable by others: chmod 600 {key_file}")
    lines = [line.strip() for line in key_file.read_text().splitlines()]
    keys = [line for line in lines if line.startswith("AGE-SECRET-KEY-")]
    if len(keys) != 1:
        raise AnsibleActionFail(f"{key_file} must hold one age secret key (AGE-SECRET-KEY-1...), found {len(keys)}")
    try:
        return pyrage.x25519.Identity.from_str(keys[0])
    except Exception as exc:
        raise AnsibleActionFail(f"{key_file}: not a valid age secret key") from exc


def backups(directory: Path) -> list[Path]:
    """The backups of a directory, oldest first (their names start with a UTC time)."""
    if not directory.is_dir():
        return []
    return sorted(path for path in directory.iterdir() if path.name.endswith(SUFFIX) and path.is_file())


def pack(args: dict) -> dict:
    pyrage = _pyrage()
    identity = load_identity(Path(args["key_file"]), create=True)
    name = args["name"]
    if not name or "/" in name or name.startswith("."):
        raise AnsibleActionFail(f"name must be a plain file name, not {name!r}")
    if args["keep"] < 1:
        raise AnsibleActionFail(f"keep must be at least 1, not {args['keep']}")
    directory = Path(args["dir"])
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = directory / f"{name}{SUFFIX}"
    if target.exists():
        raise AnsibleActionFail(f"{target} exists already")
    with tempfile.TemporaryDirectory(dir=directory, prefix=".pack-") as work:
        plain = Path(work) / "backup.tar"
        with tarfile.open(plain, "w") as archive:
            manifest = json.dumps(args["manifest"], indent=2, sort_keys=True).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size, info.mode = len(manifest), 0o600
            info.mtime = int(datetime.datetime.now(datetime.UTC).timestamp())
            archive.addfile(info, fileobj=io.BytesIO(manifest))
            for arcname, source in sorted(args["files"].items()):
                if not Path(source).exists():
                    raise AnsibleActionFail(f"files.{arcname}: {source} does not exist")
                archive.add(source, arcname=arcname)
        sealed = Path(work) / "backup.tar.age"
        pyrage.encrypt_file(str(plain), str(sealed), [identity.to_public()])
        _private(sealed)
        sealed.replace(target)
    every = backups(directory)
    pruned = every[: max(0, len(every) - args["keep"])]
    for old in pruned:
        old.unlink()
    return {
        "changed": True,
        "path": str(target),
        "size": target.stat().st_size,
        "pruned": [path.name for path in pruned],
        "kept": [path.name for path in backups(directory)],
    }


def moment(text: str, now: datetime.datetime | None = None) -> datetime.datetime:
    """A moment given as UTC ('2026-12-07 14:02:00', '2026-12-07T14:02', a trailing Z), never in the
    future."""
    plain = text.strip().removesuffix("Z")
    for layout in MOMENT_FORMATS:
        try:
            when = datetime.datetime.strptime(plain, layout).replace(tzinfo=datetime.UTC)
            break
        except ValueError:
            continue
    else:
        raise AnsibleActionFail(
            f"backup_until (UNTIL) must be a moment in UTC such as '2026-12-07 14:02:00' or 2026-12-07T14:02:00Z, "
            f"not {text!r}"
        )
    now = now or datetime.datetime.now(datetime.UTC)
    if when > now:
        raise AnsibleActionFail(
            f"backup_until (UNTIL) {when:%Y-%m-%d %H:%M:%S} is in the future (it is {now:%Y-%m-%d %H:%M:%S} UTC): "
            "a restore brings back a moment that has passed"
        )
    return when


def taken(path: Path) -> datetime.datetime | None:
    """When a backup was taken, from its name; None for a name without the time."""
    found = TAKEN.search(path.name[: -len(SUFFIX)])
    if not found:
        return None
    return datetime.datetime.strptime(found.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)


def choose(directory: Path, name: str, until: datetime.datetime | None = None) -> Path:
    if until and not name:
        every = [path for path in backups(directory) if (when := taken(path)) and when <= until]
        if not every:
            have = ", ".join(path.name for path in backups(directory)) or "none"
            raise AnsibleActionFail(
                f"no backup in {directory} was taken at or before {until:%Y-%m-%d %H:%M:%S} UTC (there: {have}): "
                "a point-in-time restore starts from a backup taken before the moment"
            )
        return every[-1]
    if name:
        candidate = Path(name)
        if not candidate.is_absolute():
            candidate = directory / (name if name.endswith(SUFFIX) else f"{name}{SUFFIX}")
        if not candidate.is_file():
            have = ", ".join(path.name for path in backups(directory)) or "none"
            raise AnsibleActionFail(f"no backup {candidate} (in {directory}: {have})")
        return candidate
    every = backups(directory)
    if not every:
        raise AnsibleActionFail(f"no backup in {directory} (make backup writes them there; BACKUP_DIR names another)")
    return every[-1]


def restore_secrets(tree: Path, dest: Path, overwrite: bool) -> dict:
    """Put the backup's secrets tree into dest: missing files written, equal ones left, different
    ones refused unless overwrite."""
    written, equal, different = [], [], []
    files = sorted(path for path in tree.rglob("*") if path.is_file())
    for source in files:
        relative = source.relative_to(tree)
        target = dest / relative
        if not target.exists():
            written.append(relative)
        elif filecmp.cmp(source, target, shallow=False):
            equal.append(relative)
        else:
            different.append(relative)
    if different and not overwrite:
        raise AnsibleActionFail(
            f"{len(different)} credential file(s) in {dest} differ from the backup's: "
            f"{', '.join(map(str, different[:10]))}. A restore brings back the credentials the data was "
            "made with; move these aside, or pass -e backup_overwrite_secrets=true to replace them."
        )
    for relative in written + (different if overwrite else []):
        target = dest / relative
        missing = [folder for folder in (target.parent, *target.parent.parents) if not folder.exists()]
        target.parent.mkdir(parents=True, exist_ok=True)
        for folder in missing:
            _private(folder, directory=True)
        shutil.copyfile(tree / relative, target)
        _private(target)
    return {
        "written": [str(path) for path in written],
        "replaced": [str(path) for path in different] if overwrite else [],
        "unchanged": len(equal),
    }


def point_in_time(source: Path, manifest: dict, until: datetime.datetime) -> None:
    """A backup a point-in-time restore can start from: taken at or before the moment, with where it
    stands in the binary log."""
    created = datetime.datetime.strptime(manifest.get("created", ""), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
    if created > until:
        raise AnsibleActionFail(
            f"{source.name} was taken at {created:%Y-%m-%d %H:%M:%S} UTC, after backup_until (UNTIL) "
            f"{until:%Y-%m-%d %H:%M:%S}: name an older backup (BACKUP=), or leave BACKUP out "
            "to take the newest before it"
        )
    binlog = (manifest.get("database") or {}).get("binlog") or {}
    if not {"file", "position", "sha256"} <= binlog.keys():
        raise AnsibleActionFail(
            f"{source.name} does not record where it stands in the binary log (taken before binary logging was on, "
            "or with mysql_binlog false): it restores only as it is (make restore without UNTIL)"
        )


def open_backup(args: dict) -> dict:
    pyrage = _pyrage()
    if not args.get("dest"):
        raise AnsibleActionFail("state open needs dest (an empty directory on the controller)")
    identity = load_identity(Path(args["key_file"]), create=False)
    until = moment(args["moment"]) if args["moment"] else None
    source = choose(Path(args["dir"]), args["name"], until)
    dest = Path(args["dest"])
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    plain = dest / ".backup.tar"
    try:
        pyrage.decrypt_file(str(source), str(plain), [identity])
    except Exception as exc:
        raise AnsibleActionFail(
            f"cannot decrypt {source} with the key in {args['key_file']}: not the key this backup was made with, "
            f"or the file is damaged ({exc})"
        ) from exc
    try:
        return opened(args, source, dest, plain, until)
    except AnsibleActionFail:
        # a backup refused once decrypted leaves nothing readable behind (its database, its credentials)
        shutil.rmtree(dest, ignore_errors=True)
        raise


def opened(args: dict, source: Path, dest: Path, plain: Path, until: datetime.datetime | None) -> dict:
    """What open_backup returns, from the decrypted archive `plain`, unpacked into dest."""
    try:
        with tarfile.open(plain) as archive:
            archive.extractall(dest, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise AnsibleActionFail(f"{source} decrypts but is not a backup archive: {exc}") from exc
    finally:
        plain.unlink(missing_ok=True)
    manifest_path = dest / "manifest.json"
    if not manifest_path.is_file():
        raise AnsibleActionFail(f"{source} holds no manifest.json: not a backup of this stack")
    manifest = json.loads(manifest_path.read_text())
    if until:
        point_in_time(source, manifest, until)
    result = {
        "changed": False,
        "path": str(source),
        "size": source.stat().st_size,
        "name": source.name[: -len(SUFFIX)],
        "manifest": manifest,
        "files": {path.name: str(path) for path in sorted(dest.iterdir())},
        "until": f"{until:%Y-%m-%d %H:%M:%S}" if until else "",
    }
    if args.get("secrets_dest"):
        tree = dest / "secrets"
        if not tree.is_dir():
            raise AnsibleActionFail(f"{source} holds no secrets/ directory")
        result["secrets"] = restore_secrets(tree, Path(args["secrets_dest"]), args["overwrite_secrets"])
        result["changed"] = bool(result["secrets"]["written"] or result["secrets"]["replaced"])
    return result


class ActionModule(ActionBase):
    _supports_check_mode = False
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars or {})
        _, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        args = dict(args)
        for key in ("key_file", "dir", "dest", "secrets_dest"):
            if args.get(key):
                args[key] = os.path.expanduser(args[key])
        result.update(pack(args) if args["state"] == "pack" else open_backup(args))
        return result
