"""Analysts' review decisions: each one a row here and a ledger leaf committing to it, in one transaction.

The decision record is committed to (salted, so a leaf reveals nothing) before it is stored, so an auditor
holding the record and its salt can prove that the log holds exactly this decision at this index.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from truceline.ledger.canonical import canonical_json, leaf_bytes
from truceline.ledger.commitment import commit_canonical, new_salt
from truceline.store.sqlite_base import SqliteBase
from truceline.store.timecodes import _from_us, _iso, _us


class ReviewTables(SqliteBase):
    """Review decisions on incidents."""

    def add_review(self, incident_id: str, decision: str, reason: str, key_id: str, org: str) -> dict[str, Any]:
        """Record one analyst's decision on an incident, with its ledger leaf, in one transaction."""
        now = datetime.now(UTC)
        salt = new_salt()
        record = {"incident_id": incident_id, "decision": decision, "reason": reason, "analyst": key_id, "org": org, "at": _iso(now)}
        with self.transaction() as conn:
            index = self._log.size(conn)
            leaf = leaf_bytes("review", {"commitment": commit_canonical(salt, canonical_json(record)), "received_at": _iso(now)})
            self._log.append_many(conn, [leaf])
            conn.execute(
                "INSERT INTO incident_reviews (incident_id, decision, reason, key_id, org, at_us, ledger_index, ledger_salt)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (incident_id, decision, reason, key_id, org, _us(now), index, salt),
            )
        return {**record, "ledger": {"index": index, "salt": base64.b64encode(salt).decode()}}

    def reviews(self, incident_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Review decisions per incident, oldest first.

        A decision keeps the incident id it was committed under (its ledger leaf covers it); one made on an
        incident that fusion now names differently (``incident_aliases``, see migration 7) is listed under
        the new name too.
        """
        out: dict[str, list[dict[str, Any]]] = {i: [] for i in incident_ids}
        asked = orjson.dumps(list(incident_ids)).decode()
        columns = "r.seq, r.incident_id, r.decision, r.reason, r.key_id, r.org, r.at_us, r.ledger_index, r.ledger_salt"
        rows = self._reader().execute(
            f"SELECT j.value, {columns} FROM json_each(?) AS j JOIN incident_reviews AS r ON r.incident_id = j.value"
            f" UNION ALL SELECT j.value, {columns} FROM json_each(?) AS j JOIN incident_aliases AS a ON a.new_id = j.value"
            " JOIN incident_reviews AS r ON r.incident_id = a.old_id ORDER BY 2",
            (asked, asked),
        )
        for wanted, _, incident_id, decision, reason, key_id, org, at_us, index, salt in rows:
            out[wanted].append(
                {
                    "incident_id": incident_id,
                    "decision": decision,
                    "reason": reason,
                    "analyst": key_id,
                    "org": org,
                    "at": _iso(_from_us(at_us)),
                    "ledger": {"index": index, "salt": base64.b64encode(salt).decode()},
                }
            )
        return out
