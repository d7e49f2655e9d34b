#!/usr/bin/env bash
# Validate the deployment configuration without a Docker engine (the `deploy` suite of `make test`):
#   - docker-compose.yml (default and `demo` profile) and docker-compose.test.yml, via `docker-compose
#     config`, with no variable left unset, and no port published beyond nginx and loopback; in
#     docker-compose.yml no env_file, each container's secrets exactly its own, every account provisioned
#   - nginx/docker.conf with `nginx -t` (compose host names replaced by 127.0.0.1 in a temporary copy,
#     because nginx resolves upstream hosts while testing, and a throw-away self-signed certificate in
#     place of TLS_CERT_FILE/TLS_KEY_FILE); that it serves the web UI (the local nginx running a copy on a
#     stand-in build: /, client routes, assets, the precompressed ones gzipped, security headers;
#     scripts/check_nginx_serving.py) and that compose mounts the certificate where it expects it; that it
#     answers a 503 in JSON naming Django or Orthanc when it cannot reach them, and passes Django's own
#     errors on unchanged (scripts/check_gateway_unavailable.py, a stand-in Django); both run the copy
#     with scripts/nginx_copy.py
#   - the local run's nginx (local.conf.template with upstream.conf.template for each colour, rendered
#     by scripts/_app.sh as scripts/run.sh and scripts/deploy.sh do) with `nginx -t`
#   - monitoring/prometheus.yml (promtool; scrape targets are compose services; every compose process with
#     metrics is scraped, and the dashboards' GPU panel reads the GPU's container: check_compose_metrics.py), the alert rules
#     (promtool check rules, `promtool test rules`, and every alert has a unit test), the local rendering
#     (monitoring/render_local.py), monitoring/alertmanager.yml (amtool; code-blue routing), blackbox.yml
#   - the YAML of .github/workflows/ and of the Grafana provisioning files; the workflows with actionlint
# Installs nothing: needs docker-compose, nginx, openssl, promtool and amtool, and actionlint in the backend
# virtualenv (`make install` provides them).
# Runs from anywhere; exits non-zero when any check fails, after running them all.
set -o errexit -o pipefail -o nounset

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON=${PYTHON:-backend/.venv/bin/python}
ENV_EXAMPLE=.env.example

for tool in docker-compose nginx openssl promtool amtool prometheus-blackbox-exporter; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "ERROR: '$tool' is not installed. Install it (Debian: apt-get install docker-compose nginx prometheus prometheus-alertmanager, or run 'make install')." >&2
    exit 1
  fi
done
ACTIONLINT=${ACTIONLINT:-backend/.venv/bin/actionlint}
if [ ! -x "$ACTIONLINT" ]; then
  echo "ERROR: $ACTIONLINT is missing (backend/requirements-dev.txt pins it; run 'make install')." >&2
  exit 1
fi
if ! "$PYTHON" -c 'import yaml' >/dev/null 2>&1; then
  echo "ERROR: $PYTHON cannot import yaml; set PYTHON to an interpreter with PyYAML (or run 'make install')." >&2
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

# Least privilege: no container reads the whole .env, each holds only its own secrets, and every RabbitMQ,
# Redis, MariaDB and MinIO account a container signs in with is provisioned (scripts/check_compose_accounts.py).
if "$PYTHON" scripts/check_compose_accounts.py >"$TMP/out" 2>&1; then
  pass "docker-compose.yml: each container gets only its own secrets; every account it uses is provisioned"
else
  fail "docker-compose.yml: each container gets only its own secrets; every account it uses is provisioned"
fi

# --- nginx -----------------------------------------------------------------------------------------------
# The upstream hosts in docker.conf must be compose services, and the config must pass `nginx -t`.
docker-compose -f docker-compose.yml --env-file "$ENV_EXAMPLE" --profile demo config --services >"$TMP/services" 2>/dev/null || true
missing=""
while read -r host; do
  grep -qx "$host" "$TMP/services" || missing="$missing $host"
done < <(sed -n 's/.*server \([a-z0-9-]*\):[0-9]*;.*/\1/p' nginx/docker.conf)
if [ -z "$missing" ]; then : >"$TMP/out"; pass "nginx/docker.conf: upstream hosts are compose services"
else echo "not compose services:$missing" >"$TMP/out"; fail "nginx/docker.conf: upstream hosts are compose services"; fi

# A throw-away self-signed certificate stands in for TLS_CERT_FILE/TLS_KEY_FILE in both nginx checks.
mkdir -p "$TMP/nginx/tls" "$TMP/nginx/cache"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=localhost" \
  -keyout "$TMP/nginx/tls/key.pem" -out "$TMP/nginx/tls/cert.pem" >/dev/null 2>&1
cp nginx/*.conf "$TMP/nginx/"
CDSS_TRUSTED_PROXIES= sh nginx/realip.sh "$TMP/nginx/realip.conf"   # the default: nobody trusted
# Orthanc for the DICOMweb retrievals nginx serves itself (nginx/orthanc.sh), with throw-away credentials.
export ORTHANC_URL=http://127.0.0.1:8042 ORTHANC_USERNAME=check ORTHANC_PASSWORD=check
sh nginx/orthanc.sh "$TMP/nginx/orthanc.conf"
sed -e "s|/etc/nginx/cdss/|$TMP/nginx/|g" \
    -e "s|/etc/nginx/tls/|$TMP/nginx/tls/|g" \
    -e "s|/var/log/nginx/|$TMP/nginx/|g" \
    -e "s|/var/cache/nginx/|$TMP/nginx/cache/|g" \
    -e "s|/var/run/nginx.pid|$TMP/nginx/nginx.pid|g" \
    -e 's/server [a-z0-9-]*:\([0-9]*\);/server 127.0.0.1:\1;/' \
    nginx/docker.conf >"$TMP/nginx/nginx.conf"
if nginx -t -q -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/error.log" >"$TMP/out" 2>&1; then
  pass "nginx/docker.conf: nginx -t"
else
  fail "nginx/docker.conf: nginx -t"
fi

# docker.conf serves the web UI, the precompressed files gzipped to a browser that accepts them, and routes
# the rest (scripts/check_nginx_serving.py: a copy on free ports, a stand-in build, Django down).
if "$PYTHON" scripts/check_nginx_serving.py "$TMP/nginx" >"$TMP/out" 2>&1; then
  pass "nginx/docker.conf: serves the web UI (/, client routes, cached assets, .gz to gzip clients), Django's routes, headers on each, real_ip"
else fail "nginx/docker.conf: serves the web UI (/, client routes, cached assets, .gz to gzip clients), Django's routes, headers on each, real_ip"; fi

# Django or Orthanc down: nginx's 503 in JSON naming the system, not its HTML 502/500; Django's own errors
# unchanged (scripts/check_gateway_unavailable.py: a copy of docker.conf on free ports, Django's and
# Orthanc's upstreams closed, then a stand-in Django answering the DICOMweb authorisation).
if "$PYTHON" scripts/check_gateway_unavailable.py "$TMP/nginx" >"$TMP/out" 2>&1; then
  pass "nginx/docker.conf: Django or Orthanc down is a 503 in JSON naming it (every route, frames too); Django's own 5xx pass"
else fail "nginx/docker.conf: Django or Orthanc down is a 503 in JSON naming it (every route, frames too); Django's own 5xx pass"; fi

# Compose mounts TLS_CERT_FILE/TLS_KEY_FILE where docker.conf reads them; 80 only redirects to HTTPS.
docker-compose -f docker-compose.yml --env-file "$ENV_EXAMPLE" config >"$TMP/compose.yml" 2>/dev/null || true
if "$PYTHON" - "$TMP/compose.yml" >"$TMP/out" 2>&1 <<'PY'
import re, sys, yaml
nginx = yaml.safe_load(open(sys.argv[1]))["services"]["nginx"]
conf = open("nginx/docker.conf").read()
targets = {v["target"] if isinstance(v, dict) else v.split(":")[1] for v in nginx["volumes"]}
problems = [f"docker.conf reads {path}, which compose does not mount"
            for path in re.findall(r"ssl_certificate(?:_key)?\s+(\S+);", conf) if path not in targets]
if not re.search(r"listen 80 default_server;[^}]*return 301 https://", conf):
    problems.append("the port-80 server does not redirect to https://")
published = sorted(str(p["target"] if isinstance(p, dict) else p.split(":")[-1]) for p in nginx["ports"])
if published != ["443", "80"]:
    problems.append(f"nginx publishes {published}, expected 80 and 443")
print("\n".join(problems))
sys.exit(1 if problems else 0)
PY
then pass "docker-compose.yml nginx: certificate mounted where docker.conf reads it; 80 redirects to HTTPS"
else fail "docker-compose.yml nginx: certificate mounted where docker.conf reads it; 80 redirects to HTTPS"; fi

# The local run's nginx as scripts/run.sh renders it (and scripts/deploy.sh for each colour), in $TMP.
for c in blue green; do
  if (
    . scripts/_lib.sh && . scripts/_app.sh
    VAR="$TMP/local-$c" RUN="$TMP/local-$c/run"
    NGINX_CONF="$VAR/nginx/nginx.conf" NGINX_UPSTREAM="$VAR/nginx/upstream.conf"
    HTTP_PORT=8080 HTTPS_PORT=8443
    mkdir -p "$VAR/log"
    render_nginx "$c" "$TMP/nginx/tls/cert.pem" "$TMP/nginx/tls/key.pem"
  ) >"$TMP/out" 2>&1; then
    pass "nginx/local.conf.template + upstream.conf.template ($c): rendered, nginx -t"
  else
    fail "nginx/local.conf.template + upstream.conf.template ($c): rendered, nginx -t"
  fi
done

# --- monitoring ------------------------------------------------------------------------------------------
if promtool check config monitoring/prometheus.yml >"$TMP/out" 2>&1; then pass "monitoring/prometheus.yml: promtool check config"
else fail "monitoring/prometheus.yml: promtool check config"; fi
if amtool check-config monitoring/alertmanager.yml >"$TMP/out" 2>&1; then pass "monitoring/alertmanager.yml: amtool check-config"
else fail "monitoring/alertmanager.yml: amtool check-config"; fi
if promtool check rules monitoring/rules/*.yml >"$TMP/out" 2>&1; then pass "monitoring/rules: promtool check rules"
else fail "monitoring/rules: promtool check rules"; fi
if promtool test rules monitoring/tests/*.test.yml >"$TMP/out" 2>&1; then pass "monitoring/tests: promtool test rules"
else fail "monitoring/tests: promtool test rules"; fi
# Every alert has at least one unit test, and every scrape target is a compose service.
if "$PYTHON" - "$TMP/services" >"$TMP/out" 2>&1 <<'PY'
import glob, sys, yaml
from urllib.parse import urlsplit
alerts = {r["alert"] for f in glob.glob("monitoring/rules/*.yml")
          for g in yaml.safe_load(open(f))["groups"] for r in g["rules"] if "alert" in r}
tested = {t["alertname"] for f in glob.glob("monitoring/tests/*.test.yml")
          for case in yaml.safe_load(open(f))["tests"] for t in case.get("alert_rule_test", [])}
problems = [f"alert without a unit test: {name}" for name in sorted(alerts - tested)]
services = set(open(sys.argv[1]).read().split()) | {"localhost"}
config = yaml.safe_load(open("monitoring/prometheus.yml"))
for job in config["scrape_configs"]:
    for static in job["static_configs"]:
        for target in static["targets"]:
            host = urlsplit(target).hostname if "://" in target else target.split(":")[0]
            if host not in services:
                problems.append(f"job {job['job_name']}: {target} is not a compose service")
    for relabel in job.get("relabel_configs", []):
        host = str(relabel.get("replacement", "")).split(":")[0]
        if relabel.get("target_label") == "__address__" and host not in services:
            problems.append(f"job {job['job_name']}: {host} is not a compose service")
print("\n".join(problems))
sys.exit(1 if problems else 0)
PY
then pass "monitoring: every alert unit-tested, every scrape target a compose service"
else fail "monitoring: every alert unit-tested, every scrape target a compose service"; fi
# Every container with metrics is scraped, at a service and port compose has; the GPU panel reads the job of
# the container holding the GPU (scripts/check_compose_metrics.py).
if "$PYTHON" scripts/check_compose_metrics.py >"$TMP/out" 2>&1; then
  pass "monitoring: every compose process with metrics scraped, at ports that exist; GPU panel on the GPU's job"
else fail "monitoring: every compose process with metrics scraped, at ports that exist; GPU panel on the GPU's job"; fi
# Code-blue routing: critical pages on-call (and the ops channel); anything else only the ops channel.
routes_ok() {  # routes_ok EXPECTED LABELS...
  local expected=$1; shift
  [ "$(amtool config routes test --config.file=monitoring/alertmanager.yml "$@" 2>/dev/null)" = "$expected" ]
}
if routes_ok oncall-code-blue,ops-channel severity=critical alertname=DependencyDown \
   && routes_ok ops-channel severity=warning alertname=CeleryBacklog && routes_ok ops-channel alertname=Other; then
  : >"$TMP/out"; pass "monitoring/alertmanager.yml: code-blue routing"
else
  echo "amtool config routes test gave unexpected receivers" >"$TMP/out"; fail "monitoring/alertmanager.yml: code-blue routing"
fi
if prometheus-blackbox-exporter --config.check --config.file=monitoring/blackbox.yml >"$TMP/out" 2>&1; then
  pass "monitoring/blackbox.yml: blackbox exporter --config.check"
else fail "monitoring/blackbox.yml: blackbox exporter --config.check"; fi
# The local rendering of both files (what scripts/services.sh runs) is valid too.
if ALERTMANAGER_WEBHOOK_TOKEN=check HTTPS_PORT=8443 "$PYTHON" monitoring/render_local.py "$TMP/mon" >"$TMP/out" 2>&1 \
   && promtool check config "$TMP/mon/prometheus.yml" >"$TMP/out" 2>&1 \
   && amtool check-config "$TMP/mon/alertmanager.yml" >"$TMP/out" 2>&1; then
  pass "monitoring/render_local.py: rendered prometheus.yml and alertmanager.yml are valid"
else fail "monitoring/render_local.py: rendered prometheus.yml and alertmanager.yml are valid"; fi

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

# actionlint: expressions, contexts, job dependencies, action inputs (and the run: scripts when shellcheck
# is installed).
if "$ACTIONLINT" -no-color .github/workflows/*.yml >"$TMP/out" 2>&1; then
  pass ".github/workflows: actionlint"
else
  fail ".github/workflows: actionlint"
fi

echo
if [ "$failures" -gt 0 ]; then
  echo "deploy config: $failures check(s) FAILED"
  exit 1
fi
echo "deploy config: all checks passed"
