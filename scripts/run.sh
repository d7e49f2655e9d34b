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
CDSS_DB_OWNER=1 manage migrate --noinput -v0  # as the schema owner; it grants the application role (core/dbaccess.py)
manage bootstrap  # creates the buckets with the admin key (S3_ADMIN_*): no service account may
manage collectstatic --noinput -v0
manage seed_demo
manage refresh_patient_cache
# CDS Hooks: with no EHR issuer in .env, the local run trusts a local EHR key (var/run; docs/cds-hooks.md).
if grep -q '^CDS_HOOKS_ISSUERS=' "$ROOT/.env"; then rm -f "$RUN/cds-hooks.env"; else manage cds_hooks_local_ehr "$RUN"; fi
say "registering the shipped AI models (ai-server/models; a model already registered is left as it is)"
(cd "$ROOT/ai-server" && s3_account MODELS_S3 && .venv/bin/python -m ai_server.registry add models/*/*/ >/dev/null)
# The tumour-board PDF's font: reportlab cannot embed the PostScript outlines of fonts-noto-cjk, so its Korean
# face is converted once to TrueType outlines (fontTools is in the ai-server's environment; docs/board.md).
BOARD_FONT="$VAR/fonts/NotoSansCJKkr-Regular-TT.ttf"
if [ ! -s "$BOARD_FONT" ]; then
  say "making the tumour-board PDF's font from fonts-noto-cjk (var/fonts/)"
  "$ROOT/ai-server/.venv/bin/python" "$ROOT/scripts/board_font.py" "$BOARD_FONT" >/dev/null
fi

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

# Every long-running process runs under supervisord, which restarts it after a crash (deploy/supervisor/,
# command lines in scripts/process.sh); the live colour is a group started here.
if ! supervisor_running; then
  rm -rf "$VAR/prometheus" && mkdir -p "$VAR/prometheus/django" "$VAR/prometheus/ai"
  say "starting supervisord: the Celery worker and beat, the AI consumers, the ai-server and nginx (logs: var/log/NAME.log)"
else
  say "supervisord runs already (pid $(cat "$SUPERVISOR_PIDFILE")); applying its configuration, reloading nginx"
  nginx_cmd -s reload 2>/dev/null || true
fi
start_supervisor
if ! colour_running "$COLOUR"; then
  read -r API_PORT WS_PORT UPLOAD_PORT <<<"$(colour_ports "$COLOUR")"
  say "starting the $COLOUR colour: gunicorn :$API_PORT, uploads :$UPLOAD_PORT, daphne :$WS_PORT (logs: var/log/$COLOUR-*.log)"
  start_colour "$COLOUR" || warn "supervisord could not start every program of $COLOUR"
fi

URL="https://127.0.0.1:$HTTPS_PORT"
# --insecure: the local certificate is self-signed (e2e/conftest.py does the same).
ready() { curl -fsS --insecure "$URL/ready" >/dev/null; }
if ! (wait_for 90 "the CDSS (/ready through nginx)" ready); then
  curl -sS --insecure "$URL/ready" || true; echo
  "$ROOT/scripts/ctl.sh" status || true
  die "the stack did not become ready; see var/log/ (one log per process) and 'scripts/ctl.sh status'"
fi

# Demo imaging (ai.demo): synthetic MR studies with lesions of known volume and an expression profile,
# written once by the ai-server's generator into var/, stored in Orthanc where it lacks them, analysed by
# the ai-server just started; a second run finds everything in place and only checks (a few seconds).
say "loading the demo imaging (synthetic studies, AI analyses; var/demo-imaging/)"
demo_started=$SECONDS
(cd "$ROOT/ai-server" && PYTHONPATH="$ROOT/ai-server/src" .venv/bin/python -m ai_server.demo_imaging "$VAR/demo-imaging")
manage seed_demo_imaging "$VAR/demo-imaging" || warn "the demo imaging is incomplete; rerun make run (see above)"
say "demo imaging checked in $((SECONDS - demo_started)) s"

cat <<MSG

  CDSS is running at $URL
    API docs   $URL/api/docs
    Admin      $URL/admin/
    Logins     admin, doctor, radiologist, radiographer, nurse, ops  (password for each: $DEMO_PASSWORD)
    Readiness  $URL/ready
    (http://127.0.0.1:$HTTP_PORT redirects here; the certificate is self-signed unless TLS_CERT_FILE is set)
    Prometheus http://127.0.0.1:$PROMETHEUS_PORT   Alertmanager http://127.0.0.1:$ALERTMANAGER_PORT  (this machine only)
  Logs: var/log/   Processes: make status (supervisord restarts any that dies)   Stop: make stop

MSG
