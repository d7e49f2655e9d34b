"""nginx/docker.conf serves the web UI, precompressed where the build compressed it, and routes the rest (the
`deploy` suite; run by scripts/check-deploy-config.sh, which prepares DIR).

    backend/.venv/bin/python scripts/check_nginx_serving.py DIR

DIR holds the check's copy of nginx/docker.conf (as for scripts/check_gateway_unavailable.py). This runs a
copy of it on free loopback ports (scripts/nginx_copy.py) with a stand-in build as the web UI, Django down
and a proxy at 127.0.0.1 trusted (CDSS_TRUSTED_PROXIES), and checks, once as a browser that accepts gzip and
once as a client that does not:
1. `/` and a client route answer index.html (never cached), an asset its file (cached a year, immutable), a
   missing asset 404; /static/ its file; Django's routes nginx's 503 naming it; /metrics 404; each with the
   security headers;
2. an asset or index.html that has a .gz beside it (react/scripts/precompress.mjs) comes gzipped to the
   browser that accepts it, the same bytes once unpacked, and as it is to the other client, with
   Vary: Accept-Encoding both ways; nothing else is compressed (nginx gzips nothing on the fly);
3. a Host naming a Django container is refused (421); the trusted proxy's X-Forwarded-For is the client in
   the access log.
Needs nginx; stops what it started. Prints one line per problem and exits 1 if there is any.
"""

import gzip
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from nginx_copy import Answer, RunningCopy, running_copy

INDEX = b"<!doctype html><title>cdss-spa</title>" + b'<link rel="modulepreload" href="/assets/x.js">' * 20
VIEWER = b'export function pane(){return "cdss-viewer"}\n' * 200
# The stand-in build: one asset the build compressed, one it left alone (gzip would not shrink it).
WEB = {
    "index.html": INDEX,
    "index.html.gz": gzip.compress(INDEX, 9),
    "assets/ViewerPane-5e6f.js": VIEWER,
    "assets/ViewerPane-5e6f.js.gz": gzip.compress(VIEWER, 9),
    "assets/app-1a2b.js": b'console.log("cdss-asset")\n',
}
STATIC = {"site.css": b"body{}\n"}
ACCEPTS_GZIP = {"Accept-Encoding": "gzip, deflate, br"}  # as a browser asks
IDENTITY_ONLY: dict[str, str] = {}  # http.client then sends "Accept-Encoding: identity"


@dataclass
class Expected:
    status: int
    text: bytes  # in the body, unpacked
    cache: str | None = None  # in Cache-Control
    precompressed: bytes | None = None  # the file whose .gz nginx sends to a client that accepts gzip


EXPECTED = {
    "/": Expected(200, b"cdss-spa", "no-cache", precompressed=INDEX),
    "/patients/1": Expected(200, b"cdss-spa", "no-cache", precompressed=INDEX),
    "/assets/ViewerPane-5e6f.js": Expected(200, b"cdss-viewer", "immutable", precompressed=VIEWER),
    "/assets/app-1a2b.js": Expected(200, b"cdss-asset", "immutable"),
    "/assets/missing.js": Expected(404, b""),
    "/static/site.css": Expected(200, b"body{}"),
    "/api/auth/me": Expected(503, b'"system": "cdss-api"'),
    "/metrics": Expected(404, b""),
}


def answer_problems(label: str, answer: Answer, expected: Expected, accepts_gzip: bool) -> list[str]:
    problems = [f"{label}: no {name}" for name in answer.missing_security_headers()]
    encoding = answer.header("Content-Encoding")
    gzipped = accepts_gzip and expected.precompressed is not None
    if encoding != ("gzip" if gzipped else None):
        problems.append(f"{label}: Content-Encoding {encoding!r}, expected {'gzip' if gzipped else 'none'}")
    try:
        body = gzip.decompress(answer.body) if encoding == "gzip" else answer.body
    except OSError as error:
        return [*problems, f"{label}: the body does not unpack: {error}"]
    if answer.status != expected.status or expected.text not in body:
        problems.append(f"{label}: {answer.status}, expected {expected.status} with {expected.text!r}")
    cache = answer.header("Cache-Control")
    if expected.cache and expected.cache not in (cache or ""):
        problems.append(f"{label}: Cache-Control {cache!r}, expected {expected.cache!r}")
    if expected.precompressed is not None:
        if body != expected.precompressed:
            problems.append(f"{label}: {len(body)} bytes after unpacking, not the file's {len(expected.precompressed)}")
        if "accept-encoding" not in (answer.header("Vary") or "").lower():
            problems.append(f"{label}: Vary {answer.header('Vary')!r}, expected Accept-Encoding")
    return problems


def check(nginx: RunningCopy) -> list[str]:
    problems = []
    # 1 and 2.
    for accepts_gzip, headers in ((True, ACCEPTS_GZIP), (False, IDENTITY_ONLY)):
        client = "accepting gzip" if accepts_gzip else "not accepting gzip"
        for path, expected in EXPECTED.items():
            answer = nginx.request("GET", path, headers=headers)
            problems += answer_problems(f"{path} ({client})", answer, expected, accepts_gzip)
    # 3. Django accepts its compose names (Prometheus, Alertmanager); nginx must not pass them on.
    for host in ("django-api", "Django-Upload.:443"):
        status = nginx.request("GET", "/api/auth/me", headers={"Host": host}).status
        if status != 421:
            problems.append(f"Host {host}: {status}, expected 421 (a Django container's name)")
    nginx.request("GET", "/patients/realip", headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.9"})
    time.sleep(0.2)  # the access log line is written after the answer
    last = nginx.access_log.read_text().splitlines()[-1]
    if not last.startswith("203.0.113.9 "):
        problems.append(f"the trusted proxy's X-Forwarded-For was not taken as the client: {last}")
    return problems


def main() -> int:
    # A proxy in front at 127.0.0.1 (nginx/realip.sh): the address it forwards is the client's.
    with running_copy(Path(sys.argv[1]).resolve(), web=WEB, static=STATIC, trusted_proxies="127.0.0.1") as nginx:
        problems = check(nginx)
    print("\n".join(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
