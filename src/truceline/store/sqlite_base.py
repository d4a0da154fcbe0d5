"""The SQLite store's connections, transactions and schema upgrade: what every table module relies on.

Design choices:
- ``synchronous=FULL`` in WAL mode: a commit is on disk before the API answers 201, so a ``kill -9`` or
  a power cut cannot lose accepted data.
- One writer connection behind a lock (SQLite allows one writer), one reader connection per thread (WAL
  readers never block the writer).
- A write transaction waits for another process's (``truceline fuse`` beside ``serve``) in short sleeps of its
  own (:func:`begin_immediate`), not in SQLite's busy handler, whose sleeps grow to 100 ms.
- Migrations run with foreign-key enforcement off (SQLite's documented procedure for rebuilding a table)
  and end with ``PRAGMA foreign_key_check``: a migration that would leave a dangling reference rolls back.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from truceline.ledger.log import MerkleLog
from truceline.store.prepared import PreparedObservation
from truceline.store.sqlite_schema import MIGRATIONS, StoreError
from truceline.store.timecodes import _us

#: How long a write transaction waits for another connection's (another process's) to end: SQLite's busy timeout.
WRITE_WAIT_S: Final = 30.0
_FIRST_POLL_S: Final = 0.0002
_LONGEST_POLL_S: Final = 0.002

#: Called inside the storing transaction with the newly stored observations and their sequence numbers.
InsertHook = Callable[[sqlite3.Connection, list[tuple[int, PreparedObservation]]], None]


def begin_immediate(conn: sqlite3.Connection, wait_s: float = WRITE_WAIT_S) -> None:
    """``BEGIN IMMEDIATE`` on ``conn``, waiting up to ``wait_s`` for another connection's write transaction to end.

    SQLite's own busy handler sleeps 1, 2, 5, … then 100 ms between tries, so a writer that finds the database
    busy (a `truceline fuse` process committing a batch beside `serve`) sleeps on long after the other's commit:
    with fusion in a process of its own, the pair fused about a fifth slower on average in the runs measured
    (docs/performance.md). Here the connection tries without waiting and sleeps 0.2 ms doubling to 2 ms.
    After ``wait_s`` the error is SQLite's own ("database is locked"), as with its busy timeout.
    """
    conn.execute("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + wait_s
        pause = _FIRST_POLL_S
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or time.monotonic() + pause > deadline:
                    raise
            time.sleep(pause)
            pause = min(2.0 * pause, _LONGEST_POLL_S)
    finally:
        conn.execute(f"PRAGMA busy_timeout={int(WRITE_WAIT_S * 1000)}")


class SqliteBase:
    """Connections, transactions and schema of the store; the table modules add their methods on top."""

    #: Which engine holds the data (the PostgreSQL store says ``"postgresql"``).
    engine = "sqlite"

    def __init__(self, path: Path | str, *, synchronous: str = "FULL") -> None:
        self.path = Path(path)
        self._synchronous = synchronous
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._writer = self._connect()
        self._log = MerkleLog()
        self._insert_hooks: list[InsertHook] = []
        self._migrate()

    @property
    def synchronous(self) -> str:
        """The writer's ``PRAGMA synchronous`` (FULL unless the store was opened otherwise)."""
        return self._synchronous

    # -- connections -------------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={int(WRITE_WAIT_S * 1000)}")
        conn.execute("PRAGMA cache_size=-65536")
        # Checkpoint the WAL every ~40 MB instead of ~4 MB: 20% faster ingest, reads barely affected.
        conn.execute("PRAGMA wal_autocheckpoint=10000")
        return conn

    def add_insert_hook(self, hook: InsertHook) -> None:
        """Run ``hook(conn, [(seq, item), ...])`` inside every transaction that stores new observations
        (e.g. the federation outbox): whatever it writes commits or rolls back with them."""
        self._insert_hooks.append(hook)

    def reader(self) -> sqlite3.Connection:
        """This thread's read-only connection (for store extensions such as :mod:`~truceline.store.outbox`)."""
        return self._reader()

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Exclusive write transaction on the writer connection: all or nothing."""
        with self._write_lock:
            begin_immediate(self._writer)
            try:
                yield self._writer
            except BaseException:
                self._writer.execute("ROLLBACK")
                raise
            self._writer.execute("COMMIT")

    def append_leaves(self, conn: sqlite3.Connection, kind: str, refs: Sequence[int], leaves: list[bytes]) -> int | None:
        """Append ``leaves`` (of records ``kind``/``refs``) to the evidence log in the caller's transaction and
        return the first one's index. The PostgreSQL store queues them for its sequencer and returns None."""
        return self._log.append_many(conn, leaves)

    def next_track_minute_id(self, conn: sqlite3.Connection) -> int:
        """The first free ``track_minutes`` id (the writer lock makes the following ones free too)."""
        return int(conn.execute("SELECT coalesce(max(id), 0) + 1 FROM track_minutes").fetchone()[0])

    def close(self) -> None:
        """Close every connection; the WAL is checkpointed by SQLite on the last close."""
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        with self._write_lock:
            self._writer.close()

    # -- schema ------------------------------------------------------------------------------------
    def _migrate(self) -> None:
        # Foreign keys cannot be switched inside a transaction; off, a table can be rebuilt without its
        # dependants' ON DELETE actions firing (SQLite's 12-step procedure). Checked before commit.
        self._writer.execute("PRAGMA foreign_keys=OFF")
        try:
            with self.transaction() as conn:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_us INTEGER NOT NULL)"
                )
                current = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]
                known = MIGRATIONS[-1].version
                if current > known:
                    raise StoreError(
                        f"{self.path} has schema version {current}, newer than this truceline understands ({known}); upgrade truceline"
                    )
                now = _us(datetime.now(UTC))
                for migration in MIGRATIONS:
                    if migration.version > current:
                        migration.apply(conn)
                        conn.execute(
                            "INSERT INTO schema_migrations VALUES (?,?,?)", (migration.version, migration.description, now)
                        )
                dangling = conn.execute("PRAGMA foreign_key_check").fetchall()
                if dangling:
                    raise StoreError(f"{self.path}: schema upgrade would leave dangling references {dangling[:5]}; nothing changed")
                conn.execute(f"PRAGMA user_version={known}")
        finally:
            self._writer.execute("PRAGMA foreign_keys=ON")

    def schema_version(self) -> int:
        """The newest applied migration."""
        return int(self._reader().execute("SELECT max(version) FROM schema_migrations").fetchone()[0])
