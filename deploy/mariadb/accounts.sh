#!/bin/sh
# The CDSS's MariaDB accounts in compose, as scripts/services.sh makes them in the local run
# (docs/security.md, "Database accounts"): the schema's owner (migrations only), the application's role
# and account (nothing but the role), and the exporter's account (server facts only). The one-shot service
# `mysql-init` of docker-compose.yml runs it as root at every `docker compose up`, before migrate: a
# password changed in .env is applied, and rights an account held before are revoked. The role's table
# rights are granted by each migrate (backend/core/dbaccess.py).
#
#   MARIADB_HOST MARIADB_DATABASE MARIADB_ROOT_PASSWORD           where, as whom
#   MARIADB_OWNER_PASSWORD MARIADB_APP_PASSWORD MYSQLD_EXPORTER_PASSWORD   the accounts' passwords
set -eu
: "${MARIADB_HOST:?}" "${MARIADB_DATABASE:?}" "${MARIADB_ROOT_PASSWORD:?}"
: "${MARIADB_OWNER_PASSWORD:?}" "${MARIADB_APP_PASSWORD:?}" "${MYSQLD_EXPORTER_PASSWORD:?}"
db=$MARIADB_DATABASE owner=cdss_owner app=cdss role=cdss_app exporter=cdss_exporter
# the root password in the environment, not on the command line (ps shows that)
MYSQL_PWD=$MARIADB_ROOT_PASSWORD mariadb -h"$MARIADB_HOST" -uroot <<SQL
CREATE DATABASE IF NOT EXISTS \`$db\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE ROLE IF NOT EXISTS \`$role\`;
CREATE USER IF NOT EXISTS '$owner'@'%' IDENTIFIED BY '$MARIADB_OWNER_PASSWORD';
ALTER USER '$owner'@'%' IDENTIFIED BY '$MARIADB_OWNER_PASSWORD';
GRANT ALL PRIVILEGES ON \`$db\`.* TO '$owner'@'%' WITH GRANT OPTION;
CREATE USER IF NOT EXISTS '$app'@'%' IDENTIFIED BY '$MARIADB_APP_PASSWORD';
ALTER USER '$app'@'%' IDENTIFIED BY '$MARIADB_APP_PASSWORD';
REVOKE ALL PRIVILEGES, GRANT OPTION FROM '$app'@'%';
GRANT \`$role\` TO '$app'@'%';
SET DEFAULT ROLE \`$role\` FOR '$app'@'%';
CREATE USER IF NOT EXISTS '$exporter'@'%' IDENTIFIED BY '$MYSQLD_EXPORTER_PASSWORD' WITH MAX_USER_CONNECTIONS 3;
ALTER USER '$exporter'@'%' IDENTIFIED BY '$MYSQLD_EXPORTER_PASSWORD' WITH MAX_USER_CONNECTIONS 3;
REVOKE ALL PRIVILEGES, GRANT OPTION FROM '$exporter'@'%';
GRANT PROCESS, REPLICATION CLIENT ON *.* TO '$exporter'@'%';
GRANT SELECT ON performance_schema.* TO '$exporter'@'%';
SQL
echo "MariaDB accounts ready: $owner (owner of $db), $app (role $role), $exporter"
