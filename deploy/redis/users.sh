# shellcheck shell=sh
# Redis's accounts (docs/security.md, "Redis"), for both the local run (scripts/services.sh, ACL SETUSER)
# and compose (docker-compose.yml writes redis_acl_file's output at every start and passes it as
# --aclfile). Source it; it changes nothing by itself.
#   the application (REDIS_USERNAME, default cdss): every key and command but the @admin ones (no CONFIG
#     SET, ACL, SHUTDOWN, MONITOR, DEBUG)
#   cdss-exporter (the Redis exporter): server facts only, no key's value: the commands redis_exporter
#     runs by default (PING, CLIENT SETNAME, CONFIG GET, INFO, LATENCY LATEST/HISTOGRAM, SLOWLOG; CLUSTER
#     INFO and SELECT where they apply), none of its key-reading options
REDIS_APP_RULES='~* &* +@all -@admin'
REDIS_EXPORTER_USER=cdss-exporter
REDIS_EXPORTER_RULES='resetkeys resetchannels -@all +hello +auth +ping +select +info +config|get +client|setname +slowlog +latency|latest +latency|histogram +cluster|info +dbsize'

# The ACL file of compose's Redis: the open `default` user off, passwords stored as SHA-256 only.
redis_acl_file() {  # needs REDIS_PASSWORD and REDIS_EXPORTER_PASSWORD (REDIS_USERNAME optional)
  : "${REDIS_PASSWORD:?}" "${REDIS_EXPORTER_PASSWORD:?}"
  printf 'user default off resetpass resetkeys resetchannels -@all\n'
  printf 'user %s on #%s %s\n' "${REDIS_USERNAME:-cdss}" "$(redis_password_hash "$REDIS_PASSWORD")" "$REDIS_APP_RULES"
  printf 'user %s on #%s %s\n' "$REDIS_EXPORTER_USER" "$(redis_password_hash "$REDIS_EXPORTER_PASSWORD")" \
    "$REDIS_EXPORTER_RULES"
}

redis_password_hash() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
