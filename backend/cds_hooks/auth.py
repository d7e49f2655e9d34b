"""Who is calling: the EHR's signed JWT, checked as CDS Hooks 2.0 requires ("Trusting CDS Clients").

Every call (discovery and feedback included) carries `Authorization: Bearer <JWT>`, signed with the
EHR's private key (ES384 or RS384; never `none`, never HMAC). The service accepts it only when:
- `iss` is on the allow-list (settings.CDS_HOOKS_ISSUERS), and a `jku` header, if any, is one of the
  issuer's own key-set URLs;
- the signature verifies with the issuer's key named by `kid` (inline keys, or the issuer's JWK Set URL,
  fetched and cached; fetched again once when a new `kid` appears, for key rotation);
- `aud` is the URL that was called, `exp` has not passed and is at most CDS_HOOKS_JWT_MAX_SECONDS ahead,
  `iat` is not in the future, and `jti` was not seen before (Redis remembers it until it expires).
Anything else is `Refused`, answered 401 with no detail.
"""

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from django.conf import settings
from django.core.cache import cache

from core.http import ExternalSession, ExternalSystemError, Timeouts

ALGORITHMS = ("ES384", "RS384")
SYSTEM = "ehr-keys"
REQUIRED_CLAIMS = ("iss", "aud", "exp", "iat", "jti")
_REFETCH_PAUSE_SECONDS = 60  # an unknown kid makes at most one fetch of the key set per minute


class Refused(Exception):
    """The token is missing or not acceptable; the reason is for the logs, never for the caller."""


@dataclass(frozen=True)
class Issuer:
    iss: str
    jwks: dict | None = None  # inline {"keys": [...]}
    jwks_url: str = ""
    jku: tuple[str, ...] = ()  # the key-set URLs a token may name in its jku header
    fhir_servers: tuple[str, ...] = ()  # the EHR's FHIR servers the service may query with its token


@dataclass
class CdsClient:
    """The EHR that called, as the audit trail's actor (a service, not a CDSS user)."""

    issuer: Issuer
    claims: dict[str, Any]
    is_authenticated: bool = True
    is_service_account: bool = True
    pk: None = None
    roles: list = field(default_factory=list)

    def get_username(self) -> str:
        return f"cds-client:{self.issuer.iss}"[:150]

    @property
    def tenant(self) -> str:
        return str(self.claims.get("tenant") or "")


def issuers() -> dict[str, Issuer]:
    found = {}
    for entry in settings.CDS_HOOKS_ISSUERS or []:
        url = str(entry.get("jwks_url") or "")
        found[entry["iss"]] = Issuer(
            iss=entry["iss"],
            jwks=entry.get("jwks"),
            jwks_url=url,
            jku=tuple(dict.fromkeys([*([url] if url else []), *entry.get("jku", [])])),
            fhir_servers=tuple(server.rstrip("/") for server in entry.get("fhir_servers", [])),
        )
    return found


def bearer(request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Refused("no bearer token")
    return token.strip()


def authenticate(request, *, audience: str) -> CdsClient:
    return verify(bearer(request), audience=audience)


def verify(token: str, *, audience: str, now: float | None = None) -> CdsClient:
    """The caller, when `token` is acceptable for a call to `audience` (the URL called)."""
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise Refused(f"malformed token: {exc}") from exc
    if header.get("alg") not in ALGORITHMS:
        raise Refused(f"algorithm {header.get('alg')!r} not accepted")
    if header.get("typ", "JWT") != "JWT" or not header.get("kid"):
        raise Refused("typ must be JWT and kid is required")
    issuer = issuers().get(str(unverified.get("iss")))
    if issuer is None:
        raise Refused("issuer not on the allow-list")
    if header.get("jku") and header["jku"] not in issuer.jku:
        raise Refused("jku not one of the issuer's key sets")
    key = _key(issuer, str(header["kid"]), header["alg"])
    now = time.time() if now is None else now
    leeway = settings.CDS_HOOKS_JWT_LEEWAY_SECONDS
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[header["alg"]],
            audience=audience,
            issuer=issuer.iss,
            leeway=leeway,
            options={"require": list(REQUIRED_CLAIMS), "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError as exc:
        raise Refused(f"token rejected: {exc}") from exc
    exp, iat = claims["exp"], claims["iat"]
    if not isinstance(exp, int | float) or not isinstance(iat, int | float):
        raise Refused("exp and iat must be numbers")
    if exp < now - leeway:
        raise Refused("expired")
    if exp > now + settings.CDS_HOOKS_JWT_MAX_SECONDS + leeway:
        raise Refused("expires too far ahead")
    if iat > now + leeway:
        raise Refused("issued in the future")
    _once(issuer.iss, str(claims["jti"]), ttl=int(exp - now + leeway) + 1)
    return CdsClient(issuer=issuer, claims=claims)


def _once(iss: str, jti: str, *, ttl: int) -> None:
    """Remember the jti until the token expires; a second use is a replay."""
    digest = hashlib.sha256(f"{iss}\n{jti}".encode()).hexdigest()
    if not cache.add(f"cds_hooks:jti:{digest}", 1, timeout=max(ttl, 1)):
        raise Refused("jti replayed")


def _key(issuer: Issuer, kid: str, alg: str):
    keys = _key_set(issuer, refresh=False)
    found = _find(keys, kid)
    if found is None and issuer.jwks_url:
        marker = f"cds_hooks:jwks-refetch:{_digest(issuer.jwks_url)}"
        if cache.add(marker, 1, timeout=_REFETCH_PAUSE_SECONDS):  # a new kid: perhaps the EHR rotated its keys
            found = _find(_key_set(issuer, refresh=True), kid)
    if found is None:
        raise Refused("unknown kid")
    try:
        jwk = jwt.PyJWK(found, algorithm=alg)
    except jwt.PyJWTError as exc:
        raise Refused(f"unusable key: {exc}") from exc
    if found.get("alg") and found["alg"] != alg:
        raise Refused("the key is for another algorithm")
    return jwk.key


def _find(keys: list[dict], kid: str) -> dict | None:
    return next((key for key in keys if isinstance(key, dict) and key.get("kid") == kid), None)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _key_set(issuer: Issuer, *, refresh: bool) -> list[dict]:
    if issuer.jwks is not None:
        return list(issuer.jwks.get("keys", []))
    if not issuer.jwks_url:
        return []
    name = f"cds_hooks:jwks:{_digest(issuer.jwks_url)}"
    if not refresh:
        cached = cache.get(name)
        if cached is not None:
            return cached
    keys = _fetch(issuer.jwks_url)
    cache.set(name, keys, timeout=settings.CDS_HOOKS_JWKS_CACHE_SECONDS)
    return keys


def _fetch(url: str) -> list[dict]:
    session = ExternalSession(SYSTEM, url, timeouts=Timeouts(connect=2, read=3), retries=0)
    try:
        response = session.request("GET", url, resource_type="jwks", headers={"Accept": "application/json"})
    except ExternalSystemError as exc:
        raise Refused(f"the issuer's key set could not be fetched: {exc}") from exc
    if response.status_code != 200:
        raise Refused(f"the issuer's key set answered {response.status_code}")
    try:
        keys = json.loads(response.content).get("keys")
    except (ValueError, AttributeError) as exc:
        raise Refused("the issuer's key set is not JSON") from exc
    if not isinstance(keys, list):
        raise Refused("the issuer's key set has no keys")
    return keys
