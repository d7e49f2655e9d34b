#!/usr/bin/env bash
# Create .env from .env.example once, replacing every "__generate__" with its own random secret.
# An existing .env is never touched, so secrets stay stable between runs.
set -o errexit -o pipefail -o nounset
. "$(dirname "$0")/_lib.sh"

if [ -f "$ROOT/.env" ]; then exit 0; fi
say "creating .env with fresh random secrets"
umask 077
python3 - "$ROOT/.env.example" "$ROOT/.env" <<'PY'
import secrets, sys
src, dst = sys.argv[1:]
lines = open(src, encoding="utf-8").read().splitlines(keepends=True)
with open(dst, "w", encoding="utf-8") as out:
    for line in lines:
        while not line.lstrip().startswith("#") and "__generate__" in line:
            line = line.replace("__generate__", secrets.token_hex(16), 1)
        out.write(line)
PY
