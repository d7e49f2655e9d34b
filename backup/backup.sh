#!/usr/bin/env bash
# Daily MariaDB backup: a consistent dump, gzip, a sha256 checksum, an upload to the backups bucket of
# the object storage, and 7-day retention both locally and remotely. With --objects, also the weekly
# copy of the object-storage buckets (AI artifacts, DICOM thumbnails) into the backups bucket.
#
#   backup/backup.sh                    dump the application database (DATABASE_URL in .env)
#   backup/backup.sh --database NAME    dump another database the same account can read
#   backup/backup.sh --no-upload        keep the dump local only
#   backup/backup.sh --objects          the weekly object-storage copy as well
#   make backup                         the first form
#
# Files: $BACKUP_DIR (default var/backups)/<database>-<UTC time>.sql.gz and .sql.gz.sha256;
# remote: s3://<S3_BUCKET_PREFIX>cdss-backups/db/<same names>. Cron examples: docs/runbooks/backup-and-restore.md.
set -o errexit -o pipefail -o nounset
. "$(dirname "$0")/../scripts/_lib.sh"

DATABASE="" UPLOAD=yes OBJECTS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --database) DATABASE=${2:?--database needs a name}; shift 2 ;;
    --no-upload) UPLOAD=""; shift ;;
    --objects) OBJECTS=yes; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (see $0 --help)" ;;
  esac
done

load_env
s3_account BACKUP_S3  # its own object-store account: reads what it copies, writes and prunes backups only
RETENTION_DAYS=${BACKUP_RETENTION_DAYS:-7}
OBJECT_RETENTION_DAYS=${OBJECT_BACKUP_RETENTION_DAYS:-28}
BACKUP_DIR=${BACKUP_DIR:-$VAR/backups}
PYTHON="$ROOT/backend/.venv/bin/python"
DUMP=$(command -v mariadb-dump || command -v mysqldump) || die "mariadb-dump (mysqldump) is not installed"
[ -n "$DATABASE" ] || DATABASE="$(url_part "$DATABASE_URL" path)"
# The schema owner dumps: the application's account may not read triggers (docs/security.md).
OWNER_URL=${DATABASE_OWNER_URL:-$DATABASE_URL}

mkdir -p "$BACKUP_DIR" && chmod 700 "$BACKUP_DIR"
CNF="$(mktemp)"
trap 'rm -f "$CNF" "${PARTIAL:-}"' EXIT
(umask 077; printf '[client]\nuser=%s\npassword=%s\nhost=%s\nport=%s\n' "$(url_part "$OWNER_URL" user)" \
  "$(url_part "$OWNER_URL" password)" "$(url_part "$OWNER_URL" host)" "$(url_part "$OWNER_URL" port)" >"$CNF")

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
NAME="$DATABASE-$STAMP.sql.gz"
FILE="$BACKUP_DIR/$NAME"
PARTIAL="$FILE.partial"
say "dumping database '$DATABASE' to $FILE"
started=$SECONDS
# --single-transaction: a consistent InnoDB snapshot without locking the application out.
"$DUMP" --defaults-extra-file="$CNF" --single-transaction --routines --triggers --events \
  --hex-blob --default-character-set=utf8mb4 --databases "$DATABASE" | gzip -6 >"$PARTIAL"
mv "$PARTIAL" "$FILE"
(cd "$BACKUP_DIR" && sha256sum "$NAME" >"$NAME.sha256")
say "dump done in $((SECONDS - started)) s: $(du -h "$FILE" | cut -f1), sha256 $(cut -c1-16 "$FILE.sha256")..."

if [ -n "$UPLOAD" ]; then
  "$PYTHON" "$ROOT/backup/store.py" put "$FILE" "db/$NAME"
  "$PYTHON" "$ROOT/backup/store.py" put "$FILE.sha256" "db/$NAME.sha256"
  say "uploaded to the backups bucket as db/$NAME"
  "$PYTHON" "$ROOT/backup/store.py" prune db/ "$RETENTION_DAYS"
fi

# Local retention: dumps (and their checksums) older than the retention period go.
find "$BACKUP_DIR" -maxdepth 1 -name "*.sql.gz*" -mmin +$((RETENTION_DAYS * 24 * 60)) -print -delete

if [ -n "$OBJECTS" ]; then
  say "copying the object-storage buckets (weekly backup)"
  "$PYTHON" "$ROOT/backup/store.py" copy-buckets "$STAMP"
  "$PYTHON" "$ROOT/backup/store.py" prune objects/ "$OBJECT_RETENTION_DAYS"
fi
echo "$FILE"
