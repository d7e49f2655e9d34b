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

say "rendering the nginx configuration"
mkdir -p "$VAR/nginx/tmp"
sed -e "s|@VAR@|$VAR|g" -e "s|@ROOT@|$ROOT|g" -e "s|@HTTP_PORT@|$HTTP_PORT|g" \
  "$ROOT/nginx/local.conf.template" >"$VAR/nginx/nginx.conf"
nginx -t -q -c "$VAR/nginx/nginx.conf" -p "$VAR/nginx" -e "$VAR/nginx/error.log"

if pid_alive "$RUN/honcho.pid"; then
  say "the application processes are already running (pid $(cat "$RUN/honcho.pid"))"
else
  say "starting gunicorn, daphne, celery worker, celery beat, ai-server and nginx (logs: var/log/app.log)"
  rm -rf "$VAR/prometheus" && mkdir -p "$VAR/prometheus/web" "$VAR/prometheus/ai"
  cd "$ROOT"
  nohup "$ROOT/backend/.venv/bin/honcho" -e ".env,var/run/standins.env" -f "$ROOT/Procfile" start >"$LOG/app.log" 2>&1 &
  echo $! >"$RUN/honcho.pid"
fi

URL="http://127.0.0.1:$HTTP_PORT"
ready() { curl -fsS "$URL/ready" >/dev/null; }
if ! (wait_for 90 "the CDSS (/ready through nginx)" ready); then
  curl -sS "$URL/ready" || true; echo
  die "the stack did not become ready; see var/log/app.log"
fi

cat <<MSG

  CDSS is running at $URL
    API docs   $URL/api/docs
    Admin      $URL/admin/
    Logins     admin, doctor, radiologist, nurse, ops  (password for each: $DEMO_PASSWORD)
    Readiness  $URL/ready
  Logs: var/log/   Stop: make stop

MSG
