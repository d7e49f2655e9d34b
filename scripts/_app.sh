# The application tier of the local run, shared by scripts/run.sh, deploy.sh, stop.sh and process.sh:
# supervisord, which runs every long-running process (deploy/supervisor/supervisord.conf.template), the two
# colours (blue, green) of the web tier, and nginx's configuration rendered from nginx/*.template.
# Source it after _lib.sh; it changes nothing by itself.
# shellcheck shell=bash

NGINX_CONF="$VAR/nginx/nginx.conf"
NGINX_UPSTREAM="$VAR/nginx/upstream.conf"   # included by NGINX_CONF: the colour nginx sends traffic to
SUPERVISOR_CONF="$VAR/supervisor/supervisord.conf"
SUPERVISOR_PIDFILE="$RUN/supervisord.pid"
ACTIVE_COLOUR_FILE="$RUN/colour"
SWITCHED_AT_FILE="$RUN/colour.switched"     # when nginx last changed colour (epoch seconds)
RETIRE_PIDFILE="$RUN/deploy-retire.pid"    # the timer that stops the previous colour (deploy.sh)

# Each colour: gunicorn for the API, gunicorn with threads for uploads (nginx sends /api/radiology/uploads
# and STOW-RS there: docs/radiology.md) and daphne for websockets, on loopback ports of its own.
colour_ports() {  # colour_ports COLOUR -> "API_PORT WS_PORT UPLOAD_PORT"
  case $1 in
    blue) echo "8000 8001 8003" ;;
    green) echo "8010 8011 8013" ;;
    *) die "unknown colour '$1' (blue or green)" ;;
  esac
}
other_colour() { if [ "$1" = blue ]; then echo green; else echo blue; fi; }
active_colour() { cat "$ACTIVE_COLOUR_FILE" 2>/dev/null || echo blue; }

# --- supervisord -----------------------------------------------------------------------------------------
supervisor_running() { pid_alive "$SUPERVISOR_PIDFILE"; }
ctl() {  # ctl ARGS...: supervisorctl with the local run's configuration
  "$ROOT/backend/.venv/bin/supervisorctl" -c "$SUPERVISOR_CONF" "$@"
}
render_supervisor() {
  mkdir -p "$VAR/supervisor" "$RUN" "$LOG"
  render_template "$ROOT/deploy/supervisor/supervisord.conf.template" "$SUPERVISOR_CONF" VAR="$VAR" ROOT="$ROOT"
}
# Start supervisord (it starts every program but the colours) or, when it runs, apply a changed
# configuration (`update` restarts only the programs whose section changed).
start_supervisor() {
  render_supervisor
  if supervisor_running; then
    ctl update >/dev/null
  else
    "$ROOT/backend/.venv/bin/supervisord" -c "$SUPERVISOR_CONF"
    wait_for 30 supervisord ctl pid
  fi
}

# On an application host systemd runs the processes instead (deploy/systemd/; PROCESS_MANAGER=systemd in
# .env): a colour is then three units, cdss@COLOUR-web, -upload and -ws.
on_systemd() { [ "${PROCESS_MANAGER:-supervisord}" = systemd ]; }
colour_units() { echo "cdss@$1-web.service cdss@$1-upload.service cdss@$1-ws.service"; }
# The process manager is up: supervisord runs (make run), or systemd does.
manager_running() { on_systemd || supervisor_running; }

# Running: each of its three programs is RUNNING under supervisord (active under systemd).
colour_running() {  # colour_running COLOUR
  if on_systemd; then
    # shellcheck disable=SC2046
    systemctl is-active --quiet $(colour_units "$1")
    return
  fi
  supervisor_running || return 1
  local states
  states="$(ctl status "$1:*" 2>/dev/null | awk '{print $2}' | sort -u)"
  [ "$states" = RUNNING ]
}

# Ready: gunicorn's /ready (every dependency answers), the upload pool and daphne answering HTTP.
colour_ready() {  # colour_ready COLOUR
  local api ws upload
  read -r api ws upload <<<"$(colour_ports "$1")"
  curl -fsS -o /dev/null --max-time 10 "http://127.0.0.1:$api/ready" \
    && curl -fsS -o /dev/null --max-time 10 "http://127.0.0.1:$upload/health" \
    && curl -fsS -o /dev/null --max-time 10 "http://127.0.0.1:$ws/health"
}

# Start a colour from the current checkout under supervisord (scripts/process.sh has the command lines;
# it records the commit in var/run/COLOUR.commit). supervisorctl returns once each program has stayed up
# for its startsecs, or fails. The multiprocess metrics folder is shared with the Celery worker, so
# Django's /metrics counts every process of either colour.
start_colour() {  # start_colour COLOUR
  # shellcheck disable=SC2046
  if on_systemd; then systemctl start $(colour_units "$1"); else ctl start "$1:*"; fi
}

# TERM is graceful for all three: gunicorn lets its workers finish their requests (30 s; the upload pool
# UPLOAD_GRACEFUL_SECONDS), daphne closes its websockets (browsers reconnect). After each program's
# stopwaitsecs, supervisord KILLs what is left of it.
stop_colour() {  # stop_colour COLOUR
  # shellcheck disable=SC2046
  if on_systemd; then systemctl stop $(colour_units "$1"); elif supervisor_running; then ctl stop "$1:*" >/dev/null; fi
  rm -f "$RUN/$1.commit"
}

# --- nginx -----------------------------------------------------------------------------------------
# Templates use @NAME@ placeholders; the output is written beside the target and moved into place, so
# nginx never reads a half-written file, and a placeholder left unfilled (outside a comment) is an error.
render_template() {  # render_template TEMPLATE OUTPUT NAME=VALUE...
  local template=$1 output=$2 pair expressions=(); shift 2
  for pair in "$@"; do expressions+=(-e "s|@${pair%%=*}@|${pair#*=}|g"); done
  sed "${expressions[@]}" "$template" >"$output.new"
  if grep -n '^[^#]*@[A-Z_]*@' "$output.new" >&2; then
    rm -f "$output.new"; die "$template: placeholder(s) above left unfilled"
  fi
  mv -f "$output.new" "$output"
}

nginx_cmd() {  # nginx_cmd ARGS...: nginx with the local run's configuration
  nginx -c "$NGINX_CONF" -p "$VAR/nginx" -e "$VAR/nginx/error.log" "$@"
}

# The whole configuration (scripts/run.sh): server blocks from local.conf.template, upstreams of COLOUR.
render_nginx() {  # render_nginx COLOUR TLS_CERT TLS_KEY
  mkdir -p "$VAR/nginx/tmp" "$VAR/nginx/cache"
  render_template "$ROOT/nginx/local.conf.template" "$NGINX_CONF" VAR="$VAR" ROOT="$ROOT" \
    HTTP_PORT="$HTTP_PORT" HTTPS_PORT="$HTTPS_PORT" TLS_CERT_FILE="$2" TLS_KEY_FILE="$3"
  sh "$ROOT/nginx/realip.sh" "$VAR/nginx/realip.conf"
  sh "$ROOT/nginx/orthanc.sh" "$VAR/nginx/orthanc.conf"
  render_upstream "$1"
  nginx_cmd -t -q
}

render_upstream() {  # render_upstream COLOUR
  local api ws upload
  read -r api ws upload <<<"$(colour_ports "$1")"
  render_template "$ROOT/nginx/upstream.conf.template" "$NGINX_UPSTREAM" COLOUR="$1" API_PORT="$api" WS_PORT="$ws" \
    UPLOAD_PORT="$upload"
}

# Point nginx at COLOUR: render the upstream include, `nginx -t`, then a graceful reload (new workers
# take new connections; old workers finish their in-flight requests). On a failed test the previous
# include is put back and nothing is reloaded.
switch_to() {  # switch_to COLOUR
  cp -p "$NGINX_UPSTREAM" "$NGINX_UPSTREAM.previous"
  render_upstream "$1"
  if ! nginx_cmd -t -q; then
    mv -f "$NGINX_UPSTREAM.previous" "$NGINX_UPSTREAM"
    die "nginx -t failed with the upstream of $1; nginx still sends traffic to $(active_colour)"
  fi
  nginx_cmd -s reload
  echo "$1" >"$ACTIVE_COLOUR_FILE"
  date +%s >"$SWITCHED_AT_FILE"
}

# Everything the application tier runs (make stop; the e2e suite when it started the stack): supervisord
# stops its programs by priority, nginx first, so no request reaches a process that is stopping, then the
# colours, then the workers; stop_process_tree KILLs whatever is left after 30 s.
stop_app() {
  stop_pidfile "$RETIRE_PIDFILE" "the timer that stops the previous colour"
  stop_process_tree "$SUPERVISOR_PIDFILE" "supervisord and every process it runs"
  rm -f "$ACTIVE_COLOUR_FILE" "$SWITCHED_AT_FILE" "$RUN"/blue.commit "$RUN"/green.commit
}

# build_web_ui [OUTDIR]: the production build of the web UI. Without OUTDIR it replaces react/dist, which
# nginx serves, by renaming a finished build into place: a page loaded while it builds (a second
# `make run`, the e2e suite beside the react suite) never meets a half-written or missing index.html.
# The build includes the .gz files nginx sends to browsers that accept gzip (vite.config.ts).
build_web_ui() {
  local out="${1:-$ROOT/react/dist.next}"
  (cd "$ROOT/react" && npx vite build --logLevel warn --emptyOutDir --outDir "$out") || return
  if [ $# -eq 0 ]; then
    rm -rf "$ROOT/react/dist.previous"
    [ ! -d "$ROOT/react/dist" ] || mv "$ROOT/react/dist" "$ROOT/react/dist.previous"
    mv "$out" "$ROOT/react/dist" && rm -rf "$ROOT/react/dist.previous"
  fi
}
