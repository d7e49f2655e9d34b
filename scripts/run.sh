#!/usr/bin/env bash
# `make run`: start the whole system on this machine with demo data, then print the URL and logins.
# Idempotent: a second run finds the stack up and only prints. Assumes `make install` has run.
set -o errexit -o pipefail -o nounset
. "$(dirname "$0")/_lib.sh"
. "$(dirname "$0")/_app.sh"

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
say "registering the shipped AI models (ai-server/models; a model already registered is left as it is)"
(cd "$ROOT/ai-server" && .venv/bin/python -m ai_server.registry add models/*/*/ >/dev/null)

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
build_web_ui

# The application runs as one of two colours (blue, green: scripts/deploy.sh switches between them);
# nginx sends traffic to the live one, blue unless a deploy made green live.
COLOUR="$(active_colour)"
say "rendering the nginx configuration (live colour: $COLOUR)"
render_nginx "$COLOUR" "$TLS_CERT" "$TLS_KEY"

if ! pid_alive "$RUN/honcho.pid" && ! colour_running "$COLOUR"; then
  rm -rf "$VAR/prometheus" && mkdir -p "$VAR/prometheus/django" "$VAR/prometheus/ai"
fi
if ! colour_running "$COLOUR"; then
  read -r API_PORT WS_PORT <<<"$(colour_ports "$COLOUR")"
  say "starting the $COLOUR colour: gunicorn :$API_PORT, daphne :$WS_PORT (logs: var/log/$COLOUR-web.log, $COLOUR-ws.log)"
  stop_colour "$COLOUR"  # whichever of its two processes is still there
  start_colour "$COLOUR"
fi
if pid_alive "$RUN/honcho.pid"; then
  say "the other application processes are already running (pid $(cat "$RUN/honcho.pid")); reloading nginx"
  nginx_cmd -s reload 2>/dev/null || true
else
  say "starting the Celery worker and beat, the AI consumers, the ai-server and nginx under honcho (Procfile; logs: var/log/app.log)"
  cd "$ROOT"
  # In a session of its own, detached from this shell; scripts/stop.sh stops it and all it started.
  setsid nohup "$ROOT/backend/.venv/bin/honcho" -e ".env,var/run/standins.env" -f "$ROOT/Procfile" start \
    >"$LOG/app.log" 2>&1 &
  echo $! >"$RUN/honcho.pid"
fi

URL="https://127.0.0.1:$HTTPS_PORT"
# --insecure: the local certificate is self-signed (e2e/conftest.py does the same).
ready() { curl -fsS --insecure "$URL/ready" >/dev/null; }
if ! (wait_for 90 "the CDSS (/ready through nginx)" ready); then
  curl -sS --insecure "$URL/ready" || true; echo
  die "the stack did not become ready; see var/log/app.log and var/log/$COLOUR-web.log"
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
