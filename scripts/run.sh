#!/usr/bin/env bash
# `make run`: start the whole system on this machine with demo data, then print the URL and logins.
# Idempotent: a second run finds the stack up and only prints. Assumes `make install` has run.
set -o errexit -o pipefail -o nounset
. "$(dirname "$0")/_lib.sh"

"$ROOT/scripts/env.sh"
"$ROOT/scripts/services.sh" up
load_env  # after services.sh: it may have started stand-ins and written their addresses
manage() { (cd "$ROOT/backend" && .venv/bin/python manage.py "$@"); }

say "preparing the database, the broker topology, storage buckets and demo accounts"
manage migrate --noinput -v0
manage bootstrap
manage collectstatic --noinput -v0
manage seed_demo
manage refresh_patient_cache

# TLS: the certificate .env names, or a self-signed one for localhost made here (renewed when it has
# less than 30 days left).
TLS_CERT="${TLS_CERT_FILE:-}" TLS_KEY="${TLS_KEY_FILE:-}"
if [ -z "$TLS_CERT" ] || [ -z "$TLS_KEY" ]; then
  TLS_CERT="$VAR/tls/cdss-selfsigned.crt" TLS_KEY="$VAR/tls/cdss-selfsigned.key"
  if ! openssl x509 -checkend $((30 * 86400)) -noout -in "$TLS_CERT" >/dev/null 2>&1; then
    say "making a self-signed TLS certificate for localhost (var/tls/)"
    mkdir -p "$VAR/tls" && chmod 700 "$VAR/tls"
    (umask 077; openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 365 -subj "/CN=localhost" \
      -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$TLS_KEY" -out "$TLS_CERT" 2>"$LOG/openssl.log")
  fi
fi
[ -r "$TLS_CERT" ] && [ -r "$TLS_KEY" ] || die "TLS certificate or key not readable: $TLS_CERT, $TLS_KEY"

say "building the web UI (react/dist)"
(cd "$ROOT/react" && npx vite build --logLevel warn)

say "rendering the nginx configuration"
mkdir -p "$VAR/nginx/tmp"
sed -e "s|@VAR@|$VAR|g" -e "s|@ROOT@|$ROOT|g" -e "s|@HTTP_PORT@|$HTTP_PORT|g" -e "s|@HTTPS_PORT@|$HTTPS_PORT|g" \
  -e "s|@TLS_CERT_FILE@|$TLS_CERT|g" -e "s|@TLS_KEY_FILE@|$TLS_KEY|g" \
  "$ROOT/nginx/local.conf.template" >"$VAR/nginx/nginx.conf"
nginx -t -q -c "$VAR/nginx/nginx.conf" -p "$VAR/nginx" -e "$VAR/nginx/error.log"

if pid_alive "$RUN/honcho.pid"; then
  say "the application processes are already running (pid $(cat "$RUN/honcho.pid")); reloading nginx"
  [ -f "$VAR/nginx/nginx.pid" ] && kill -HUP "$(cat "$VAR/nginx/nginx.pid")" 2>/dev/null || true
else
  say "starting gunicorn, daphne, celery worker, celery beat, ai-server and nginx (logs: var/log/app.log)"
  rm -rf "$VAR/prometheus" && mkdir -p "$VAR/prometheus/django" "$VAR/prometheus/ai"
  cd "$ROOT"
  # In a session of its own, detached from this shell; scripts/stop.sh stops it and all it started.
  setsid nohup "$ROOT/backend/.venv/bin/honcho" -e ".env,var/run/standins.env" -f "$ROOT/Procfile" start >"$LOG/app.log" 2>&1 &
  echo $! >"$RUN/honcho.pid"
fi

URL="https://127.0.0.1:$HTTPS_PORT"
# --insecure: the local certificate is self-signed (e2e/conftest.py does the same).
ready() { curl -fsS --insecure "$URL/ready" >/dev/null; }
if ! (wait_for 90 "the CDSS (/ready through nginx)" ready); then
  curl -sS --insecure "$URL/ready" || true; echo
  die "the stack did not become ready; see var/log/app.log"
fi

cat <<MSG

  CDSS is running at $URL
    API docs   $URL/api/docs
    Admin      $URL/admin/
    Logins     admin, doctor, radiologist, nurse, ops  (password for each: $DEMO_PASSWORD)
    Readiness  $URL/ready
    (http://127.0.0.1:$HTTP_PORT redirects here; the certificate is self-signed unless TLS_CERT_FILE is set)
    Prometheus http://127.0.0.1:$PROMETHEUS_PORT   Alertmanager http://127.0.0.1:$ALERTMANAGER_PORT  (this machine only)
  Logs: var/log/   Stop: make stop

MSG
