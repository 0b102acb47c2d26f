#!/bin/sh
# checksum.sh <data directory> <database>: starts a private MariaDB server on the data directory
# (common.sh: no network, no grant tables, its own socket), prints one JSON line with the server's
# version, the SHA-256 of every table of <database> (its rows in primary-key order) and its row
# count, and shuts the server down.
# The backup takes these figures from its copy, the restore from the data it restored: equal
# figures mean the same rows.
set -eu
. "$(dirname "$0")/common.sh"
private_start "$1"
figures "$2"
private_stop
printf '{"version": "%s", "checksums": {%s}, "rows": {%s}}\n' "$version" "$checksums" "$rows"
