"""The evidence ledger on PostgreSQL: one sequencer appends, every replica proves.

Several API replicas accept observations, reviews, revocations and agreement versions at once; if each
appended its own leaves they would race for the same tree positions. So in this store nothing is appended
at intake: each record is committed with ``ledger_index`` NULL and its leaf waits in ``ledger_queue``. The
one sequencer (the holder of the ``sequencer`` lease, :mod:`truceline.cluster`) calls
:meth:`PgLedgerTables.sequence_pending`, which in one transaction (fenced by the lease, serialised by an
advisory lock) appends the queued leaves in queue order with the shared
:class:`~truceline.ledger.log.MerkleLog`, sets the records' ledger indexes and, when due, signs a checkpoint.
Ledger indexes therefore form one gap-free sequence that grows only at commit.

The signing key stays a file in the data dir (as in the embedded store); its public half is stored in
``ledger_public_key`` so that a replica without the file can still name the key its checkpoints verify with.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from truceline.domain.revocation import RevocationReason
from truceline.ledger.canonical import canonical_json, leaf_bytes
from truceline.ledger.checkpoint import LedgerKey, SignedCheckpoint, ensure_ledger_key
from truceline.ledger.commitment import commit_canonical, new_salt
from truceline.ledger.witness import write_witness
from truceline.store.postgres_base import PgBase
from truceline.store.postgres_conn import PgConnection
from truceline.store.postgres_incidents import Fence, check_fence
from truceline.store.postgres_schema import LEDGER_LOCK
from truceline.store.sqlite_ledger import LedgerTables
from truceline.store.sqlite_reviews import ReviewTables
from truceline.store.sqlite_revocations import RevocationTables, may_revoke, revocation_leaf, revocation_since
from truceline.store.sqlite_schema import StoreError
from truceline.store.timecodes import _from_us, _iso, _us

#: A checkpoint is signed when the queue has been drained, or at least this often while it is not.
CHECKPOINT_EVERY_S = 5.0
_TARGETS = {
    "observation": "UPDATE observations o SET ledger_index = v.idx FROM unnest(%s::bigint[], %s::bigint[]) AS v(ref, idx) WHERE o.seq = v.ref",
    "review": "UPDATE incident_reviews r SET ledger_index = v.idx FROM unnest(%s::bigint[], %s::bigint[]) AS v(ref, idx) WHERE r.seq = v.ref",
    "revocation": "UPDATE key_revocations r SET ledger_index = v.idx FROM unnest(%s::bigint[], %s::bigint[]) AS v(ref, idx) WHERE r.seq = v.ref",
    "track_minute": "UPDATE track_minutes t SET ledger_index = v.idx FROM unnest(%s::bigint[], %s::bigint[]) AS v(ref, idx) WHERE t.id = v.ref",
    "agreement": "UPDATE agreement_versions a SET ledger_index = v.idx FROM unnest(%s::bigint[], %s::bigint[]) AS v(ref, idx) WHERE a.seq = v.ref",
}


def _queue(conn: PgConnection, kind: str, ref: int, leaf: bytes) -> None:
    conn.execute("INSERT INTO ledger_queue (kind, ref, leaf) VALUES (?, ?, ?)", (kind, ref, leaf))


class PgLedgerTables(ReviewTables, RevocationTables, LedgerTables, PgBase):
    """Reviews, revocations, agreement versions (queued for the ledger) and the sequencer's append."""

    _last_checkpoint_at = 0.0

    # -- records that become leaves ------------------------------------------------------------------
    def add_review(self, incident_id: str, decision: str, reason: str, key_id: str, org: str) -> dict[str, Any]:
        """Record one analyst's decision; its leaf is queued for the sequencer (``ledger.index`` None until then)."""
        now = datetime.now(UTC)
        salt = new_salt()
        record = {"incident_id": incident_id, "decision": decision, "reason": reason, "analyst": key_id, "org": org, "at": _iso(now)}
        leaf = leaf_bytes("review", {"commitment": commit_canonical(salt, canonical_json(record)), "received_at": _iso(now)})
        with self.pg_transaction() as conn:
            seq = conn.execute(
                "INSERT INTO incident_reviews (incident_id, decision, reason, key_id, org, at_us, ledger_index, ledger_salt)"
                " VALUES (?,?,?,?,?,?,NULL,?) RETURNING seq",
                (incident_id, decision, reason, key_id, org, _us(now), salt),
            ).fetchone()[0]
            _queue(conn, "review", seq, leaf)
        return {**record, "ledger": {"index": None, "salt": base64.b64encode(salt).decode()}}

    def reviews(self, incident_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Review decisions per incident, oldest first (also those made under an incident's older name)."""
        out: dict[str, list[dict[str, Any]]] = {i: [] for i in incident_ids}
        columns = "r.seq, r.incident_id, r.decision, r.reason, r.key_id, r.org, r.at_us, r.ledger_index, r.ledger_salt"
        asked = list(incident_ids)
        rows = self._reader().execute(
            f"SELECT r.incident_id AS wanted, {columns} FROM incident_reviews r WHERE r.incident_id = ANY(?)"
            f" UNION ALL SELECT a.new_id, {columns} FROM incident_aliases a JOIN incident_reviews r ON r.incident_id = a.old_id"
            " WHERE a.new_id = ANY(?) ORDER BY 2",
            (asked, asked),
        ).fetchall()
        for wanted, _, incident_id, decision, reason, key_id, org, at_us, index, salt in rows:
            out[wanted].append(
                {
                    "incident_id": incident_id,
                    "decision": decision,
                    "reason": reason,
                    "analyst": key_id,
                    "org": org,
                    "at": _iso(_from_us(at_us)),
                    "ledger": {"index": index, "salt": base64.b64encode(bytes(salt)).decode()},
                }
            )
        return out

    def revoke_api_key(
        self,
        key_id: str,
        reason: RevocationReason = RevocationReason.RETIRED,
        since: datetime | None = None,
        by: str = "",
    ) -> bool:
        """Revoke a key (same rules as the embedded store); the revocation's leaf is queued for the sequencer."""
        now = datetime.now(UTC)
        effective_since = revocation_since(reason, since, now)
        with self.pg_transaction() as conn:
            row = conn.execute("SELECT org, revoked_us FROM api_keys WHERE key_id = ? FOR UPDATE", (key_id,)).fetchone()
            if row is None:
                return False
            org, revoked_us = row
            if not may_revoke(conn, key_id, reason, revoked_us):
                return False
            salt, leaf = revocation_leaf(key_id, org, reason, effective_since, now, by)
            seq = conn.execute(
                "INSERT INTO key_revocations (key_id, reason, since_us, at_us, by_key, ledger_index, ledger_salt)"
                " VALUES (?,?,?,?,?,NULL,?) RETURNING seq",
                (key_id, reason.value, None if effective_since is None else _us(effective_since), _us(now), by, salt),
            ).fetchone()[0]
            _queue(conn, "revocation", seq, leaf)
            if revoked_us is None:
                conn.execute("UPDATE api_keys SET revoked_us = ? WHERE key_id = ?", (_us(now), key_id))
        return True

    def save_agreement(self, document: dict[str, Any], digest: str, loaded_by: str) -> dict[str, Any] | None:
        """Keep a new agreement version (its leaf queued); None if it is the version in force already."""
        agreement_id, version = document["id"], int(document["version"])
        now = datetime.now(UTC)
        with self.pg_transaction() as conn:
            conn.execute("LOCK TABLE agreement_versions IN SHARE ROW EXCLUSIVE MODE")
            current = conn.execute(
                "SELECT agreement_id, version, digest FROM agreement_versions ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            if current is not None and current[2] == digest:
                return None
            if current is not None and current[0] == agreement_id and version <= current[1]:
                raise StoreError(
                    f"agreement {agreement_id} version {version} does not supersede version {current[1]} in force; raise 'version'"
                )
            leaf = leaf_bytes(
                "agreement",
                {"id": agreement_id, "version": version, "digest": digest, "loaded_at": _iso(now), "loaded_by": loaded_by},
            )
            seq = conn.execute(
                "INSERT INTO agreement_versions (agreement_id, version, digest, loaded_us, loaded_by, ledger_index, doc)"
                " VALUES (?,?,?,?,?,NULL,?) RETURNING seq",
                (agreement_id, version, digest, _us(now), loaded_by, orjson.dumps(document).decode()),
            ).fetchone()[0]
            _queue(conn, "agreement", seq, leaf)
        return {"id": agreement_id, "version": version, "digest": digest, "loaded_at": _iso(now), "ledger_index": None}

    # -- the sequencer -------------------------------------------------------------------------------
    def pending_leaves(self) -> int:
        """Leaves waiting for the sequencer."""
        return int(self._reader().execute("SELECT count(*) FROM ledger_queue").fetchone()[0])

    def sequence_pending(self, limit: int = 10_000, fence: Fence | None = None) -> int:
        """Append up to ``limit`` queued leaves to the Merkle log in queue order, in one transaction; return
        how many. ``fence`` (the ``sequencer`` lease) makes it conditional on still holding the lease
        (:class:`~truceline.store.postgres_incidents.LeaseLost`, nothing changed). Signs a checkpoint with
        the data dir's key when the queue is drained or every :data:`CHECKPOINT_EVERY_S` seconds."""
        with self.pg_transaction() as conn:
            check_fence(conn, fence)
            conn.execute("SELECT pg_advisory_xact_lock(?)", (LEDGER_LOCK,))
            rows = conn.execute("SELECT qseq, kind, ref, leaf FROM ledger_queue ORDER BY qseq LIMIT ?", (limit,)).fetchall()
            if rows:
                start = self._log.append_many(conn, [bytes(r[3]) for r in rows])  # type: ignore[arg-type]
                by_kind: dict[str, tuple[list[int], list[int]]] = {}
                for offset, (_, kind, ref, _) in enumerate(rows):
                    refs, indexes = by_kind.setdefault(kind, ([], []))
                    refs.append(int(ref))
                    indexes.append(start + offset)
                for kind, (refs, indexes) in by_kind.items():
                    conn.raw.execute(_TARGETS[kind], (refs, indexes))
                if "observation" in by_kind:
                    refs, indexes = by_kind["observation"]
                    with conn.raw.cursor() as cur, cur.copy("COPY ledger_positions (ledger_index, seq) FROM STDIN") as copy:
                        for ref, index in zip(refs, indexes, strict=True):
                            copy.write_row((index, ref))
                conn.raw.execute("DELETE FROM ledger_queue WHERE qseq = ANY(%s)", ([int(r[0]) for r in rows],))
            signed = None
            drained = len(rows) < limit
            if drained or time.monotonic() - self._last_checkpoint_at >= CHECKPOINT_EVERY_S:
                # Also when this call found nothing: the previous one may have appended a full batch unsigned.
                latest = self._log.latest_checkpoint(conn)  # type: ignore[arg-type]
                size = self._log.size(conn)  # type: ignore[arg-type]
                key = self._signing_key() if size > (latest.size if latest is not None else 0) else None
                if key is not None:
                    signed = self._log.sign_checkpoint(conn, key, key.name)  # type: ignore[arg-type]
                    self._last_checkpoint_at = time.monotonic()
        if signed is not None and self.data_dir is not None:
            write_witness(self.data_dir, signed)  # after the commit: the witness may lag the database, never lead it
        return len(rows)

    def _signing_key(self) -> LedgerKey | None:
        """The data dir's ledger key, created (O_EXCL, as in the embedded store) if missing and published in
        ``ledger_public_key``; None for a store opened without a data dir."""
        if self.data_dir is None:
            return None
        key = ensure_ledger_key(self.data_dir)
        self.publish_ledger_key(key)
        return key

    def publish_ledger_key(self, key: LedgerKey) -> None:
        """Store the public verifier key; refuse (StoreError) a different key than the one already published."""
        verifier = key.verifier_key()
        with self.pg_transaction() as conn:
            conn.execute("INSERT INTO ledger_public_key (one, verifier) VALUES (TRUE, ?) ON CONFLICT DO NOTHING", (verifier,))
            stored = conn.execute("SELECT verifier FROM ledger_public_key").fetchone()[0]
        if stored != verifier:
            raise StoreError(f"the ledger key in {self.data_dir} ({verifier}) is not the one this store's log is signed with ({stored})")

    def ledger_verifier_key(self) -> str | None:
        """The published public verifier key of the log's signatures, if any."""
        row = self._reader().execute("SELECT verifier FROM ledger_public_key").fetchone()
        return None if row is None else str(row[0])

    # -- reading the log -----------------------------------------------------------------------------
    def ledger_checkpoint(self, key: LedgerKey) -> SignedCheckpoint:
        """The latest signed checkpoint, signing a new one with ``key`` first if the log has grown since
        (only if ``key`` is the log's published key; otherwise the latest one the sequencer signed)."""
        latest = self._log.latest_checkpoint(self._reader())
        if latest is not None and latest.size == self.ledger_size():
            return latest
        published = self.ledger_verifier_key()
        if published is not None and published != key.verifier_key():
            # Not the log's key (a replica with a DIR of its own): serve what the sequencer signed.
            if latest is None:
                raise StoreError("no checkpoint signed yet: the sequencer (`truceline worker`) signs them with the log's key")
            return latest
        self.publish_ledger_key(key)
        with self.pg_transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(?)", (LEDGER_LOCK,))
            latest = self._log.latest_checkpoint(conn)  # type: ignore[arg-type]
            if latest is not None and latest.size == self._log.size(conn):  # type: ignore[arg-type]
                return latest
            return self._log.sign_checkpoint(conn, key, key.name)  # type: ignore[arg-type]

    def ledger_leaves_at(self, indexes: Sequence[int]) -> dict[int, bytes]:
        """The bytes of each leaf in ``indexes`` (one query for a page)."""
        return self._log.leaves_at(self._reader(), indexes)
