"""What the running stack (make run) was started with: .env, then the stand-ins' addresses that
scripts/services.sh wrote (honcho reads the same two files) and the demo accounts' TOTP secrets that
seed_demo wrote, then this process's environment. Used by
the e2e suite and by the benchmarks that measure the running stack."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def stack_env() -> dict[str, str]:
    values = {}
    for path in (ROOT / ".env", ROOT / "var" / "run" / "standins.env", ROOT / "var" / "run" / "demo-otp.env"):
        for line in path.read_text(encoding="utf-8").splitlines() if path.exists() else []:
            if line.strip() and not line.lstrip().startswith("#") and "=" in line:
                key, _, value = line.partition("=")
                values[key.strip()] = value.strip()
    return {**values, **os.environ}
