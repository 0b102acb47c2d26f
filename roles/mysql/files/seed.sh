#!/bin/sh
# Run by the role's one-shot restore container (tasks/restore.yml), as the server's user, before the
# server ever starts on its new (empty) data volume: the archive of a prepared mariadb-backup at
# /restore/mariadb.tar.gz is copied back into /var/lib/mysql, then checksum.sh reads it. Prints the
# checksum line.
set -eu
cd /restore
rm -rf mariadb
tar -xzf mariadb.tar.gz
mariadb-backup --copy-back --target-dir=/restore/mariadb --datadir=/var/lib/mysql >/restore/restore.log 2>&1 \
  || { tail -n 20 /restore/restore.log >&2; exit 1; }
if [ -f mariadb/.my-healthcheck.cnf ] && [ ! -f /var/lib/mysql/.my-healthcheck.cnf ]; then
  cp -p mariadb/.my-healthcheck.cnf /var/lib/mysql/
fi
rm -rf mariadb
sh /restore/checksum.sh /var/lib/mysql "$1"
