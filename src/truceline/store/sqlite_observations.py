"""The observations table: atomic idempotent intake, reads by identity, filtered pages, overview totals.

An observation's identity is its organisation and its id (``source.org``, ``id``): two organisations may use
the same id, and nothing here ever tells one organisation that another used an id. A re-post by the same
organisation with the same content is a duplicate, with other content a conflict (kept unchanged).
The columns beside the canonical JSON document exist only to serve queries: time (integer microseconds,
indexed), a grid cell per point (B-tree indexed, see :mod:`~truceline.store.grid`; twice as fast to insert
into as an R*Tree, and exact filtering follows anyway), and a label table for releasability.
"""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from truceline.access.policy import Principal, is_coalition_staff
from truceline.domain.observation import Observation
from truceline.domain.strict import is_ascii_digits
from truceline.domain.validated import ValidatedObservation
from truceline.store.grid import bbox_condition, cell_ranges
from truceline.store.ports import AddResult, ObservationQuery, Page, StoredObservation
from truceline.store.prepared import (
    INSERT_LABEL_SQL,
    INSERT_POSTED_SQL,
    PreparedColumns,
    PreparedObservation,
    prepare_batch,
    prepare_validated_batch,
)
from truceline.store.sqlite_base import SqliteBase
from truceline.store.sqlite_revocations import COUNTS_SQL, EXCLUDED_NOTE
from truceline.store.sqlite_schema import StoreError
from truceline.store.timecodes import _from_us, _iso, _us

if TYPE_CHECKING:
    from truceline.store.ports import BBox


def _encode_cursor(t_us: int, seq: int) -> str:
    return base64.urlsafe_b64encode(f"{t_us}:{seq}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        t_us, seq = raw.split(":")
        if not (is_ascii_digits(t_us) and is_ascii_digits(seq)):  # int() would also read " 12"
            raise ValueError(raw)
        return int(t_us), int(seq)
    except (ValueError, UnicodeDecodeError) as exc:
        raise StoreError(f"cursor {cursor!r} is not one this server issued") from exc


def _visibility(reader: Principal | None, params: list[object]) -> str:
    """SQL condition (on alias ``o``) for the releasability rule; appends its parameters."""
    if reader is None or reader.sees_everything:
        return ""
    labels = sorted(reader.labels)
    params.append(reader.org)
    params.extend(labels)
    return (
        "(o.org = ? OR EXISTS (SELECT 1 FROM observation_labels l WHERE l.seq = o.seq"
        f" AND l.label IN ({','.join('?' * len(labels))})))"
    )


_STORED_COLUMNS = f"o.id, o.doc, o.received_us, o.seq, o.ledger_index, o.ledger_salt, NOT {COUNTS_SQL}"


def _counting_only(reader: Principal | None) -> str:
    """SQL condition hiding what a compromised key posted from readers other than coalition staff (who see
    it marked :data:`EXCLUDED_NOTE`); empty when ``reader`` sees it all."""
    return "" if reader is None or is_coalition_staff(reader) else COUNTS_SQL


def _stored(row: tuple[Any, ...]) -> StoredObservation:
    return StoredObservation(
        id=row[0],
        document=orjson.loads(row[1]),
        received_at=_from_us(row[2]),
        seq=row[3],
        ledger_index=row[4],
        ledger_salt=row[5],
        excluded=EXCLUDED_NOTE if row[6] else None,
    )


class ObservationTables(SqliteBase):
    """Observations and their releasability labels."""

    def add_observations(self, observations: Sequence[Observation], received_at: datetime | None = None) -> AddResult:
        """Insert a batch atomically; (organisation, id) pairs already stored are accepted and left unchanged."""
        return self.add_prepared(prepare_batch(observations, received_at or datetime.now(UTC)))

    def add_validated(self, items: Sequence[ValidatedObservation], received_at: datetime | None = None) -> AddResult:
        """:meth:`add_observations` for observations validated as columns (no model object per row)."""
        return self.add_prepared(prepare_validated_batch(items, received_at or datetime.now(UTC)))

    def add_prepared(self, prepared: Sequence[PreparedObservation], posted_by: str | None = None) -> AddResult:
        """Insert observations prepared beforehand (see :func:`prepare_batch`) atomically; pairs of
        organisation and id already stored are accepted and left unchanged. Only sequence numbers are
        assigned under the write lock. Another organisation's use of an id is never looked at.
        ``posted_by`` (the submitting key) is kept so that a key later revoked as compromised can have the
        observations it posted set aside (:mod:`truceline.domain.revocation`)."""
        columns = prepared if isinstance(prepared, PreparedColumns) else None
        accepted = list(columns.ids) if columns is not None else [item.id for item in prepared]
        if not prepared:
            return AddResult(accepted=[], stored=[], duplicates=[], conflicts=[])
        keys_json = columns.keys_json if columns is not None else orjson.dumps([[item.owner_org, item.id] for item in prepared]).decode()
        with self.transaction() as conn:
            next_seq = conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM observations").fetchone()[0]
            next_leaf = self._log.size(conn)
            if columns is not None and columns.unique and self._insert_all_new(conn, columns, posted_by, next_seq, next_leaf):
                return AddResult(accepted=accepted, stored=list(columns.ids), duplicates=[], conflicts=[])
            existing: dict[tuple[str, str], bytes] = {
                (org, oid): digest
                for org, oid, digest in conn.execute(
                    "SELECT o.org, o.id, o.doc_sha256 FROM json_each(?) AS j JOIN observations AS o"
                    " ON o.org = json_extract(j.value, '$[0]') AND o.id = json_extract(j.value, '$[1]')",
                    (keys_json,),
                )
            }
            rows: list[tuple[object, ...]] = []
            labels: list[tuple[str, int]] = []
            leaves: list[bytes] = []
            leaf_hashes: list[bytes] = []
            new: list[tuple[int, PreparedObservation]] = []
            stored: list[str] = []
            duplicates: list[str] = []
            conflicts: list[str] = []
            for item in prepared:
                key = (item.owner_org, item.id)
                known = existing.get(key)
                if known is not None:
                    (duplicates if known == item.doc_sha256 else conflicts).append(item.id)
                    continue
                existing[key] = item.doc_sha256
                # The row of INSERT_POSTED_SQL: the prepared columns, numbered, with the submitting key.
                rows.append((next_seq, *item.columns, next_leaf + len(leaves), item.salt, posted_by))
                leaves.append(item.leaf)
                leaf_hashes.append(item.leaf_hash)
                stored.append(item.id)
                new.append((next_seq, item))
                for label in item.labels:
                    labels.append((label, next_seq))
                next_seq += 1
            conn.executemany(INSERT_POSTED_SQL, rows)  # posted_by in the same statement: each row written once
            conn.executemany(INSERT_LABEL_SQL, labels)
            # The evidence log grows in the same transaction: a stored observation always has its leaf.
            self._log.append_many(conn, leaves, leaf_hashes)
            for hook in self._insert_hooks:
                hook(conn, new)
        return AddResult(accepted=accepted, stored=stored, duplicates=duplicates, conflicts=conflicts)

    def _insert_all_new(self, conn: Any, batch: PreparedColumns, posted_by: str | None, next_seq: int, next_leaf: int) -> bool:
        """:meth:`add_prepared`'s writes for a batch of distinct keys, if none is stored yet (the usual batch): the
        same rows, labels, leaves and hooks as its row-by-row loop writes for such a batch, straight from the
        columns (no Python code per row). Whether a key is stored is left to the ``(org, id)`` unique index the
        rows go through anyway, instead of looking the batch up first (~5 % of the writer's CPU per batch); if it
        refuses one, nothing of the batch stays written and False sends it to the lookup."""
        conn.execute("SAVEPOINT all_new")
        try:
            conn.executemany(INSERT_POSTED_SQL, batch.insert_rows(next_seq, next_leaf, posted_by))
        except sqlite3.IntegrityError:  # a stored key (any other refusal comes again on the lookup's path)
            conn.execute("ROLLBACK TO all_new")
            conn.execute("RELEASE all_new")
            return False
        conn.execute("RELEASE all_new")
        conn.executemany(INSERT_LABEL_SQL, batch.label_pairs(next_seq))
        self._log.append_many(conn, batch.leaves, batch.leaf_hashes)
        if self._insert_hooks:
            new = list(zip(range(next_seq, next_seq + len(batch)), batch, strict=True))
            for hook in self._insert_hooks:
                hook(conn, new)
        return True

    def find_observations(
        self, observation_id: str, reader: Principal | None = None, org: str | None = None
    ) -> list[StoredObservation]:
        """Every observation under ``observation_id`` that ``reader`` may see (of organisation ``org`` only,
        if given): the reader's own organisation's first, then the others in storage order."""
        sql = f"SELECT {_STORED_COLUMNS} FROM observations o WHERE o.id = ?"
        params: list[object] = [observation_id]
        if org is not None:
            sql += " AND o.org = ?"
            params.append(org)
        visible = _visibility(reader, params)
        if visible:
            sql += " AND " + visible
        if counting := _counting_only(reader):
            sql += " AND " + counting
        own = reader.org if reader is not None else ""
        sql += " ORDER BY o.org != ?, o.seq"
        params.append(own)
        return [_stored(row) for row in self._reader().execute(sql, params).fetchall()]

    def get_observation(
        self, observation_id: str, reader: Principal | None = None, org: str | None = None
    ) -> StoredObservation | None:
        """One observation by id, or None (also when ``reader`` may not see it: existence is not revealed).

        The id resolves in the reader's own organisation first; otherwise to the earliest stored one the
        reader may see (``org`` names the organisation outright). Callers that must tell a reader who sees
        several organisations' observations under one id use :meth:`find_observations`.
        """
        found = self.find_observations(observation_id, reader, org)
        return found[0] if found else None

    def list_observations(self, query: ObservationQuery) -> Page:
        """Observations matching the filters, in time order, ``limit`` at a time."""
        where: list[str] = []
        params: list[object] = []
        visible = _visibility(query.reader, params)
        if visible:
            where.append(visible)
        if counting := _counting_only(query.reader):
            where.append(counting)
        if query.since is not None:
            where.append("o.t_us >= ?")
            params.append(_us(query.since))
        if query.until is not None:
            where.append("o.t_us < ?")
            params.append(_us(query.until))
        for column, values in (("o.kind", query.kinds), ("o.source_type", query.source_types), ("o.org", query.orgs)):
            if values:
                where.append(f"{column} IN ({','.join('?' * len(values))})")
                params.extend(values)
        if query.bbox is not None:
            box_sql, box_values = self._observation_bbox(query.bbox)
            where.append(box_sql)
            params.extend(box_values)
        if query.cursor:
            t_us, seq = _decode_cursor(query.cursor)
            where.append("(o.t_us, o.seq) > (?, ?)")
            params.extend((t_us, seq))
        sql = f"SELECT {_STORED_COLUMNS}, o.t_us FROM observations o"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY o.t_us, o.seq LIMIT ?"
        params.append(query.limit + 1)
        rows = self._reader().execute(sql, params).fetchall()
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        page = Page(items=[_stored(row) for row in rows])
        if more:
            page.next_cursor = _encode_cursor(rows[-1][7], rows[-1][3])  # t_us, seq
        return page

    def _observation_bbox(self, bbox: BBox) -> tuple[str, list[object]]:
        """SQL condition (alias ``o``) for points in ``bbox``: grid cells narrow the search through the index,
        the exact test on lat/lon decides. The PostgreSQL store uses its GiST index instead."""
        exact, box_values = bbox_condition(bbox, "o.")
        sql = (
            "o.seq IN (SELECT g.seq FROM json_each(?) AS r JOIN observations AS g"
            " ON g.cell BETWEEN json_extract(r.value, '$[0]') AND json_extract(r.value, '$[1]')) AND " + exact
        )
        return sql, [orjson.dumps(cell_ranges(bbox)).decode(), *box_values]

    def count_observations(self) -> int:
        """Number of stored observations."""
        return int(self._reader().execute("SELECT count(*) FROM observations").fetchone()[0])

    def summarize_observations(self, reader: Principal | None = None) -> dict[str, Any]:
        """Totals for an overview (count, time span, counts by kind, source type, organisation) of what
        ``reader`` may see."""
        conn = self._reader()
        params: list[object] = []
        visible = _visibility(reader, params)
        where = f" WHERE {visible}" if visible else ""
        total, first, last = conn.execute(f"SELECT count(*), min(t_us), max(t_us) FROM observations o{where}", params).fetchone()
        out: dict[str, Any] = {
            "total": total,
            "first_time": None if first is None else _iso(_from_us(first)),
            "last_time": None if last is None else _iso(_from_us(last)),
        }
        for key, column in (("by_kind", "kind"), ("by_source_type", "source_type"), ("by_org", "org")):
            rows = conn.execute(
                f"SELECT {column}, count(*) FROM observations o{where} GROUP BY {column} ORDER BY 2 DESC, 1", params
            ).fetchall()
            out[key] = dict(rows)
        return out
