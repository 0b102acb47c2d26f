#!/bin/sh
# seed.sh <database> [<binary log> <position> <until>]: run by the role's one-shot restore container
# (tasks/restore.yml), as the server's user, before the server ever starts on its new (empty) data
# volume. The archive of a prepared mariadb-backup at /restore/mariadb.tar.gz is copied back into
# /var/lib/mysql and a private server (common.sh) reads every table's figures: they must be the
# backup's. With the last three arguments (a point-in-time restore), the binary logs saved in
# /restore/binlog (tasks/save_binlogs.yml) are then replayed into that server, for <database> only,
# from <position> of <binary log> (where the backup was taken) up to <until> (UTC,
# 'YYYY-MM-DD HH:MM:SS'; no event at or after it); a transaction <until> cuts is rolled back whole.
# Prints one JSON line: {"version", "checksums", "rows"} of the backup, and "replayed" (null, or the
# transactions replayed, the time of the last, <until> and each table's rows after).
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
. /restore/common.sh
private_start /var/lib/mysql
figures "$1"
replayed=null
if [ $# -ge 4 ]; then
  first=$2 position=$3 until=$4 logs=""
  for name in $(ls /restore/binlog | sort); do
    case $name in "${first%.*}".[0-9]*) ;; *) continue ;; esac
    if [ -n "$logs" ] || [ "$name" = "$first" ]; then logs="$logs /restore/binlog/$name"; fi
  done
  if [ -z "$logs" ]; then
    echo "the binary log $first (where the backup was taken) is not among those saved in /restore/binlog" >&2
    exit 1
  fi
  # mariadb-binlog reads --stop-datetime in its own time zone; each event's header line
  # ("#YYMMDD HH:MM:SS server id ...", the hour padded with a space: "#261208  0:43:46") gives its
  # time, and COMMIT ends a transaction
  { TZ=UTC mariadb-binlog --no-defaults --database="$1" --start-position="$position" --stop-datetime="$until" $logs \
      2>/tmp/binlog.err || echo failed >/tmp/binlog.failed; } \
    | awk -v stats=/tmp/replay.stats '
        { print }
        /^#[0-9][0-9][0-9][0-9][0-9][0-9] / { at = "20" substr($1, 2, 2) "-" substr($1, 4, 2) "-" substr($1, 6, 2) " " substr("0" $2, length($2) - 6) }
        /^COMMIT/ { transactions++; last = at }
        END { printf "%d\t%s\n", transactions, last > stats }' \
    | mariadb --no-defaults --socket="$socket" --binary-mode
  if [ -f /tmp/binlog.failed ]; then
    tail -n 20 /tmp/binlog.err >&2
    exit 1
  fi
  backup_rows=$rows
  counts "$1"  # the rows after the replay (the checksums read above are the backup's)
  replayed=$(printf '{"transactions": %s, "last": "%s", "until": "%s", "rows": {%s}}' \
    "$(cut -f1 /tmp/replay.stats)" "$(cut -f2 /tmp/replay.stats)" "$until" "$rows")
  rows=$backup_rows
fi
private_stop
printf '{"version": "%s", "checksums": {%s}, "rows": {%s}, "replayed": %s}\n' "$version" "$checksums" "$rows" "$replayed"
