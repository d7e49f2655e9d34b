#!/usr/bin/env bash
# Create .env from .env.example once, replacing every "__generate__" with its own random secret.
# Secrets already in .env are never changed, so they stay stable between runs.
set -o errexit -o pipefail -o nounset
. "$(dirname "$0")/_lib.sh"

# An existing .env keeps its values; variables that .env.example gained since are appended to it, and the
# few retired ones (RETIRED below) are commented out.
umask 077
python3 - "$ROOT/.env.example" "$ROOT/.env" <<'PY'
import os, secrets, sys
src, dst = sys.argv[1:]

def filled(line):
    while not line.lstrip().startswith("#") and "__generate__" in line:
        line = line.replace("__generate__", secrets.token_hex(16), 1)
    return line

example = open(src, encoding="utf-8").read().splitlines(keepends=True)
if not os.path.exists(dst):
    print("==> creating .env with fresh random secrets")
    with open(dst, "w", encoding="utf-8") as out:
        out.writelines(filled(line) for line in example)
    sys.exit(0)
# Variables .env.example no longer has and that would now mislead: commented out, with the reason.
RETIRED = {
    "S3_ACCESS_KEY": "one object-store account per service now: APP_/AI_/BACKUP_/MODELS_S3_* and S3_ADMIN_*",
    "S3_SECRET_KEY": "see S3_ACCESS_KEY",
}


def name(line):
    return line.split("=", 1)[0].strip() if "=" in line and not line.lstrip().startswith("#") else None


lines = open(dst, encoding="utf-8").read().splitlines(keepends=True)
if any(name(line) in RETIRED for line in lines):
    print("==> retiring from .env: " + ", ".join(name(line) for line in lines if name(line) in RETIRED))
    with open(dst, "w", encoding="utf-8") as out:
        out.writelines(f"# {name(line)}: retired ({RETIRED[name(line)]})\n" if name(line) in RETIRED else line for line in lines)
present = {line.split("=", 1)[0].strip() for line in open(dst, encoding="utf-8") if "=" in line and not line.startswith("#")}
missing = [line for line in example if "=" in line and not line.startswith("#") and line.split("=", 1)[0].strip() not in present]
if missing:
    print("==> adding to .env: " + ", ".join(line.split("=", 1)[0] for line in missing))
    with open(dst, "a", encoding="utf-8") as out:
        out.write("\n# added from .env.example\n")
        out.writelines(filled(line if line.endswith("\n") else line + "\n") for line in missing)
PY

# The backups' age key pair for the local run (docs/runbooks/backup-and-restore.md, "Encryption keys"):
# the public key where backup/backup.sh reads it; the private key in var/offsite/, which stands in for
# the safe off this host that a hospital keeps it in (the restore drill and restores read it from there).
# A production host is given the public key only; nothing here makes a key when one is configured.
load_env
recipients=${BACKUP_AGE_RECIPIENTS_FILE:-var/backup-recipients.txt}
case $recipients in /*) ;; *) recipients="$ROOT/$recipients" ;; esac
if [ ! -s "$recipients" ]; then
  if command -v age-keygen >/dev/null; then
    identity="$VAR/offsite/backup-identity.txt"
    mkdir -p "$(dirname "$recipients")" "$VAR/offsite" && chmod 700 "$VAR/offsite"
    [ -s "$identity" ] || age-keygen -o "$identity" 2>/dev/null
    age-keygen -y "$identity" >"$recipients"
    chmod 644 "$recipients"
    say "backup encryption: public key $recipients, private key $identity (off-site in production)"
  else
    warn "age is not installed (make install): no backup key pair yet; backups refuse to run without one"
  fi
fi
