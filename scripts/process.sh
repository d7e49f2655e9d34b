#!/usr/bin/env bash
# One long-running process of the local run, by name, in the foreground: the command line of each lives
# here alone. supervisord runs them (deploy/supervisor/supervisord.conf.template; it restarts each one
# after a crash); the Procfile runs the same names under honcho for a developer who wants one terminal.
#
#   scripts/process.sh NAME    worker | beat | ai | ai-worker | ai-events | nginx | backup
#                              COLOUR-web | COLOUR-upload | COLOUR-ws   (COLOUR: blue or green)
#
# .env is read at every start, so a restarted or newly deployed process sees the current settings. The
# pid goes to var/run/NAME.pid (exec keeps it), for scripts and tests that signal one process.
set -o errexit -o pipefail -o nounset
. "$(dirname "$0")/_lib.sh"
. "$(dirname "$0")/_app.sh"

[ $# -eq 1 ] || die "usage: $0 NAME (see the header of this script)"
NAME=$1
load_env
mkdir -p "$RUN"

# One host of a multi-host layout run on one machine (scripts/netns.sh) keeps its pid files, metrics and
# model cache apart, as a host of its own would.
HOST_PREFIX=${CDSS_HOST:+$CDSS_HOST-}
PIDFILE="$RUN/$HOST_PREFIX$NAME.pid"

# A process killed outright (SIGKILL, the OOM killer) can leave children behind in its process group
# (supervisord gives each program a group of its own, led by its pid): gunicorn workers still holding
# the port, Celery pool processes. They are ended before the new instance starts, so it can bind its
# port and nothing runs twice. TERM first (a worker may finish its request), KILL after 5 s: an orphan
# lost its master and must not keep the port from the new instance for long.
end_leftovers() {
  local old; old="$(cat "$PIDFILE" 2>/dev/null || true)"
  [ -n "$old" ] && [ "$old" != $$ ] && ! kill -0 "$old" 2>/dev/null || return 0
  pgrep -g "$old" >/dev/null || return 0
  warn "$NAME: ending what is left of the previous instance (process group $old)"
  pkill -TERM -g "$old" || true
  for _ in $(seq 1 50); do pgrep -g "$old" >/dev/null || return 0; sleep 0.1; done
  pkill -KILL -g "$old" || true
}
end_leftovers
echo $$ >"$PIDFILE"
DJANGO_METRICS="$VAR/prometheus/${HOST_PREFIX}django"  # gunicorn, Celery and the event listener: one /metrics (Django's)
AI_METRICS="$VAR/prometheus/${HOST_PREFIX}ai"          # the ai-server's web process and its job consumer (docs/ai.md)
mkdir -p "$DJANGO_METRICS" "$AI_METRICS"

# Each kind signs in to RabbitMQ with its own account (scripts/services.sh, provision_broker_accounts).
broker_account() { local url="${1}_RABBITMQ_URL"; export RABBITMQ_URL="${!url:-$RABBITMQ_URL}"; }
# and to the object store with its own key (s3_account, scripts/_lib.sh): the ai-server's, or the application's.
# The address the web processes listen on: loopback behind the host's own nginx (the default), the host's
# address when the proxy runs on another host (docs/scale-out.md).
BIND=${APP_BIND_ADDRESS:-127.0.0.1}

# The ai-server parses untrusted DICOM, so its processes start with their own settings only (the names
# ai_server.config reads), not the whole .env: no database account, Django key, Redis password, audit
# key or other broker account reaches them (docs/security.md, "ai-server ↔ storage").
exec_ai_server() {  # exec_ai_server COMMAND...  (run in ai-server/)
  local name names passed=()
  names="$(.venv/bin/python -c 'from ai_server.config import Settings
print(" ".join(field.alias for field in Settings.model_fields.values() if field.alias))')"
  for name in PATH HOME LANG LC_ALL TZ TMPDIR CUDA_VISIBLE_DEVICES AI_LOG_LEVEL PROMETHEUS_MULTIPROC_DIR $names; do
    if [ -n "${!name+set}" ]; then passed+=("$name=${!name}"); fi
  done
  # this checkout's code, even where the virtualenv was installed (editable) from another checkout
  exec env -i "${passed[@]}" PYTHONPATH="$ROOT/ai-server/src" "$@"
}

case $NAME in
  worker)
    cd "$ROOT/backend"
    broker_account WORKER; s3_account APP_S3
    PROMETHEUS_MULTIPROC_DIR=$DJANGO_METRICS exec .venv/bin/celery -A cdss worker --queues default,fhir,ai \
      --concurrency 2 --loglevel INFO ;;
  beat)
    cd "$ROOT/backend"
    broker_account BEAT; s3_account APP_S3
    exec .venv/bin/celery -A cdss beat --scheduler django_celery_beat.schedulers:DatabaseScheduler --loglevel INFO ;;
  ai)
    cd "$ROOT/ai-server"
    broker_account AI; s3_account AI_S3
    PROMETHEUS_MULTIPROC_DIR=$AI_METRICS AI_MODEL_CACHE_DIR=../var/ai-models/web exec_ai_server .venv/bin/gunicorn \
      "ai_server.app:create_app()" --bind "$BIND:5000" --workers 1 --timeout 300 --access-logfile - ;;
  ai-worker)
    cd "$ROOT/ai-server"
    broker_account AI; s3_account AI_S3
    PROMETHEUS_MULTIPROC_DIR=$AI_METRICS AI_MODEL_CACHE_DIR="../var/ai-models/${HOST_PREFIX}worker" exec_ai_server .venv/bin/python -m ai_server.consumer ;;
  ai-events)
    cd "$ROOT/backend"
    broker_account EVENTS; s3_account APP_S3
    exec .venv/bin/python manage.py consume_ai_events ;;
  nginx)
    exec nginx -c "$NGINX_CONF" -p "$VAR/nginx" -e "$VAR/nginx/error.log" ;;
  backup)  # the backups' schedule (backup/scheduler.py); backup.sh signs in with the backup accounts itself
    PROMETHEUS_MULTIPROC_DIR=$DJANGO_METRICS exec "$ROOT/backend/.venv/bin/python" "$ROOT/backup/scheduler.py" ;;
  blue-* | green-*)
    colour=${NAME%%-*}
    read -r api ws upload <<<"$(colour_ports "$colour")"
    cd "$ROOT/backend"
    export PROMETHEUS_MULTIPROC_DIR=$DJANGO_METRICS CDSS_COLOUR=$colour  # the operations page shows it
    broker_account WEB; s3_account APP_S3
    case ${NAME#*-} in
      # The API pool: sync workers, one request at a time each. Uploads never reach it (nginx sends them
      # to the upload pool below), so a slow client cannot hold one of these workers for long.
      web)
        git -C "$ROOT" describe --always --dirty >"$RUN/$colour.commit" 2>/dev/null || echo unknown >"$RUN/$colour.commit"
        exec .venv/bin/gunicorn cdss.wsgi:application --bind "$BIND:$api" --workers "${APP_WORKERS:-3}" \
          --timeout 300 --graceful-timeout 30 --access-logfile - ;;
      # The upload pool (docs/radiology.md, "Slow clients"): threads, so a client sending slowly holds a
      # thread, not a worker; gthread's --timeout watches the worker process, not the length of a request,
      # and nginx ends an upload whose client goes quiet (client_body_timeout). An upload under way gets
      # UPLOAD_GRACEFUL_SECONDS to finish when the colour stops.
      upload)
        exec .venv/bin/gunicorn cdss.wsgi:application --bind "$BIND:$upload" --worker-class gthread \
          --workers "${UPLOAD_WORKERS:-2}" --threads "${UPLOAD_THREADS:-16}" --timeout 60 \
          --graceful-timeout "${UPLOAD_GRACEFUL_SECONDS:-120}" --access-logfile - ;;
      ws)
        exec .venv/bin/daphne --bind "$BIND" --port "$ws" cdss.asgi:application ;;
      *) die "unknown process '$NAME'" ;;
    esac ;;
  *) die "unknown process '$NAME'" ;;
esac
