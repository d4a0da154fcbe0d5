"""The hub's register of national nodes: when each contributing key last reported, and its outbox then.

Why a register at the hub at all: a node that stopped forwarding looks, from the hub, exactly like a
nation with nothing to report. Each node reports on every contact (``PUT /api/v1/nodes/self``), so the
coalition sees which node is silent and which one is backed up. One row per key; its own table, created
on first use (``CREATE TABLE IF NOT EXISTS``) like the outbox's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from truceline.store.sqlite import SqliteStore, execute_ddl

_SCHEMA = """
CREATE TABLE IF NOT EXISTS node_contacts (
    key_id TEXT PRIMARY KEY,
    org TEXT NOT NULL,
    node TEXT NOT NULL,
    last_contact_us BIGINT NOT NULL,  -- BIGINT: the same INTEGER affinity in SQLite, 64 bits in PostgreSQL
    pending INTEGER,
    oldest_pending_age_s REAL,
    refused INTEGER,
    sent INTEGER,
    contacts INTEGER NOT NULL DEFAULT 1
)
"""


def _iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, UTC).isoformat().replace("+00:00", "Z")


class NodeRegister:
    """Last contact per contributing key, in the hub's store."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        with store.transaction() as conn:
            execute_ddl(conn, _SCHEMA)

    def record(self, key_id: str, org: str, node: str, report: dict[str, Any]) -> None:
        """Note a contact now, with the outbox figures the node reported (None where it said nothing)."""
        now = int(datetime.now(UTC).timestamp() * 1_000_000)
        values = (report.get("pending"), report.get("oldest_pending_age_s"), report.get("refused"), report.get("sent"))
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO node_contacts (key_id, org, node, last_contact_us, pending, oldest_pending_age_s, refused, sent)"
                " VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (key_id) DO UPDATE SET org = excluded.org, node = excluded.node,"
                " last_contact_us = excluded.last_contact_us, pending = excluded.pending,"
                " oldest_pending_age_s = excluded.oldest_pending_age_s, refused = excluded.refused, sent = excluded.sent,"
                " contacts = node_contacts.contacts + 1",
                (key_id, org, node, now, *values),
            )

    def list(self) -> list[dict[str, Any]]:
        """Every node, most recently heard first, with the seconds since its last contact."""
        now = datetime.now(UTC).timestamp()
        rows = self.store.reader().execute(
            "SELECT key_id, org, node, last_contact_us, pending, oldest_pending_age_s, refused, sent, contacts"
            " FROM node_contacts ORDER BY last_contact_us DESC"
        ).fetchall()
        return [
            {
                "key_id": key_id,
                "org": org,
                "node": node,
                "last_contact": _iso(last),
                "silent_for_s": round(max(0.0, now - last / 1e6), 1),
                "pending": pending,
                "oldest_pending_age_s": oldest,
                "refused": refused,
                "sent": sent,
                "contacts": contacts,
            }
            for key_id, org, node, last, pending, oldest, refused, sent, contacts in rows
        ]
