#!/bin/sh
# The example app: one image, three roles (APP_SERVICE = api, web or worker) and four
# versions baked in at build time (APP_VERSION):
#   v1, v2  healthy: /health answers 200;
#   v3      the api is broken: no /health (404), and it logs database errors every 2 s;
#   v4      the api crashes at start with an error line.
# Every role serves HTTP on port 8000 (busybox httpd) and logs lines the way apps do:
# an RFC 3339 time, a level, a message.
set -u
service=${APP_SERVICE:-api}
version=${APP_VERSION:-v1}

log() {
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $1 $2"
}

mkdir -p /www
if [ "$service:$version" = "api:v4" ]; then
  log ERROR "fatal: api $version cannot start: DATABASE_URL is not set"
  exit 1
fi
if [ "$service:$version" = "api:v3" ]; then
  (while true; do
    log ERROR "database connection refused: db:5432 (api $version)"
    sleep 2
  done) &
else
  echo "$service $version ok" > /www/health
fi
echo "<h1>$service $version</h1>" > /www/index.html
log INFO "$service $version listening on port 8000"
if [ "$service" = worker ]; then
  (n=0
  while true; do
    n=$((n + 1))
    log INFO "processed job $n"
    if [ $((n % 3)) -eq 0 ]; then
      log WARNING "job $n was slow (1200 ms) on $(hostname)"
    fi
    sleep 1
  done) &
fi
exec httpd -f -p 8000 -h /www
