#!/bin/bash
# Renders the nginx configuration from the environment, then runs the command (nginx).
#   SMARTSHOP_BACKENDS       space-separated host:port of the backend replicas (default backend:8000)
#   SMARTSHOP_GRAFANA_URL    link shown in the console (default http://localhost:3030)
#   SMARTSHOP_PROMETHEUS_URL link shown in the console (default http://localhost:9090)
set -euo pipefail

backends=${SMARTSHOP_BACKENDS:-backend:8000}
servers=""
for backend in $backends; do
	[[ "$backend" =~ ^[A-Za-z0-9._-]+:[0-9]{1,5}$ ]] || { echo "SMARTSHOP_BACKENDS: '$backend' is not host:port" >&2; exit 2; }
	servers+="        server ${backend} max_fails=2 fail_timeout=5s;"$'\n'
done
json_string() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$s"; }
for url in "${SMARTSHOP_GRAFANA_URL:-}" "${SMARTSHOP_PROMETHEUS_URL:-}"; do
	[[ -z "$url" || "$url" =~ ^https?://[^[:space:]\"\'\<\>]+$ ]] || { echo "console link '$url' is not an http(s) URL" >&2; exit 2; }
done

conf=/run/smartshop/nginx.conf
awk -v servers="$servers" '{ if ($0 ~ /@BACKEND_SERVERS@/) printf "%s", servers; else print }' \
	/etc/smartshop/nginx.conf.template >"$conf"
printf '{"grafana_url": %s, "prometheus_url": %s}\n' \
	"$(json_string "${SMARTSHOP_GRAFANA_URL:-http://localhost:3030}")" \
	"$(json_string "${SMARTSHOP_PROMETHEUS_URL:-http://localhost:9090}")" >/run/smartshop/config.json

if [ "${1:-}" = nginx ]; then
	shift
	exec nginx -c "$conf" "$@"
fi
exec "$@"
