"""A copy of nginx/docker.conf running on free loopback ports, for the `deploy` suite's checks of what nginx
answers (scripts/check_nginx_serving.py, scripts/check_gateway_unavailable.py).

SOURCE is the folder scripts/check-deploy-config.sh writes for `nginx -t`: nginx.conf (docker.conf with the
image's paths moved into SOURCE and the compose hosts as 127.0.0.1), the includes and tls/. The copy runs
under a temporary folder of its own, with:
- HTTP and HTTPS on free loopback ports, Django's upstreams on one free port and Orthanc's on another, where
  nothing listens until a check starts a stand-in there;
- the web UI's root and /static/ holding the files the check gives, in place of the image's /srv/;
- realip.conf from nginx/realip.sh for the given CDSS_TRUSTED_PROXIES, orthanc.conf from nginx/orthanc.sh;
- its own pid, access and error logs and cache.

    with running_copy(source, web={"index.html": b"..."}) as nginx:
        status, headers, body = nginx.request("GET", "/")
"""

import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What cdss-headers.conf and cdss-tls.conf add to every answer.
SECURITY_HEADERS = (
    "Strict-Transport-Security",
    "Content-Security-Policy",
    "X-Frame-Options",
    "X-Content-Type-Options",
    "Referrer-Policy",
)


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]  # as sent, repeated names included
    body: bytes  # as sent: still gzipped when nginx gzipped it

    def header(self, name: str) -> str | None:
        """The header's value (several joined by ", "), or None when nginx did not send it."""
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        return ", ".join(values) if values else None

    def missing_security_headers(self) -> list[str]:
        return [name for name in SECURITY_HEADERS if self.header(name) is None]


@dataclass
class RunningCopy:
    https_port: int
    django_port: int
    orthanc_port: int
    work: Path

    @property
    def access_log(self) -> Path:
        return self.work / "access.log"

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> Answer:
        context = ssl.create_default_context()
        context.check_hostname = False  # the throw-away self-signed certificate
        context.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection("127.0.0.1", self.https_port, context=context, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return Answer(response.status, response.getheaders(), response.read())
        finally:
            conn.close()

    def warnings(self) -> list[str]:
        """What nginx logged so far as a warning or worse, save [error]: an uninitialised variable, a file it
        could not open. [error] is an upstream that did not answer, which the checks cause on purpose."""
        log = self.work / "error.log"
        lines = log.read_text().splitlines() if log.exists() else []
        return [line for line in lines if re.search(r"\[(warn|crit|alert|emerg)\]", line)]


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)


def run_include_script(script: str, target: Path, env: dict[str, str]) -> None:
    """nginx/realip.sh or nginx/orthanc.sh, writing its include as `make run` and the image's entrypoint do."""
    command = [shutil.which("sh") or "/bin/sh", str(ROOT / "nginx" / script), str(target)]
    subprocess.run(command, env={**os.environ, **env}, check=True)  # noqa: S603 (our own scripts)


def configure(source: Path, work: Path, http_port: int, https_port: int, django_port: int) -> Path:
    """The copy's nginx.conf: SOURCE's, with the ports, upstreams, roots, includes and logs of `work`."""
    conf = (source / "nginx.conf").read_text()
    replacements = [
        (r"include \S+/realip\.conf;", f"include {work}/realip.conf;"),
        (r"include \S+/orthanc\.conf;", f"include {work}/orthanc.conf;"),
        (r"listen 80 ", f"listen 127.0.0.1:{http_port} "),
        (r"listen 443 ", f"listen 127.0.0.1:{https_port} "),
        (r"server 127\.0\.0\.1:\d+;", f"server 127.0.0.1:{django_port};"),
        (r"root /srv/web;", f"root {work}/web;"),
        (r"alias /srv/static/;", f"alias {work}/static/;"),
        (r"^pid \S+;", f"pid {work}/nginx.pid;"),
        (r"^error_log \S+", f"error_log {work}/error.log"),
        (r"access_log \S+;", f"access_log {work}/access.log;"),
        (r"proxy_cache_path \S+", f"proxy_cache_path {work}/cache"),
    ]
    for pattern, replacement in replacements:
        conf, count = re.subn(pattern, replacement, conf, flags=re.MULTILINE)
        if not count:
            sys.exit(f"{source / 'nginx.conf'}: nothing matches {pattern!r}")
    (work / "nginx.conf").write_text(conf)
    return work / "nginx.conf"


def wait_until_listening(nginx: subprocess.Popen, port: int, work: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if nginx.poll() is not None:
            log = (work / "error.log").read_text() if (work / "error.log").exists() else ""
            sys.exit(f"nginx exited ({nginx.returncode}) before listening:\n{log}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.05)
    sys.exit(f"nginx did not listen on {port}")


@contextlib.contextmanager
def running_copy(
    source: Path,
    *,
    web: dict[str, bytes] | None = None,
    static: dict[str, bytes] | None = None,
    trusted_proxies: str = "",
) -> Iterator[RunningCopy]:
    """Runs the copy of SOURCE/nginx.conf until the block ends (then stops it: SIGQUIT, KILL after 10 s)."""
    nginx_binary = shutil.which("nginx")
    if not nginx_binary:
        sys.exit("nginx is not installed")
    http_port, https_port, django_port, orthanc_port = free_ports(4)
    with tempfile.TemporaryDirectory(prefix="cdss-nginx-") as tmp:
        work = Path(tmp)
        write_files(work / "web", web or {})
        write_files(work / "static", static or {})
        run_include_script("realip.sh", work / "realip.conf", {"CDSS_TRUSTED_PROXIES": trusted_proxies})
        orthanc = {"ORTHANC_URL": f"http://127.0.0.1:{orthanc_port}", "ORTHANC_USERNAME": "check"}
        run_include_script("orthanc.sh", work / "orthanc.conf", {**orthanc, "ORTHANC_PASSWORD": "check"})
        conf = configure(source, work, http_port, https_port, django_port)
        # nginx's workers run as nobody when the master is root: they read the web UI and pass through to
        # their temporary folders (the folder itself stays unlisted).
        for folder in (work / "web", work / "static"):
            for path in (folder, *folder.rglob("*")):
                path.chmod(0o755 if path.is_dir() else 0o644)
        os.chmod(work, 0o711)  # noqa: S103 (traverse only)
        command = [nginx_binary, "-p", str(work), "-c", str(conf), "-e", str(work / "error.log"), "-g", "daemon off;"]
        nginx = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)  # noqa: S603
        try:
            wait_until_listening(nginx, https_port, work)
            yield RunningCopy(https_port, django_port, orthanc_port, work)
        finally:
            nginx.send_signal(signal.SIGQUIT)
            try:
                nginx.wait(timeout=10)
            except subprocess.TimeoutExpired:
                nginx.kill()
                nginx.wait()
