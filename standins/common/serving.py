"""Serving a stand-in over HTTP until SIGTERM or Ctrl-C, and the command-line options all of them take."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from .emulator import Emulator
from .messages import Request


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real servers; every answer carries Content-Length
    # headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm holds the body back
    # until the client's delayed ACK (about 40 ms per request on a kept-alive connection)
    disable_nagle_algorithm = True
    server: _Server

    def _serve(self) -> None:
        started = time.monotonic()
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        request = Request(
            method=self.command,
            path=split.path,
            raw_query=split.query,
            headers=self.headers,
            body=self.rfile.read(length) if length else b"",
            origin=f"http://{host}",
            started=started,
        )
        response = self.server.emulator.handle(request)
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)
        elapsed = (time.monotonic() - started) * 1000
        sys.stderr.write(
            f'{self.server.emulator.name} "{self.command} {self.path}" {response.status} {elapsed:.1f}ms\n'
        )

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced: _serve writes the one line per request, with its duration."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], emulator: Emulator):
        super().__init__(address, _Handler)
        self.emulator = emulator


def base_parser(description: str, default_port: int) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=default_port, help=f"port (default {default_port})")
    parser.add_argument(
        "--data", default=":memory:", help="SQLite file holding all state; kept across restarts (default: in memory)"
    )
    return parser


def serve(emulator: Emulator, host: str, port: int) -> None:
    """Serve until SIGTERM or Ctrl-C, then close the store cleanly."""
    emulator.open()
    server = _Server((host, port), emulator)

    def stop(_signum: int, _frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()  # shutdown() blocks until the loop ends

    signal.signal(signal.SIGTERM, stop)
    sys.stderr.write(f"{emulator.name} emulator listening on http://{host}:{server.server_address[1]}\n")
    sys.stderr.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        emulator.store.close()
