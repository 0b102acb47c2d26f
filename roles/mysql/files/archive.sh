#!/bin/sh
# archive.sh: the binary-log archive (role mysql, tasks/archive.yml), as the server's user in a
# container of the server's image on a host of backup_hosts, usually not the database's.
#
# archive.sh stream: follows the database's binary log as a replica would (mariadb-binlog
# --read-from-remote-server --raw --stop-never) and keeps a byte-for-byte copy of every log file in
# <root>/<history>/ (the archive's volume), where <history> is the creation time (UTC) of the first log archived in it.
# After a restore the server begins its logs again under the same names: a log of the same name
# created at another time is a new history, archived in a new directory; the old one stays for
# restores to a moment before it. Connects again after any error. Every 5 s writes its state for
# node_exporter's textfile collector (/metrics/smartshop_binlog_archive.prom) and removes the logs
# older than ARCHIVE_KEEP_HOURS (never the one being written).
#
# archive.sh find <file> <position> <sha256> [copy]: the history holding the log <file> whose bytes
# before <position> have that SHA-256 (where a backup stands, tasks/backup.yml), with every log after
# it, unbroken. Prints {"history": ..., "files": [...], "bytes": N}; with copy, copies them to /save
# and writes /save/saved.json last. Exit 4 when no history holds them.
#
# Environment: ARCHIVE_HOST, ARCHIVE_PORT, ARCHIVE_USER (password in /run/secrets/password),
# ARCHIVE_TLS (1: TLS, the server checked against the stack's CA in /run/secrets/ca.pem),
# ARCHIVE_BASENAME, ARCHIVE_KEEP_HOURS, ARCHIVE_SERVER_ID, ARCHIVE_PROJECT, ARCHIVE_DIR.
set -u
. "$(dirname "$0")/common.sh"
base=${ARCHIVE_BASENAME:-smartshop-bin}
# the archive's volume, mounted where the image gives the server's user a directory of its own
root=${ARCHIVE_DIR:-/var/lib/mysql}
export TZ=UTC

log() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $*" >&2; }

# the log files of a directory, in order
logs_in() { ls -1 "$1" 2>/dev/null | grep -x "$base\.[0-9]*" | sort; }

number() { echo "${1##*.}" | sed 's/^0*//; s/^$/0/'; }

# the histories' directories, oldest first (named by when their first log was created)
histories() { ls -1d "$root"/[0-9]*Z 2>/dev/null | sort; }

if [ "${1:-stream}" = find ]; then
  for dir in $(histories | sort -r); do
    [ -f "$dir/$2" ] || continue
    [ "$(binlog_sha256 "$dir/$2" "$3")" = "$4" ] || continue
    files="" bytes=0 previous="" names="" newest=$(logs_in "$dir" | tail -n 1)
    for name in $(logs_in "$dir"); do
      if [ "$(number "$name")" -lt "$(number "$2")" ]; then continue; fi
      if [ -n "$previous" ] && [ "$(number "$name")" -ne $(($(number "$previous") + 1)) ]; then
        echo "the archive's history $(basename "$dir") lacks the binary logs between $previous and $name (they expired on the" \
          "server before they were archived): a restore can replay up to $previous only; take it from a backup after the gap" >&2
        exit 4
      fi
      if [ -f "$dir/GAP-after-$name" ] && [ "$name" != "$newest" ]; then
        echo "the archive's history $(basename "$dir") lacks what the server wrote after $name (those logs expired on the" \
          "server before they were archived): a restore can replay up to $name only; take it from a backup after the gap" >&2
        exit 4
      fi
      previous=$name
      names="$names $name"
      files="$files${files:+, }\"$name\""
      bytes=$((bytes + $(stat -c %s "$dir/$name")))
    done
    result=$(printf '{"history": "%s", "files": [%s], "bytes": %s}' "$(basename "$dir")" "$files" "$bytes")
    if [ "${5:-}" = copy ]; then
      for name in $names; do cp "$dir/$name" /save/; done
      echo "$result" >/save/saved.json.part
      mv /save/saved.json.part /save/saved.json
    fi
    echo "$result"
    exit 0
  done
  echo "the binary-log archive holds no log $2 with the bytes the backup was taken in (SHA-256 $4): it was" \
    "not archived yet, or expired (ARCHIVE_KEEP_HOURS)" >&2
  exit 4
fi

cnf=/tmp/archive.cnf
umask 077
{
  echo "[client]"
  echo "host=$ARCHIVE_HOST"
  echo "port=$ARCHIVE_PORT"
  echo "user=$ARCHIVE_USER"
  echo "password=\"$(cat /run/secrets/password)\""
  if [ "${ARCHIVE_TLS:-1}" = 1 ]; then
    echo "ssl-ca=/run/secrets/ca.pem"
    echo "ssl-verify-server-cert"
  fi
} >$cnf
umask 022

remote() { mariadb --defaults-file=$cnf --batch --skip-column-names -e "$1"; }

# born <file> [remote]: when a log was created (its first event's time), as YYYYMMDDTHHMMSSZ
born() {
  if [ "${2:-}" = remote ]; then
    mariadb-binlog --defaults-file=$cnf --read-from-remote-server --stop-position=5 "$1" 2>/dev/null
  else
    mariadb-binlog --no-defaults --stop-position=5 "$1" 2>/dev/null
  fi | sed -n 's/^#\([0-9]\{6\}\) *\([0-9]\{1,2\}\):\([0-9]\{2\}\):\([0-9]\{2\}\) .*Start: binlog.*/\1 \2 \3 \4/p' \
    | head -n 1 | { read -r day hour minute second && printf '20%sT%02d%s%sZ\n' "$day" "$hour" "$minute" "$second"; }
}

metrics() {
  status=$(remote "SHOW MASTER STATUS" 2>/dev/null | cut -f1,2)
  file=${status%%	*}
  position=${status##*	}
  archived=0
  if [ -n "$file" ] && [ -f "$dir/$file" ]; then archived=$(stat -c %s "$dir/$file"); fi
  behind=$(( ${position:-0} > archived ? ${position:-0} - archived : 0 ))
  if [ -z "$status" ]; then behind=-1; fi
  total=$(du -sb "$root" | cut -f1)
  gap=0
  if ls "$dir"/GAP-* >/dev/null 2>&1; then gap=1; fi
  [ -w /metrics/smartshop_binlog_archive.prom ] || return 0
  labels="project=\"${ARCHIVE_PROJECT:-smartshop}\""
  printf '%s\n' \
    "# HELP smartshop_binlog_archive_streaming 1 while the archive follows the database's binary log." \
    "# TYPE smartshop_binlog_archive_streaming gauge" \
    "smartshop_binlog_archive_streaming{$labels} $1" \
    "# HELP smartshop_binlog_archive_behind_bytes Bytes of the server's current binary log not archived yet (-1: the server did not answer)." \
    "# TYPE smartshop_binlog_archive_behind_bytes gauge" \
    "smartshop_binlog_archive_behind_bytes{$labels} $behind" \
    "# HELP smartshop_binlog_archive_bytes Bytes the archive holds, every history." \
    "# TYPE smartshop_binlog_archive_bytes gauge" \
    "smartshop_binlog_archive_bytes{$labels} $total" \
    "# HELP smartshop_binlog_archive_gap 1 when logs expired on the server before they were archived (current history)." \
    "# TYPE smartshop_binlog_archive_gap gauge" \
    "smartshop_binlog_archive_gap{$labels} $gap" \
    "# HELP smartshop_binlog_archive_updated_timestamp_seconds When the archive last wrote these figures." \
    "# TYPE smartshop_binlog_archive_updated_timestamp_seconds gauge" \
    "smartshop_binlog_archive_updated_timestamp_seconds{$labels} $(date +%s)" \
    >/metrics/smartshop_binlog_archive.prom
}

# the logs older than ARCHIVE_KEEP_HOURS go, but the newest of the current history (being written);
# an old history's directory goes with its last log
expire() {
  newest=$(logs_in "$dir" | tail -n 1)
  # a gap's marker goes with the logs before it (older still)
  find "$root" -mindepth 2 -maxdepth 2 -type f \( -name "$base.*" -o -name 'GAP-after-*' \) \
    -mmin +$((${ARCHIVE_KEEP_HOURS:-168} * 60)) ! -path "$dir/${newest:-none}" -delete
  find "$root" -mindepth 1 -maxdepth 1 -type d -empty ! -path "$dir" -delete
}

dir=""
while :; do
  if ! names=$(remote "SHOW BINARY LOGS" | cut -f1) || [ -z "$names" ]; then
    log "cannot list the binary logs of $ARCHIVE_HOST:$ARCHIVE_PORT; again in 5 s"
    metrics 0
    sleep 5
    continue
  fi
  first=$(echo "$names" | head -n 1)
  last=$(echo "$names" | tail -n 1)
  dir=$(histories | tail -n 1)
  newest=""
  if [ -n "$dir" ]; then newest=$(logs_in "$dir" | tail -n 1); fi
  start=""
  if [ -n "$newest" ]; then
    if echo "$names" | grep -qx "$newest"; then
      theirs=$(born "$newest" remote)
      ours=$(born "$dir/$newest")
      if [ -z "$theirs" ]; then
        # no answer is no new history: asked again
        log "cannot read when the server's $newest was created; again in 5 s"
        metrics 0
        sleep 5
        continue
      elif [ -z "$ours" ] || [ "$theirs" = "$ours" ]; then
        # the same log (or one the archive had not received a whole event of yet): taken up again
        start=$newest
      else
        log "the server's $newest is not the archived one (created $theirs, archived $ours): a new history"
      fi
    elif [ "$(number "$newest")" -lt "$(number "$first")" ]; then
      log "GAP: the server no longer holds the logs after $newest (its first is $first): they expired before they were archived"
      touch "$dir/GAP-after-$newest"
      start=$first
    else
      log "the server's logs ($first..$last) end before the archived $newest: a new history"
    fi
  fi
  if [ -z "$start" ]; then
    created=$(born "$first" remote)
    if [ -z "$created" ]; then
      log "cannot read when $first was created; again in 5 s"
      metrics 0
      sleep 5
      continue
    fi
    dir=$root/$created
    if ! mkdir -p "$dir"; then
      metrics 0
      exit 1
    fi
    start=$first
    log "archiving a history begun at $created into $dir"
  fi
  log "streaming from $start"
  mariadb-binlog --defaults-file=$cnf --read-from-remote-server --raw --stop-never \
    --stop-never-slave-server-id="${ARCHIVE_SERVER_ID:-4242}" --result-file="$dir/" "$start" &
  pid=$!
  while kill -0 $pid 2>/dev/null; do
    touch /tmp/streaming
    metrics 1
    expire
    sleep 5
  done
  wait $pid
  log "the stream ended (exit $?); again in 2 s"
  metrics 0
  sleep 2
done
