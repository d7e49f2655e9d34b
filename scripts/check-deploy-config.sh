#!/usr/bin/env bash
# Validate the deployment configuration without a Docker engine (the `deploy` suite of `make test`):
#   - docker-compose.yml (default and `demo` profile) and docker-compose.test.yml, via `docker-compose
#     config`, with no variable left unset, and no port published beyond nginx and loopback
#   - nginx/docker.conf with `nginx -t` (compose host names replaced by 127.0.0.1 in a temporary copy,
#     because nginx resolves upstream hosts while testing)
#   - monitoring/prometheus.yml (promtool), monitoring/alertmanager.yml (amtool)
#   - the YAML of .github/workflows/ and of the Grafana provisioning files
# Installs nothing: needs docker-compose, nginx, promtool and amtool (`make install` provides them).
# Runs from anywhere; exits non-zero when any check fails, after running them all.
set -o errexit -o pipefail -o nounset

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON=${PYTHON:-backend/.venv/bin/python}
ENV_EXAMPLE=.env.example

for tool in docker-compose nginx promtool amtool; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "ERROR: '$tool' is not installed. Install it (Debian: apt-get install docker-compose nginx prometheus prometheus-alertmanager, or run 'make install')." >&2
    exit 1
  fi
done
if ! "$PYTHON" -c 'import yaml' >/dev/null 2>&1; then
  echo "ERROR: $PYTHON cannot import yaml; set PYTHON to an interpreter with PyYAML (or run 'make install')." >&2
  exit 1
fi
if [ ! -f .env ]; then
  # docker-compose.yml reads .env through env_file, so `config` needs the file to exist.
  echo "ERROR: .env is missing; run 'make env' (scripts/env.sh) first." >&2
  exit 1
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
failures=0
pass() { printf 'ok    %s\n' "$1"; }
fail() {
  printf 'FAIL  %s\n' "$1"
  [ -s "$TMP/out" ] && sed 's/^/      /' "$TMP/out"
  failures=$((failures + 1))
}

# --- compose files -------------------------------------------------------------------------------------
# `docker-compose config` only warns about a variable that is not set (and exits 0), so with -q any
# output at all counts as a failure.
compose_check() {  # compose_check LABEL FILE [ARGS...]
  local label=$1 file=$2; shift 2
  if docker-compose -f "$file" --env-file "$ENV_EXAMPLE" "$@" config -q >"$TMP/out" 2>&1 \
     && [ ! -s "$TMP/out" ]; then
    pass "$label: docker-compose config"
  else
    fail "$label: docker-compose config"
  fi
}
compose_check docker-compose.yml docker-compose.yml
compose_check "docker-compose.yml --profile demo" docker-compose.yml --profile demo
compose_check docker-compose.test.yml docker-compose.test.yml

# The design's rule: only nginx is reachable from outside; monitoring UIs on the loopback only.
exposure_check() {  # exposure_check FILE
  docker-compose -f "$1" --env-file "$ENV_EXAMPLE" --profile demo config >"$TMP/rendered.yml" 2>/dev/null || return 1
  "$PYTHON" - "$TMP/rendered.yml" >"$TMP/out" 2>&1 <<'PY'
import sys, yaml
services = yaml.safe_load(open(sys.argv[1]))["services"]
bad = []
for name, service in services.items():
    for port in service.get("ports", []):
        text = port if isinstance(port, str) else str(port.get("host_ip") or "") + ":" + str(port.get("published"))
        loopback = text.startswith("127.0.0.1:")
        if name != "nginx" and not loopback:
            bad.append(f"{name} publishes {port}")
for line in bad:
    print(line)
sys.exit(1 if bad else 0)
PY
}
for file in docker-compose.yml docker-compose.test.yml; do
  if exposure_check "$file"; then pass "$file: only nginx publishes ports beyond 127.0.0.1"
  else fail "$file: only nginx publishes ports beyond 127.0.0.1"; fi
done

# --- nginx -----------------------------------------------------------------------------------------------
# The upstream hosts in docker.conf must be compose services, and the config must pass `nginx -t`.
docker-compose -f docker-compose.yml --env-file "$ENV_EXAMPLE" --profile demo config --services >"$TMP/services" 2>/dev/null || true
missing=""
while read -r host; do
  grep -qx "$host" "$TMP/services" || missing="$missing $host"
done < <(sed -n 's/.*server \([a-z0-9-]*\):[0-9]*;.*/\1/p' nginx/docker.conf)
if [ -z "$missing" ]; then : >"$TMP/out"; pass "nginx/docker.conf: upstream hosts are compose services"
else echo "not compose services:$missing" >"$TMP/out"; fail "nginx/docker.conf: upstream hosts are compose services"; fi

mkdir -p "$TMP/nginx"
cp nginx/cdss-proxy.conf nginx/cdss-locations.conf "$TMP/nginx/"
sed -e "s|/etc/nginx/cdss/|$TMP/nginx/|g" \
    -e "s|/var/log/nginx/|$TMP/nginx/|g" \
    -e "s|/var/run/nginx.pid|$TMP/nginx/nginx.pid|g" \
    -e 's/server django-api:/server 127.0.0.1:/; s/server django-channels:/server 127.0.0.1:/' \
    nginx/docker.conf >"$TMP/nginx/nginx.conf"
if nginx -t -q -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/error.log" >"$TMP/out" 2>&1; then
  pass "nginx/docker.conf: nginx -t"
else
  fail "nginx/docker.conf: nginx -t"
fi

# --- monitoring ------------------------------------------------------------------------------------------
if promtool check config monitoring/prometheus.yml >"$TMP/out" 2>&1; then pass "monitoring/prometheus.yml: promtool check config"
else fail "monitoring/prometheus.yml: promtool check config"; fi
if amtool check-config monitoring/alertmanager.yml >"$TMP/out" 2>&1; then pass "monitoring/alertmanager.yml: amtool check-config"
else fail "monitoring/alertmanager.yml: amtool check-config"; fi

# --- YAML: workflows and Grafana provisioning --------------------------------------------------------------
shopt -s nullglob
yaml_files=(.github/workflows/*.yml .github/workflows/*.yaml monitoring/grafana/provisioning/*/*.yml monitoring/grafana/provisioning/*/*.yaml)
if [ ${#yaml_files[@]} -eq 0 ]; then
  echo "no YAML files found under .github/workflows/ or monitoring/grafana/provisioning/" >"$TMP/out"
  fail "YAML files present"
fi
for file in "${yaml_files[@]}"; do
  if "$PYTHON" - "$file" >"$TMP/out" 2>&1 <<'PY'
import sys, yaml
try:
    yaml.safe_load(open(sys.argv[1], encoding="utf-8"))
except yaml.YAMLError as error:
    sys.exit(str(error))
PY
  then
    pass "$file: YAML parses"
  else
    fail "$file: YAML parses"
  fi
done

echo
if [ "$failures" -gt 0 ]; then
  echo "deploy config: $failures check(s) FAILED"
  exit 1
fi
echo "deploy config: all checks passed"
