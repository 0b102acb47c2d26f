#!/bin/bash
# Entrypoint of the airgap MariaDB image. It keeps the contract of the official image:
# flags alone run mariadbd with them; on an empty data directory it initialises the
# server from MARIADB_* (or MYSQL_*) variables or their *_FILE forms, runs the files
# of /docker-entrypoint-initdb.d, then runs the server in the foreground.
set -eo pipefail
shopt -s nullglob

DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock

log() { printf '%s [Note] [Entrypoint]: %s\n' "$(date '+%F %T')" "$*" >&2; }
die() { printf '%s [ERROR] [Entrypoint]: %s\n' "$(date '+%F %T')" "$*" >&2; exit 1; }

# read_setting NAME: NAME, NAME_FILE, then the MYSQL_ spelling of both; exports NAME.
read_setting() {
	local name=$1 value='' candidate file
	for candidate in "$name" "${name/#MARIADB_/MYSQL_}"; do
		file="${candidate}_FILE"
		if [ -n "${!candidate:-}" ] && [ -n "${!file:-}" ]; then
			die "both $candidate and $file are set; use one"
		fi
		if [ -n "${!candidate:-}" ]; then value=${!candidate}; break; fi
		if [ -n "${!file:-}" ]; then
			[ -r "${!file}" ] || die "$file points to ${!file}, which this user ($(id -un)) cannot read"
			value=$(<"${!file}")
			break
		fi
	done
	printf -v "$name" '%s' "$value"
	export "${name?}"
	unset "${name}_FILE"
}

# sql_string VALUE: VALUE as a quoted SQL string literal.
sql_string() {
	local s=${1//\\/\\\\}
	printf "'%s'" "${s//\'/\\\'}"
}

sql_ident() {
	printf '`%s`' "${1//\`/\`\`}"
}

# random_token: 32 alphanumeric characters (finite input, so no SIGPIPE under pipefail).
random_token() {
	local raw
	raw=$(head -c 4096 /dev/urandom | LC_ALL=C tr -dc 'A-Za-z0-9')
	printf '%s' "${raw:0:32}"
}

client() { mariadb --protocol=socket --socket="$SOCKET" -uroot --database=mysql "$@"; }

wait_for_temporary_server() {
	local i
	for i in $(seq 60); do
		if mariadb-admin --socket="$SOCKET" -uroot ping --silent >/dev/null 2>&1; then return 0; fi
		kill -0 "$TEMP_PID" 2>/dev/null || die "the temporary server exited during initialisation"
		sleep 1
	done
	die "the temporary server did not answer within 60 s"
}

initialise() {
	local server=("$@")
	if [ -z "$MARIADB_ROOT_PASSWORD" ] && [ -z "${MARIADB_ALLOW_EMPTY_ROOT_PASSWORD:-}" ] \
		&& [ -z "${MARIADB_RANDOM_ROOT_PASSWORD:-}" ]; then
		die "the data directory is empty and no root password is given: set MARIADB_ROOT_PASSWORD (or _FILE), MARIADB_RANDOM_ROOT_PASSWORD or MARIADB_ALLOW_EMPTY_ROOT_PASSWORD"
	fi
	if [ -n "${MARIADB_RANDOM_ROOT_PASSWORD:-}" ]; then
		MARIADB_ROOT_PASSWORD=$(random_token)
		log "GENERATED ROOT PASSWORD: $MARIADB_ROOT_PASSWORD"
	fi

	log "Initialising the data directory $DATADIR"
	mariadb-install-db --datadir="$DATADIR" --skip-test-db --auth-root-authentication-method=normal \
		--skip-log-bin --default-time-zone=SYSTEM "${server[@]:1}" >/dev/null

	log "Starting a temporary server without networking"
	"${server[@]}" --skip-networking --socket="$SOCKET" --skip-log-bin &
	TEMP_PID=$!
	wait_for_temporary_server

	local root_pw health_pw
	root_pw=$(sql_string "$MARIADB_ROOT_PASSWORD")
	health_pw=$(random_token)
	{
		echo "SET @@SESSION.SQL_LOG_BIN=0;"
		echo "DROP USER IF EXISTS 'root'@'127.0.0.1', 'root'@'::1';"
		echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $root_pw;"
		if [ "$MARIADB_ROOT_HOST" != localhost ]; then
			echo "CREATE USER 'root'@$(sql_string "$MARIADB_ROOT_HOST") IDENTIFIED BY $root_pw;"
			echo "GRANT ALL ON *.* TO 'root'@$(sql_string "$MARIADB_ROOT_HOST") WITH GRANT OPTION;"
			echo "GRANT PROXY ON ''@'%' TO 'root'@$(sql_string "$MARIADB_ROOT_HOST") WITH GRANT OPTION;"
		fi
		for host in 127.0.0.1 ::1 localhost; do
			echo "CREATE USER 'healthcheck'@'$host' IDENTIFIED BY '$health_pw';"
			echo "GRANT USAGE ON *.* TO 'healthcheck'@'$host';"
		done
		if [ -n "$MARIADB_DATABASE" ]; then
			echo "CREATE DATABASE IF NOT EXISTS $(sql_ident "$MARIADB_DATABASE");"
		fi
		if [ -n "$MARIADB_USER" ]; then
			[ -n "$MARIADB_PASSWORD" ] || die "MARIADB_USER is set but MARIADB_PASSWORD (or _FILE) is not"
			echo "CREATE USER $(sql_string "$MARIADB_USER")@'%' IDENTIFIED BY $(sql_string "$MARIADB_PASSWORD");"
			if [ -n "$MARIADB_DATABASE" ]; then
				echo "GRANT ALL ON $(sql_ident "$MARIADB_DATABASE").* TO $(sql_string "$MARIADB_USER")@'%';"
			fi
		fi
		echo "FLUSH PRIVILEGES;"
	} | client
	umask 0077
	printf '[mariadb-client]\nport=3306\nsocket=%s\nuser=healthcheck\npassword=%s\n' "$SOCKET" "$health_pw" \
		>"$DATADIR/.my-healthcheck.cnf"

	local f
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
			*.sh) log "running $f"; # shellcheck disable=SC1090
				. "$f" ;;
			*.sql) log "running $f"; client --password="$MARIADB_ROOT_PASSWORD" <"$f" ;;
			*.sql.gz) log "running $f"; gunzip -c "$f" | client --password="$MARIADB_ROOT_PASSWORD" ;;
			*) log "ignoring $f" ;;
		esac
	done

	log "Stopping the temporary server"
	mariadb-admin --socket="$SOCKET" -uroot --password="$MARIADB_ROOT_PASSWORD" shutdown
	wait "$TEMP_PID" || true
	log "Initialisation complete"
}

if [ "${1:0:1}" = '-' ]; then
	set -- mariadbd "$@"
fi

if [ "$1" = mariadbd ] || [ "$1" = mysqld ]; then
	for setting in MARIADB_ROOT_PASSWORD MARIADB_DATABASE MARIADB_USER MARIADB_PASSWORD MARIADB_ROOT_HOST; do
		read_setting "$setting"
	done
	: "${MARIADB_ROOT_HOST:=%}"
	if [ ! -d "$DATADIR/mysql" ]; then
		initialise "$@"
	fi
	unset MARIADB_ROOT_PASSWORD MARIADB_PASSWORD MYSQL_ROOT_PASSWORD MYSQL_PASSWORD
fi

exec "$@"
