"""``truceline ledger audit``: every stored record against its leaf, every leaf against the signed heads.

Why it lives here (CLI layer) and not in ``ledger/``: it reads the store's tables (observations, reviews)
beside the ledger's, and the ledger layer must not know the store. The checks themselves are
:mod:`truceline.ledger.audit`; this module only walks one read-only SQLite connection in leaf order, in
chunks, so memory stays flat and a progress bar can follow a big store. ``ledger export`` runs the same
audit first and refuses to write a bundle from a store that fails it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .ledger.audit import Mismatch, TreeAudit, check_commitment, first
from .ledger.canonical import canonical_json
from .ledger.checkpoint import KeyFileError, Verifier, load_key
from .ledger.log import LogError, MerkleLog
from .ledger.witness import WitnessError, read_witness

__all__ = ["AuditReport", "audit_store"]

CHUNK = 4096
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class AuditReport:
    """What was checked and the mismatches found (``first_mismatch`` is the one to name)."""

    leaves: int = 0
    observations: int = 0
    reviews: int = 0
    checkpoints: int = 0
    witness_size: int | None = None
    key_checked: bool = False
    problems: list[Mismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_mismatch(self) -> Mismatch | None:
        return first(self.problems)

    def to_dict(self) -> dict[str, Any]:
        head = self.first_mismatch
        return {
            "ok": self.ok, "leaves": self.leaves, "observations_checked": self.observations,
            "reviews_checked": self.reviews, "checkpoints_checked": self.checkpoints,
            "witness_size": self.witness_size, "signatures_checked": self.key_checked,
            "first_mismatch": head.to_dict() if head else None, "mismatches": len(self.problems),
        }


def _records(conn: sqlite3.Connection, tables: set[str]) -> Iterator[tuple[int, str, str, bytes, bytes]]:
    """(leaf index, leaf type, name, salt, canonical bytes) of every stored record with a leaf, in leaf order."""
    if "observations" in tables:
        cursor = conn.execute(
            "SELECT ledger_index, id, doc, ledger_salt FROM observations WHERE ledger_index IS NOT NULL ORDER BY ledger_index"
        )
        observations: Iterator[tuple[int, str, str, bytes, bytes]] = (
            (i, "observation", f"observation {oid!r}", salt or b"", doc.encode() if isinstance(doc, str) else bytes(doc))
            for i, oid, doc, salt in cursor
        )
    else:
        observations = iter(())
    if "incident_reviews" in tables:
        rows = conn.execute(
            "SELECT ledger_index, incident_id, decision, reason, key_id, org, at_us, ledger_salt FROM incident_reviews"
            " ORDER BY ledger_index"
        ).fetchall()
        reviews = [
            (i, "review", f"review {n} of incident {iid!r}", salt or b"", canonical_json(
                {"incident_id": iid, "decision": d, "reason": r, "analyst": k, "org": o, "at": _iso_us(at)}
            ))
            for n, (i, iid, d, r, k, o, at, salt) in enumerate(rows, 1)
        ]
    else:
        reviews = []
    # Merge the two streams by leaf index (both are sorted).
    pending = next(observations, None)
    for review in reviews:
        while pending is not None and pending[0] < review[0]:
            yield pending
            pending = next(observations, None)
        yield review
    while pending is not None:
        yield pending
        pending = next(observations, None)


def _iso_us(value: int) -> str:
    return (_EPOCH + timedelta(microseconds=value)).isoformat().replace("+00:00", "Z")


def audit_store(conn: sqlite3.Connection, data_dir: Path, progress: Callable[[int, int], None] | None = None) -> AuditReport:
    """Audit the store in ``conn`` (read-only is enough); ``progress(done, total)`` after each chunk of leaves."""
    report = AuditReport()
    log = MerkleLog()
    verifier: Verifier | None
    try:
        verifier = load_key(data_dir).verifier
        report.key_checked = True
    except KeyFileError:
        verifier = None  # audit what can be audited; the report says signatures were not checked
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    size = log.size(conn)
    report.leaves = size
    checkpoints = log.checkpoints(conn)
    try:
        witness = read_witness(data_dir)
    except WitnessError as exc:
        report.problems.append(Mismatch("witness checkpoint", str(exc)))
        witness = None
    if witness is not None:
        report.witness_size = witness.size
        if witness.size > size:
            report.problems.append(
                Mismatch("witness checkpoint", f"it covers {witness.size} leaves but the store holds only {size}: "
                         "the store was restored from an old backup or damaged")
            )
        else:
            checkpoints.append(witness)
    tree = TreeAudit(size, checkpoints, verifier)
    records = _records(conn, tables)
    record = next(records, None)
    while tree.position < size:
        start = tree.position
        stop = min(tree.next_stop(), start + CHUNK)
        leaves = list(log.leaves(conn, start, stop))
        tree.feed(leaves, list(log.leaf_hashes(conn, start, stop)))
        while record is not None and record[0] < stop:
            index, leaf_type, where, salt, canonical = record
            if index < start:  # two records claim one leaf, or a record claims a leaf beyond the log
                report.problems.append(Mismatch(where, f"it claims ledger leaf {index}, which another record holds", index))
            else:
                mismatch = check_commitment(leaves[index - start], leaf_type, salt, canonical, where, index)
                if mismatch is not None:
                    report.problems.append(mismatch)
                if leaf_type == "observation":
                    report.observations += 1
                else:
                    report.reviews += 1
            record = next(records, None)
        if progress is not None:
            progress(stop, size)
    while record is not None:  # records pointing past the end of the log
        report.problems.append(Mismatch(record[2], f"it claims ledger leaf {record[0]} but the log has {size} leaves", record[0]))
        record = next(records, None)
    try:
        tree.finish(log.root(conn, size))
    except LogError as exc:
        report.problems.append(Mismatch(f"tree of size {size}", str(exc)))
    report.checkpoints = tree.checkpoints_checked
    report.problems.extend(tree.problems)
    return report
