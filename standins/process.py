"""A stand-in as a real subprocess on a free port, with its own SQLite file and log: what the backend's
test fixtures, the stand-ins' own tests and the benchmarks start.

    process = StandinProcess("standins.hapi", Path(scratch) / "hapi.sqlite3", ["--validate"]).start()
    ... process.origin ...   # http://127.0.0.1:<port>
    process.stop()
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

# `python -m standins.<name>` runs from the folder that holds the package (the repository root).
PACKAGE_PARENT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StandinProcess:
    """One stand-in subprocess with its own SQLite file and log. stop() then start() is a restart: same
    port, same data file."""

    def __init__(self, module: str, data: Path, args: list[str]):
        self.module, self.data, self.args = module, data, args
        self.port = free_port()
        self.log = data.with_suffix(".log")
        self.process: subprocess.Popen | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> StandinProcess:
        command = [sys.executable, "-m", self.module, "--port", str(self.port), "--data", str(self.data), *self.args]
        with self.log.open("ab") as log:
            # S603: our own interpreter running one of our modules, with arguments from our callers
            self.process = subprocess.Popen(command, cwd=PACKAGE_PARENT, stdout=log, stderr=log)  # noqa: S603
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.module} exited with {self.process.returncode}:\n{self.log.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"{self.module} did not listen on {self.port} within {timeout} s:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
