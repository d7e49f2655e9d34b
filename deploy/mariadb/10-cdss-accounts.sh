#!/bin/sh
# Run once by the mariadb image when it creates its data directory (/docker-entrypoint-initdb.d).
# The image has made the schema and its owner (MARIADB_USER, all rights on MARIADB_DATABASE: migrations).
# Here: the application's role and account, and the exporter's account (docs/security.md, "Database
# accounts"). The role's table rights are granted by each migrate (backend/core/dbaccess.py).
# A volume created before this script existed: run it by hand once, e.g.
#   docker compose exec mysql sh /docker-entrypoint-initdb.d/10-cdss-accounts.sh
set -eu
: "${MARIADB_APP_PASSWORD:?}" "${MYSQLD_EXPORTER_PASSWORD:?}" "${MARIADB_ROOT_PASSWORD:?}"
mariadb -uroot -p"$MARIADB_ROOT_PASSWORD" <<SQL
CREATE ROLE IF NOT EXISTS cdss_app;
CREATE USER IF NOT EXISTS 'cdss'@'%' IDENTIFIED BY '$MARIADB_APP_PASSWORD';
ALTER USER 'cdss'@'%' IDENTIFIED BY '$MARIADB_APP_PASSWORD';
REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'cdss'@'%';
GRANT cdss_app TO 'cdss'@'%';
SET DEFAULT ROLE cdss_app FOR 'cdss'@'%';
GRANT ALL PRIVILEGES ON \`${MARIADB_DATABASE}\`.* TO '${MARIADB_USER}'@'%' WITH GRANT OPTION;
CREATE USER IF NOT EXISTS 'cdss_exporter'@'%' IDENTIFIED BY '$MYSQLD_EXPORTER_PASSWORD' WITH MAX_USER_CONNECTIONS 3;
ALTER USER 'cdss_exporter'@'%' IDENTIFIED BY '$MYSQLD_EXPORTER_PASSWORD' WITH MAX_USER_CONNECTIONS 3;
GRANT PROCESS, REPLICATION CLIENT ON *.* TO 'cdss_exporter'@'%';
GRANT SELECT ON performance_schema.* TO 'cdss_exporter'@'%';
SQL
