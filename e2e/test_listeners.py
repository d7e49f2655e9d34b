"""Only nginx listens beyond loopback on the stack `make run` started (docs/security.md, "Listening sockets").

Every listening TCP and UDP socket of this machine is read with `ss`; a socket on a non-loopback address
fails the test unless nginx holds it. Sockets whose process `ss` cannot name belong to no process of this
machine's process namespace (the sandbox's own), so not to the stack: they are listed, not judged."""

import ipaddress
import re
import subprocess

LOOPBACK_ONLY_EXCEPT = {"nginx"}


def listening_sockets() -> list[tuple[str, str, str]]:
    """(protocol, local address:port, process name or "") of every listening socket."""
    out = subprocess.run(["ss", "-Hlntup"], capture_output=True, text=True, check=True).stdout  # noqa: S607
    sockets = []
    for line in out.splitlines():
        fields = line.split()
        process = re.search(r'users:\(\("([^"]+)"', line)
        sockets.append((fields[0], fields[4], process.group(1) if process else ""))
    return sockets


def is_loopback(address: str) -> bool:
    host = address.rsplit(":", 1)[0].strip("[]").split("%")[0]
    return host != "*" and ipaddress.ip_address(host).is_loopback


def test_only_nginx_listens_beyond_loopback(base_url):
    sockets = listening_sockets()
    exposed = [s for s in sockets if not is_loopback(s[1])]
    print("listening sockets:", *sorted(sockets), sep="\n  ")
    assert any(name == "nginx" for _, _, name in exposed), "nginx serves the stack: it must be listening"
    offenders = [s for s in exposed if s[2] and s[2] not in LOOPBACK_ONLY_EXCEPT]
    assert not offenders, f"listening beyond loopback: {offenders}"


def test_orthanc_and_the_broker_metrics_listen_on_loopback():
    names = {address for _, address, name in listening_sockets() if name in ("Orthanc", "beam.smp")}
    assert names, "Orthanc and RabbitMQ are running"
    assert all(is_loopback(address) for address in names), names
