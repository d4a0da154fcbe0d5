"""Observations in PostgreSQL: atomic idempotent intake with COPY, bounding boxes through PostGIS.

Reads by identity, pages, counts and overviews are the SQLite store's own SQL (inherited from
:class:`~truceline.store.sqlite_observations.ObservationTables`, run through the adapter). What differs:

- **Identity under concurrency.** ``observation_ids (org, id)`` is the unique key (the partitioned table
  cannot carry it). A batch inserts its new identities with ``ON CONFLICT DO NOTHING``: if another replica
  committed the same identity a moment earlier, the insert waits for it and skips it, and the item is then
  classified against what that replica stored (duplicate if the same content, conflict otherwise).
- **COPY** writes the observation rows, their labels and their ledger-queue entries: one round trip per
  table instead of one statement per row.
- **No ledger index at intake.** Rows are committed with ``ledger_index`` NULL and a queue entry holding
  their leaf; the sequencer (:meth:`~truceline.store.postgres_ledger.PgLedgerTables.sequence_pending`)
  appends them to the Merkle log in queue order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from truceline.store.ports import AddResult, BBox
from truceline.store.postgres_base import PgBase
from truceline.store.postgres_conn import PgConnection
from truceline.store.prepared import PreparedObservation
from truceline.store.sqlite_observations import ObservationTables

_OBSERVATION_COLUMNS = (
    "seq, id, t_us, time_unc_s, kind, loc_type, lat, lon, sigma_m, cell, source_id, source_type, org,"
    " reliability, credibility, doc_sha256, received_us, doc, ledger_index, ledger_salt, posted_by"
)


def postgis_bbox(bbox: BBox, alias: str) -> tuple[str, list[object]]:
    """SQL condition for the ``geom`` and ``lat``/``lon`` columns of ``alias`` inside ``bbox``.

    The GiST index answers ``&&`` (one envelope, or two across the antimeridian); the exact test on lat/lon
    (the same as SQLite's) keeps the boundary semantics identical in both stores.
    """
    envelopes: list[str] = []
    params: list[object] = []
    for lo, hi in bbox.lon_ranges():
        envelopes.append(f"{alias}.geom && ST_MakeEnvelope(?, ?, ?, ?, 4326)")
        params.extend((lo, bbox.min_lat, hi, bbox.max_lat))
    exact_terms = " OR ".join(f"({alias}.lon BETWEEN ? AND ?)" for _ in bbox.lon_ranges())
    params.extend((bbox.min_lat, bbox.max_lat))
    params.extend(x for r in bbox.lon_ranges() for x in r)
    return f"({' OR '.join(envelopes)}) AND {alias}.lat BETWEEN ? AND ? AND ({exact_terms})", params


class PgObservationTables(ObservationTables, PgBase):
    """Observations: COPY intake, identities, PostGIS search; the rest as in SQLite."""

    def add_prepared(self, prepared: Sequence[PreparedObservation], posted_by: str | None = None) -> AddResult:
        """Insert prepared observations atomically; (organisation, id) pairs already stored (here or by
        another replica, even concurrently) are accepted and left unchanged. Commits with ``ledger_index``
        NULL; the leaves wait in ``ledger_queue`` for the sequencer."""
        accepted = [item.id for item in prepared]
        if not prepared:
            return AddResult(accepted=[], stored=[], duplicates=[], conflicts=[])
        self._ensure_partitions([int(item.columns[1]) for item in prepared])  # type: ignore[call-overload]
        firsts: dict[tuple[str, str], PreparedObservation] = {}
        for item in prepared:
            firsts.setdefault((item.owner_org, item.id), item)
        with self.pg_transaction() as conn:
            new = _claim_identities(conn, list(firsts.values()))
            taken = [key for key in firsts if key not in new]  # stored before, here or by another replica
            existing = _stored_digests(conn, taken)
            stored_items = [(seq, item) for key, item in firsts.items() if (seq := new.get(key)) is not None]
            _copy_rows(conn, stored_items, posted_by)
            for hook in self._insert_hooks:
                hook(conn, stored_items)  # type: ignore[arg-type]
        stored: list[str] = []
        duplicates: list[str] = []
        conflicts: list[str] = []
        placed: set[int] = set()
        for item in prepared:
            key = (item.owner_org, item.id)
            seq = new.get(key)
            if seq is not None and seq not in placed and firsts[key] is item:
                placed.add(seq)
                stored.append(item.id)
                continue
            known = existing.get(key) if key in existing else firsts[key].doc_sha256
            (duplicates if known == item.doc_sha256 else conflicts).append(item.id)
        return AddResult(accepted=accepted, stored=stored, duplicates=duplicates, conflicts=conflicts)

    def _observation_bbox(self, bbox: BBox) -> tuple[str, list[object]]:
        return postgis_bbox(bbox, "o")


def _stored_digests(conn: PgConnection, keys: list[tuple[str, str]]) -> dict[tuple[str, str], bytes]:
    """Content hash of each (org, id) already stored."""
    if not keys:
        return {}
    rows = conn.raw.execute(
        "SELECT i.org, i.id, i.doc_sha256 FROM observation_ids i"
        " JOIN unnest(%s::text[], %s::text[]) AS k(org, id) ON i.org = k.org AND i.id = k.id",
        ([k[0] for k in keys], [k[1] for k in keys]),
    ).fetchall()
    return {(org, oid): bytes(digest) for org, oid, digest in rows}


def _claim_identities(conn: PgConnection, items: list[PreparedObservation]) -> dict[tuple[str, str], int]:
    """Insert the identities of ``items`` with new sequence numbers; return those this transaction got.

    One statement: identities already stored are skipped (``ON CONFLICT DO NOTHING``, which also waits for a
    concurrent writer of the same identity and then skips it); their sequence numbers are simply not used.
    """
    if not items:
        return {}
    # One lock order for every writer: two batches naming the same identities in another order cannot deadlock.
    fresh = sorted(items, key=lambda item: (item.owner_org, item.id))
    rows = conn.raw.execute(
        "INSERT INTO observation_ids (org, id, seq, doc_sha256)"
        " SELECT k.org, k.id, nextval('observations_seq'), k.digest"
        " FROM unnest(%s::text[], %s::text[], %b::bytea[]) AS k(org, id, digest)"  # %b: bytes go binary, unescaped
        " ON CONFLICT (org, id) DO NOTHING RETURNING org, id, seq",
        ([i.owner_org for i in fresh], [i.id for i in fresh], [i.doc_sha256 for i in fresh]),
    ).fetchall()
    return {(org, oid): int(seq) for org, oid, seq in rows}


def _copy_rows(conn: PgConnection, items: list[tuple[int, PreparedObservation]], posted_by: str | None) -> None:
    """COPY the observation rows, their releasability labels and their ledger-queue entries."""
    if not items:
        return
    with conn.raw.cursor() as cur:
        with cur.copy(f"COPY observations ({_OBSERVATION_COLUMNS}) FROM STDIN") as copy:
            for seq, item in items:
                row: tuple[Any, ...] = (seq, *item.columns, None, item.salt, posted_by)
                copy.write_row(row)
        with cur.copy("COPY observation_labels (label, seq) FROM STDIN") as copy:
            for seq, item in items:
                for label in dict.fromkeys(item.labels):
                    copy.write_row((label, seq))
        with cur.copy("COPY ledger_queue (kind, ref, leaf) FROM STDIN") as copy:
            for seq, item in items:
                copy.write_row(("observation", seq, item.leaf))
