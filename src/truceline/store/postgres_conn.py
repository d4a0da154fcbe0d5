"""Connections of the PostgreSQL store: a psycopg 3 pool behind the small part of ``sqlite3``'s interface
that the store's table modules and :class:`~truceline.ledger.log.MerkleLog` use.

Why an adapter rather than a second copy of every query: most of the store's SQL (keys, organisations,
reads by identity, the Merkle log) is plain SQL that both engines run alike, and one copy cannot drift from
the other. The adapter changes only what differs: ``?`` placeholders become ``%s``, and the few
SQLite-only fragments of the Merkle log are replaced by their PostgreSQL spelling (:data:`SQLITE_REWRITES`). SQL
that differs in more than spelling (JSON tables, spatial search, COPY) is written for PostgreSQL in the
``postgres_*`` modules.

Every engine failure that says "cannot reach the database" becomes :class:`StoreUnavailable`; the pool
checks a connection before lending it, so after the server comes back (or after ``pg_terminate_backend``)
the next call gets a fresh connection.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import psycopg_pool

from truceline.store.ports import StoreUnavailable

#: SQLite spellings in :mod:`truceline.ledger.log` and their PostgreSQL equivalents (the log's SQL stays one copy).
SQLITE_REWRITES: tuple[tuple[str, str], ...] = (
    # substr() on bytea takes int positions; the arithmetic on BIGINT columns yields bigint.
    ("substr(n.hashes, (want.idx - n.first) * 32 + 1, 32)", "substr(n.hashes, ((want.idx - n.first) * 32 + 1)::int, 32)"),
    # json_each over a JSON array of leaf indexes.
    ("FROM json_each(?) AS j)", "FROM jsonb_array_elements_text(?::jsonb) AS j(value))"),
    ("l.first <= j.value", "l.first <= j.value::bigint"),
)
_PLACEHOLDER = re.compile(r"\?")
_CACHE: dict[str, str] = {}


def to_pg(sql: str) -> str:
    """The PostgreSQL form of a statement written with ``?`` placeholders (cached: statements repeat)."""
    out = _CACHE.get(sql)
    if out is None:
        out = sql
        for old, new in SQLITE_REWRITES:
            out = out.replace(old, new)
        out = _PLACEHOLDER.sub("%s", out.replace("%", "%%"))
        if len(_CACHE) < 4096:
            _CACHE[sql] = out
    return out


def unavailable(exc: BaseException) -> StoreUnavailable:
    """The typed error for an unreachable database, keeping the engine's message."""
    return StoreUnavailable(f"PostgreSQL unavailable: {str(exc).strip() or type(exc).__name__}")


#: Engine errors that mean "not now" rather than "not this": connection lost, server shutting down, no pool slot.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    psycopg.OperationalError,
    psycopg.errors.AdminShutdown,
    psycopg_pool.PoolTimeout,
    psycopg_pool.PoolClosed,
)


class Rows:
    """A fully fetched result: what callers of ``sqlite3.Cursor`` use (fetchone, fetchall, iteration, rowcount)."""

    def __init__(self, rows: list[tuple[Any, ...]], rowcount: int) -> None:
        self._rows = rows
        self._next = 0
        self.rowcount = rowcount

    def fetchone(self) -> Any:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchall(self) -> list[Any]:
        rest = self._rows[self._next :]
        self._next = len(self._rows)
        return rest

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


def _run(conn: psycopg.Connection[Any], sql: str, params: Sequence[Any] | None) -> Rows:
    cur = conn.execute(to_pg(sql), params if params else None, prepare=False)  # type: ignore[arg-type]
    rows = cur.fetchall() if cur.description is not None else []
    return Rows(rows, cur.rowcount)


class PgConnection:
    """One pooled connection inside a transaction, spoken to like ``sqlite3.Connection``."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.raw = conn

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Rows:
        """Run one statement (``?`` placeholders) and fetch its rows."""
        return _run(self.raw, sql, params)

    def executemany(self, sql: str, seq_of_params: Sequence[Sequence[Any]] | Iterator[Sequence[Any]]) -> Rows:
        """Run one statement for each parameter tuple (psycopg pipelines them); ``rowcount`` is their total."""
        batch = list(seq_of_params)
        if not batch:
            return Rows([], 0)
        with self.raw.cursor() as cur:
            cur.executemany(to_pg(sql), batch)  # type: ignore[arg-type]
            return Rows([], cur.rowcount)


class PooledReader:
    """Read-only statements, each on whatever pooled connection is free (autocommit: no snapshot is held)."""

    def __init__(self, pool: psycopg_pool.ConnectionPool[Any]) -> None:
        self._pool = pool

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Rows:
        """Run one statement and fetch its rows; an unreachable database raises :class:`StoreUnavailable`."""
        try:
            with self._pool.connection() as conn:
                return _run(conn, sql, params)
        except UNAVAILABLE_ERRORS as exc:
            raise unavailable(exc) from exc


def open_pool(dsn: str, min_size: int = 1, max_size: int = 8, timeout_s: float = 10.0) -> psycopg_pool.ConnectionPool[Any]:
    """A pool of autocommit connections, each checked before it is lent (a cut one is replaced)."""
    pool: psycopg_pool.ConnectionPool[Any] = psycopg_pool.ConnectionPool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        timeout=timeout_s,
        open=False,
        kwargs={"autocommit": True, "connect_timeout": 5},
        check=psycopg_pool.ConnectionPool.check_connection,
        name="truceline",
    )
    try:
        pool.open(wait=True, timeout=timeout_s)
    except UNAVAILABLE_ERRORS as exc:
        pool.close()
        raise unavailable(exc) from exc
    return pool


@contextmanager
def pg_transaction(pool: psycopg_pool.ConnectionPool[Any]) -> Iterator[PgConnection]:
    """One transaction on a pooled connection: committed on leaving, rolled back on any exception."""
    try:
        with pool.connection() as conn, conn.transaction():
            yield PgConnection(conn)
    except UNAVAILABLE_ERRORS as exc:
        raise unavailable(exc) from exc
