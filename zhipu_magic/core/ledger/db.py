"""The call log's SQLite database: one file under ``ZHIPU_MAGIC_HOME``, WAL, short transactions.

Several kernels write to the same file at once: WAL lets readers and one writer work together, each
record is one short ``BEGIN IMMEDIATE`` transaction, and a busy database is waited for (``timeout``).
The schema has a version (``PRAGMA user_version``) and a list of migrations from the first release;
a migration only ever adds, so an older package can still write a newer file.

A database that cannot be opened or written (a read-only home, a corrupt file, a full disk) never
fails a cell: one :class:`LedgerWarning`, then the log lives in memory for the rest of the session.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .records import COLUMNS

FILENAME = "calls.sqlite3"
BUSY_TIMEOUT = 15.0  # seconds a write waits for another kernel's transaction


class LedgerWarning(UserWarning):
    """The call log is not being saved to disk (it keeps working in memory)."""


def column_type(name: str) -> str:
    if name in ("cost", "duration"):
        return "REAL"
    return "INTEGER" if name.endswith(("tokens", "retries")) else "TEXT"


def _create_calls(conn: sqlite3.Connection) -> None:
    """Version 1: the ``calls`` table and its indexes."""
    columns = ", ".join(f"{name} {column_type(name)}" for name in COLUMNS)
    conn.execute(f"CREATE TABLE IF NOT EXISTS calls (id INTEGER PRIMARY KEY, {columns})")
    conn.execute("CREATE INDEX IF NOT EXISTS calls_hash ON calls (request_hash, status)")
    conn.execute("CREATE INDEX IF NOT EXISTS calls_time ON calls (time)")


def _create_search(conn: sqlite3.Connection) -> None:
    """Version 2: full-text search over prompt and answer, when this SQLite has FTS5 (else LIKE)."""
    try:
        conn.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS calls_fts USING fts5"
            "(prompt, answer, content='calls', content_rowid='id')"
        )
    except sqlite3.OperationalError:
        return  # no FTS5 in this build: query.py searches with LIKE
    conn.execute(
        "CREATE TRIGGER IF NOT EXISTS calls_fts_add AFTER INSERT ON calls BEGIN "
        "INSERT INTO calls_fts (rowid, prompt, answer) VALUES (new.id, new.prompt, new.answer); END"
    )
    conn.execute("INSERT INTO calls_fts (calls_fts) VALUES ('rebuild')")


def _add_extra(conn: sqlite3.Connection) -> None:
    """Version 3: ``extra``, what an answer carries besides its text (web sources, tool cards), as
    JSON. A table made by version 1 of this package already has it (version 1 makes every column)."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(calls)")}
    if "extra" not in have:
        conn.execute("ALTER TABLE calls ADD COLUMN extra TEXT")


def _index_tasks(conn: sqlite3.Connection) -> None:
    """Version 4: an index on ``task_id``: a finished task is looked up there before it is logged
    (once per task), at every poll that finishes one."""
    conn.execute("CREATE INDEX IF NOT EXISTS calls_task ON calls (task_id)")


#: Migration ``n`` brings the schema from version ``n`` to ``n + 1``. Append, never edit.
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _create_calls, _create_search, _add_extra, _index_tasks,
)  # fmt: skip
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema up to :data:`SCHEMA_VERSION` in one transaction; returns the version."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version >= SCHEMA_VERSION:
        return int(version)
    conn.execute("BEGIN IMMEDIATE")  # one kernel migrates; the others wait, then find it done
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for step in MIGRATIONS[version:]:
            step(conn)
        conn.execute(f"PRAGMA user_version = {max(version, SCHEMA_VERSION)}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return SCHEMA_VERSION


def open_database(path: Path | None) -> sqlite3.Connection:
    """A connection to ``path`` (``None``: in memory) with WAL, a busy timeout and the schema."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        ":memory:" if path is None else str(path),
        timeout=BUSY_TIMEOUT,
        isolation_level=None,  # autocommit; transactions are explicit and short
        check_same_thread=False,  # the chat panel records from its worker thread (under our lock)
    )
    conn.row_factory = sqlite3.Row
    try:
        _while_locked(lambda: _prepare(conn, wal=path is not None))
    except BaseException:
        conn.close()
        raise
    return conn


def _prepare(conn: sqlite3.Connection, *, wal: bool) -> None:
    if wal:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    migrate(conn)


def _while_locked(step: Callable[[], None], budget: float = BUSY_TIMEOUT) -> None:
    """Run ``step``, again while another kernel holds the lock. Switching a new database to WAL
    (and the first migration) can fail at once with "database is locked" when two kernels open it
    together: SQLite's busy timeout does not cover that lock."""
    deadline = time.monotonic() + budget
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class Ledger:
    """The call log of one ``ZHIPU_MAGIC_HOME`` (or of memory): add records, read rows.

    ``problem`` is ``None`` while records go to disk, else one line saying why they do not.
    """

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path is not None else None
        self.problem: str | None = None
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()

    @property
    def in_memory(self) -> bool:
        return self.path is None or self.problem is not None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                self._conn = open_database(None if self.in_memory else self.path)
            except (sqlite3.Error, OSError) as exc:
                self._fall_back(exc)
        assert self._conn is not None
        return self._conn

    def _fall_back(self, exc: BaseException) -> None:
        """One warning, then memory for the rest of the session."""
        self.problem = f"{type(exc).__name__}: {exc}"
        warnings.warn(
            f"the call log at {self.path} cannot be written ({self.problem}); "
            "calls are logged in memory for this session only",
            LedgerWarning,
            stacklevel=4,
        )
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
        self._conn = open_database(None)

    def add(self, record: Mapping[str, Any], *, once_per_task: bool = False) -> int:
        """Store one record in one short transaction; returns its id (its log id).

        ``once_per_task``: a record whose ``task_id`` already has a row is not added; that row's id is
        returned. The check runs inside the insert's ``BEGIN IMMEDIATE``, so it holds across kernels.
        """
        names = [name for name in COLUMNS if name in record]
        sql = f"INSERT INTO calls ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        values = [record[name] for name in names]
        task_id = record.get("task_id") if once_per_task else None
        with self._lock:
            try:
                return self._insert(self._connection(), sql, values, task_id)
            except (sqlite3.Error, OSError) as exc:
                if self.in_memory:
                    raise
                self._fall_back(exc)
                return self._insert(self._connection(), sql, values, task_id)

    @staticmethod
    def _insert(conn: sqlite3.Connection, sql: str, values: Sequence[Any], task_id: Any = None) -> int:
        conn.execute("BEGIN IMMEDIATE")
        try:
            if task_id is not None:
                found = conn.execute(
                    "SELECT id FROM calls WHERE task_id = ? LIMIT 1", [str(task_id)]
                ).fetchone()
                if found is not None:
                    conn.execute("COMMIT")
                    return int(found[0])
            cursor = conn.execute(sql, values)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return int(cursor.lastrowid or 0)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """The rows of a read query as dicts (an unreadable database falls back like a write)."""
        with self._lock:
            try:
                return [dict(r) for r in self._connection().execute(sql, params).fetchall()]
            except (sqlite3.Error, OSError) as exc:
                if self.in_memory:
                    raise
                self._fall_back(exc)
                return [dict(r) for r in self._connection().execute(sql, params).fetchall()]

    def has_search(self) -> bool:
        """Whether full-text search (FTS5) is there; else searches use LIKE."""
        found = self.rows("SELECT name FROM sqlite_master WHERE name = 'calls_fts'")
        return bool(found)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
