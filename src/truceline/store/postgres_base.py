"""The PostgreSQL store's connections, transactions, schema upgrade and partitions.

It takes the place of :class:`~truceline.store.sqlite_base.SqliteBase` under the shared table modules:
``transaction()`` lends one pooled connection inside a transaction and ``_reader()`` runs each read on
any free pooled connection, both spoken to like ``sqlite3`` (see :mod:`~truceline.store.postgres_conn`).
Where the SQLite store holds one writer lock, PostgreSQL's row locks and unique keys arbitrate between
concurrent writers, in this process and in the other replicas.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from truceline.ledger.log import MerkleLog
from truceline.store.postgres_conn import PgConnection, PooledReader, open_pool, pg_transaction
from truceline.store.postgres_schema import ensure_partition, migrate, month_bounds
from truceline.store.sqlite_base import SqliteBase


class PgBase(SqliteBase):
    """Pool, transactions and schema of the PostgreSQL store; the table modules add their methods on top."""

    engine = "postgresql"

    def __init__(self, dsn: str, data_dir: Path | None = None, *, pool_size: int = 8, timeout_s: float = 10.0) -> None:  # noqa: D107
        # SqliteBase.__init__ is not called: it would open an SQLite file.
        self.dsn = dsn
        self.data_dir = data_dir
        self.path = Path(data_dir or ".") / "postgresql"  # only named in messages
        self._log = MerkleLog()
        self._insert_hooks = []
        self._partitions: set[str] = set()
        self._partitions_lock = threading.Lock()
        self._pool = open_pool(dsn, max_size=pool_size, timeout_s=timeout_s)
        self._readers_view = PooledReader(self._pool)
        try:
            with pg_transaction(self._pool) as conn:
                self._version = migrate(conn)
        except BaseException:
            self._pool.close()
            raise

    # -- connections -------------------------------------------------------------------------------
    def _reader(self) -> sqlite3.Connection:
        # The table modules are typed against sqlite3; PooledReader offers the part of it they use.
        return cast(sqlite3.Connection, self._readers_view)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One transaction on a pooled connection: all or nothing (StoreUnavailable if unreachable)."""
        with pg_transaction(self._pool) as conn:
            yield cast(sqlite3.Connection, conn)

    @contextmanager
    def pg_transaction(self) -> Iterator[PgConnection]:
        """:meth:`transaction` typed as what it is, for the PostgreSQL modules (COPY, raw psycopg)."""
        with pg_transaction(self._pool) as conn:
            yield conn

    def append_leaves(self, conn: sqlite3.Connection, kind: str, refs: Sequence[int], leaves: list[bytes]) -> int | None:
        """Queue ``leaves`` for the sequencer (in the caller's transaction); None: their indexes come later."""
        raw = cast(PgConnection, conn).raw
        with raw.cursor() as cur, cur.copy("COPY ledger_queue (kind, ref, leaf) FROM STDIN") as copy:
            for ref, leaf in zip(refs, leaves, strict=True):
                copy.write_row((kind, ref, leaf))
        return None

    def next_track_minute_id(self, conn: sqlite3.Connection) -> int:
        """The first free ``track_minutes`` id; the table lock (until commit) keeps the following ones free,
        as SQLite's writer lock does."""
        conn.execute("LOCK TABLE track_minutes IN EXCLUSIVE MODE")
        return int(conn.execute("SELECT coalesce(max(id), 0) + 1 FROM track_minutes").fetchone()[0])

    def close(self) -> None:
        """Close the pool (waits for lent connections to come back)."""
        self._pool.close()

    def pool_stats(self) -> dict[str, Any]:
        """The pool's counters (size, waiting, errors), for metrics and tests."""
        return dict(self._pool.get_stats())

    # -- schema ------------------------------------------------------------------------------------
    def _migrate(self) -> None:
        with pg_transaction(self._pool) as conn:
            self._version = migrate(conn)

    def schema_version(self) -> int:
        """The newest applied migration."""
        return int(self._reader().execute("SELECT max(version) FROM schema_migrations").fetchone()[0])

    def _ensure_partitions(self, times_us: Iterator[int] | list[int]) -> None:
        """Make sure a month partition exists for each event time (each month once per process)."""
        wanted = {month_bounds(t)[0]: t for t in times_us}
        with self._partitions_lock:
            missing = {name: t for name, t in wanted.items() if name not in self._partitions}
        if not missing:
            return
        for name, t in sorted(missing.items()):
            with pg_transaction(self._pool) as conn:
                ensure_partition(conn, t)
            with self._partitions_lock:
                self._partitions.add(name)

    def partitions(self) -> list[str]:
        """Names of the observation table's partitions, the default one included."""
        rows = self._reader().execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'observations' ORDER BY 1"
        ).fetchall()
        return [r[0] for r in rows]
