"""The S3 stand-in of the local run and the tests: moto's server with its IAM checks switched on.

At start it creates the object-store accounts of docs/security.md ("Object-store accounts"), each with
the access key the environment gives it (scripts/process.sh hands the same keys to the processes) and
the policy of deploy/object-store/policies/<account>.json; the admin account may do every S3 action.
From then on a request must be signed by one of these keys and is checked against its account's policy,
as MinIO does in docker compose. moto keeps everything in memory: the accounts are made again at every
start (scripts/services.sh restarts the stand-in when a key or a policy changed), the objects are lost.

Where moto is more lenient than S3 and MinIO, the stand-in closes the gap itself (`guarded`):
- moto's control API (/moto-api/) would let any local process reset the store, switch the checks off or
  read every key: it is closed; only `GET /moto-api/` answers, for the health probe;
- moto lets anyone allowed to write an object shorten its COMPLIANCE retention (S3 and MinIO never do), so
  an audit checkpoint's lock could be lifted: a stored version's retention cannot be changed here at all
  (the CDSS sets it only when it writes the version: audit.checkpoints).

    backend/.venv/bin/python -m standins.s3 --port 9000   (from the repository root; keys: ACCOUNTS below)
"""

import argparse
import json
import os
import sys
from pathlib import Path
from urllib.parse import parse_qs

POLICIES = Path(__file__).resolve().parents[1] / "deploy" / "object-store" / "policies"
# account -> the environment variables of its key; the admin account's policy is every S3 action.
ACCOUNTS = {
    "cdss-admin": "S3_ADMIN",
    "cdss-app": "APP_S3",
    "cdss-ai": "AI_S3",
    "cdss-backup": "BACKUP_S3",
    "cdss-models": "MODELS_S3",
    # The backups' off-site account: in production a second object store; locally this stand-in hosts
    # its bucket too, with the account's own key and policy (docs/runbooks/backup-and-restore.md).
    "cdss-offsite": "OFFSITE_S3",
}
ADMIN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}


def policy(account: str, prefixes: list[str]) -> dict:
    """The account's policy with ${S3_BUCKET_PREFIX} replaced by each prefix: one stand-in serves the
    running system and the backend tests, whose buckets are the same names behind `test-`."""
    if account == "cdss-admin":
        return ADMIN_POLICY
    document = json.loads((POLICIES / f"{account}.json").read_text(encoding="utf-8"))
    for statement in document["Statement"]:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        statement["Resource"] = [r.replace("${S3_BUCKET_PREFIX}", p) for r in resources for p in prefixes]
    return document


def keys_from_environment() -> dict[str, tuple[str, str]]:
    keys, missing = {}, []
    for account, variable in ACCOUNTS.items():
        access, secret = os.environ.get(f"{variable}_ACCESS_KEY", ""), os.environ.get(f"{variable}_SECRET_KEY", "")
        if not access or not secret:
            missing.append(f"{variable}_ACCESS_KEY/{variable}_SECRET_KEY")
        keys[account] = (access, secret)
    if missing:
        sys.exit(f"the S3 stand-in needs every account's key: {', '.join(missing)} not set (run `make env`)")
    return keys


def provision(keys: dict[str, tuple[str, str]], prefixes: list[str]) -> None:
    """Each account as an IAM user of moto's default AWS account, with its policy and its key. moto makes
    up the ids and secrets of the keys it creates; the key is given the values from the environment."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import iam_backends

    iam = iam_backends[DEFAULT_ACCOUNT_ID]["aws"]
    for account, (access, secret) in keys.items():
        iam.create_user(region_name="us-east-1", user_name=account)
        iam.put_user_policy(account, "cdss", json.dumps(policy(account, prefixes)))
        key = iam.create_access_key(account)
        del iam.access_keys[key.access_key_id]
        key.access_key_id, key.secret_access_key = access, secret
        iam.access_keys[access] = key


def guarded(app):
    """WSGI middleware: 403 for /moto-api/ (reset, reset-auth, data.json...) but its health probe, for a
    change of a stored version's retention, and for unsigned requests (moto answers those with a 500)."""

    def refuse(start_response, why: str):  # as S3 answers, so that clients report AccessDenied
        start_response("403 Forbidden", [("Content-Type", "application/xml")])
        return [f"<Error><Code>AccessDenied</Code><Message>{why}</Message></Error>".encode()]

    def call(environ, start_response):
        path, query = environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")
        if path == "/moto-api/" and environ.get("REQUEST_METHOD") == "GET":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok\n"]
        if path.startswith("/moto-api"):
            return refuse(start_response, "the stand-in's control API is closed")
        if environ.get("REQUEST_METHOD") == "PUT" and "retention" in parse_qs(query, keep_blank_values=True):
            return refuse(start_response, "the retention of a stored version cannot change")
        if "HTTP_AUTHORIZATION" not in environ and "X-Amz-Credential" not in query:
            return refuse(start_response, "unsigned request")
        return app(environ, start_response)

    return call


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="S3 stand-in: moto with the CDSS accounts and their policies.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args(argv)
    keys = keys_from_environment()
    prefix = os.environ.get("S3_BUCKET_PREFIX", "")

    from moto import settings as moto_settings
    from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    provision(keys, [prefix, f"test-{prefix}"])
    moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = 0  # every request from now on is signed and checked
    app = guarded(DomainDispatcherApplication(create_backend_app))
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
