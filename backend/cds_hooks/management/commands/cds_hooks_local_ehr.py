"""`manage.py cds_hooks_local_ehr DIR`: the local run's stand-in EHR for CDS Hooks (scripts/run.sh).

When .env configures no issuer (CDS_HOOKS_ISSUERS), scripts/run.sh has the local run trust one local EHR,
issuer LOCAL_ISSUER: its ES384 private key is made once in DIR/cds-ehr-key.pem (mode 600, never committed), and
DIR/cds-hooks.env names its public key inline, for scripts/_lib.sh load_env to hand to every process. The
e2e test and the latency benchmark sign their JWTs with that key. With issuers in .env, run.sh removes the env file.
"""

import json
import os
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.management.base import BaseCommand

LOCAL_ISSUER = "urn:cdss:local-ehr"
KID = "local-ehr-1"


class Command(BaseCommand):
    help = "Trust a local EHR key for CDS Hooks when no issuer is configured (the local run only)."

    def add_arguments(self, parser):
        parser.add_argument("directory")

    def handle(self, *args, directory: str, **options):
        run = Path(directory)
        key_path, env_path = run / "cds-ehr-key.pem", run / "cds-hooks.env"
        if not key_path.exists():
            key = ec.generate_private_key(ec.SECP384R1())
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(pem)
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
        issuers = [{"iss": LOCAL_ISSUER, "jwks": {"keys": [{**public, "kid": KID, "alg": "ES384", "use": "sig"}]}}]
        env_path.write_text(f"CDS_HOOKS_ISSUERS='{json.dumps(issuers, separators=(',', ':'))}'\n", encoding="utf-8")
        self.stdout.write(f"CDS Hooks: the local EHR {LOCAL_ISSUER} is trusted (key {key_path})")
