#!/usr/bin/env bash
# GPU check (issue #19): on a machine with an NVIDIA GPU, from a copy of the repository, with no services:
# makes a virtual environment from ai-server/requirements-cuda.lock (torch 2.13.0 with its CUDA wheels, every
# package pinned with its hash, from whatever package index pip is configured with), then runs
# benchmarks/gpu_check.py: the MRI job on CUDA in float16 against CPU float32, Dice of the masks >= 0.99,
# forward and end-to-end times. With OUT set, the figures go to $OUT/gpu_check.json.
#
#   ai-server/benchmarks/gpu_check.sh                       # install (once), then check on cuda
#   ai-server/benchmarks/gpu_check.sh --device cpu --python ai-server/.venv/bin/python   # no install, CPU only
#
# Options of its own (the rest go to gpu_check.py: --device, --fp32, --rounds, --min-dice, --json):
#   --python PATH   an interpreter that already has the ai-server's packages: nothing is installed
#   --venv DIR      where to make the environment (default: var/gpu-check-venv in the repository)
set -euo pipefail

AI_SERVER=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=$(dirname "$AI_SERVER")
PYTHON=""
VENV="$ROOT/var/gpu-check-venv"
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --python) PYTHON=$(realpath -s "$2"); shift 2 ;;
    --venv) VENV=$(realpath -sm "$2"); shift 2 ;;
    *) ARGS+=("$1"); shift ;;
  esac
done

if [ -z "$PYTHON" ]; then
  if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
  fi
  PYTHON="$VENV/bin/python"
  LOCK="$AI_SERVER/requirements-cuda.lock"
  STAMP="$VENV/.installed-$(sha256sum "$LOCK" | cut -c1-16)"
  if [ ! -e "$STAMP" ]; then
    BASE=${BASE_PYTHON:-python3}
    if ! "$BASE" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      echo "note: the locks are made for Python 3.11; $("$BASE" --version) may find no wheel for some pins" >&2
    fi
    "$BASE" -m venv "$VENV"
    started=$(date +%s)
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --require-hashes -r "$LOCK"
    echo "installed $(basename "$LOCK") in $(( $(date +%s) - started )) s" >&2
    touch "$STAMP"
  fi
fi

cd "$AI_SERVER"
PYTHONPATH="$AI_SERVER/src${PYTHONPATH:+:$PYTHONPATH}" exec "$PYTHON" benchmarks/gpu_check.py "${ARGS[@]}"
