"""Leases in PostgreSQL: which process holds a role (the sequencer, a fusion sector), with a fencing term.

Why: in cluster mode exactly one process may append to the ledger and exactly one may fuse a sector, and a
killed holder must be replaced without a person stepping in. A lease is one row of ``cluster_leases``; it is
held until ``expires_at`` (the *database's* clock, so no two machines' clocks need agree) and renewed well
before. Taking over an expired lease raises its ``term``; every write a holder makes is checked against the
term it was granted (the *fence*, see :class:`Fence`), so a holder that was paused past its expiry and then
wakes up cannot write over its successor.

Times: TTL 10 s, renewed every 3 s, so a killed holder's leases are free at most 10 s after its last renewal
and a live worker that polls every few seconds takes them over well within 30 s.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import psycopg

__all__ = ["DEFAULT_TTL_S", "RENEW_EVERY_S", "SCHEMA_SQL", "Fence", "LeaseKeeper", "LeaseTable"]

DEFAULT_TTL_S = 10.0
RENEW_EVERY_S = 3.0

SCHEMA_SQL = (
    "CREATE TABLE IF NOT EXISTS cluster_leases ("
    " name TEXT PRIMARY KEY, holder TEXT NOT NULL, term BIGINT NOT NULL, expires_at TIMESTAMPTZ NOT NULL)"
)


@dataclass(frozen=True, slots=True)
class Fence:
    """A granted lease: the store's fenced transactions lock the row and abort unless it still reads so."""

    name: str
    holder: str
    term: int

    def as_tuple(self) -> tuple[str, str, int]:
        """(name, holder, term), the form the store's ``fence=`` parameters take."""
        return (self.name, self.holder, self.term)


class LeaseTable:
    """Acquire, renew, release and list leases; each call is one short autocommitted statement.

    ``conninfo`` is a PostgreSQL URL. One connection is kept and re-opened after a failure (a terminated
    backend, a restarted server): a lease call that fails raises :class:`psycopg.OperationalError`, and the
    caller treats its leases as possibly lost until a later call succeeds.
    """

    def __init__(self, conninfo: str, ttl_s: float = DEFAULT_TTL_S) -> None:
        if not ttl_s > 0:
            raise ValueError(f"lease TTL must be positive, got {ttl_s!r}")
        self._conninfo = conninfo
        self.ttl_s = ttl_s
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None

    # -- connection --------------------------------------------------------------------------------
    def _connection(self) -> psycopg.Connection[tuple[object, ...]]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5)
            self._conn.execute(SCHEMA_SQL)
        return self._conn

    def _run(self, sql: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
        try:
            return self._connection().execute(sql, params).fetchall()
        except psycopg.OperationalError:
            if self._conn is not None:
                self._conn.close()
            self._conn = None
            raise

    def close(self) -> None:
        """Close the connection (leases stay until they expire or are released)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- the lease operations ----------------------------------------------------------------------
    def acquire(self, name: str, holder: str) -> Fence | None:
        """Take ``name`` if it is free, expired, or already ours; None if someone else holds it.

        A takeover (new row, or another holder's expired row) gets a higher term than any before; our own
        live lease is simply extended and keeps its term.
        """
        rows = self._run(
            "INSERT INTO cluster_leases AS l (name, holder, term, expires_at)"
            " VALUES (%s, %s, 1, now() + make_interval(secs => %s))"
            " ON CONFLICT (name) DO UPDATE SET"
            "  term = CASE WHEN l.holder = EXCLUDED.holder AND l.expires_at > now() THEN l.term ELSE l.term + 1 END,"
            "  holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at"
            " WHERE l.holder = EXCLUDED.holder OR l.expires_at <= now()"
            " RETURNING term",
            (name, holder, self.ttl_s),
        )
        return Fence(name, holder, int(rows[0][0])) if rows else None  # type: ignore[call-overload]

    def renew(self, fence: Fence) -> bool:
        """Extend a lease we hold under the same term; False if it expired and was taken (or released)."""
        rows = self._run(
            "UPDATE cluster_leases SET expires_at = now() + make_interval(secs => %s)"
            " WHERE name = %s AND holder = %s AND term = %s RETURNING term",
            (self.ttl_s, fence.name, fence.holder, fence.term),
        )
        return bool(rows)

    def release(self, fence: Fence) -> bool:
        """Give a lease up at once (a clean shutdown or a handoff); the next holder gets a higher term."""
        rows = self._run(
            "UPDATE cluster_leases SET expires_at = now() - interval '1 second'"
            " WHERE name = %s AND holder = %s AND term = %s RETURNING term",
            (fence.name, fence.holder, fence.term),
        )
        return bool(rows)

    def holders(self, prefix: str = "") -> dict[str, tuple[str, int]]:
        """Live leases whose name starts with ``prefix``: name → (holder, term)."""
        rows = self._run(
            "SELECT name, holder, term FROM cluster_leases WHERE name LIKE %s AND expires_at > now()",
            (_like_prefix(prefix),),
        )
        return {str(name): (str(holder), int(term)) for name, holder, term in rows}  # type: ignore[call-overload]

    def holds(self, fence: Fence) -> bool:
        """Whether ``fence`` is still the live grant of its lease (for status and tests)."""
        rows = self._run(
            "SELECT 1 FROM cluster_leases WHERE name = %s AND holder = %s AND term = %s AND expires_at > now()",
            fence.as_tuple(),
        )
        return bool(rows)


def _like_prefix(prefix: str) -> str:
    """A LIKE pattern matching names that begin with ``prefix`` literally."""
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class LeaseKeeper:
    """Renews a process's leases every :data:`RENEW_EVERY_S` seconds in a thread of its own.

    Why a thread: a long fusion batch or a sector's recovery must not delay renewals past the TTL. The
    keeper has its own connection (a :class:`LeaseTable`); a lease whose renewal is refused (it expired and
    was taken) is reported in :meth:`lost` and no longer renewed. A renewal that fails for want of the
    database is retried at the next tick; the fence in the store's transactions keeps writes safe meanwhile.
    """

    def __init__(self, table: LeaseTable, every_s: float = RENEW_EVERY_S) -> None:
        self._table = table
        self._every_s = every_s
        self._held: dict[str, Fence] = {}
        self._lost: set[str] = set()
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="truceline-leases", daemon=True)
        self.failures = 0

    def start(self) -> None:
        """Begin renewing."""
        self._thread.start()

    def stop(self) -> None:
        """Stop renewing (leases then expire unless released)."""
        self._stop.set()
        self._thread.join(timeout=self._every_s + 10)
        self._table.close()

    def keep(self, fence: Fence) -> None:
        """Renew ``fence`` from now on."""
        with self._guard:
            self._held[fence.name] = fence
            self._lost.discard(fence.name)

    def forget(self, name: str) -> None:
        """Stop renewing ``name`` (released, or lost)."""
        with self._guard:
            self._held.pop(name, None)

    def lost(self, name: str) -> bool:
        """Whether the renewal of ``name`` was refused since it was kept."""
        with self._guard:
            return name in self._lost

    def renew_now(self) -> None:
        """One round of renewals (the thread's tick; tests call it directly)."""
        with self._guard:
            fences = list(self._held.values())
        for fence in fences:
            try:
                ok = self._table.renew(fence)
            except psycopg.Error:
                self.failures += 1
                return  # the database is unreachable: try again at the next tick
            if not ok:
                with self._guard:
                    if self._held.get(fence.name) == fence:
                        del self._held[fence.name]
                        self._lost.add(fence.name)

    def _loop(self) -> None:
        while not self._stop.wait(self._every_s):
            self.renew_now()
