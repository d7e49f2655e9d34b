"""The demo accounts' second factor: admin and ops sign in with a TOTP code (RFC 6238, as an authenticator
app computes it) from the secret `seed_demo` wrote into var/run/demo-otp.env (read by stack_env)."""

import base64
import hashlib
import hmac
import struct
import time

import requests

STEP = 30
SECRET_PREFIX = "DEMO_OTP_SECRET_"  # noqa: S105 - a name prefix: + the username in capitals (var/run/demo-otp.env)


def totp(secret: str, step_offset: int = 0) -> str:
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    counter = int(time.time() // STEP) + step_offset
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def secret_of(env: dict[str, str], username: str) -> str | None:
    return env.get(f"{SECRET_PREFIX}{username.upper()}")


def with_code(env: dict[str, str], username: str, attempt, refused=lambda response: response.status_code == 401):
    """attempt(code) -> response, retried while `refused(response)`. The server takes each step's code
    once (another test may just have used it) and accepts the next step's too; after a failure it makes the
    next try wait (1 s, then 2 s ...), and past those two it takes a fresh step."""
    secret = secret_of(env, username)
    assert secret, f"no {SECRET_PREFIX}{username.upper()}: `make run` (seed_demo) writes var/run/demo-otp.env"
    deadline = time.time() + 75
    while True:
        for offset in (0, 1):
            response = attempt(totp(secret, offset))
            if not refused(response) or time.time() > deadline:
                return response
            time.sleep(2.2)
        time.sleep(STEP - time.time() % STEP + 0.5)


def api_token(http: requests.Session, base_url: str, env: dict[str, str], username: str) -> dict[str, str]:
    """A fresh API token of a demo account (with its authenticator's code where it has one)."""
    credentials = {"username": username, "password": env["DEMO_PASSWORD"]}

    def ask(code: str | None = None):
        return http.post(
            f"{base_url}/api/auth/token", json={**credentials, **({"otp": code} if code else {})}, timeout=10
        )

    response = with_code(env, username, ask) if secret_of(env, username) else ask()
    assert response.status_code == 201, response.text
    return {"Authorization": f"Token {response.json()['token']}"}
