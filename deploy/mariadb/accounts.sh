#!/bin/sh
# The CDSS's MariaDB accounts (docs/security.md, "Database accounts"): the schema's owner (migrations
# only), the application's role and account (nothing but the role), and the exporter's account (server
# facts only). One script for both ways the CDSS runs: compose's one-shot `mysql-init` runs it as root at
# every `docker compose up`, before migrate; the local run's scripts/services.sh at every start. A password
# changed in .env is applied, and rights an account held before are revoked. The role's table rights are
# granted by each migrate (backend/core/dbaccess.py).
#
#   MARIADB_HOST MARIADB_DATABASE MARIADB_ROOT_PASSWORD (empty: root has none)     where, as whom
#   MARIADB_OWNER_PASSWORD MARIADB_APP_PASSWORD MYSQLD_EXPORTER_PASSWORD          the accounts' passwords
#   optional: MARIADB_OWNER (cdss_owner) MARIADB_APP (cdss) MARIADB_APP_ROLE (cdss_app)
#             MARIADB_ACCOUNT_HOSTS ('%'; the local run: 127.0.0.1 localhost)
#             MARIADB_OWNER_OWNS_TESTS (set: the owner also owns the tests' databases, test_<database>*)
set -eu
: "${MARIADB_HOST:?}" "${MARIADB_DATABASE:?}"
: "${MARIADB_OWNER_PASSWORD:?}" "${MARIADB_APP_PASSWORD:?}" "${MYSQLD_EXPORTER_PASSWORD:?}"
db=$MARIADB_DATABASE exporter=cdss_exporter
owner=${MARIADB_OWNER:-cdss_owner} app=${MARIADB_APP:-cdss} role=${MARIADB_APP_ROLE:-cdss_app}
[ "$owner" != "$app" ] || { echo "the owner and the application must be different accounts" >&2; exit 1; }

sql() {
  echo "CREATE DATABASE IF NOT EXISTS \`$db\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"
  echo "CREATE ROLE IF NOT EXISTS \`$role\`;"
  for host in ${MARIADB_ACCOUNT_HOSTS:-%}; do
    cat <<SQL
CREATE USER IF NOT EXISTS '$owner'@'$host' IDENTIFIED BY '$MARIADB_OWNER_PASSWORD';
ALTER USER '$owner'@'$host' IDENTIFIED BY '$MARIADB_OWNER_PASSWORD';
GRANT ALL PRIVILEGES ON \`$db\`.* TO '$owner'@'$host' WITH GRANT OPTION;
CREATE USER IF NOT EXISTS '$app'@'$host' IDENTIFIED BY '$MARIADB_APP_PASSWORD';
ALTER USER '$app'@'$host' IDENTIFIED BY '$MARIADB_APP_PASSWORD';
REVOKE ALL PRIVILEGES, GRANT OPTION FROM '$app'@'$host';
GRANT \`$role\` TO '$app'@'$host';
SET DEFAULT ROLE \`$role\` FOR '$app'@'$host';
CREATE USER IF NOT EXISTS '$exporter'@'$host' IDENTIFIED BY '$MYSQLD_EXPORTER_PASSWORD' WITH MAX_USER_CONNECTIONS 3;
ALTER USER '$exporter'@'$host' IDENTIFIED BY '$MYSQLD_EXPORTER_PASSWORD' WITH MAX_USER_CONNECTIONS 3;
REVOKE ALL PRIVILEGES, GRANT OPTION FROM '$exporter'@'$host';
GRANT PROCESS, REPLICATION CLIENT ON *.* TO '$exporter'@'$host';
GRANT SELECT ON performance_schema.* TO '$exporter'@'$host';
SQL
    if [ -n "${MARIADB_OWNER_OWNS_TESTS:-}" ]; then
      echo "GRANT ALL PRIVILEGES ON \`test\\_$db%\`.* TO '$owner'@'$host' WITH GRANT OPTION;"
    fi
  done
}

# the root password in the environment, not on the command line (ps shows that)
sql | MYSQL_PWD=${MARIADB_ROOT_PASSWORD:-} mariadb --no-defaults -h"$MARIADB_HOST" -P"${MARIADB_PORT:-3306}" -uroot
echo "MariaDB accounts ready: $owner (owner of $db), $app (role $role), $exporter"
