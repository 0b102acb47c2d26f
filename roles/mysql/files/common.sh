# Sourced by the role's scripts: a private MariaDB server on a data directory (no network, no grant
# tables, its own socket), the SQL it answers, the figures of a database's tables, and what names a
# binary log's beginning.
socket=/tmp/private.sock

# private_start <data directory>: returns once the server answers and no transaction is left to roll
# back (those open when a copy was taken are rolled back by InnoDB in the background after the start).
# Its commits are not flushed one by one: what it writes (a replay) is flushed when it shuts down.
private_start() {
  mariadbd --no-defaults --datadir="$1" --socket=$socket --pid-file=/tmp/private.pid \
    --skip-networking --skip-grant-tables --innodb-buffer-pool-size=64M --innodb-flush-log-at-trx-commit=0 \
    --log-error=/tmp/private.err &
  private_pid=$!
  tries=0
  until mariadb-admin --no-defaults --socket=$socket ping >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ $tries -gt 120 ] || ! kill -0 $private_pid 2>/dev/null; then
      tail -n 20 /tmp/private.err >&2
      exit 1
    fi
    sleep 0.5
  done
  tries=0
  until [ "$(sql "SELECT COUNT(*) FROM information_schema.innodb_trx")" = 0 ]; do
    tries=$((tries + 1))
    if [ $tries -gt 240 ]; then
      echo "transactions still rolling back after 120 s" >&2
      exit 1
    fi
    sleep 0.5
  done
}

private_stop() {
  mariadb-admin --no-defaults --socket=$socket shutdown
  wait $private_pid || true
}

sql() { mariadb --no-defaults --socket=$socket --batch --skip-column-names -e "$1"; }

tables_of() {
  sql "SELECT table_name FROM information_schema.tables WHERE table_schema = '$1' AND table_type = 'BASE TABLE' ORDER BY table_name"
}

# counts <database>: sets rows (each table's row count, as JSON members).
counts() {
  rows=""
  for table in $(tables_of "$1"); do
    rows="$rows${rows:+, }\"$table\": $(sql "SELECT COUNT(*) FROM \`$1\`.\`$table\`")"
  done
}

# figures <database>: sets version, checksums (the SHA-256 of every table's rows in primary-key order,
# as JSON members) and rows (each table's row count, as JSON members).
figures() {
  version=$(sql "SELECT VERSION()")
  checksums="" rows=""
  for table in $(tables_of "$1"); do
    # every row in primary-key order (every column's order without one), hashed: CHECKSUM TABLE was
    # measured giving two values for the same rows of payments (its persistent generated column)
    # from one start of the server to the next
    order=$(sql "SELECT GROUP_CONCAT(CONCAT('\`', column_name, '\`') ORDER BY seq_in_index) FROM information_schema.statistics
                 WHERE table_schema = '$1' AND table_name = '$table' AND index_name = 'PRIMARY'")
    if [ -z "$order" ] || [ "$order" = NULL ]; then
      order=$(sql "SELECT GROUP_CONCAT(ordinal_position ORDER BY ordinal_position) FROM information_schema.columns
                   WHERE table_schema = '$1' AND table_name = '$table'")
    fi
    checksum=$(sql "SELECT * FROM \`$1\`.\`$table\` ORDER BY $order" | sha256sum | cut -c1-64)
    count=$(sql "SELECT COUNT(*) FROM \`$1\`.\`$table\`")
    checksums="$checksums${checksums:+, }\"$table\": \"$checksum\""
    rows="$rows${rows:+, }\"$table\": $count"
  done
}

# binlog_sha256 <file> <position>: the SHA-256 of the binary log's bytes before <position>, but for
# the flags of its first event (the server clears "in use" there when it closes the file). After a
# restore the server starts its logs again under the same names: this tells the two apart.
binlog_sha256() {
  { head -c 21 "$1"; tail -c +23 "$1" | head -c $(($2 - 22)); } | sha256sum | cut -c1-64
}
