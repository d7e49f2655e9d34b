#!/usr/bin/env bash
# The restore drill: restores the newest backup into a scratch database and a scratch bucket, verifies
# it, and prints the measured RTO and RPO.
#
#   backup/restore_drill.sh [--offsite] [--identity FILE] [--keep]
#   make restore-drill
#
# 1. The newest database dump of the backups bucket (--offsite: of the off-site store) is downloaded,
#    checked (sha256, decryption, gzip, completeness) and restored into test_<database>_drill by
#    backup/restore.sh, which compares every table's row count with the dump's and verifies the audit
#    chain (manage.py verify_audit_chain) on the restored data.
# 2. The newest weekly object copy is decrypted into the scratch bucket <S3_BUCKET_PREFIX>cdss-restore-drill,
#    each object checked against the sha256 of the encrypted manifest.
# 3. RTO: the wall time of 1 and 2 (the restore of the data at hand, download included). RPO: the age of
#    the newest database dump (and of the newest object copy) when the drill starts. Both are printed and
#    recorded for Prometheus (backup/metrics.py: cdss_backup_drill_*; kind "drill" of the backup metrics).
# The scratch database is dropped and the scratch bucket emptied afterwards, unless --keep.
# Needs the private key (--identity, BACKUP_AGE_IDENTITY, or the local run's var/offsite/backup-identity.txt):
# run it where the key is brought for the drill (docs/runbooks/backup-and-restore.md, "Restore drill").
set -o errexit -o pipefail -o nounset
. "$(dirname "$0")/../scripts/_lib.sh"

OFFSITE="" KEEP="" IDENTITY=${BACKUP_AGE_IDENTITY:-}
while [ $# -gt 0 ]; do
  case "$1" in
    --offsite) OFFSITE=--offsite; shift ;;
    --identity) IDENTITY=${2:?--identity needs a file}; shift 2 ;;
    --keep) KEEP=yes; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (see $0 --help)" ;;
  esac
done

load_env
s3_account S3_ADMIN OFFSITE_S3  # as restore.sh: the admin may make and fill the scratch bucket
PYTHON=${BACKUP_PYTHON:-$ROOT/backend/.venv/bin/python}
export BACKUP_AGE_IDENTITY=${IDENTITY:-$VAR/offsite/backup-identity.txt}
[ -s "$BACKUP_AGE_IDENTITY" ] || die "no backup private key at $BACKUP_AGE_IDENTITY: bring it (--identity FILE; see the runbook)"
APP_DB="$(url_part "$DATABASE_URL" path)"
SCRATCH_DB="test_${APP_DB}_drill"  # the schema owner may create test_<database>* databases
SCRATCH_BUCKET="${S3_BUCKET_PREFIX:-}cdss-restore-drill"
store() { "$PYTHON" "$ROOT/backup/store.py" $OFFSITE "$@"; }
scratch() { "$PYTHON" "$ROOT/backup/store.py" empty "$SCRATCH_BUCKET"; }  # on the live store, as the admin
trap 'rc=$?; [ $rc -eq 0 ] || "$PYTHON" "$ROOT/backup/metrics.py" drill failed || true' EXIT

age_of() {  # age_of KEY  ->  seconds since the UTC stamp (YYYYmmddTHHMMSSZ) in the key's name
  local stamp; stamp=$(sed -n 's/.*\([0-9]\{8\}T[0-9]\{6\}Z\).*/\1/p' <<<"$1" | tail -n 1)
  [ -n "$stamp" ] || die "no time stamp in '$1'"
  echo $(( $(date -u +%s) - $(date -u -d "${stamp:0:4}-${stamp:4:2}-${stamp:6:2} ${stamp:9:2}:${stamp:11:2}:${stamp:13:2}" +%s) ))
}

dump=$(store latest db/); dump=${dump%.sha256}
[ -n "$dump" ] || die "no database backup in the ${OFFSITE:+off-site }backups bucket"
objects=$(store latest objects/ | sed -n 's|^objects/\([^/]*\)/.*|\1|p')
rpo=$(age_of "$dump")
rpo_objects=$([ -n "$objects" ] && age_of "$objects" || echo "")
say "restore drill: ${dump#db/} (RPO ${rpo} s)${objects:+, objects $objects (RPO ${rpo_objects} s)}"

mkdir -p "$VAR/log" "$VAR/run"
started=$(date +%s.%N)
"$ROOT/backup/restore.sh" --from-storage "${dump#db/}" $OFFSITE --database "$SCRATCH_DB" --yes | tee "$VAR/log/restore-drill.last"
restored_objects=0
if [ -n "$objects" ]; then
  scratch
  store restore-buckets "$objects" "$SCRATCH_BUCKET" | tee -a "$VAR/log/restore-drill.last"
  restored_objects=$(tail -n 1 "$VAR/log/restore-drill.last" | sed -n 's/^restored \([0-9]*\) objects.*/\1/p')
else
  warn "no object copy yet (backup/backup.sh --objects makes the weekly one)"
fi
rto=$(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $started }")
"$PYTHON" "$ROOT/backup/metrics.py" drill ok
"$PYTHON" "$ROOT/backup/metrics.py" drill "$rto" "$rpo"

if [ -z "$KEEP" ]; then
  owner=${DATABASE_OWNER_URL:-$DATABASE_URL}
  (umask 077; printf '[client]\nuser=%s\npassword=%s\nhost=%s\nport=%s\n' "$(url_part "$owner" user)" \
    "$(url_part "$owner" password)" "$(url_part "$owner" host)" "$(url_part "$owner" port)" >"$VAR/run/drill.cnf")
  mariadb --defaults-extra-file="$VAR/run/drill.cnf" -e "DROP DATABASE IF EXISTS \`$SCRATCH_DB\`"; rm -f "$VAR/run/drill.cnf"
  [ -z "$objects" ] || scratch
fi
rows=$(sed -n 's/.*rows: \([0-9]*\) in.*/\1/p' "$VAR/log/restore-drill.last" | tail -n 1)
tables=$(sed -n 's/.* verified: \([0-9]*\) tables.*/\1/p' "$VAR/log/restore-drill.last" | tail -n 1)
printf 'RESTORE DRILL PASSED: RTO %s s, RPO %s s (newest dump %s%s); restored and verified: %s tables, %s rows (each table as in the dump), the audit chain, %s objects (sha256)\n' \
  "$rto" "$rpo" "${dump#db/}" "${objects:+; object copy $objects, RPO $rpo_objects s}" "$tables" "$rows" "$restored_objects"
