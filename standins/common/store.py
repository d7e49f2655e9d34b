"""The SQLite store that holds all of a stand-in's state."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator

_META_SCHEMA = "CREATE TABLE IF NOT EXISTS emulator_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"


class Store:
    """One SQLite connection shared by every request thread. A lock serialises requests, so each one
    sees and leaves a consistent database; the stand-ins need correctness and races that resolve
    cleanly (one writer wins), not throughput."""

    def __init__(self, path: str, schema: str):
        self._lock = threading.RLock()
        self._schema = schema + _META_SCHEMA
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.executescript(self._schema)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested transaction: what happens inside is undone if it raises (FHIR batch entries)."""
        self._conn.execute("SAVEPOINT entry")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK TO entry")
            self._conn.execute("RELEASE entry")
            raise
        self._conn.execute("RELEASE entry")

    def execute(self, sql: str, params: tuple | dict = ()) -> sqlite3.Cursor:
        return self._conn.execute(sql, params)

    def executemany(self, sql: str, params: list[tuple]) -> sqlite3.Cursor:
        return self._conn.executemany(sql, params)

    def rows(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        return self._conn.execute(sql, params).fetchall()

    def row(self, sql: str, params: tuple | dict = ()) -> sqlite3.Row | None:
        return self._conn.execute(sql, params).fetchone()

    def get_meta(self, key: str) -> str | None:
        found = self.row("SELECT value FROM emulator_meta WHERE key = ?", (key,))
        return found["value"] if found else None

    def set_meta(self, key: str, value: str) -> None:
        self.execute("INSERT OR REPLACE INTO emulator_meta (key, value) VALUES (?, ?)", (key, value))

    def wipe(self) -> None:
        with self._lock:
            tables = [r["name"] for r in self.rows("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for name in tables:
                if not name.startswith("sqlite_"):
                    self._conn.execute(f'DROP TABLE "{name}"')
            if "sqlite_sequence" in tables:
                self._conn.execute("DELETE FROM sqlite_sequence")
            self._conn.executescript(self._schema)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
