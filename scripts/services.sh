#!/usr/bin/env bash
# The servers the CDSS talks to on a machine without Docker, started idempotently.
#
#   scripts/services.sh up      install what is missing, start what is not running, create users/vhosts
#   scripts/services.sh down    stop what this script started (by pid file, never by name)
#   scripts/services.sh status  one line per server
#
# MariaDB, Redis and RabbitMQ are machine-wide servers: started here only when they are down, and never
# stopped by `down`. Orthanc (with DICOMweb) and the S3 stand-in (moto) belong to the project: their data,
# logs and pid files live under var/.
set -o errexit -o pipefail -o nounset
. "$(dirname "$0")/_lib.sh"

SYSTEM_PACKAGES=(curl mariadb-server redis-server rabbitmq-server orthanc orthanc-dicomweb nginx docker-compose prometheus prometheus-alertmanager
                 default-libmysqlclient-dev pkg-config)

mariadb_root() { mariadb --no-defaults -h127.0.0.1 -P3306 -uroot "$@"; }
rabbit_up()    { rabbitmq-diagnostics -q check_running >/dev/null 2>&1; }
orthanc_up()   { curl -fsS -u "$ORTHANC_USERNAME:$ORTHANC_PASSWORD" "$ORTHANC_URL/system" >/dev/null; }
s3_up()        { curl -fsS -o /dev/null "$S3_ENDPOINT_URL/moto-api/"; }

start_machine_servers() {
  if ! mariadb-admin --no-defaults -h127.0.0.1 -P3306 -uroot ping >/dev/null 2>&1; then
    say "starting MariaDB"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    wait_for 60 MariaDB mariadb-admin --no-defaults -h127.0.0.1 -P3306 -uroot ping
  fi
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    say "starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_for 20 Redis redis-cli -h 127.0.0.1 -p 6379 ping
  fi
  if ! rabbit_up; then
    say "starting RabbitMQ"
    rabbitmq-server -detached
    wait_for 90 RabbitMQ rabbitmqctl -q await_startup --timeout 5
  fi
}

# The application's own accounts: a MariaDB user and database, a RabbitMQ user with two vhosts
# (`cdss` for the running system, `cdss_test` so that tests never meet the running system's workers).
provision_accounts() {
  local db user pw
  db="$(url_part "$DATABASE_URL" path)"; user="$(url_part "$DATABASE_URL" user)"
  pw="$(url_part "$DATABASE_URL" password)"
  mariadb_root <<SQL
CREATE DATABASE IF NOT EXISTS \`$db\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$user'@'127.0.0.1' IDENTIFIED BY '$pw';
CREATE USER IF NOT EXISTS '$user'@'localhost' IDENTIFIED BY '$pw';
ALTER USER '$user'@'127.0.0.1' IDENTIFIED BY '$pw';
ALTER USER '$user'@'localhost' IDENTIFIED BY '$pw';
GRANT ALL PRIVILEGES ON \`$db\`.* TO '$user'@'127.0.0.1';
GRANT ALL PRIVILEGES ON \`$db\`.* TO '$user'@'localhost';
GRANT ALL PRIVILEGES ON \`test\\_$db%\`.* TO '$user'@'127.0.0.1';
GRANT ALL PRIVILEGES ON \`test\\_$db%\`.* TO '$user'@'localhost';
SQL

  user="$(url_part "$RABBITMQ_URL" user)"; pw="$(url_part "$RABBITMQ_URL" password)"
  if rabbitmqctl -q list_users | awk '{print $1}' | grep -qx "$user"; then
    rabbitmqctl -q change_password "$user" "$pw" >/dev/null
  else
    rabbitmqctl -q add_user "$user" "$pw" >/dev/null
  fi
  for vhost in "$(url_part "$RABBITMQ_URL" path)" cdss_test; do
    rabbitmqctl -q list_vhosts | grep -qx "$vhost" || rabbitmqctl -q add_vhost "$vhost" >/dev/null
    rabbitmqctl -q set_permissions -p "$vhost" "$user" '.*' '.*' '.*' >/dev/null
  done
}

start_orthanc() {
  local pidfile="$RUN/orthanc.pid" dir="$VAR/orthanc"
  if pid_alive "$pidfile" && orthanc_up; then return 0; fi
  say "starting Orthanc (DICOMweb plugin, HTTP basic auth) on $ORTHANC_URL"
  mkdir -p "$dir/db"
  local http_port plugin
  http_port="$(url_part "$ORTHANC_URL" port)"
  plugin="$(ls /usr/share/orthanc/plugins/libOrthancDicomWeb.so 2>/dev/null || true)"
  [ -n "$plugin" ] || die "the Orthanc DICOMweb plugin is missing (apt-get install orthanc-dicomweb)"
  ORTHANC_DIR="$dir" HTTP_PORT="$http_port" PLUGIN="$plugin" \
    "$ROOT/backend/.venv/bin/python" - > "$dir/orthanc.json" <<'PY'
import json, os
print(json.dumps({
    "Name": "CDSS-PACS",
    "StorageDirectory": os.environ["ORTHANC_DIR"] + "/db",
    "IndexDirectory": os.environ["ORTHANC_DIR"] + "/db",
    "HttpPort": int(os.environ["HTTP_PORT"]),
    "DicomPort": int(os.environ.get("ORTHANC_DICOM_PORT", "4242")),
    "DicomAet": "ORTHANC",
    "DicomCheckCalledAet": False,
    "RemoteAccessAllowed": False,
    "AuthenticationEnabled": True,
    "RegisteredUsers": {os.environ["ORTHANC_USERNAME"]: os.environ["ORTHANC_PASSWORD"]},
    "StableAge": int(os.environ.get("ORTHANC_STABLE_AGE", "10")),
    "Plugins": [os.environ["PLUGIN"]],
    "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": True, "WadoRoot": "/wado", "Ssl": False},
}, indent=2))
PY
  chmod 600 "$dir/orthanc.json"
  nohup Orthanc "$dir/orthanc.json" >"$LOG/orthanc.log" 2>&1 &
  echo $! >"$pidfile"
  wait_for 30 Orthanc orthanc_up
}

start_s3() {
  local pidfile="$RUN/s3.pid"
  if pid_alive "$pidfile" && s3_up; then return 0; fi
  say "starting the S3 stand-in (moto) on $S3_ENDPOINT_URL"
  nohup "$ROOT/backend/.venv/bin/moto_server" -H "$(url_part "$S3_ENDPOINT_URL" host)" \
    -p "$(url_part "$S3_ENDPOINT_URL" port)" >"$LOG/s3.log" 2>&1 &
  echo $! >"$pidfile"
  wait_for 30 "S3 stand-in" s3_up
}

# HAPI FHIR and OpenEMR cannot run here: when .env names no real server, the project's stand-ins
# (backend/emulators) take their place, and var/run/standins.env tells the application where they are.
start_standins() {
  local env_file="$RUN/standins.env"
  : >"$env_file"
  mkdir -p "$VAR/emulators"
  if [ -z "${EMR_BASE_URL:-}" ]; then
    start_emulator openemr 8300 --password-grant 1 --client-id "$EMR_CLIENT_ID" --client-secret "$EMR_CLIENT_SECRET" \
      --username "$EMR_USERNAME" --password "$EMR_PASSWORD"
    echo "EMR_BASE_URL=http://127.0.0.1:8300" >>"$env_file"
  fi
  if [ -z "${FHIR_BASE_URL:-}" ]; then
    start_emulator hapi 8090
    echo "FHIR_BASE_URL=http://127.0.0.1:8090/fhir" >>"$env_file"
  fi
}

start_emulator() {  # start_emulator NAME PORT ARGS...
  local name=$1 port=$2 pidfile="$RUN/emulator-$1.pid"; shift 2
  if pid_alive "$pidfile"; then return 0; fi
  say "starting the $name stand-in on 127.0.0.1:$port (no real server configured)"
  (cd "$ROOT/backend" && exec nohup .venv/bin/python -m "emulators.$name" --port "$port" \
      --data "$VAR/emulators/$name.sqlite3" "$@" >"$LOG/emulator-$name.log" 2>&1) &
  echo $! >"$pidfile"
  wait_for 30 "the $name stand-in" curl -s -o /dev/null "http://127.0.0.1:$port/__control__/faults"
}

status() {
  printf '%-10s %s\n' mariadb "$(mariadb-admin --no-defaults -h127.0.0.1 -uroot ping 2>/dev/null || echo down)"
  printf '%-10s %s\n' redis "$(redis-cli -h 127.0.0.1 ping 2>/dev/null || echo down)"
  printf '%-10s %s\n' rabbitmq "$(rabbit_up && echo up || echo down)"
  printf '%-10s %s\n' orthanc "$(orthanc_up 2>/dev/null && echo up || echo down)"
  printf '%-10s %s\n' s3 "$(s3_up 2>/dev/null && echo up || echo down)"
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
    ;;
  down)
    stop_pidfile "$RUN/orthanc.pid" Orthanc
    stop_pidfile "$RUN/s3.pid" "S3 stand-in"
    stop_pidfile "$RUN/emulator-openemr.pid" "OpenEMR stand-in"
    stop_pidfile "$RUN/emulator-hapi.pid" "HAPI FHIR stand-in"
    ;;
  status) load_env; status ;;
  *) die "usage: $0 {install|up|down|status}" ;;
esac
