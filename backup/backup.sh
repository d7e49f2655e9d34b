#!/usr/bin/env bash
# Daily MariaDB backup: a consistent dump, gzip, encrypted with age to the backup public key, a sha256
# checksum, an upload to the backups bucket of the object storage, a copy of every backup the off-site
# store lacks to it (a second object store), and retention locally, in the bucket and off site. With
# --objects, also the weekly encrypted copy of the object-storage buckets (AI artifacts, DICOM thumbnails).
# Each step's success or failure is recorded for Prometheus (backup/metrics.py); backup/scheduler.py
# runs this on its schedule (the `backup` process of make run, compose and systemd).
#
#   backup/backup.sh                    dump the application database (DATABASE_URL in .env)
#   backup/backup.sh --database NAME    dump another database the same account can read
#   backup/backup.sh --no-upload        keep the dump local only (no bucket, no off-site copy)
#   backup/backup.sh --objects          the weekly object-storage copy as well
#   make backup                         the first form
#
# Files: $BACKUP_DIR (default var/backups)/<database>-<UTC time>.sql.gz.age and .sql.gz.age.sha256;
# remote: s3://<S3_BUCKET_PREFIX>cdss-backups/db/<same names>, off site s3://<OFFSITE_S3_BUCKET>/db/.
# Keys, schedule, retention: docs/runbooks/backup-and-restore.md.
set -o errexit -o pipefail -o nounset
. "$(dirname "$0")/../scripts/_lib.sh"

DATABASE="" UPLOAD=yes OBJECTS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --database) DATABASE=${2:?--database needs a name}; shift 2 ;;
    --no-upload) UPLOAD=""; shift ;;
    --objects) OBJECTS=yes; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (see $0 --help)" ;;
  esac
done

load_env
# Its own object-store account (reads what it copies, writes and prunes backups only) and the off-site one.
s3_account BACKUP_S3 OFFSITE_S3
RETENTION_DAYS=${BACKUP_RETENTION_DAYS:-7}
OBJECT_RETENTION_DAYS=${OBJECT_BACKUP_RETENTION_DAYS:-28}
BACKUP_DIR=${BACKUP_DIR:-$VAR/backups}
export BACKUP_DIR
PYTHON=${BACKUP_PYTHON:-$ROOT/backend/.venv/bin/python}
APP_DB="$(url_part "$DATABASE_URL" path)"
[ -n "$DATABASE" ] || DATABASE=$APP_DB
# The application database's backups are recorded for Prometheus (a copy of a scratch database is not).
record() { [ "$DATABASE" != "$APP_DB" ] || "$PYTHON" "$ROOT/backup/metrics.py" "$@" || warn "could not record the metrics"; }
# Whatever step fails, however it fails, is recorded as that step's failure (the BackupFailed alert).
STEP=database CNF="" PARTIAL=""
trap 'rc=$?; rm -f "$CNF" "$PARTIAL"; [ $rc -eq 0 ] || record "$STEP" failed' EXIT
DUMP=$(command -v mariadb-dump || command -v mysqldump) || die "mariadb-dump (mysqldump) is not installed"
command -v age >/dev/null || die "age is not installed (make install; Debian package age)"
RECIPIENTS=${BACKUP_AGE_RECIPIENTS_FILE:-var/backup-recipients.txt}
case $RECIPIENTS in /*) ;; *) RECIPIENTS="$ROOT/$RECIPIENTS" ;; esac
[ -s "$RECIPIENTS" ] || die "no backup public key at $RECIPIENTS (make env makes the local one; the key ceremony: docs/runbooks/backup-and-restore.md)"
# The schema owner dumps: the application's account may not read triggers (docs/security.md).
OWNER_URL=${DATABASE_OWNER_URL:-$DATABASE_URL}

mkdir -p "$BACKUP_DIR" && chmod 700 "$BACKUP_DIR"
CNF="$(mktemp)"
(umask 077; printf '[client]\nuser=%s\npassword=%s\nhost=%s\nport=%s\n' "$(url_part "$OWNER_URL" user)" \
  "$(url_part "$OWNER_URL" password)" "$(url_part "$OWNER_URL" host)" "$(url_part "$OWNER_URL" port)" >"$CNF")

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
NAME="$DATABASE-$STAMP.sql.gz.age"
FILE="$BACKUP_DIR/$NAME"
PARTIAL="$FILE.partial"
say "dumping database '$DATABASE' to $FILE"
started=$SECONDS
# --single-transaction: a consistent InnoDB snapshot without locking the application out. The plain
# text never touches the disk: age encrypts the stream to the public key (the host cannot read it back).
"$DUMP" --defaults-extra-file="$CNF" --single-transaction --routines --triggers --events \
  --hex-blob --default-character-set=utf8mb4 --databases "$DATABASE" | gzip -6 | age -R "$RECIPIENTS" >"$PARTIAL"
mv "$PARTIAL" "$FILE"
(cd "$BACKUP_DIR" && sha256sum "$NAME" >"$NAME.sha256")
say "dump done in $((SECONDS - started)) s: $(du -h "$FILE" | cut -f1) encrypted, sha256 $(cut -c1-16 "$FILE.sha256")..."

if [ -n "$UPLOAD" ]; then
  "$PYTHON" "$ROOT/backup/store.py" put "$FILE" "db/$NAME"
  "$PYTHON" "$ROOT/backup/store.py" put "$FILE.sha256" "db/$NAME.sha256"
  say "uploaded to the backups bucket as db/$NAME"
  "$PYTHON" "$ROOT/backup/store.py" prune db/ "$RETENTION_DAYS"
fi
record database ok "$((SECONDS - started))" "$(stat -c %s "$FILE")"

# Local retention: dumps (and their checksums) older than the retention period go.
find "$BACKUP_DIR" -maxdepth 1 -name "*.sql.gz*" -mmin +$((RETENTION_DAYS * 24 * 60)) -print -delete

if [ -n "$OBJECTS" ]; then
  STEP=objects started=$SECONDS
  say "copying the object-storage buckets, encrypted (weekly backup)"
  "$PYTHON" "$ROOT/backup/store.py" copy-buckets "$STAMP"
  "$PYTHON" "$ROOT/backup/store.py" prune objects/ "$OBJECT_RETENTION_DAYS"
  record objects ok "$((SECONDS - started))"
fi

if [ -n "$UPLOAD" ]; then  # every backup the off-site store lacks (today's, and any an outage held back)
  STEP=offsite started=$SECONDS
  "$PYTHON" "$ROOT/backup/store.py" mirror
  record offsite ok "$((SECONDS - started))"
fi
echo "$FILE"
