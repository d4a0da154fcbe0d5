"""The federation outbox: which stored observations a national node still owes its coalition hub.

Why a table in the node's own database, written in the transaction that stores the observation: an
observation is in the outbox exactly when it is stored, so a ``kill -9`` at any moment can neither lose
one that was accepted nor enqueue one that was not. The forwarder (:mod:`truceline.federate.forwarder`)
drains it in sequence order and marks rows only after the hub answered; a reply lost on the way makes it
send again, which the hub's idempotent intake turns into a no-op (exactly-once effect by id).

Rows are kept after delivery (``sent``), so the node can say what it delivered, and a row the hub refused
for good (``refused``, with the hub's reason) stays visible until an operator requeues it. ``local`` marks
an observation found at drain time to be releasable to nobody beyond the node's nation: it never leaves.

The tables are the outbox's own (``CREATE TABLE IF NOT EXISTS``), created on first attach, so a data dir
that never had an upstream carries none of this; observations stored while no upstream was configured
(or by ``truceline ingest``) are enqueued on the next attach from the ``covered_through`` mark.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from truceline.store.sqlite import PreparedObservation, SqliteStore, execute_ddl

PENDING, SENT, REFUSED, LOCAL = "pending", "sent", "refused", "local"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY,              -- observations.seq
    obs_id TEXT NOT NULL,
    enqueued_us INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'refused', 'local')),
    attempts INTEGER NOT NULL DEFAULT 0,
    done_us INTEGER,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS outbox_state ON outbox (state, seq);
CREATE TABLE IF NOT EXISTS outbox_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)
"""


def _now_us() -> int:
    return int(datetime.now(UTC).timestamp() * 1_000_000)


def leaves_owner(owner_org: str, labels: tuple[str, ...] | list[str]) -> bool:
    """Whether releasability reaches anyone besides the owning organisation (candidates for forwarding)."""
    return any(label != owner_org for label in labels)


@dataclass(frozen=True)
class OutboxItem:
    """One pending row with what the forwarder sends: the stored canonical document."""

    seq: int
    id: str
    owner_org: str
    labels: tuple[str, ...]
    document: dict[str, Any]


@dataclass(frozen=True)
class OutboxStatus:
    """What the page, ``/metrics`` and the alert show."""

    pending: int
    oldest_pending_age_s: float | None
    sent: int
    refused: int
    local: int
    last_success_us: int | None
    last_error: str | None
    last_error_us: int | None
    nation: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON form (times as ISO 8601 UTC)."""

        def iso(us: int | None) -> str | None:
            if us is None:
                return None
            return datetime.fromtimestamp(us / 1e6, UTC).isoformat().replace("+00:00", "Z")

        return {
            "pending": self.pending,
            "oldest_pending_age_s": self.oldest_pending_age_s,
            "sent": self.sent,
            "refused": self.refused,
            "local": self.local,
            "last_success": iso(self.last_success_us),
            "last_error": self.last_error,
            "last_error_at": iso(self.last_error_us),
            "nation": self.nation,
        }


class Outbox:
    """The outbox of one store. Attaching creates its tables, catches up and hooks every later insert."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        with store.transaction() as conn:
            execute_ddl(conn, _SCHEMA)
            self._catch_up(conn)
        store.add_insert_hook(self._enqueue)

    # -- writing (inside the store's transactions) -----------------------------------------------------
    def _enqueue(self, conn: sqlite3.Connection, new: list[tuple[int, PreparedObservation]]) -> None:
        """Insert hook: enqueue what may leave the owner, and move the covered mark (same transaction)."""
        if not new:
            return
        first = min(seq for seq, _ in new)
        if int(_get_meta(conn, "covered_through") or 0) < first - 1:
            self._catch_up(conn, below=first)  # rows another process (`truceline ingest`) stored meanwhile
        now = _now_us()
        rows = [(seq, item.id, now) for seq, item in new if leaves_owner(item.owner_org, item.labels)]
        conn.executemany("INSERT OR IGNORE INTO outbox (seq, obs_id, enqueued_us) VALUES (?,?,?)", rows)
        _set_meta(conn, "covered_through", str(max(seq for seq, _ in new)))

    def catch_up(self) -> None:
        """Enqueue what was stored without passing the hook (another process); cheap when nothing was."""
        conn = self.store.reader()
        top = conn.execute("SELECT coalesce(max(seq), 0) FROM observations").fetchone()[0]
        if top > int(_get_meta(conn, "covered_through") or 0):
            with self.store.transaction() as writer:
                self._catch_up(writer)

    def _catch_up(self, conn: sqlite3.Connection, below: int | None = None) -> None:
        """Enqueue observations above the ``covered_through`` mark (and below ``below``) that may leave."""
        mark = int(_get_meta(conn, "covered_through") or 0)
        top = conn.execute("SELECT coalesce(max(seq), 0) FROM observations").fetchone()[0] if below is None else below - 1
        if top <= mark:
            return
        conn.execute(
            "INSERT OR IGNORE INTO outbox (seq, obs_id, enqueued_us)"
            " SELECT o.seq, o.id, ? FROM observations o WHERE o.seq > ? AND o.seq <= ? AND EXISTS"
            " (SELECT 1 FROM json_each(o.doc, '$.releasable_to') r WHERE r.value != o.org)",
            (_now_us(), mark, top),
        )
        _set_meta(conn, "covered_through", str(top))

    # -- the forwarder's side ----------------------------------------------------------------------------
    def pending(self, limit: int) -> list[OutboxItem]:
        """The oldest ``limit`` pending rows, in sequence order, with their documents and labels."""
        conn = self.store.reader()
        rows = conn.execute(
            "SELECT b.seq, b.obs_id, o.org, o.doc"
            " FROM outbox b JOIN observations o ON o.seq = b.seq WHERE b.state = 'pending' ORDER BY b.seq LIMIT ?",
            (limit,),
        ).fetchall()
        items = []
        for seq, oid, org, doc in rows:
            document = orjson.loads(doc)
            items.append(OutboxItem(seq, oid, org, tuple(document.get("releasable_to") or ()), document))
        return items

    def mark(self, seqs: list[int], state: str, reason: str | None = None) -> None:
        """Settle rows (``sent``, ``refused`` with the hub's reason, or ``local``); pending rows only."""
        if not seqs:
            return
        now = _now_us()
        with self.store.transaction() as conn:
            conn.executemany(
                "UPDATE outbox SET state = ?, done_us = ?, reason = ?, attempts = attempts + 1 WHERE seq = ? AND state = 'pending'",
                [(state, now, reason, seq) for seq in seqs],
            )
            if state == SENT:
                _set_meta(conn, "last_success_us", str(now))

    def count_attempt(self, seqs: list[int], error: str) -> None:
        """A try that did not settle these rows (hub down, timed out, 5xx): count it and keep the error."""
        with self.store.transaction() as conn:
            conn.executemany("UPDATE outbox SET attempts = attempts + 1 WHERE seq = ?", [(s,) for s in seqs])
            _set_meta(conn, "last_error", error)
            _set_meta(conn, "last_error_us", str(_now_us()))

    def record_error(self, error: str) -> None:
        """An error not tied to rows (the key refused, the hub unreachable before sending)."""
        with self.store.transaction() as conn:
            _set_meta(conn, "last_error", error)
            _set_meta(conn, "last_error_us", str(_now_us()))

    def set_nation(self, nation: str) -> None:
        """The organisation of the upstream key, as the hub reported it (kept for the page and restarts)."""
        with self.store.transaction() as conn:
            _set_meta(conn, "nation", nation)

    def requeue_refused(self) -> int:
        """Put every refused row back to pending (after the cause was fixed); returns how many."""
        with self.store.transaction() as conn:
            return conn.execute("UPDATE outbox SET state = 'pending', reason = NULL, done_us = NULL WHERE state = 'refused'").rowcount

    # -- reading ---------------------------------------------------------------------------------------
    def status(self) -> OutboxStatus:
        """Counts by state, the oldest pending row's age and the last success and error."""
        conn = self.store.reader()
        counts = dict(conn.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
        meta = dict(conn.execute("SELECT key, value FROM outbox_meta").fetchall())
        age = self.oldest_pending_age_s()
        return OutboxStatus(
            pending=counts.get(PENDING, 0),
            oldest_pending_age_s=age,
            sent=counts.get(SENT, 0),
            refused=counts.get(REFUSED, 0),
            local=counts.get(LOCAL, 0),
            last_success_us=int(meta["last_success_us"]) if "last_success_us" in meta else None,
            last_error=meta.get("last_error"),
            last_error_us=int(meta["last_error_us"]) if "last_error_us" in meta else None,
            nation=meta.get("nation"),
        )

    def oldest_pending_age_s(self) -> float | None:
        """Seconds the oldest pending row has waited (None when none waits); one index probe."""
        row = self.store.reader().execute("SELECT enqueued_us FROM outbox WHERE state = 'pending' ORDER BY seq LIMIT 1").fetchone()
        return None if row is None else max(0.0, (_now_us() - row[0]) / 1e6)

    def refused(self, limit: int = 100) -> list[dict[str, Any]]:
        """The rows the hub refused for good, newest first, with the hub's reason."""
        rows = self.store.reader().execute(
            "SELECT obs_id, done_us, attempts, reason FROM outbox WHERE state = 'refused' ORDER BY done_us DESC, seq DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [
            {
                "id": oid,
                "refused_at": datetime.fromtimestamp(done / 1e6, UTC).isoformat().replace("+00:00", "Z"),
                "attempts": attempts,
                "reason": reason,
            }
            for oid, done, attempts, reason in rows
        ]

    def states(self) -> dict[str, str]:
        """Every row's state by observation id (for tests and audits; the outbox is small per node)."""
        return dict(self.store.reader().execute("SELECT obs_id, state FROM outbox").fetchall())


def _get_meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM outbox_meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def _set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT INTO outbox_meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))
