#!/bin/bash
# Renders the nginx configuration from the environment, then runs the command (nginx), or reloads
# the running nginx with it (argument `reload`).
#   SMARTSHOP_BACKENDS       space-separated host:port of the backend replicas (default backend:8000)
#   SMARTSHOP_GRAFANA_URL    link shown in the console (default http://localhost:3030)
#   SMARTSHOP_PROMETHEUS_URL link shown in the console (default http://localhost:9090)
#   SMARTSHOP_CONSOLE_HTPASSWD_FILE  htpasswd file (bcrypt) of the console's login; without it the
#                            console on :3000 answers 503 (it never runs open)
#   SMARTSHOP_OPERATOR_TOKEN_FILE    the API's operator token, added by nginx to the console's /api
#                            calls after the login (the browser never holds it)
#   SMARTSHOP_CHARTS_PROMETHEUS      host:port of Prometheus (HTTPS) the console's live charts read;
#                            without it /charts/* answers 503
#   SMARTSHOP_CHARTS_AUTH_FILE       the Authorization header value (Basic ...) nginx presents to it
#   SMARTSHOP_CHARTS_CA_FILE         the authority its certificate is checked against
#   SMARTSHOP_CHARTS_TLS_NAME        the DNS name its certificate must carry (default: the host of
#                            SMARTSHOP_CHARTS_PROMETHEUS; nginx checks names, not IP addresses)
#   SMARTSHOP_WRITE_RATE / SMARTSHOP_WRITE_BURST  writes (POST) per second and burst per client
#                            address on both ports (default 200 and 400); beyond, 429
#   SMARTSHOP_DRAINED_DIR    a directory whose files list host:port of replicas, one per line, that
#                            are drained (a rolling update replaces them): rendered `down`, so nginx
#                            sends them nothing
# `docker-entrypoint.sh reload [SECONDS]` renders again and reloads nginx gracefully; with SECONDS,
# it then waits that long at most for the workers of the old configuration to finish the requests
# they hold (what draining a replica waits for), and fails if they have not.
set -euo pipefail

backends=${SMARTSHOP_BACKENDS:-backend:8000}
drained=""
if [ -n "${SMARTSHOP_DRAINED_DIR:-}" ] && [ -d "$SMARTSHOP_DRAINED_DIR" ]; then
	drained=$(cat "$SMARTSHOP_DRAINED_DIR"/* 2>/dev/null || true)
fi
servers=""
for backend in $backends; do
	[[ "$backend" =~ ^[A-Za-z0-9._-]+:[0-9]{1,5}$ ]] || { echo "SMARTSHOP_BACKENDS: '$backend' is not host:port" >&2; exit 2; }
	down=""
	if grep -qxF -- "$backend" <<<"$drained"; then down=" down"; fi
	servers+="        server ${backend} max_fails=2 fail_timeout=5s${down};"$'\n'
done
json_string() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$s"; }
for url in "${SMARTSHOP_GRAFANA_URL:-}" "${SMARTSHOP_PROMETHEUS_URL:-}"; do
	[[ -z "$url" || "$url" =~ ^https?://[^[:space:]\"\'\<\>]+$ ]] || { echo "console link '$url' is not an http(s) URL" >&2; exit 2; }
done

console_auth="        return 503 '{\"error\": \"the console has no login configured (SMARTSHOP_CONSOLE_HTPASSWD_FILE)\", \"status\": 503}';"
if [ -n "${SMARTSHOP_CONSOLE_HTPASSWD_FILE:-}" ]; then
	[ -r "$SMARTSHOP_CONSOLE_HTPASSWD_FILE" ] || { echo "SMARTSHOP_CONSOLE_HTPASSWD_FILE: cannot read $SMARTSHOP_CONSOLE_HTPASSWD_FILE" >&2; exit 2; }
	console_auth="        auth_basic \"SmartShop console\";"$'\n'"        auth_basic_user_file ${SMARTSHOP_CONSOLE_HTPASSWD_FILE};"
fi
operator_auth="            proxy_set_header Authorization \"\";"  # the login's header stays here
if [ -n "${SMARTSHOP_OPERATOR_TOKEN_FILE:-}" ]; then
	token=$(<"$SMARTSHOP_OPERATOR_TOKEN_FILE")
	[[ "$token" =~ ^[A-Za-z0-9_-]{16,}$ ]] || { echo "SMARTSHOP_OPERATOR_TOKEN_FILE: the token must be 16 or more of A-Z a-z 0-9 _ -" >&2; exit 2; }
	operator_auth="            proxy_set_header Authorization \"Bearer ${token}\";"
fi
# after the login (try_files runs once the access checks passed; a return would run before them)
charts_proxy="            try_files /.charts-unconfigured @charts_unconfigured;"
if [ -n "${SMARTSHOP_CHARTS_PROMETHEUS:-}" ]; then
	[[ "$SMARTSHOP_CHARTS_PROMETHEUS" =~ ^[A-Za-z0-9._-]+:[0-9]{1,5}$ ]] || { echo "SMARTSHOP_CHARTS_PROMETHEUS: '$SMARTSHOP_CHARTS_PROMETHEUS' is not host:port" >&2; exit 2; }
	charts_auth=$(<"${SMARTSHOP_CHARTS_AUTH_FILE:?SMARTSHOP_CHARTS_AUTH_FILE is required with SMARTSHOP_CHARTS_PROMETHEUS}")
	[[ "$charts_auth" =~ ^Basic\ [A-Za-z0-9+/=]+$ ]] || { echo "SMARTSHOP_CHARTS_AUTH_FILE: not a Basic authorization value" >&2; exit 2; }
	[ -r "${SMARTSHOP_CHARTS_CA_FILE:?SMARTSHOP_CHARTS_CA_FILE is required with SMARTSHOP_CHARTS_PROMETHEUS}" ] || { echo "SMARTSHOP_CHARTS_CA_FILE: cannot read $SMARTSHOP_CHARTS_CA_FILE" >&2; exit 2; }
	prometheus_host=${SMARTSHOP_CHARTS_TLS_NAME:-${SMARTSHOP_CHARTS_PROMETHEUS%:*}}
	[[ "$prometheus_host" =~ ^[A-Za-z0-9._-]+$ ]] || { echo "SMARTSHOP_CHARTS_TLS_NAME: '$prometheus_host' is not a host name" >&2; exit 2; }
	# Docker's embedded DNS, asked at each request: Prometheus may start after the console
	charts_proxy="            resolver 127.0.0.11 valid=10s ipv6=off;
            set \$smartshop_prometheus ${SMARTSHOP_CHARTS_PROMETHEUS};
            proxy_pass https://\$smartshop_prometheus/api/v1/query?query=\$smartshop_chart_query;
            proxy_method GET;
            proxy_pass_request_body off;
            proxy_set_header Content-Length \"\";
            proxy_set_header Authorization \"${charts_auth}\";
            proxy_set_header Cookie \"\";
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate ${SMARTSHOP_CHARTS_CA_FILE};
            proxy_ssl_name ${prometheus_host};
            proxy_ssl_server_name on;
            proxy_connect_timeout 2s;
            proxy_read_timeout 10s;
            proxy_hide_header Set-Cookie;"
fi
rate=${SMARTSHOP_WRITE_RATE:-200}
burst=${SMARTSHOP_WRITE_BURST:-400}
[[ "$rate" =~ ^[1-9][0-9]{0,5}$ && "$burst" =~ ^[0-9]{1,6}$ ]] || { echo "SMARTSHOP_WRITE_RATE and SMARTSHOP_WRITE_BURST must be whole numbers (rate >= 1)" >&2; exit 2; }

conf=/run/smartshop/nginx.conf
umask 0077
awk -v servers="$servers" -v console_auth="$console_auth" -v operator_auth="$operator_auth" \
	-v charts_proxy="$charts_proxy" -v rate="$rate" -v burst="$burst" '
	/@BACKEND_SERVERS@/ { printf "%s", servers; next }
	/@CONSOLE_AUTH@/ { print console_auth; next }
	/@OPERATOR_AUTH@/ { print operator_auth; next }
	/@CHARTS_PROXY@/ { print charts_proxy; next }
	{ gsub(/@WRITE_RATE@/, rate); gsub(/@WRITE_BURST@/, burst); print }' \
	/etc/smartshop/nginx.conf.template >"$conf"
printf '{"grafana_url": %s, "prometheus_url": %s}\n' \
	"$(json_string "${SMARTSHOP_GRAFANA_URL:-http://localhost:3030}")" \
	"$(json_string "${SMARTSHOP_PROMETHEUS_URL:-http://localhost:9090}")" >/run/smartshop/config.json

# `docker exec <console> docker-entrypoint.sh reload [SECONDS]`: render again (a rotated operator
# token, a replica drained) and reload nginx gracefully (requests in flight finish on the old
# workers); with SECONDS, wait for those workers to be gone.
workers() {
	local p cmd
	for p in /proc/[0-9]*; do
		cmd=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
		[[ "$cmd" == "nginx: worker process"* ]] && echo "${p#/proc/}"
	done
	return 0
}
if [ "${1:-}" = reload ]; then
	wait_s=${2:-}
	[[ -z "$wait_s" || "$wait_s" =~ ^[0-9]{1,4}$ ]] || { echo "reload: SECONDS must be a whole number" >&2; exit 2; }
	old=$(workers)
	nginx -c "$conf" -s reload
	[ -n "$wait_s" ] || exit 0
	deadline=$((SECONDS + wait_s))
	for pid in $old; do
		while [ -e "/proc/$pid" ]; do
			((SECONDS < deadline)) || { echo "reload: workers of the old configuration still busy after ${wait_s} s" >&2; exit 1; }
			sleep 0.2
		done
	done
	exit 0
fi
if [ "${1:-}" = nginx ]; then
	shift
	exec nginx -c "$conf" "$@"
fi
exec "$@"
