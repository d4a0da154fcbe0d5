"""``truceline ledger audit``: every stored record against its leaf, every leaf against the signed heads.

Why it lives here (CLI layer) and not in ``ledger/``: it reads the store's tables (observations, reviews)
beside the ledger's, and the ledger layer must not know the store. The checks themselves are
:mod:`truceline.ledger.audit`; this module only walks one read-only SQLite connection in leaf order, in
chunks, so memory stays flat and a progress bar can follow a big store. Observations and reviews are checked against
their salted commitments, agreement versions against the digest their leaf records. ``ledger export`` runs the same
audit first and refuses to write a bundle from a store that fails it.
"""

from __future__ import annotations

import hashlib
import heapq
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from .domain.agreement import canonical_json as agreement_canonical_json
from .ledger.audit import Mismatch, TreeAudit, check_commitment, first
from .ledger.canonical import CanonicalError, canonical_json, parse_leaf
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
    agreements: int = 0
    checkpoints: int = 0
    witness_size: int | None = None
    key_checked: bool = False
    problems: list[Mismatch] = field(default_factory=list)

    def count(self, kind: str) -> None:
        """One more record of ``kind`` (observation, review, agreement) checked."""
        setattr(self, kind + "s", getattr(self, kind + "s") + 1)

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
            "reviews_checked": self.reviews, "agreements_checked": self.agreements, "checkpoints_checked": self.checkpoints,
            "witness_size": self.witness_size, "signatures_checked": self.key_checked,
            "first_mismatch": head.to_dict() if head else None, "mismatches": len(self.problems),
        }


Check = Callable[[bytes], "Mismatch | None"]
Record = tuple[int, str, str, Check]  # (leaf index, kind, name, check of the leaf's bytes)


def _commitment_check(leaf_type: str, where: str, salt: bytes, canonical: bytes, index: int) -> Check:
    return lambda leaf: check_commitment(leaf, leaf_type, salt, canonical, where, index)


def _observations(conn: sqlite3.Connection) -> Iterator[Record]:
    cursor = conn.execute(
        "SELECT ledger_index, id, doc, ledger_salt FROM observations WHERE ledger_index IS NOT NULL ORDER BY ledger_index"
    )
    for index, oid, doc, salt in cursor:
        where = f"observation {oid!r}"
        canonical = doc.encode() if isinstance(doc, str) else bytes(doc)
        yield index, "observation", where, _commitment_check("observation", where, salt or b"", canonical, index)


def _reviews(conn: sqlite3.Connection) -> Iterator[Record]:
    cursor = conn.execute(
        "SELECT ledger_index, incident_id, decision, reason, key_id, org, at_us, ledger_salt FROM incident_reviews"
        " WHERE ledger_index IS NOT NULL ORDER BY ledger_index"
    )
    for n, (index, iid, decision, reason, key_id, org, at_us, salt) in enumerate(cursor, 1):
        record = {"incident_id": iid, "decision": decision, "reason": reason, "analyst": key_id, "org": org, "at": _iso_us(at_us)}
        where = f"review {n} of incident {iid!r}"
        yield index, "review", where, _commitment_check("review", where, salt or b"", canonical_json(record), index)


def _agreements(conn: sqlite3.Connection) -> Iterator[Record]:
    cursor = conn.execute(
        "SELECT ledger_index, agreement_id, version, digest, doc FROM agreement_versions WHERE ledger_index IS NOT NULL"
        " ORDER BY ledger_index"
    )
    for index, agreement_id, version, digest, doc in cursor:
        where = f"agreement {agreement_id!r} version {version}"
        yield index, "agreement", where, _agreement_check(where, index, digest, doc)


def _agreement_check(where: str, index: int, digest: str, doc: str) -> Check:
    """An agreement leaf records the version's digest: the stored document must still hash to it."""

    def check(leaf: bytes) -> Mismatch | None:
        try:
            parsed = parse_leaf(leaf)
        except CanonicalError as exc:
            return Mismatch(where, f"its ledger leaf {index} is not a valid leaf envelope ({exc})", index)
        if parsed.type != "agreement" or parsed.body.get("digest") != digest:
            return Mismatch(where, f"its digest is not the one ledger leaf {index} records", index)
        actual = "sha256:" + hashlib.sha256(agreement_canonical_json(orjson.loads(doc)).encode()).hexdigest()
        if actual != digest:
            return Mismatch(where, f"the stored document hashes to {actual}, not to the digest in ledger leaf {index}: "
                            "it was changed after it was loaded", index)
        return None

    return check


def _records(conn: sqlite3.Connection, tables: set[str]) -> Iterator[Record]:
    """Every stored record with a leaf, in leaf order (each table's stream is sorted; merged lazily)."""
    streams = [read(conn) for table, read in _TABLES.items() if table in tables]
    return heapq.merge(*streams, key=lambda record: record[0])


_TABLES: dict[str, Callable[[sqlite3.Connection], Iterator[Record]]] = {
    "observations": _observations, "incident_reviews": _reviews, "agreement_versions": _agreements,
}


def _table_names(conn: sqlite3.Connection) -> set[str]:
    """The store's tables: SQLite's catalogue, or PostgreSQL's for the PostgreSQL store's reader (which speaks
    ``sqlite3``'s interface, see :mod:`truceline.store.postgres_conn`)."""
    if isinstance(conn, sqlite3.Connection):
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    else:
        sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
    return {r[0] for r in conn.execute(sql)}


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
    tables = _table_names(conn)
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
            index, kind, where, check = record
            if index < start:  # two records claim one leaf
                report.problems.append(Mismatch(where, f"it claims ledger leaf {index}, which another record holds", index))
            else:
                mismatch = check(leaves[index - start])
                if mismatch is not None:
                    report.problems.append(mismatch)
                report.count(kind)
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
