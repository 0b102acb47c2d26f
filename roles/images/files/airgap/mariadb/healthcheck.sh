#!/bin/bash
# healthcheck.sh of the airgap MariaDB image, with the options roles use on the
# official image too: --connect (a TCP connection succeeds) and --innodb_initialized
# (InnoDB is up). Credentials come from the file the entrypoint wrote at initialisation.
set -eo pipefail
CNF=/var/lib/mysql/.my-healthcheck.cnf
[ -r "$CNF" ] || { echo "healthcheck: $CNF not readable (initialisation not finished?)" >&2; exit 1; }
[ "$#" -gt 0 ] || set -- --connect
for check in "$@"; do
	case "$check" in
		--connect)
			mariadb --defaults-extra-file="$CNF" --protocol=tcp -h127.0.0.1 -e 'SELECT 1' >/dev/null ;;
		--innodb_initialized)
			out=$(mariadb --defaults-extra-file="$CNF" -N -B -e \
				"SELECT 1 FROM information_schema.ENGINES WHERE ENGINE='InnoDB' AND SUPPORT IN ('YES','DEFAULT','ENABLED')")
			[ "$out" = 1 ] ;;
		*)
			echo "healthcheck: unsupported option $check" >&2; exit 2 ;;
	esac
done
