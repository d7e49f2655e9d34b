"""Fixtures of the CDS Hooks tests: an EHR's signing keys (ES384 and RS384) on the issuer allow-list, a
signer of its JWTs, the specification's example requests, and a CDSS patient known to the FHIR stand-in."""

import copy
import json
import time
import uuid
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.test import Client

SPEC = Path(__file__).parent / "spec"
BASE = "https://cds.example.org"
ISS = "https://ehr.example.org/"
WEB = "https://cdss.example.org"


def spec(name: str) -> dict:
    return json.loads((SPEC / name).read_text())


class Ehr:
    """An EHR with an EC P-384 and an RSA key, registered with inline keys."""

    def __init__(self):
        self.ec = ec.generate_private_key(ec.SECP384R1())
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.keys = {
            "ES384": ("ehr-ec-1", self.ec, jwt.algorithms.ECAlgorithm),
            "RS384": ("ehr-rsa-1", self.rsa, jwt.algorithms.RSAAlgorithm),
        }

    def jwks(self) -> dict:
        keys = []
        for alg, (kid, key, algorithm) in self.keys.items():
            public = json.loads(algorithm.to_jwk(key.public_key()))
            keys.append({**public, "kid": kid, "alg": alg, "use": "sig"})
        return {"keys": keys}

    def token(self, path: str, *, alg: str = "ES384", headers: dict | None = None, **claims) -> str:
        kid, key, _ = self.keys[alg]
        now = int(time.time())
        body = {"iss": ISS, "aud": BASE + path, "exp": now + 120, "iat": now, "jti": str(uuid.uuid4())}
        body.update(claims)
        body = {name: value for name, value in body.items() if value is not None}
        return jwt.encode(body, key, algorithm=alg, headers={"kid": kid, "typ": "JWT", **(headers or {})})


@pytest.fixture(scope="session")
def ehr_keys():
    return Ehr()


@pytest.fixture
def ehr(settings, ehr_keys):
    settings.CDS_HOOKS_ISSUERS = [{"iss": ISS, "jwks": ehr_keys.jwks()}]
    settings.CDS_HOOKS_BASE_URL = BASE
    settings.CDS_HOOKS_WEB_URL = WEB
    settings.CDS_HOOKS_CORS_ORIGINS = ["https://ehr-web.example.org"]
    return ehr_keys


@pytest.fixture
def cds(ehr):
    """call(method, path, body=None, token=...) -> response; a valid JWT for the path unless given."""
    client = Client(HTTP_ACCEPT_LANGUAGE="en")

    def call(method: str, path: str, body=None, *, token: str | None = None, **headers):
        auth = token if token is not None else ehr.token(path)
        extra = {"HTTP_AUTHORIZATION": f"Bearer {auth}"} if auth else {}
        extra.update(headers)
        if method == "get":
            return client.get(path, **extra)
        if method == "options":
            return client.options(path, **extra)
        return client.post(path, data=json.dumps(body), content_type="application/json", **extra)

    return call


@pytest.fixture
def doctor_user(make_user):
    return make_user("DOCTOR")


@pytest.fixture
def fhir_patient(db, fhir):
    """(CDSS patient, its FHIR id on the stand-in): the Patient written as fhir_sync writes it."""
    from ai.tests.factories import make_patient
    from fhir_sync.clients.hapi_client import get_hapi_client
    from fhir_sync.transforms import patient as patient_resource

    patient = make_patient()
    written = get_hapi_client().create(patient_resource(patient))
    return patient, written.id


def with_patient(request: dict, patient_id: str) -> dict:
    """A copy of a spec request about another patient (its references moved along)."""
    text = json.dumps(request).replace("1288992", patient_id)
    return copy.deepcopy(json.loads(text))
