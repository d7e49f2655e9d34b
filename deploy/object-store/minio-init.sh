#!/bin/bash
# The object store's per-service accounts in compose (docs/security.md, "Object storage accounts"): the
# one-shot service `minio-init` of docker-compose.yml runs it with MinIO's root (MC_HOST_cdss) at every
# `docker compose up`, before anything that uses the store. Each account is a MinIO user whose access and
# secret key come from .env, with the IAM policy deploy/object-store/policies/<account>.json (its
# ${S3_BUCKET_PREFIX} placeholder replaced by S3_BUCKET_PREFIX) as its only policy:
#   cdss-app     APP_S3_ACCESS_KEY / APP_S3_SECRET_KEY         Django and Celery
#   cdss-ai      AI_S3_ACCESS_KEY / AI_S3_SECRET_KEY           the ai-server and its job consumer
#   cdss-backup  BACKUP_S3_ACCESS_KEY / BACKUP_S3_SECRET_KEY   backup/backup.sh, restore.sh
#   cdss-models  MODELS_S3_ACCESS_KEY / MODELS_S3_SECRET_KEY   the model registration (ai-models)
# Idempotent: policies are rewritten, a changed secret key replaces the old one. Buckets are made by
# `manage.py bootstrap` (migrate), as MinIO's root. Needs bash and mc only (the minio/mc image has no sed).
set -o errexit -o nounset -o pipefail
POLICY_DIR=${POLICY_DIR:-/etc/cdss/policies}
prefix=${S3_BUCKET_PREFIX:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for entry in cdss-app:APP cdss-ai:AI cdss-backup:BACKUP cdss-models:MODELS; do
  account=${entry%%:*} access_var=${entry#*:}_S3_ACCESS_KEY secret_var=${entry#*:}_S3_SECRET_KEY
  access=${!access_var:?$access_var is not set} secret=${!secret_var:?$secret_var is not set}
  policy=$(<"$POLICY_DIR/$account.json")
  printf '%s\n' "${policy//'${S3_BUCKET_PREFIX}'/$prefix}" >"$work/$account.json"
  mc --quiet admin policy create cdss "$account" "$work/$account.json"
  mc --quiet admin user add cdss "$access" "$secret"
  mc --quiet admin policy attach cdss "$account" --user "$access"  # "already attached" is not an error
  echo "object store: $access holds the policy $account"
done
