#!/usr/bin/env bash
# Blue-green deploy of the local run's web tier (gunicorn for the API and for uploads, daphne) behind nginx;
# each colour is a supervisord group (scripts/_app.sh). The steps and what each one checks are in
# docs/runbooks/deploy-and-rollback.md.
#
#   scripts/deploy.sh green        migrate (expand only), start green from the current checkout, wait for
#                                  its own /ready, switch nginx to it; blue stays up for the rollback window
#   scripts/deploy.sh green --contract   the same, also allowing migrations that drop or rename
#   scripts/deploy.sh --rollback   switch nginx back to the previous colour, then drain and stop the other
#   scripts/deploy.sh --confirm    end the rollback window now: drain and stop the previous colour
#   scripts/deploy.sh --status     each colour: live or not, running, ready, the commit it runs
#
# Environment (defaults): DEPLOY_READY_TIMEOUT=120 (s the new colour has to become ready),
# DEPLOY_DRAIN_SECONDS=30 (s between leaving a colour and stopping it, for requests already under way),
# DEPLOY_KEEP_PREVIOUS_SECONDS=900 (rollback window; 0 stops the previous colour right after the drain).
set -o errexit -o pipefail -o nounset
. "$(dirname "$0")/_lib.sh"
. "$(dirname "$0")/_app.sh"

READY_TIMEOUT=${DEPLOY_READY_TIMEOUT:-120}
DRAIN=${DEPLOY_DRAIN_SECONDS:-30}
KEEP=${DEPLOY_KEEP_PREVIOUS_SECONDS:-900}

usage() { sed -n '2,/^set -o/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
manage() { (cd "$ROOT/backend" && .venv/bin/python manage.py "$@"); }
commit_of() { cat "$RUN/$1.commit" 2>/dev/null || echo "?"; }
https_ready() { curl -fsS -o /dev/null --insecure --max-time 10 "https://127.0.0.1:$HTTPS_PORT/ready"; }

# One deploy, rollback, confirm or retire at a time. Started processes must not inherit the lock's
# descriptor (they would hold the lock for their whole life): each start below closes fd 9.
lock() {  # lock [SECONDS to wait]
  mkdir -p "$RUN"
  exec 9>"$RUN/deploy.lock"
  flock -w "${1:-0}" 9 || die "another scripts/deploy.sh is running (lock: var/run/deploy.lock)"
}

require_stack() {
  if ! manager_running || ! pid_alive "$VAR/nginx/nginx.pid" || [ ! -f "$NGINX_UPSTREAM" ]; then
    die "nginx of the local run is not running with a colour upstream: start the stack with 'make run'"
  fi
}

# Expand, then contract: while a deploy runs, the previous colour keeps serving on the migrated schema,
# and a rollback returns to it without touching the database. So a release only adds (tables, nullable
# or defaulted columns, indexes); dropping or renaming what the previous release reads is the contract
# step of a later release, once no colour runs code that reads it, and needs --contract.
migrate() {  # migrate ALLOW_CONTRACT
  local plan
  plan="$(manage migrate --plan)"
  if grep -q "No planned migration operations" <<<"$plan"; then
    say "migrations: none to apply"
    return 0
  fi
  printf '%s\n' "$plan"
  if grep -Eq '^ +(Remove field|Delete model|Rename field|Rename model|Rename table)' <<<"$plan"; then
    [ "$1" = yes ] || die "these migrations drop or rename (a contract step): the running colour may still need what they remove. Ship the expand step first; deploy with --contract once no running release reads it."
    warn "contract migrations allowed (--contract): a rollback to the previous colour may no longer work"
  fi
  if grep -Eq '^ +Alter field' <<<"$plan"; then
    warn "an 'Alter field' is expand-safe only if the previous release can still read and write the column"
  fi
  say "migrations: applying"
  CDSS_DB_OWNER=1 manage migrate --noinput  # the schema owner; grants follow (core/dbaccess.py)
}

# Keep COLOUR (just left) for the rollback window, then drain and stop it from a detached timer.
retire_later() {  # retire_later COLOUR
  colour_running "$1" || return 0
  if [ "$KEEP" -le 0 ]; then drain_and_stop "$1"; return 0; fi
  say "$1 ($(commit_of "$1")) stays up for $KEEP s: 'scripts/deploy.sh --rollback' returns to it, '--confirm' stops it now"
  setsid nohup "$0" --retire "$1" "$KEEP" >>"$LOG/deploy.log" 2>&1 9>&- &
  echo $! >"$RETIRE_PIDFILE"
}

# Stop a colour nginx no longer sends traffic to, once DRAIN seconds have passed since the switch
# (requests under way on it finish; gunicorn's own graceful stop then gives its workers 30 s more).
drain_and_stop() {  # drain_and_stop COLOUR
  [ "$(active_colour)" != "$1" ] || die "refusing to stop $1: nginx sends traffic to it"
  local switched wait
  switched="$(cat "$SWITCHED_AT_FILE" 2>/dev/null || echo 0)"
  wait=$((switched + DRAIN - $(date +%s)))
  if [ "$wait" -gt 0 ]; then
    say "draining $1: $wait s for the requests it is still serving"
    sleep "$wait"
  fi
  stop_colour "$1"
}

switch() {  # switch COLOUR
  say "switching nginx to $1 (upstream rendered from nginx/upstream.conf.template, nginx -t, graceful reload)"
  switch_to "$1"
  if ! (wait_for 30 "/ready through nginx" https_ready); then
    die "/ready through nginx fails after the switch to $1: 'scripts/deploy.sh --rollback' if $(other_colour "$1") is still up"
  fi
  say "nginx sends traffic to $1 ($(commit_of "$1")); /ready through nginx is 200"
}

deploy() {  # deploy COLOUR ALLOW_CONTRACT
  local target=$1 live
  live="$(active_colour)"
  [ "$target" != "$live" ] || die "$target is live already: deploy to $(other_colour "$target")"
  require_stack
  colour_running "$live" || warn "the live colour $live is not running: there will be nothing to roll back to"
  # A colour that is up but not live is the release kept for rollback: deploying over it ends that window.
  stop_pidfile "$RETIRE_PIDFILE" "the timer that stops $target"
  stop_colour "$target"

  migrate "$2"
  manage collectstatic --noinput -v0   # shared by both colours; hashed names keep the old files

  local api ws upload
  read -r api ws upload <<<"$(colour_ports "$target")"
  say "starting $target from the current checkout ($(git -C "$ROOT" describe --always --dirty)): gunicorn :$api, uploads :$upload, daphne :$ws"
  start_colour "$target" 9>&- || warn "supervisord could not start every program of $target (var/log/$target-*.log)"
  say "waiting for $target: /ready on :$api, the upload pool on :$upload and daphne on :$ws (up to $READY_TIMEOUT s)"
  if ! (wait_for "$READY_TIMEOUT" "$target" colour_ready "$target"); then
    curl -sS --max-time 10 "http://127.0.0.1:$api/ready" || true; echo
    stop_colour "$target"
    die "$target did not become ready: nothing was switched, $live still serves (logs: var/log/$target-*.log)"
  fi
  switch "$target"
  retire_later "$live"
}

rollback() {
  local live previous
  live="$(active_colour)"
  previous="$(other_colour "$live")"
  require_stack
  colour_running "$previous" \
    || die "$previous is not running (its rollback window is over): check out the previous release and deploy it to $previous"
  colour_ready "$previous" || die "$previous is running but not ready (/ready on its port fails): not switching"
  stop_pidfile "$RETIRE_PIDFILE" "the timer that stops $previous"
  say "rolling back from $live ($(commit_of "$live")) to $previous ($(commit_of "$previous"))"
  switch "$previous"
  drain_and_stop "$live"
}

confirm() {
  local previous
  previous="$(other_colour "$(active_colour)")"
  stop_pidfile "$RETIRE_PIDFILE" "the timer that stops $previous"
  if colour_running "$previous"; then drain_and_stop "$previous"; else say "$previous is not running: nothing to stop"; fi
}

# The detached timer of retire_later: sleeps, then drains and stops COLOUR unless it is live again.
retire() {  # retire COLOUR SECONDS
  local sleeper
  sleep "$2" &
  sleeper=$!
  trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
  wait "$sleeper"
  trap - TERM
  lock 600
  [ "$(cat "$RETIRE_PIDFILE" 2>/dev/null)" = "$$" ] && rm -f "$RETIRE_PIDFILE"
  [ "$(active_colour)" = "$1" ] && exit 0
  say "$(date -u +%FT%TZ) rollback window over for $1"
  drain_and_stop "$1"
}

status() {
  local colour api ws upload state
  for colour in blue green; do
    read -r api ws upload <<<"$(colour_ports "$colour")"
    if colour_running "$colour"; then
      if colour_ready "$colour"; then state="running, ready"; else state="running, NOT ready"; fi
      state="$state, $(commit_of "$colour")"
    else
      state="stopped"
    fi
    if [ "$colour" = "$(active_colour)" ]; then state="LIVE  $state"; else state="      $state"; fi
    printf '%-6s :%s/:%s/:%s  %s\n' "$colour" "$api" "$upload" "$ws" "$state"
  done
  pid_alive "$RETIRE_PIDFILE" && echo "rollback window open: the timer (pid $(cat "$RETIRE_PIDFILE")) stops the other colour"
  return 0
}

[ $# -gt 0 ] || { usage; exit 2; }
load_env
case $1 in
  blue | green)
    contract=no
    [ "${2:-}" = --contract ] && contract=yes
    lock
    deploy "$1" "$contract"
    ;;
  --rollback) lock; rollback ;;
  --confirm) lock; confirm ;;
  --status) status ;;
  --retire) retire "$2" "$3" ;;
  -h | --help) usage ;;
  *) usage; exit 2 ;;
esac
