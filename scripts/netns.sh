#!/usr/bin/env bash
# Several hosts on one machine, as Linux network namespaces: the tested shape of a multi-host deployment
# (docs/scale-out.md). This machine's own namespace is the data host (MariaDB, Redis, RabbitMQ, Orthanc,
# the object store, the stand-ins); the web host and two worker hosts are namespaces on a bridge, and
# their processes reach the data host by its bridge address only, never by loopback.
#
#   scripts/netns.sh up                  the bridge, the hosts, their settings and the data host's relay
#                                        (from scratch: whatever an earlier run left is removed first)
#   scripts/netns.sh down                ends every process on the hosts, removes them, the relay, the bridge
#   scripts/netns.sh exec HOST CMD...    CMD on HOST: its network, its hostname, its settings
#   scripts/netns.sh cut HOST            take HOST off the network (its link goes down); `mend HOST` undoes it
#   scripts/netns.sh address HOST        HOST's address (HOST: data, web, worker-a, worker-b)
#   scripts/netns.sh status
#
# A host's processes read .env, then var/netns/HOST.env (CDSS_HOST_ENV, scripts/_lib.sh): every URL of
# .env and of the stand-ins that names loopback, pointed at the data host instead, and the address its web
# processes listen on. The data host's servers stay on loopback; scripts/data_host_forward.py relays the
# bridge address's ports to them while the hosts are up (`down` stops it, so nothing listens beyond
# loopback afterwards). Needs root and iproute2. CDSS_NETNS_PREFIX (default cdss-sx) names the bridge,
# links and namespaces; CDSS_NETNS_SUBNET (default 10.231.119) is the /24 they use.
set -o errexit -o pipefail -o nounset
. "$(dirname "$0")/_lib.sh"

PREFIX=${CDSS_NETNS_PREFIX:-cdss-sx}
SUBNET=${CDSS_NETNS_SUBNET:-10.231.119}
BRIDGE="${PREFIX}0"
HOSTS=(web worker-a worker-b)
DIR="$VAR/netns"
RELAY_PID="$RUN/netns-relay.pid"

host_index() {  # host_index HOST -> 1 for the data host, 2.. for the namespaces
  local i
  [ "$1" = data ] && { echo 1; return; }
  for i in "${!HOSTS[@]}"; do [ "${HOSTS[$i]}" = "$1" ] && { echo $((i + 2)); return; }; done
  die "unknown host '$1' (data ${HOSTS[*]})"
}
address()   { echo "$SUBNET.$(host_index "$1")"; }
namespace() { host_index "$1" >/dev/null; echo "$PREFIX-$1"; }
link()      { echo "${PREFIX}v$(host_index "$1")"; }  # the bridge's end of HOST's cable (15 characters at most)
exists()    { ip netns list | awk '{print $1}' | grep -qx "$1"; }

# Every setting of the stack whose value is one URL on loopback, pointed at the data host: NAME=VALUE lines.
# (Lists such as DJANGO_CSRF_TRUSTED_ORIGINS name the browser's view of the web tier, not a server to reach.)
rehosted_settings() {  # rehosted_settings ADDRESS
  local files=("$ROOT/.env") file
  for file in "$RUN/standins.env" "$RUN/cds-hooks.env"; do [ -f "$file" ] && files+=("$file"); done
  "$ROOT/backend/.venv/bin/python" - "$1" "${files[@]}" <<'PY'
import re, sys
address, files = sys.argv[1], sys.argv[2:]
url = re.compile(r"^([A-Z][A-Z0-9_]*=[a-z][a-z0-9+.-]*://(?:[^@/\s]*@)?)(127\.0\.0\.1|localhost|\[::1\])(?=[:/][^,\s]*$|$)")
for path in files:
    for line in open(path, encoding="utf-8").read().splitlines():
        if url.match(line):
            print(url.sub(lambda m: m.group(1) + address, line))
PY
}

# The ports of the data host the hosts' settings name (the relay's ports).
relayed_ports() {  # relayed_ports SETTINGS-FILE ADDRESS
  "$ROOT/backend/.venv/bin/python" - "$1" "$2" <<'PY'
import sys
from urllib.parse import urlsplit
DEFAULTS = {"mysql": 3306, "redis": 6379, "rediss": 6379, "amqp": 5672, "amqps": 5671, "http": 80, "https": 443}
path, address = sys.argv[1:]
ports = set()
for line in open(path, encoding="utf-8"):
    url = urlsplit(line.partition("=")[2].strip())
    if url.hostname == address:
        ports.add(url.port or DEFAULTS[url.scheme])
print(" ".join(map(str, sorted(ports))))
PY
}

relay_up() {  # every relayed port listens on the data host's address
  local port
  for port in "$@"; do ss -Hltn "src $(address data) and sport = :$port" | grep -q . || return 1; done
}

down() {
  local host ns pids
  for host in "${HOSTS[@]}"; do
    ns="$(namespace "$host")"
    exists "$ns" || continue
    pids="$(ip netns pids "$ns" | tr '\n' ' ')"
    if [ -n "${pids// /}" ]; then
      say "$host: ending its processes ($pids)"
      # shellcheck disable=SC2086
      kill -TERM $pids 2>/dev/null || true
      for _ in $(seq 1 100); do [ -z "$(ip netns pids "$ns")" ] && break; sleep 0.1; done
      pids="$(ip netns pids "$ns" | tr '\n' ' ')"
      # shellcheck disable=SC2086
      [ -z "${pids// /}" ] || kill -KILL $pids 2>/dev/null || true
    fi
    ip netns del "$ns"
    rm -f "$RUN/$host-"*.pid  # scripts/process.sh's, of the processes just ended
  done
  for host in "${HOSTS[@]}"; do ip link del "$(link "$host")" 2>/dev/null || true; done
  stop_pidfile "$RELAY_PID" "the data host's relay"
  ip link del "$BRIDGE" 2>/dev/null || true
  rm -rf "$DIR"
}

up() {
  command -v ip >/dev/null && ip netns list >/dev/null || die "ip netns is not available (iproute2, root)"
  down
  load_env
  say "hosts on $SUBNET.0/24: data $(address data) (this namespace), $(for h in "${HOSTS[@]}"; do printf '%s %s  ' "$h" "$(address "$h")"; done)"
  ip link add "$BRIDGE" type bridge
  ip addr add "$(address data)/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  mkdir -p "$DIR" && chmod 700 "$DIR"
  local host ns settings ports
  settings="$(rehosted_settings "$(address data)")"
  for host in "${HOSTS[@]}"; do
    ns="$(namespace "$host")"
    ip netns add "$ns"
    ip link add "$(link "$host")" type veth peer name eth0 netns "$ns"
    ip link set "$(link "$host")" master "$BRIDGE" up
    ip -n "$ns" addr add "$(address "$host")/24" dev eth0
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
    (umask 077; {
      printf '%s\n' "$settings"
      echo "APP_BIND_ADDRESS=$(address "$host")"
      echo "DJANGO_ALLOWED_HOSTS=$(address "$host")"
    } >"$DIR/$host.env")
  done
  ports="$(relayed_ports "$DIR/${HOSTS[0]}.env" "$(address data)")"
  read -r -a ports <<<"$ports"
  [ ${#ports[@]} -gt 0 ] || die "no setting of .env names a server on loopback: nothing for the hosts to reach"
  say "the data host's relay: $(address data):{${ports[*]}} -> 127.0.0.1 (log: var/log/netns-relay.log)"
  start_bg "$RELAY_PID" "$LOG/netns-relay.log" "$ROOT/backend/.venv/bin/python" \
    "$ROOT/scripts/data_host_forward.py" "$(address data)" "${ports[@]}"
  wait_for 20 "the data host's relay" relay_up "${ports[@]}"
}

on_host() {  # on_host HOST CMD...
  local host=$1; shift
  exists "$(namespace "$host")" || die "host $host is not up (scripts/netns.sh up)"
  CDSS_HOST="$host" CDSS_HOST_ENV="$DIR/$host.env" exec ip netns exec "$(namespace "$host")" \
    unshare --uts -- sh -c 'hostname "$0" && exec "$@"' "$host" "$@"
}

status() {
  local host
  printf '%-9s %-15s %s\n' data "$(address data)" "$(pid_alive "$RELAY_PID" && echo "relay up" || echo "relay down")"
  for host in "${HOSTS[@]}"; do
    if exists "$(namespace "$host")"; then
      printf '%-9s %-15s link %s, %s processes\n' "$host" "$(address "$host")" \
        "$(ip -br link show "$(link "$host")" | awk '{print $2}')" "$(ip netns pids "$(namespace "$host")" | wc -l)"
    else
      printf '%-9s %-15s down\n' "$host" "$(address "$host")"
    fi
  done
}

mkdir -p "$RUN" "$LOG"
case "${1:-}" in
  up) up ;;
  down) down ;;
  exec) [ $# -ge 3 ] || die "usage: $0 exec HOST COMMAND..."; shift; on_host "$@" ;;
  cut) [ $# -eq 2 ] || die "usage: $0 cut HOST"; ip link set "$(link "$2")" down ;;
  mend) [ $# -eq 2 ] || die "usage: $0 mend HOST"; ip link set "$(link "$2")" up ;;
  address) [ $# -eq 2 ] || die "usage: $0 address HOST"; address "$2" ;;
  status) status ;;
  *) die "usage: $0 {up|down|exec HOST CMD...|cut HOST|mend HOST|address HOST|status}" ;;
esac
