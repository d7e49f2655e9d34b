#!/usr/bin/env bash
# Restore a MariaDB backup made by backup/backup.sh, after checking it, then verify the result.
#
#   backup/restore.sh FILE.sql.gz.age           restore that dump (its .sha256 must sit next to it)
#   backup/restore.sh --latest                  the newest dump in $BACKUP_DIR (default var/backups)
#   backup/restore.sh --from-storage [KEY]      download db/KEY (default: the newest) from the backups bucket
#   backup/restore.sh --objects STAMP           restore the weekly object-storage copy objects/STAMP/
#   options: --database NAME  restore into NAME instead of the application database (e.g. a scratch one)
#            --offsite        --from-storage and --objects read the off-site store instead
#            --identity FILE  the backup private key (age identity; default $BACKUP_AGE_IDENTITY, else
#                             var/offsite/backup-identity.txt, where the local run keeps it)
#            --yes            no questions (scripts, tests); otherwise type the database name to confirm
#            --reason TEXT    why the application database is restored, kept with the audit acknowledgement
#   make restore ARGS="--latest"
#
# Refused before anything is touched: a missing or wrong checksum, a file age cannot decrypt with the
# key, a file gzip cannot read, a dump without mysqldump's completion line (partial). The target database
# is dropped and re-created; the application must be stopped when the target is its own database.
# Afterwards: the table count and every table's row count are compared with the dump's
# (backup/dumpcount.py) and `manage.py verify_audit_chain` runs against the restored database. Into the
# application database, the events the backup does not hold are then acknowledged as lost in this restore
# (`manage.py audit_acknowledge_restore`, signed and locked next to the audit checkpoints), so that the
# hourly verification does not report them as a cut, for ever (docs/runbooks/backup-and-restore.md).
# Dumps from before encryption (.sql.gz) restore as they are.
set -o errexit -o pipefail -o nounset
. "$(dirname "$0")/../scripts/_lib.sh"

SOURCE="" TARGET="" YES="" FROM_STORAGE="" OBJECTS_STAMP="" OFFSITE="" IDENTITY=${BACKUP_AGE_IDENTITY:-}
REASON="restored from a backup by backup/restore.sh"
while [ $# -gt 0 ]; do
  case "$1" in
    --latest) SOURCE=latest; shift ;;
    --from-storage) FROM_STORAGE=yes; if [ $# -gt 1 ] && [ "${2#-}" = "$2" ]; then SOURCE=$2; shift; fi; shift ;;
    --objects) OBJECTS_STAMP=${2:?--objects needs a STAMP}; shift 2 ;;
    --database) TARGET=${2:?--database needs a name}; shift 2 ;;
    --offsite) OFFSITE=--offsite; shift ;;
    --identity) IDENTITY=${2:?--identity needs a file}; shift 2 ;;
    --yes) YES=yes; shift ;;
    --reason) REASON=${2:?--reason needs a text}; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    -*) die "unknown option '$1' (see $0 --help)" ;;
    *) SOURCE=$1; shift ;;
  esac
done

load_env
# The object-store admin, as the schema owner for the database: a restore writes into the live buckets
# (and re-creates missing ones), which no service account may (docs/security.md, "Object-store accounts").
s3_account S3_ADMIN OFFSITE_S3
BACKUP_DIR=${BACKUP_DIR:-$VAR/backups}
PYTHON=${BACKUP_PYTHON:-$ROOT/backend/.venv/bin/python}
# The private key is not kept on an application host: it is brought for the restore (the key ceremony,
# docs/runbooks/backup-and-restore.md). The local run keeps its own in var/offsite/.
export BACKUP_AGE_IDENTITY=${IDENTITY:-$VAR/offsite/backup-identity.txt}
need_identity() { [ -s "$BACKUP_AGE_IDENTITY" ] || die "no backup private key at $BACKUP_AGE_IDENTITY: bring it (--identity FILE; see the runbook)"; }
APP_DB="$(url_part "$DATABASE_URL" path)"
# The schema owner restores: the application's account may not create databases, tables or triggers.
OWNER_URL=${DATABASE_OWNER_URL:-$DATABASE_URL}
[ -n "$TARGET" ] || TARGET="$APP_DB"

confirm() {  # confirm WHAT
  [ -n "$YES" ] && return 0
  [ -t 0 ] || die "no terminal to confirm on: pass --yes to restore without asking"
  warn "$1"
  read -r -p "Type the name '$TARGET' to go on: " answer
  [ "$answer" = "$TARGET" ] || die "not confirmed; nothing changed"
  for n in 5 4 3 2 1; do printf '\rrestoring in %s s (Ctrl-C to stop) ' "$n"; sleep 1; done; echo
}

if [ -n "$OBJECTS_STAMP" ]; then
  confirm "objects from the copy $OBJECTS_STAMP will overwrite the same keys in the live buckets"
  need_identity
  exec "$PYTHON" "$ROOT/backup/store.py" $OFFSITE restore-buckets "$OBJECTS_STAMP"
fi

WORK="$(mktemp -d)"
CNF="$WORK/client.cnf"
trap 'rm -rf "$WORK"' EXIT
if [ -n "$FROM_STORAGE" ]; then
  # The newest key sorts last; a dump's .sha256 sorts right after the dump itself.
  key=${SOURCE:-$("$PYTHON" "$ROOT/backup/store.py" $OFFSITE latest db/)}
  key=${key#db/}; key=${key%.sha256}
  [ -n "$key" ] || die "no backup in the ${OFFSITE:+off-site }backups bucket"
  say "downloading db/$key from the ${OFFSITE:+off-site }backups bucket"
  "$PYTHON" "$ROOT/backup/store.py" $OFFSITE get "db/$key" "$WORK/$key"
  "$PYTHON" "$ROOT/backup/store.py" $OFFSITE get "db/$key.sha256" "$WORK/$key.sha256"
  SOURCE="$WORK/$key"
elif [ "$SOURCE" = latest ]; then
  SOURCE="$(ls -1t "$BACKUP_DIR"/*.sql.gz "$BACKUP_DIR"/*.sql.gz.age 2>/dev/null | head -n 1 || true)"
  [ -n "$SOURCE" ] || die "no backup in $BACKUP_DIR"
fi
[ -n "$SOURCE" ] || die "which backup? (FILE, --latest or --from-storage; see $0 --help)"
[ -f "$SOURCE" ] || die "no such backup: $SOURCE"

# --- the checks, before anything is touched ----------------------------------------------------------
say "checking $SOURCE"
[ -f "$SOURCE.sha256" ] || die "refused: checksum file $SOURCE.sha256 is missing"
(cd "$(dirname "$SOURCE")" && sha256sum --check --status "$(basename "$SOURCE").sha256") \
  || die "refused: $SOURCE does not match its sha256 checksum (corrupt or altered)"
if [ "${SOURCE%.age}" != "$SOURCE" ]; then  # decrypted into the private work directory, removed at exit
  need_identity
  plain="$WORK/$(basename "${SOURCE%.age}")"
  (umask 077; age -d -i "$BACKUP_AGE_IDENTITY" -o "$plain" "$SOURCE") \
    || die "refused: $SOURCE cannot be decrypted with $BACKUP_AGE_IDENTITY"
  ENCRYPTED=$SOURCE SOURCE=$plain
fi
gzip -t "$SOURCE" 2>/dev/null || die "refused: $SOURCE is not a complete gzip file (truncated or corrupt)"
zcat "$SOURCE" | tail -n 1 | grep -q '^-- Dump completed' \
  || die "refused: $SOURCE is a partial dump (no completion line at its end)"
tables_in_dump=$(zcat "$SOURCE" | grep -c '^CREATE TABLE ' || true)

if [ "$TARGET" = "$APP_DB" ] && pid_alive "$RUN/supervisord.pid"; then
  die "the application is running on '$TARGET': stop it first (make stop), then restore"
fi
confirm "database '$TARGET' will be DROPPED and replaced by $(basename "${ENCRYPTED:-$SOURCE}")"

(umask 077; printf '[client]\nuser=%s\npassword=%s\nhost=%s\nport=%s\n' "$(url_part "$OWNER_URL" user)" \
  "$(url_part "$OWNER_URL" password)" "$(url_part "$OWNER_URL" host)" "$(url_part "$OWNER_URL" port)" >"$CNF")
sql() { mariadb --defaults-extra-file="$CNF" "$@"; }

started=$SECONDS
say "restoring into '$TARGET'"
sql -e "DROP DATABASE IF EXISTS \`$TARGET\`; CREATE DATABASE \`$TARGET\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"
# The dump names its database (--databases): point it at the target instead.
source_db=$(zcat "$SOURCE" | sed -n 's/^USE `\(.*\)`;$/\1/p' | head -n 1)
zcat "$SOURCE" | sed -e "s/^CREATE DATABASE \/\*!32312 IF NOT EXISTS\*\/ \`$source_db\`/-- &/" \
  -e "s/^USE \`$source_db\`;\$/USE \`$TARGET\`;/" | sql "$TARGET"
say "loaded in $((SECONDS - started)) s"

# --- verification -------------------------------------------------------------------------------------
tables=$(sql -N -e "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '$TARGET' AND table_type = 'BASE TABLE'")
[ "$tables" -eq "$tables_in_dump" ] || die "restored $tables tables but the dump has $tables_in_dump"
# Every table's rows against the dump's INSERTs.
sql -N -e "SELECT table_name FROM information_schema.tables WHERE table_schema = '$TARGET' AND table_type = 'BASE TABLE'" \
  | while read -r table; do printf '%s\t%s\n' "$table" "$(sql -N -e "SELECT COUNT(*) FROM \`$TARGET\`.\`$table\`" </dev/null)"; done >"$WORK/rows"
zcat "$SOURCE" | "$PYTHON" "$ROOT/backup/dumpcount.py" "$WORK/rows" >"$WORK/rows.report" \
  || { cat "$WORK/rows.report" >&2; die "the restored rows differ from the dump's"; }
rows_line=$(tail -n 1 "$WORK/rows.report")
target_url="${OWNER_URL%/*}/$TARGET"
(cd "$ROOT/backend" && CDSS_DB_OWNER=1 DATABASE_OWNER_URL="$target_url" .venv/bin/python manage.py verify_audit_chain --restored) \
  || die "the restored audit chain does not verify"
if [ "$TARGET" = "$APP_DB" ]; then  # the application's role gets its rights on the restored tables again
  (cd "$ROOT/backend" && CDSS_DB_OWNER=1 .venv/bin/python manage.py db_grants) || die "granting the application's rights failed"
  # The checkpoints signed after the dump are lost with their events: say so, signed, once, in the audit
  # bucket; the hourly verification then names the loss instead of reporting a cut (a scratch database or
  # the drill acknowledges nothing: the live chain is not the one restored).
  (cd "$ROOT/backend" && CDSS_DB_OWNER=1 .venv/bin/python manage.py audit_acknowledge_restore \
    --backup "$(basename "${ENCRYPTED:-$SOURCE}")" --by "${SUDO_USER:-${USER:-$(id -un)}}@$(hostname)" --reason "$REASON") \
    || die "the restore is done, but the audit chain's lost events could not be acknowledged: run manage.py audit_acknowledge_restore by hand (docs/runbooks/backup-and-restore.md)"
fi
say "restore of $(basename "${ENCRYPTED:-$SOURCE}") into '$TARGET' verified: $tables tables, $rows_line, audit chain intact ($((SECONDS - started)) s)"
