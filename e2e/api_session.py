"""A requests session signed in to the running stack's API as a demo account (one without a second factor),
for fixtures that set the scene through the API; module- and session-scoped fixtures cannot use the
function-scoped `token_headers`."""

from contextlib import contextmanager

import requests
from second_factor import api_token


@contextmanager
def api_session(base_url: str, env: dict[str, str], username: str = "radiologist"):
    """Yields the session with a fresh API token in its headers; the token is revoked after."""
    with requests.Session() as http:
        http.verify, http.trust_env = False, False  # the local run's certificate is self-signed
        http.headers.update(api_token(http, base_url, env, username))
        try:
            yield http
        finally:
            http.delete(f"{base_url}/api/auth/token", timeout=10)
