# Shared helpers for the project's shell scripts. Source it; it changes nothing by itself.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VAR="$ROOT/var"            # runtime state of the local stack: data, logs, pid files (git-ignored)
RUN="$VAR/run"
LOG="$VAR/log"

say()  { printf '\033[1m==> %s\033[0m\n' "$*"; }
warn() { printf '\033[33m!!  %s\033[0m\n' "$*" >&2; }
die()  { printf '\033[31mxx  %s\033[0m\n' "$*" >&2; exit 1; }

# Load .env into the environment (values stay as written; no shell expansion of secrets).
load_env() {
  # A container (compose's backup service) is given its settings in its environment, not as a file.
  [ -z "${CDSS_SETTINGS_FROM_ENVIRONMENT:-}" ] || return 0
  [ -f "$ROOT/.env" ] || die ".env is missing: run 'make env' (make run and make test do it for you)."
  set -o allexport
  # shellcheck disable=SC1091
  . "$ROOT/.env"
  # Addresses of the stand-ins started in place of systems .env leaves empty (scripts/services.sh).
  # shellcheck disable=SC1091
  [ -f "$RUN/standins.env" ] && . "$RUN/standins.env"
  # The local run's stand-in EHR for CDS Hooks when .env trusts none (scripts/run.sh, docs/cds-hooks.md).
  # shellcheck disable=SC1091
  [ -f "$RUN/cds-hooks.env" ] && . "$RUN/cds-hooks.env"
  # A process on another host of a multi-host layout: that host's settings last, the data host's
  # addresses in place of loopback (scripts/netns.sh writes them; docs/scale-out.md).
  # shellcheck disable=SC1090
  [ -z "${CDSS_HOST_ENV:-}" ] || . "$CDSS_HOST_ENV"
  set +o allexport
}

# Value of KEY inside a URL like scheme://user:password@host:port/path
url_part() {  # url_part URL {user|password|host|port|path}
  "$ROOT/backend/.venv/bin/python" - "$1" "$2" <<'PY'
import sys
from urllib.parse import unquote, urlsplit
url, part = urlsplit(sys.argv[1]), sys.argv[2]
value = {"user": url.username, "password": url.password, "host": url.hostname,
         "port": url.port, "path": url.path.lstrip("/")}[part]
print(unquote(str(value or "")))
PY
}

# Object storage as one account (docs/security.md, "Object-store accounts"): S3_ACCESS_KEY/S3_SECRET_KEY
# become ACCOUNT's key, and the other accounts' keys leave the environment (the process holds only its own).
# OFFSITE_S3 is the backups' account on the second (off-site) object store: only the backup keeps it.
S3_ACCOUNTS=(APP_S3 AI_S3 BACKUP_S3 MODELS_S3 S3_ADMIN OFFSITE_S3)
s3_account() {  # s3_account ACCOUNT [KEEP...]  (one of S3_ACCOUNTS: its keys are ACCOUNT_ACCESS_KEY, ACCOUNT_SECRET_KEY)
  local access="${1}_ACCESS_KEY" secret="${1}_SECRET_KEY" account
  [ -n "${!access:-}" ] && [ -n "${!secret:-}" ] || die "$access/$secret are not set (make env adds them to .env)"
  export S3_ACCESS_KEY="${!access}" S3_SECRET_KEY="${!secret}"
  shift
  for account in "${S3_ACCOUNTS[@]}"; do
    case " $* " in *" $account "*) continue ;; esac  # an account the caller also signs in with (KEEP)
    unset "${account}_ACCESS_KEY" "${account}_SECRET_KEY"
  done
}

# A process we started is alive if its pid file names a running, non-zombie process.
pid_alive() {  # pid_alive PIDFILE
  [ -f "$1" ] || return 1
  local pid state
  pid="$(cat "$1")"
  state="$(ps -o stat= -p "$pid" 2>/dev/null || true)"
  [ -n "$state" ] && [ "${state#Z}" = "$state" ]
}

stop_pidfile() {  # stop_pidfile PIDFILE NAME
  if pid_alive "$1"; then
    local pid; pid="$(cat "$1")"
    say "stopping $2 (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do pid_alive "$1" || break; sleep 0.1; done
    pid_alive "$1" && { warn "$2 did not stop in 10 s; sending KILL"; kill -KILL "$pid" 2>/dev/null || true; }
  fi
  rm -f "$1"
}

# Every process below PID (children, grandchildren...), found by parent pid: a process manager such as
# honcho puts each child in a process group of its own, so its group alone does not reach them.
descendants() {  # descendants PID
  local child
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
    echo "$child"
    descendants "$child"
  done
}

# Stop a process manager and everything it started: TERM to the manager (it stops its children
# gracefully); whatever is still there after 30 s is KILLed, children included, so nothing is orphaned.
stop_process_tree() {  # stop_process_tree PIDFILE NAME
  [ -f "$1" ] || return 0
  local pid tree; pid="$(cat "$1")"
  tree="$pid $(descendants "$pid" | tr '\n' ' ')"
  if pid_alive "$1"; then
    say "stopping $2 (pid $pid and its children)"
    kill -TERM "$pid" 2>/dev/null || true
  fi
  for _ in $(seq 1 300); do
    alive=""
    for p in $tree; do
      state="$(ps -o stat= -p "$p" 2>/dev/null || true)"
      [ -n "$state" ] && [ "${state#Z}" = "$state" ] && alive="$alive $p"
    done
    [ -z "$alive" ] && break
    sleep 0.1
  done
  if [ -n "$alive" ]; then
    warn "$2 did not stop in 30 s; sending KILL to:$alive"
    kill -KILL $alive 2>/dev/null || true
  fi
  rm -f "$1"
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local deadline=$((SECONDS + $1)) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "$what did not come up in time (see $LOG/)."
    sleep 0.3
  done
}

apt_install() {  # apt_install PKG... (only the missing ones)
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  [ "$(id -u)" -eq 0 ] || die "installing ${missing[*]} needs root (or install them yourself)."
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q "${missing[@]}" >"$LOG/apt.log" 2>&1 \
    || die "apt-get install failed; see $LOG/apt.log"
}

# Start a long-running server in the background with its output in a log and its pid in a file.
start_bg() {  # start_bg PIDFILE LOGFILE COMMAND...
  local pidfile=$1 logfile=$2; shift 2
  nohup "$@" >"$logfile" 2>&1 &
  echo $! >"$pidfile"
}

# Port answers HTTP 2xx/3xx at URL.
http_ok() {  # http_ok URL
  curl -fsS -o /dev/null --max-time 3 "$1"
}
