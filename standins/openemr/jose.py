"""Just enough JOSE for OpenEMR's token endpoint, standard library only: base64url, tokens shaped like
its JWTs, and RS384 signature checks of SMART backend-services assertions."""

import base64
import hashlib
import hmac
import json
import secrets

SHA384_DIGEST_INFO = bytes.fromhex("3041300d060960864801650304020205000430")  # DER prefix of a SHA-384 digest


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_shaped(claims: dict) -> str:
    """A token that looks like OpenEMR's signed JWTs. Clients must treat tokens as opaque; nothing checks
    the signature, the server looks tokens up in its store."""
    header = {"typ": "JWT", "alg": "RS256", "kid": "emulator"}
    parts = [b64url(json.dumps(part).encode()) for part in (header, claims)]
    return ".".join([*parts, b64url(secrets.token_bytes(64))])


def rs384_valid(signing_input: bytes, signature: bytes, jwk: dict) -> bool:
    """RSASSA-PKCS1-v1_5 with SHA-384 (JWS RS384) using only the standard library."""
    try:
        modulus = int.from_bytes(b64url_decode(jwk["n"]), "big")
        exponent = int.from_bytes(b64url_decode(jwk["e"]), "big")
    except (KeyError, ValueError, TypeError):
        return False
    size = (modulus.bit_length() + 7) // 8
    if len(signature) != size:
        return False
    decoded = pow(int.from_bytes(signature, "big"), exponent, modulus).to_bytes(size, "big")
    digest = SHA384_DIGEST_INFO + hashlib.sha384(signing_input).digest()
    expected = b"\x00\x01" + b"\xff" * (size - len(digest) - 3) + b"\x00" + digest
    return hmac.compare_digest(decoded, expected)
