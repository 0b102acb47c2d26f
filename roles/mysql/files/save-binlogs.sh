#!/bin/sh
# save-binlogs.sh <base name> <first> <position> <sha256> [check]: run by the role's one-shot
# containers (tasks/save_binlogs.yml), as the server's user, with the stack's data volume at
# /var/lib/mysql (read-only) and a host directory at /save. <first> must be the file the backup was
# taken in: its bytes before <position> have the SHA-256 the backup recorded (a restore since started
# the logs again under the same names). With check, that alone (the server may run). Otherwise, its
# server stopped, copies the binary logs the index lists from <first> on, then writes
# /save/saved.json last: {"files": [...], "bytes": N}.
set -eu
. "$(dirname "$0")/common.sh"
index=/var/lib/mysql/$1.index
if [ ! -f "$index" ]; then
  echo "the data volume holds no binary log ($1.index): binary logging was off (mysql_binlog)" >&2
  exit 3
fi
names=$(sed 's#^.*/##' "$index")
case " $(echo $names) " in
  *" $2 "*) ;;
  *) echo "the binary log $2, where the backup was taken, is no longer in the data volume (it holds $(echo $names)):" \
       "a newer backup is needed (mysql_binlog_keep_hours)" >&2
     exit 4 ;;
esac
if [ "$(binlog_sha256 "/var/lib/mysql/$2" "$3")" != "$4" ]; then
  echo "the binary log $2 in the data volume is not the one the backup was taken in (the stack was restored since," \
    "and its logs began again): restore from a backup taken after that" >&2
  exit 5
fi
if [ "${5:-}" = check ]; then
  echo '{"checked": true}'
  exit 0
fi
copying="" files="" bytes=0
for name in $names; do
  if [ "$name" = "$2" ]; then copying=1; fi
  if [ -n "$copying" ]; then
    cp "/var/lib/mysql/$name" /save/
    files="$files${files:+, }\"$name\""
    bytes=$((bytes + $(stat -c %s "/save/$name")))
  fi
done
printf '{"files": [%s], "bytes": %s}\n' "$files" "$bytes" >/save/saved.json.part
mv /save/saved.json.part /save/saved.json
cat /save/saved.json
