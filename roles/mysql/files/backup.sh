#!/bin/sh
# Run by the role's one-shot backup container (tasks/backup.yml), as the server's user, beside the
# running server: its data volume at /var/lib/mysql, its socket in /run/mysqld, this directory at
# /backup. A consistent hot copy (mariadb-backup), prepared so that it is a plain data directory,
# then the checksum of every table of the copy, from a private server with no network that reads it.
# Prints one JSON line: {"version": ..., "checksums": {table: checksum}, "rows": {table: count},
# "binlog": {"file": ..., "position": N, "sha256": ...} (where in the binary log the copy stands, and
# the SHA-256 of that file's bytes before it; null when the server keeps none): a point-in-time
# restore replays from there.
set -eu
. /backup/common.sh
cd /backup
rm -rf mariadb check
mariadb-backup --defaults-extra-file=/backup/backup.cnf --backup --target-dir=/backup/mariadb >/backup/backup.log 2>&1 \
  || { tail -n 20 /backup/backup.log >&2; exit 1; }
mariadb-backup --prepare --target-dir=/backup/mariadb >>/backup/backup.log 2>&1 \
  || { tail -n 20 /backup/backup.log >&2; exit 1; }
# the healthcheck's login, which the image's entrypoint wrote beside the data (mariadb-backup copies
# only the server's files)
if [ -f /var/lib/mysql/.my-healthcheck.cnf ]; then
  cp -p /var/lib/mysql/.my-healthcheck.cnf /backup/mariadb/
fi
binlog=null
if [ -s /backup/mariadb/xtrabackup_binlog_info ]; then
  read -r file position _ </backup/mariadb/xtrabackup_binlog_info
  # the file's bytes up to the position: a restore checks the file it replays from is this one (after
  # a restore the server starts its logs again, under the same names)
  sha256=$(binlog_sha256 "/var/lib/mysql/$file" "$position")
  binlog=$(printf '{"file": "%s", "position": %d, "sha256": "%s"}' "$file" "$position" "$sha256")
fi
# the checksums are read from a copy: the archive holds the prepared files as mariadb-backup left them
cp -a /backup/mariadb /backup/check
figures=$(sh /backup/checksum.sh /backup/check "$1")
rm -rf /backup/check
tar -C /backup -czf /backup/mariadb.tar.gz mariadb
rm -rf /backup/mariadb
printf '%s, "binlog": %s}\n' "${figures%\}}" "$binlog"
