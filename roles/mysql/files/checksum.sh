#!/bin/sh
# checksum.sh <data directory> <database>: starts a private MariaDB server on the data directory
# (no network, no grant tables, its own socket), prints one JSON line with the server's version, the
# SHA-256 of every table of <database> (its rows in primary-key order) and its row count, and shuts
# the server down.
# The backup takes these figures from its copy, the restore from the data it restored: equal
# figures mean the same rows.
set -eu
datadir=$1 database=$2 socket=/tmp/checksum.sock
mariadbd --no-defaults --datadir="$datadir" --socket=$socket --pid-file=/tmp/checksum.pid \
  --skip-networking --skip-grant-tables --innodb-buffer-pool-size=64M --log-error=/tmp/checksum.err &
server=$!
tries=0
until mariadb-admin --no-defaults --socket=$socket ping >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ $tries -gt 120 ] || ! kill -0 $server 2>/dev/null; then
    tail -n 20 /tmp/checksum.err >&2
    exit 1
  fi
  sleep 0.5
done
sql() { mariadb --no-defaults --socket=$socket --batch --skip-column-names -e "$1"; }
# Transactions open when the copy was taken are rolled back by InnoDB in the background after the
# start: the figures are read once none is left.
tries=0
until [ "$(sql "SELECT COUNT(*) FROM information_schema.innodb_trx")" = 0 ]; do
  tries=$((tries + 1))
  if [ $tries -gt 240 ]; then
    echo "transactions still rolling back after 120 s" >&2
    exit 1
  fi
  sleep 0.5
done
tables=$(sql "SELECT table_name FROM information_schema.tables WHERE table_schema = '$database' AND table_type = 'BASE TABLE' ORDER BY table_name")
version=$(sql "SELECT VERSION()")
checksums="" rows=""
for table in $tables; do
  # every row in primary-key order (every column's order without one), hashed: CHECKSUM TABLE was
  # measured giving two values for the same rows of payments (its persistent generated column)
  # from one start of the server to the next
  order=$(sql "SELECT GROUP_CONCAT(CONCAT('\`', column_name, '\`') ORDER BY seq_in_index) FROM information_schema.statistics
               WHERE table_schema = '$database' AND table_name = '$table' AND index_name = 'PRIMARY'")
  if [ -z "$order" ] || [ "$order" = NULL ]; then
    order=$(sql "SELECT GROUP_CONCAT(ordinal_position ORDER BY ordinal_position) FROM information_schema.columns
                 WHERE table_schema = '$database' AND table_name = '$table'")
  fi
  checksum=$(sql "SELECT * FROM \`$database\`.\`$table\` ORDER BY $order" | sha256sum | cut -c1-64)
  count=$(sql "SELECT COUNT(*) FROM \`$database\`.\`$table\`")
  checksums="$checksums${checksums:+, }\"$table\": \"$checksum\""
  rows="$rows${rows:+, }\"$table\": $count"
done
mariadb-admin --no-defaults --socket=$socket shutdown
wait $server || true
printf '{"version": "%s", "checksums": {%s}, "rows": {%s}}\n' "$version" "$checksums" "$rows"
