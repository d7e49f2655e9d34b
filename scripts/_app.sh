# The application tier of the local run, shared by scripts/run.sh, deploy.sh and stop.sh: the two
# colours (blue, green) of gunicorn + daphne, and nginx's configuration rendered from nginx/*.template.
# Source it after _lib.sh; it changes nothing by itself.
# shellcheck shell=bash

NGINX_CONF="$VAR/nginx/nginx.conf"
NGINX_UPSTREAM="$VAR/nginx/upstream.conf"   # included by NGINX_CONF: the colour nginx sends traffic to
ACTIVE_COLOUR_FILE="$RUN/colour"
SWITCHED_AT_FILE="$RUN/colour.switched"     # when nginx last changed colour (epoch seconds)
RETIRE_PIDFILE="$RUN/deploy-retire.pid"    # the timer that stops the previous colour (deploy.sh)

# Each colour: gunicorn (HTTP: REST, admin, probes) and daphne (websockets) on loopback ports of its own.
colour_ports() {  # colour_ports COLOUR -> "API_PORT WS_PORT"
  case $1 in
    blue) echo "8000 8001" ;;
    green) echo "8010 8011" ;;
    *) die "unknown colour '$1' (blue or green)" ;;
  esac
}
other_colour() { if [ "$1" = blue ]; then echo green; else echo blue; fi; }
active_colour() { cat "$ACTIVE_COLOUR_FILE" 2>/dev/null || echo blue; }

colour_running() {  # colour_running COLOUR: both of its processes are alive
  pid_alive "$RUN/$1-web.pid" && pid_alive "$RUN/$1-ws.pid"
}

# Ready: gunicorn's /ready (every dependency answers) and daphne answering HTTP, both asked directly.
colour_ready() {  # colour_ready COLOUR
  local api ws
  read -r api ws <<<"$(colour_ports "$1")"
  curl -fsS -o /dev/null --max-time 10 "http://127.0.0.1:$api/ready" \
    && curl -fsS -o /dev/null --max-time 10 "http://127.0.0.1:$ws/health"
}

# Start a colour from the current checkout, each process in a session of its own (detached from the
# caller, like honcho in run.sh). The multiprocess metrics folder is shared with the Celery worker, so
# Django's /metrics counts every process of either colour.
start_colour() {  # start_colour COLOUR
  local colour=$1 api ws
  read -r api ws <<<"$(colour_ports "$colour")"
  mkdir -p "$VAR/prometheus/django"
  git -C "$ROOT" describe --always --dirty >"$RUN/$colour.commit" 2>/dev/null || echo unknown >"$RUN/$colour.commit"
  (
    cd "$ROOT/backend" || exit 1
    start_bg "$RUN/$colour-web.pid" "$LOG/$colour-web.log" \
      env PROMETHEUS_MULTIPROC_DIR="$VAR/prometheus/django" setsid .venv/bin/gunicorn cdss.wsgi:application \
      --bind "127.0.0.1:$api" --workers "${APP_WORKERS:-3}" --timeout 300 --graceful-timeout 30 --access-logfile -
    start_bg "$RUN/$colour-ws.pid" "$LOG/$colour-ws.log" \
      setsid .venv/bin/daphne --bind 127.0.0.1 --port "$ws" cdss.asgi:application
  )
}

# TERM is graceful for both: gunicorn lets its workers finish their requests (up to 30 s), daphne closes
# its websockets (browsers reconnect). What is still there after 30 s is KILLed (stop_process_tree).
stop_colour() {  # stop_colour COLOUR
  stop_process_tree "$RUN/$1-web.pid" "$1 gunicorn"
  stop_process_tree "$RUN/$1-ws.pid" "$1 daphne"
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
  mkdir -p "$VAR/nginx/tmp"
  render_template "$ROOT/nginx/local.conf.template" "$NGINX_CONF" VAR="$VAR" ROOT="$ROOT" \
    HTTP_PORT="$HTTP_PORT" HTTPS_PORT="$HTTPS_PORT" TLS_CERT_FILE="$2" TLS_KEY_FILE="$3"
  render_upstream "$1"
  nginx_cmd -t -q
}

render_upstream() {  # render_upstream COLOUR
  local api ws
  read -r api ws <<<"$(colour_ports "$1")"
  render_template "$ROOT/nginx/upstream.conf.template" "$NGINX_UPSTREAM" COLOUR="$1" API_PORT="$api" WS_PORT="$ws"
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

# Everything the application tier runs (make stop; the e2e suite when it started the stack): nginx and
# the workers under honcho first, so no request reaches a colour that is stopping, then both colours.
stop_app() {
  stop_pidfile "$RETIRE_PIDFILE" "the timer that stops the previous colour"
  stop_process_tree "$RUN/honcho.pid" "application processes (honcho)"
  local colour
  for colour in blue green; do stop_colour "$colour"; done
  rm -f "$ACTIVE_COLOUR_FILE" "$SWITCHED_AT_FILE"
}

# build_web_ui [OUTDIR]: the production build of the web UI. Without OUTDIR it replaces react/dist, which
# nginx serves, by renaming a finished build into place: a page loaded while it builds (a second
# `make run`, the e2e suite beside the react suite) never meets a half-written or missing index.html.
build_web_ui() {
  local out="${1:-$ROOT/react/dist.next}"
  (cd "$ROOT/react" && npx vite build --logLevel warn --emptyOutDir --outDir "$out") || return
  if [ $# -eq 0 ]; then
    rm -rf "$ROOT/react/dist.previous"
    [ ! -d "$ROOT/react/dist" ] || mv "$ROOT/react/dist" "$ROOT/react/dist.previous"
    mv "$out" "$ROOT/react/dist" && rm -rf "$ROOT/react/dist.previous"
  fi
}
