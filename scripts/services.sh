#!/usr/bin/env bash
# The servers the CDSS talks to on a machine without Docker, started idempotently.
#
#   scripts/services.sh up      install what is missing, start what is not running, create users/vhosts
#   scripts/services.sh down    stop what this script started (by pid file, never by name)
#   scripts/services.sh status  one line per server
#
# MariaDB, Redis and RabbitMQ are machine-wide servers: started here only when they are down, and never
# stopped by `down`. Orthanc (with DICOMweb) and the S3 stand-in (moto) belong to the project: their data,
# logs and pid files live under var/. So do the monitoring servers: the Prometheus exporters for MariaDB,
# Redis, the node and blackbox probes (Debian packages), Prometheus and Alertmanager (configuration rendered
# from monitoring/ by monitoring/render_local.py into var/monitoring/).
set -o errexit -o pipefail -o nounset
. "$(dirname "$0")/_lib.sh"
. "$ROOT/deploy/rabbitmq/accounts.sh"
. "$ROOT/deploy/redis/users.sh"

SYSTEM_PACKAGES=(curl mariadb-server redis-server rabbitmq-server orthanc orthanc-dicomweb nginx docker-compose prometheus prometheus-alertmanager
                 prometheus-mysqld-exporter prometheus-redis-exporter prometheus-node-exporter prometheus-blackbox-exporter
                 openssl gcc libc6-dev
                 age  # the backups' encryption (backup/backup.sh, restore.sh)
                 gettext  # msgfmt: the API's translations (make install)
                 dicom3tools  # dciodvfy: the measurement SR's conformance test (ai-server/tests/test_measurement_sr.py)
                 chromium fonts-noto-cjk)  # the browser end-to-end tests (e2e/browser) and their Korean text

mariadb_root() { mariadb --no-defaults -h127.0.0.1 -P3306 -uroot "$@"; }
# Redis is the machine's; the password of its admin account is kept beside its data, root's only.
REDIS_ADMIN_SECRET_FILE=${REDIS_ADMIN_SECRET_FILE:-/var/lib/redis/cdss-admin.secret}
redis_cli()    { redis-cli --no-auth-warning -h 127.0.0.1 -p 6379 "$@"; }
redis_admin()  { redis_cli --user cdss-admin --pass "$(cat "$REDIS_ADMIN_SECRET_FILE")" "$@"; }
redis_exporter_up() { curl -fsS --max-time 3 http://127.0.0.1:9121/metrics | grep -qx 'redis_up 1'; }
redis_up()     { redis_cli ping 2>&1 | grep -qE '^(PONG|NOAUTH)'; }
rabbit_up()    { rabbitmq-diagnostics -q check_running >/dev/null 2>&1; }
orthanc_up()   { curl -fsS -u "$ORTHANC_USERNAME:$ORTHANC_PASSWORD" "$ORTHANC_URL/system" >/dev/null; }
dicomweb_root() { local root="${ORTHANC_DICOMWEB_ROOT:-/api/radiology/dicom-web}"; echo "${root%/}"; }
s3_up()        { curl -fsS -o /dev/null "$S3_ENDPOINT_URL/moto-api/"; }

start_machine_servers() {
  if ! mariadb-admin --no-defaults -h127.0.0.1 -P3306 -uroot ping >/dev/null 2>&1; then
    say "starting MariaDB"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    wait_for 60 MariaDB mariadb-admin --no-defaults -h127.0.0.1 -P3306 -uroot ping
  fi
  if ! redis_up; then
    say "starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_for 20 Redis redis_up
  fi
  if ! rabbit_up; then
    say "starting RabbitMQ"
    rabbitmq-server -detached
    wait_for 90 RabbitMQ rabbitmqctl -q await_startup --timeout 5
  fi
}

# The application's own accounts (docs/security.md, "Accounts and rights"). MariaDB: the owner
# (DATABASE_OWNER_URL) holds the schema and the tests' databases and runs migrations; each migrate grants
# the role DATABASE_APP_ROLE row rights table by table (core/dbaccess.py). The application account
# (DATABASE_URL) holds nothing but that role (as its default role): rights it held before are revoked on
# every run, so an older installation is narrowed too. RabbitMQ: a user with three vhosts (`cdss` for the
# running system; `cdss_test` and `cdss_ai_test`, one per test suite, so tests never meet the running workers).
provision_accounts() {
  local user pw
  MARIADB_HOST=127.0.0.1 MARIADB_DATABASE="$(url_part "$DATABASE_URL" path)" MARIADB_ROOT_PASSWORD= \
    MARIADB_APP="$(url_part "$DATABASE_URL" user)" MARIADB_APP_PASSWORD="$(url_part "$DATABASE_URL" password)" \
    MARIADB_OWNER="$(url_part "$DATABASE_OWNER_URL" user)" \
    MARIADB_OWNER_PASSWORD="$(url_part "$DATABASE_OWNER_URL" password)" \
    MARIADB_APP_ROLE="${DATABASE_APP_ROLE:-cdss_app}" MARIADB_ACCOUNT_HOSTS="127.0.0.1 localhost" \
    MARIADB_OWNER_OWNS_TESTS=1 MYSQLD_EXPORTER_PASSWORD="$MYSQLD_EXPORTER_PASSWORD" \
    sh "$ROOT/deploy/mariadb/accounts.sh" >/dev/null

  provision_redis

  user="$(url_part "$RABBITMQ_URL" user)"; pw="$(url_part "$RABBITMQ_URL" password)"
  if rabbitmqctl -q list_users | awk '{print $1}' | grep -qx "$user"; then
    rabbitmqctl -q change_password "$user" "$pw" >/dev/null
  else
    rabbitmqctl -q add_user "$user" "$pw" >/dev/null
  fi
  for vhost in "$(url_part "$RABBITMQ_URL" path)" cdss_test cdss_ai_test; do
    rabbitmqctl -q list_vhosts | grep -qx "$vhost" || rabbitmqctl -q add_vhost "$vhost" >/dev/null
    rabbitmqctl -q set_permissions -p "$vhost" "$user" '.*' '.*' '.*' >/dev/null
  done
  provision_broker_accounts
}

# Each process kind has a RabbitMQ account of its own, reaching what that kind uses and nothing else
# (docs/security.md, "Broker accounts"); RABBITMQ_URL's account, the owner, only declares the topology
# (manage.py bootstrap) and runs the tests. The table is deploy/rabbitmq/accounts.sh (compose applies it too).
provision_broker_accounts() {
  local var configure write read topic_keys dlx_keys bind_keys
  while read -r -u 3 var configure write read topic_keys dlx_keys bind_keys; do  # fd 3: rabbitmqctl reads stdin
    provision_broker_account "$var" "$configure" "$write" "$read" "$topic_keys" "$dlx_keys" "$bind_keys"
  done 3< <(broker_accounts)
}

provision_broker_account() {  # VARIABLE CONFIGURE WRITE READ CDSS.TOPIC-KEYS CDSS.DLX-KEYS BIND-KEYS
  local url="${!1:-}" user pw vhost exchange keys
  [ -n "$url" ] || return 0
  user="$(url_part "$url" user)"; pw="$(url_part "$url" password)"
  if rabbitmqctl -q list_users | awk '{print $1}' | grep -qx "$user"; then
    rabbitmqctl -q change_password "$user" "$pw" >/dev/null
  else
    rabbitmqctl -q add_user "$user" "$pw" >/dev/null
  fi
  for vhost in "$(url_part "$url" path)" cdss_test cdss_ai_test; do  # and the tests' vhosts, for their checks
    rabbitmqctl -q set_permissions -p "$vhost" "$user" "$(broker_names "$2")" "$(broker_names "$3")" "$(broker_names "$4")" >/dev/null
    for exchange in cdss.topic cdss.dlx; do
      if [ "$exchange" = cdss.topic ]; then keys="$5"; else keys="$6"; fi
      rabbitmqctl -q set_topic_permissions -p "$vhost" "$user" "$exchange" "$(broker_names "$keys")" "$(broker_names "$7")" >/dev/null
    done
  done
}

bind_loopback_library() {  # built from scripts/loopback/ when missing or older than its source
  local source="$ROOT/scripts/loopback/bind_loopback.c" library="$VAR/build/bind-loopback.so"
  if [ ! -f "$library" ] || [ "$source" -nt "$library" ]; then
    mkdir -p "$VAR/build"
    gcc -shared -fPIC -O2 -Wall -o "$library" "$source" -ldl || die "could not build $library (gcc)"
  fi
  echo "$library"
}

orthanc_config() {  # the configuration Orthanc runs with, from .env
  local http_port plugin
  http_port="$(url_part "$ORTHANC_URL" port)"
  plugin="$(ls /usr/share/orthanc/plugins/libOrthancDicomWeb.so 2>/dev/null || true)"
  [ -n "$plugin" ] || die "the Orthanc DICOMweb plugin is missing (apt-get install orthanc-dicomweb)"
  ORTHANC_DIR="$VAR/orthanc" HTTP_PORT="$http_port" PLUGIN="$plugin" DICOMWEB_ROOT="$(dicomweb_root)" \
    MODALITIES="${ORTHANC_MODALITIES-CDSS-MODALITY@127.0.0.1:11112}" \
    "$ROOT/backend/.venv/bin/python" - <<'PY'
import json, os
print(json.dumps({
    "Name": "CDSS-PACS",
    "StorageDirectory": os.environ["ORTHANC_DIR"] + "/db",
    "IndexDirectory": os.environ["ORTHANC_DIR"] + "/db",
    "HttpPort": int(os.environ["HTTP_PORT"]),
    "DicomPort": int(os.environ.get("ORTHANC_DICOM_PORT", "4242")),
    "DicomAet": "ORTHANC",
    "DicomCheckCalledAet": False,
    # C-STORE and C-ECHO only from the modalities named in ORTHANC_MODALITIES (AET@host:port, by
    # spaces), each from its own address; docs/radiology.md, "Adding a modality".
    "DicomModalities": {
        aet.lower(): [aet, host, int(port)]
        for aet, host, port in (
            (entry.split("@")[0], *entry.split("@")[1].rsplit(":", 1)) for entry in os.environ["MODALITIES"].split()
        )
    },
    "DicomAlwaysAllowStore": False,
    "DicomAlwaysAllowEcho": False,
    "DicomCheckModalityHost": True,
    "RemoteAccessAllowed": False,
    "AuthenticationEnabled": True,
    "RegisteredUsers": {os.environ["ORTHANC_USERNAME"]: os.environ["ORTHANC_PASSWORD"]},
    "StableAge": int(os.environ.get("ORTHANC_STABLE_AGE", "10")),
    "Plugins": [os.environ["PLUGIN"]],
    "DicomWeb": {"Enable": True, "Root": os.environ["DICOMWEB_ROOT"] + "/", "EnableWado": True, "WadoRoot": "/wado",
                 "Ssl": False},
}, indent=2))
PY
}

start_orthanc() {
  local pidfile="$RUN/orthanc.pid" dir="$VAR/orthanc" config
  mkdir -p "$dir/db"
  config="$(orthanc_config)"
  if pid_alive "$pidfile" && orthanc_up; then
    [ "$config" = "$(cat "$dir/orthanc.json" 2>/dev/null)" ] && return 0
    say "restarting Orthanc: its configuration changed"
    stop_pidfile "$pidfile" Orthanc
  fi
  say "starting Orthanc (DICOMweb plugin, HTTP basic auth) on $ORTHANC_URL"
  (umask 077; printf '%s\n' "$config" >"$dir/orthanc.json")
  # Orthanc 1.10 binds every interface and has no setting against it: the shim binds loopback instead.
  LD_PRELOAD="$(bind_loopback_library)" nohup Orthanc "$dir/orthanc.json" >"$LOG/orthanc.log" 2>&1 &
  echo $! >"$pidfile"
  wait_for 30 Orthanc orthanc_up
}

# The S3 stand-in (standins/s3.py): moto with the object-store accounts of .env and their policies
# (deploy/object-store/policies/), every request signed and checked. moto holds all in memory, so the
# accounts are made at each start, and a change of a key, a policy or the stand-in restarts it (its
# objects are lost then: `manage.py bootstrap`, run by make run, makes the buckets again).
s3_fingerprint() {
  local account access secret
  { for account in "${S3_ACCOUNTS[@]}"; do
      access="${account}_ACCESS_KEY" secret="${account}_SECRET_KEY"
      printf '%s %s:%s\n' "$account" "${!access:-}" "${!secret:-}"
    done
    echo "${S3_BUCKET_PREFIX:-}"
    cat "$ROOT"/deploy/object-store/policies/*.json "$ROOT/standins/s3.py"
  } | sha256sum | cut -d' ' -f1
}

start_s3() {
  local pidfile="$RUN/s3.pid" fingerprint
  fingerprint="$(s3_fingerprint)"
  if pid_alive "$pidfile" && s3_up; then
    [ "$fingerprint" = "$(cat "$RUN/s3.fingerprint" 2>/dev/null)" ] && return 0
    say "restarting the S3 stand-in: its accounts or policies changed (its objects are lost)"
    stop_pidfile "$pidfile" "S3 stand-in"
  fi
  say "starting the S3 stand-in (moto, with the object-store accounts) on $S3_ENDPOINT_URL"
  (cd "$ROOT" && exec nohup backend/.venv/bin/python -m standins.s3 --host "$(url_part "$S3_ENDPOINT_URL" host)" \
    --port "$(url_part "$S3_ENDPOINT_URL" port)" >"$LOG/s3.log" 2>&1) &
  echo $! >"$pidfile"
  wait_for 30 "S3 stand-in" s3_up
  (umask 077; echo "$fingerprint" >"$RUN/s3.fingerprint")
}

# HAPI FHIR and OpenEMR cannot run here: when .env names no real server, the project's stand-ins
# (standins/) take their place, and var/run/standins.env tells the application where they are.
# Their data lives where the machine's MariaDB keeps the application's, for every checkout of it alike
# (CDSS_STANDIN_DATA): the application database remembers what it wrote to the FHIR server, so a stand-in
# that started empty in a new checkout answered the old mappings' updates with version conflicts, retried
# by the worker for minutes, as a real server that lost its data would be.
STANDIN_DATA="${CDSS_STANDIN_DATA:-${XDG_DATA_HOME:-$HOME/.local/share}/cdss/standins}"
start_standins() {
  # Decided from .env alone: the environment already holds the stand-ins' addresses of an earlier run.
  configured() { grep -Eq "^$1=.+" "$ROOT/.env"; }
  local env_file="$RUN/standins.env"
  : >"$env_file"
  mkdir -p "$STANDIN_DATA"
  if ! configured EMR_BASE_URL; then
    start_emulator openemr 8300 --password-grant 1 --client-id "$EMR_CLIENT_ID" --client-secret "$EMR_CLIENT_SECRET" \
      --username "$EMR_USERNAME" --password "$EMR_PASSWORD"
    echo "EMR_BASE_URL=http://127.0.0.1:8300" >>"$env_file"
  fi
  if ! configured FHIR_BASE_URL; then
    start_emulator hapi 8090
    echo "FHIR_BASE_URL=http://127.0.0.1:8090/fhir" >>"$env_file"
  fi
}

# The run-time names (emulator-NAME.pid and .log) predate the move to standins/; kept, so that a stand-in
# started before it is still found and stopped.
start_emulator() {  # start_emulator NAME PORT ARGS...
  local name=$1 port=$2 pidfile="$RUN/emulator-$1.pid"; shift 2
  if pid_alive "$pidfile"; then return 0; fi
  say "starting the $name stand-in on 127.0.0.1:$port (no real server configured)"
  (cd "$ROOT" && exec nohup backend/.venv/bin/python -m "standins.$name" --port "$port" \
      --data "$STANDIN_DATA/$name.sqlite3" "$@" >"$LOG/emulator-$name.log" 2>&1) &
  echo $! >"$pidfile"
  wait_for 30 "the $name stand-in" curl -s -o /dev/null "http://127.0.0.1:$port/__control__/faults"
}

# Redis (docs/security.md, "Redis"): nobody gets in without a password. The first run on a machine
# switches the open `default` user off and creates `cdss-admin` (its password in REDIS_ADMIN_SECRET_FILE);
# then each checkout's REDIS_PASSWORD is added to the application's user (REDIS_USERNAME, all but the
# admin commands) and REDIS_EXPORTER_PASSWORD to the exporter's (server facts only, no key's value).
provision_redis() {
  if [ "$(redis_cli ping 2>&1)" = PONG ]; then
    say "Redis: switching its open default user off (admin password in $REDIS_ADMIN_SECRET_FILE)"
    [ -s "$REDIS_ADMIN_SECRET_FILE" ] || (umask 077; openssl rand -hex 24 >"$REDIS_ADMIN_SECRET_FILE")
    redis_cli ACL SETUSER cdss-admin on resetpass ">$(cat "$REDIS_ADMIN_SECRET_FILE")" '~*' '&*' +@all >/dev/null
    redis_admin ACL SETUSER default off resetpass >/dev/null
  fi
  [ -s "$REDIS_ADMIN_SECRET_FILE" ] || die "Redis asks for a password and $REDIS_ADMIN_SECRET_FILE is missing"
  local app_rules exporter_rules  # deploy/redis/users.sh (compose writes the same rules into its ACL file)
  read -r -a app_rules <<<"$REDIS_APP_RULES"
  read -r -a exporter_rules <<<"$REDIS_EXPORTER_RULES"
  redis_admin ACL SETUSER "${REDIS_USERNAME:-cdss}" on ">$REDIS_PASSWORD" "${app_rules[@]}" >/dev/null
  redis_admin ACL SETUSER "$REDIS_EXPORTER_USER" on ">$REDIS_EXPORTER_PASSWORD" "${exporter_rules[@]}" >/dev/null
}

# --- monitoring -------------------------------------------------------------------------------------
# Exporter ports are the exporters' usual ones, on 127.0.0.1 only; monitoring/render_local.py knows them.
rabbit_metrics_up() { curl -fsS -o /dev/null --max-time 3 http://127.0.0.1:15692/metrics; }

start_exporters() {
  # The plugin listens on every interface unless told otherwise: loopback, now and after a restart.
  local rabbit_conf=/etc/rabbitmq/rabbitmq.conf
  grep -qs '^prometheus.tcp.ip' "$rabbit_conf" || printf 'prometheus.tcp.ip = 127.0.0.1\n' >>"$rabbit_conf"
  if ss -Hltn 'sport = :15692' | awk '{print $4}' | grep -vq '^127\.0\.0\.1:'; then
    say "RabbitMQ's prometheus plugin: listening on loopback only"
    rabbitmqctl -q eval 'application:set_env(rabbitmq_prometheus, tcp_config, [{ip, "127.0.0.1"}, {port, 15692}], [{persistent, true}]).' >/dev/null
    rabbitmq-plugins -q disable rabbitmq_prometheus >/dev/null
  fi
  if ! rabbit_metrics_up; then
    say "enabling RabbitMQ's prometheus plugin (127.0.0.1:15692)"
    rabbitmq-plugins -q enable rabbitmq_prometheus >/dev/null
    wait_for 30 "RabbitMQ's prometheus endpoint" rabbit_metrics_up
  fi

  # MariaDB: the exporter's account (provision_accounts, deploy/mariadb/accounts.sh) sees the process
  # list, replication state, status variables and performance_schema, never a table of the application.
  local cnf="$RUN/mysqld-exporter.cnf"
  (umask 077; printf '[client]\nuser=cdss_exporter\npassword=%s\nhost=127.0.0.1\nport=3306\n' \
     "$MYSQLD_EXPORTER_PASSWORD" >"$cnf")
  if ! pid_alive "$RUN/mysqld-exporter.pid"; then
    say "starting the MariaDB exporter on 127.0.0.1:9104"
    start_bg "$RUN/mysqld-exporter.pid" "$LOG/mysqld-exporter.log" prometheus-mysqld-exporter \
      --config.my-cnf="$cnf" --web.listen-address=127.0.0.1:9104
  fi
  if ! pid_alive "$RUN/redis-exporter.pid"; then
    say "starting the Redis exporter on 127.0.0.1:9121"
    # its password in its environment, not on its command line (ps shows that to every local user);
    # Debian's exporter (1.45) reads a -redis.password-file as JSON, not as a bare password
    REDIS_USER="$REDIS_EXPORTER_USER" REDIS_PASSWORD="$REDIS_EXPORTER_PASSWORD" \
      start_bg "$RUN/redis-exporter.pid" "$LOG/redis-exporter.log" prometheus-redis-exporter \
      -redis.addr="redis://127.0.0.1:6379" -web.listen-address=127.0.0.1:9121
  fi
  if ! pid_alive "$RUN/node-exporter.pid"; then
    say "starting the node exporter on 127.0.0.1:9100"
    start_bg "$RUN/node-exporter.pid" "$LOG/node-exporter.log" prometheus-node-exporter \
      --web.listen-address=127.0.0.1:9100 --no-collector.textfile
  fi
  if ! pid_alive "$RUN/blackbox-exporter.pid"; then
    say "starting the blackbox exporter on 127.0.0.1:9115"
    start_bg "$RUN/blackbox-exporter.pid" "$LOG/blackbox-exporter.log" prometheus-blackbox-exporter \
      --config.file="$ROOT/monitoring/blackbox.yml" --web.listen-address=127.0.0.1:9115
  fi
  wait_for 20 "the MariaDB exporter" http_ok http://127.0.0.1:9104/metrics
  wait_for 20 "the Redis exporter signed in to Redis" redis_exporter_up
  wait_for 20 "the node exporter" http_ok http://127.0.0.1:9100/metrics
  wait_for 20 "the blackbox exporter" http_ok http://127.0.0.1:9115/metrics
}

# Prometheus and Alertmanager of the local run (loopback only), configuration rendered from monitoring/.
start_monitoring() {
  local dir="$VAR/monitoring"
  mkdir -p "$dir/prometheus-data" "$dir/alertmanager-data"
  "$ROOT/backend/.venv/bin/python" "$ROOT/monitoring/render_local.py" "$dir"
  if pid_alive "$RUN/prometheus.pid"; then
    kill -HUP "$(cat "$RUN/prometheus.pid")"   # reload the freshly rendered configuration
  else
    say "starting Prometheus on 127.0.0.1:$PROMETHEUS_PORT"
    start_bg "$RUN/prometheus.pid" "$LOG/prometheus.log" prometheus --config.file="$dir/prometheus.yml" \
      --storage.tsdb.path="$dir/prometheus-data" --storage.tsdb.retention.time=7d \
      --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" --web.enable-lifecycle
  fi
  if pid_alive "$RUN/alertmanager.pid"; then
    kill -HUP "$(cat "$RUN/alertmanager.pid")"
  else
    say "starting Alertmanager on 127.0.0.1:$ALERTMANAGER_PORT"
    start_bg "$RUN/alertmanager.pid" "$LOG/alertmanager.log" prometheus-alertmanager \
      --config.file="$dir/alertmanager.yml" --storage.path="$dir/alertmanager-data" \
      --web.listen-address="127.0.0.1:$ALERTMANAGER_PORT" --cluster.listen-address=
  fi
  wait_for 30 Prometheus http_ok "http://127.0.0.1:$PROMETHEUS_PORT/-/ready"
  wait_for 30 Alertmanager http_ok "http://127.0.0.1:$ALERTMANAGER_PORT/-/ready"
}

stop_monitoring() {
  stop_pidfile "$RUN/prometheus.pid" Prometheus
  stop_pidfile "$RUN/alertmanager.pid" Alertmanager
  stop_pidfile "$RUN/blackbox-exporter.pid" "blackbox exporter"
  stop_pidfile "$RUN/node-exporter.pid" "node exporter"
  stop_pidfile "$RUN/redis-exporter.pid" "Redis exporter"
  stop_pidfile "$RUN/mysqld-exporter.pid" "MariaDB exporter"
}

status() {
  printf '%-10s %s\n' mariadb "$(mariadb-admin --no-defaults -h127.0.0.1 -uroot ping 2>/dev/null || echo down)"
  printf '%-10s %s\n' redis "$(redis_up && echo up || echo down)"
  printf '%-10s %s\n' rabbitmq "$(rabbit_up && echo up || echo down)"
  printf '%-10s %s\n' orthanc "$(orthanc_up 2>/dev/null && echo up || echo down)"
  printf '%-10s %s\n' s3 "$(s3_up 2>/dev/null && echo up || echo down)"
  printf '%-10s %s\n' prometheus "$(http_ok "http://127.0.0.1:$PROMETHEUS_PORT/-/ready" 2>/dev/null && echo up || echo down)"
  printf '%-10s %s\n' alertmgr "$(http_ok "http://127.0.0.1:$ALERTMANAGER_PORT/-/ready" 2>/dev/null && echo up || echo down)"
}

mkdir -p "$RUN" "$LOG"
case "${1:-}" in
  install) apt_install "${SYSTEM_PACKAGES[@]}" ;;
  up)
    apt_install "${SYSTEM_PACKAGES[@]}"
    load_env
    start_machine_servers
    provision_accounts
    start_orthanc
    start_s3
    start_standins
    load_env  # the stand-ins' addresses, for the dependency probes
    start_exporters
    start_monitoring
    ;;
  down)
    stop_pidfile "$RUN/orthanc.pid" Orthanc
    stop_pidfile "$RUN/s3.pid" "S3 stand-in"
    stop_pidfile "$RUN/emulator-openemr.pid" "OpenEMR stand-in"
    stop_pidfile "$RUN/emulator-hapi.pid" "HAPI FHIR stand-in"
    stop_monitoring
    ;;
  status) load_env; status ;;
  *) die "usage: $0 {install|up|down|status}" ;;
esac
