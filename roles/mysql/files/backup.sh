#!/bin/sh
# Run by the role's one-shot backup container (tasks/backup.yml), as the server's user, beside the
# running server: its data volume at /var/lib/mysql, its socket in /run/mysqld, this directory at
# /backup. A consistent hot copy (mariadb-backup), prepared so that it is a plain data directory,
# then the checksum of every table of the copy, from a private server with no network that reads it.
# Prints one JSON line: {"version": ..., "checksums": {table: checksum}, "rows": {table: count},
# "binlog": {"file": ..., "position": N} (where in the binary log the copy stands; null when the
# server keeps none): a point-in-time restore replays from there.
set -eu
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
  binlog=$(awk 'NR == 1 { printf "{\"file\": \"%s\", \"position\": %d}", $1, $2 }' /backup/mariadb/xtrabackup_binlog_info)
fi
# the checksums are read from a copy: the archive holds the prepared files as mariadb-backup left them
cp -a /backup/mariadb /backup/check
figures=$(sh /backup/checksum.sh /backup/check "$1")
rm -rf /backup/check
tar -C /backup -czf /backup/mariadb.tar.gz mariadb
rm -rf /backup/mariadb
printf '%s, "binlog": %s}\n' "${figures%\}}" "$binlog"
