# The documentation of the smartshop.stack.backup_archive action (plugins/action/backup_archive.py),
# which does all its work on the controller.

DOCUMENTATION = r"""
---
module: backup_archive
short_description: Seal a backup of the stack into one age-encrypted file, or open one
description:
  - I(state=pack) puts I(files) and I(manifest) into C(<dir>/<name>.tar.age), encrypted to the X25519
    key in I(key_file) (made on first use, mode 0600), then keeps the newest I(keep) backups of I(dir).
  - I(state=open) decrypts a backup (I(name), or the newest) into I(dest) and returns its manifest; with
    I(secrets_dest) it restores the backup's C(secrets/) tree there, never replacing a different file
    unless I(overwrite_secrets).
  - C(age -d -i <key_file> <backup>) opens a backup without this collection.
options:
  state: {description: What to do., type: str, required: true, choices: [pack, open]}
  key_file: {description: The age key (AGE-SECRET-KEY-1...) on the controller., type: path, required: true}
  dir: {description: Directory of the backups on the controller., type: path, required: true}
  name:
    description: "pack: the new backup's name; open: a backup's name or path (by default the newest)."
    type: str
    default: ""
  files: {description: "pack: archive name to controller path (a file or a directory).", type: dict, default: {}}
  manifest: {description: "pack: what the backup holds, stored as manifest.json.", type: dict, default: {}}
  keep: {description: "pack: how many backups to keep in I(dir).", type: int, default: 7}
  dest: {description: "open: directory to decrypt into.", type: path}
  secrets_dest: {description: "open: where the backup's secrets/ tree goes.", type: path}
  overwrite_secrets:
    description: "open: replace credential files that differ from the backup's."
    type: bool
    default: false
  moment:
    description:
      - "open, a point-in-time restore: a moment in UTC (C(2026-12-07 14:02:00), C(2026-12-07T14:02:00Z)), not in
        the future. Without I(name) the newest backup taken at or before it is opened; the backup must have been
        taken at or before it and record where it stands in the binary log (C(database.binlog))."
    type: str
    default: ""
author: SmartShop Stack
"""

EXAMPLES = r"""
- name: Seal the backup
  smartshop.stack.backup_archive:
    state: pack
    key_file: ~/.smartshop/backup.key
    dir: ~/.smartshop/backups
    name: smartshop-20261128T010000Z
    files: {mariadb.tar.gz: /tmp/stage/mariadb.tar.gz, secrets: ~/.smartshop/secrets}
    manifest: {created: "2026-11-28T01:00:00Z"}
    keep: 7
"""

RETURN = r"""
path: {description: The backup file., returned: always, type: str}
manifest: {description: "open: the backup's manifest.", returned: state is open, type: dict}
files: {description: "open: each member's path under I(dest).", returned: state is open, type: dict}
secrets: {description: "open: credential files written, replaced, unchanged.", returned: secrets_dest given, type: dict}
pruned: {description: "pack: the older backups deleted.", returned: state is pack, type: list}
until:
  description: "open: I(moment) as C(YYYY-MM-DD HH:MM:SS) (UTC), empty without it."
  returned: state is open
  type: str
"""
