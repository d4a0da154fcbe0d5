"""The evidence ledger as the store exposes it, and the agreement versions recorded in it.

Every agreement version loaded is a ledger leaf, so a report can name the version it judged against and an
auditor can prove it was in force; proofs and signed checkpoints are served from the same transaction-safe
Merkle log the observations are appended to.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from truceline.ledger.canonical import leaf_bytes
from truceline.ledger.checkpoint import LedgerKey, SignedCheckpoint
from truceline.store.sqlite_base import SqliteBase
from truceline.store.sqlite_schema import StoreError
from truceline.store.timecodes import _from_us, _iso, _us


class LedgerTables(SqliteBase):
    """Agreement versions and the evidence log's proofs and checkpoints."""

    def save_agreement(self, document: dict[str, Any], digest: str, loaded_by: str) -> dict[str, Any] | None:
        """Keep a new agreement version (and its ledger leaf); None if it is the version in force already.

        Raises StoreError if the version number does not increase for the same agreement id.
        """
        agreement_id, version = document["id"], int(document["version"])
        now = datetime.now(UTC)
        with self.transaction() as conn:
            current = conn.execute(
                "SELECT agreement_id, version, digest FROM agreement_versions ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            if current is not None and current[2] == digest:
                return None
            if current is not None and current[0] == agreement_id and version <= current[1]:
                raise StoreError(
                    f"agreement {agreement_id} version {version} does not supersede version {current[1]} in force; raise 'version'"
                )
            index = self._log.size(conn)
            leaf = leaf_bytes(
                "agreement",
                {"id": agreement_id, "version": version, "digest": digest, "loaded_at": _iso(now), "loaded_by": loaded_by},
            )
            self._log.append_many(conn, [leaf])
            conn.execute(
                "INSERT INTO agreement_versions (agreement_id, version, digest, loaded_us, loaded_by, ledger_index, doc)"
                " VALUES (?,?,?,?,?,?,?)",
                (agreement_id, version, digest, _us(now), loaded_by, index, orjson.dumps(document).decode()),
            )
        return {"id": agreement_id, "version": version, "digest": digest, "loaded_at": _iso(now), "ledger_index": index}

    def agreement_versions(self) -> list[dict[str, Any]]:
        """Every version ever loaded, oldest first (without the documents)."""
        rows = self._reader().execute(
            "SELECT agreement_id, version, digest, loaded_us, loaded_by, ledger_index FROM agreement_versions ORDER BY seq"
        ).fetchall()
        return [
            {"id": r[0], "version": r[1], "digest": r[2], "loaded_at": _iso(_from_us(r[3])), "loaded_by": r[4], "ledger_index": r[5]}
            for r in rows
        ]

    def current_agreement_document(self) -> dict[str, Any] | None:
        """The canonical document of the version in force, if any."""
        row = self._reader().execute("SELECT doc FROM agreement_versions ORDER BY seq DESC LIMIT 1").fetchone()
        return None if row is None else orjson.loads(row[0])

    def ledger_size(self) -> int:
        """Leaves in the evidence log."""
        return self._log.size(self._reader())

    def ledger_checkpoint(self, key: LedgerKey) -> SignedCheckpoint:
        """The latest signed checkpoint, signing a new one first if the log has grown since."""
        latest = self._log.latest_checkpoint(self._reader())
        if latest is not None and latest.size == self.ledger_size():
            return latest
        with self.transaction() as conn:
            latest = self._log.latest_checkpoint(conn)
            if latest is not None and latest.size == self._log.size(conn):
                return latest
            return self._log.sign_checkpoint(conn, key, key.name)

    def ledger_inclusion(self, index: int, size: int) -> tuple[bytes, list[bytes]]:
        """(leaf hash, audit path) of leaf ``index`` in the tree of ``size`` leaves."""
        conn = self._reader()
        return self._log.leaf_hash(conn, index), self._log.inclusion_proof(conn, index, size)

    def ledger_consistency(self, size1: int, size2: int) -> list[bytes]:
        """Proof that the tree of ``size2`` leaves extends the tree of ``size1``."""
        return self._log.consistency_proof(self._reader(), size1, size2)

    def ledger_leaf(self, index: int) -> bytes:
        """The bytes of one leaf (commitments only: safe for every reader)."""
        return self._log.leaf(self._reader(), index)

    def ledger_leaves_at(self, indexes: Sequence[int]) -> dict[int, bytes]:
        """The bytes of each leaf in ``indexes`` (one query for a page of reads)."""
        return self._log.leaves_at(self._reader(), indexes)
