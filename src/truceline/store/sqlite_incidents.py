"""Fusion's output and progress: incidents, their supporting observations, and fusion's cursor.

Fusion rebuilds open incidents from the observations on start, so only finalised ones are kept for good;
``incident_members`` links each incident to the observation rows (by sequence number) it rests on, so that
reader views can filter an incident's evidence by releasability. Incidents name each observation
by organisation and id (``observation_orgs``, ``observation_ids``): ids are per organisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from truceline.domain.incident import Incident
from truceline.store.grid import bbox_condition, cell_ranges
from truceline.store.incident_rows import IncidentChanges, IncidentItem, incident_changes
from truceline.store.ports import BBox, IncidentQuery, MemberEvidence
from truceline.store.sqlite_base import SqliteBase
from truceline.store.sqlite_revocations import COUNTS_SQL
from truceline.store.timecodes import _from_us, _us

#: The upsert of one ``incidents`` row (:func:`~truceline.store.incident_rows.incident_row`'s columns).
UPSERT_INCIDENT_SQL = (
    "INSERT INTO incidents (id, t_us, kind, status, lat, lon, cell, finalised, updated_us, doc)"
    " VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT (id) DO UPDATE SET t_us = excluded.t_us, kind = excluded.kind,"
    " status = excluded.status, lat = excluded.lat, lon = excluded.lon, cell = excluded.cell,"
    " finalised = excluded.finalised, updated_us = excluded.updated_us, doc = excluded.doc"
)

class LabelsCache:
    """An observation's ``releasable_to`` as the database hands it back (JSON text, or the list psycopg parsed;
    None when the document has none) as a tuple; each distinct text parsed once (a store holds few label sets)."""

    def __init__(self) -> None:
        self._parsed: dict[str, tuple[str, ...]] = {}

    def of(self, value: str | list[str] | None) -> tuple[str, ...]:
        """The labels of one observation."""
        if value is None:
            return ()
        if isinstance(value, list):
            return tuple(str(label) for label in value)
        labels = self._parsed.get(value)
        if labels is None:
            labels = self._parsed[value] = tuple(str(label) for label in orjson.loads(value))
        return labels


class IncidentTables(SqliteBase):
    """Incidents, incident membership and fusion progress."""

    def observations_after(self, seq: int, limit: int) -> list[tuple[int, str]]:
        """(seq, canonical document) of observations stored after ``seq``, in storage order."""
        return self._reader().execute(
            f"SELECT seq, doc FROM observations o WHERE seq > ? AND {COUNTS_SQL} ORDER BY seq LIMIT ?", (seq, limit)
        ).fetchall()

    def observations_since_time(self, since: datetime, up_to_seq: int) -> list[tuple[int, str]]:
        """(seq, document) with event time ≥ ``since`` and seq ≤ ``up_to_seq``, in storage order (replay)."""
        return self._reader().execute(
            f"SELECT seq, doc FROM observations o WHERE t_us >= ? AND seq <= ? AND {COUNTS_SQL} ORDER BY seq", (_us(since), up_to_seq)
        ).fetchall()

    def latest_observation_time(self, up_to_seq: int) -> datetime | None:
        """Latest event time among observations up to ``up_to_seq``."""
        value = self._reader().execute("SELECT max(t_us) FROM observations WHERE seq <= ?", (up_to_seq,)).fetchone()[0]
        return None if value is None else _from_us(value)

    def fusion_cursor(self) -> int:
        """Seq of the last observation fusion has taken in (0 before the first)."""
        row = self._reader().execute("SELECT value FROM fusion_state WHERE key = 'cursor'").fetchone()
        return 0 if row is None else int(row[0])

    def apply_incident_changes(
        self, upserts: Sequence[tuple[IncidentItem, bool]], removed: Sequence[str], cursor: int | None = None
    ) -> None:
        """Persist fusion's output atomically: (incident, finalised) upserts, removals, and progress. An
        incident may be given as the fuser's snapshot (:mod:`truceline.store.incident_rows`)."""
        # Built before the write lock is taken: fusion's transaction holds off the server's ingest (one writer),
        # and building the rows was a third of it (docs/performance.md, "Ninth round").
        self.write_incident_changes(incident_changes(upserts, removed, cursor))

    def write_incident_changes(self, changes: IncidentChanges) -> None:
        """Store what :func:`incident_changes` built, in one transaction (the fusion process's writer runs this
        on changes built in the process that fuses)."""
        rows, ids_json, members_json, by_id, removed, cursor = changes
        with self.transaction() as conn:
            if removed:
                conn.executemany("DELETE FROM incidents WHERE id = ?", [(i,) for i in removed])
            conn.executemany(UPSERT_INCIDENT_SQL, rows)
            # Each as one statement over a JSON array (one step, not one per row: fusion writes thousands of
            # incidents per batch, and each step hands the interpreter lock to the server's other threads).
            # One row per supporting observation, found by (org, id) through the unique index: ids are per
            # organisation. A member without one (incidents written before) matches no org here (``= NULL``)
            # and is found by id alone below. The rows go in in the table's key order: fusion's incident ids
            # are hashes, and inserting (and checking each incident's row for the foreign key) in a random
            # order cost a tenth more than sorting them first (same rows either way).
            conn.execute("DELETE FROM incident_members WHERE incident_id IN (SELECT value FROM json_each(?))", (ids_json,))
            conn.execute(
                "INSERT INTO incident_members (incident_id, obs_seq) SELECT j.value ->> 0, o.seq FROM json_each(?) AS j"
                " JOIN observations AS o ON o.org = j.value ->> 1 AND o.id = j.value ->> 2 ORDER BY 1, 2",
                (members_json,),
            )
            if by_id:
                conn.executemany("INSERT INTO incident_members (incident_id, obs_seq) SELECT ?1, seq FROM observations WHERE id = ?2", by_id)
            if cursor is not None:
                conn.execute(
                    "INSERT INTO fusion_state VALUES ('cursor', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (cursor,),
                )

    def drop_open_incidents(self) -> int:
        """Delete incidents fusion has not finalised (it rebuilds them on start); returns how many."""
        with self.transaction() as conn:
            return conn.execute("DELETE FROM incidents WHERE finalised = 0").rowcount

    def list_incidents(self, query: IncidentQuery) -> list[Incident]:
        """Incidents as fusion last published them, matching the filters, in time order."""
        where: list[str] = []
        params: list[object] = []
        if query.since is not None:
            where.append("i.t_us >= ?")
            params.append(_us(query.since))
        if query.until is not None:
            where.append("i.t_us < ?")
            params.append(_us(query.until))
        if query.statuses:
            where.append(f"i.status IN ({','.join('?' * len(query.statuses))})")
            params.extend(query.statuses)
        if query.ids:
            where.append(f"i.id IN ({','.join('?' * len(query.ids))})")
            params.extend(query.ids)
        if query.bbox is not None:
            box_sql, box_values = self._incident_bbox(query.bbox)
            where.append(box_sql)
            params.extend(box_values)
        sql = "SELECT i.id, i.doc FROM incidents i" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY i.t_us, i.id LIMIT ?"
        params.append(query.limit)
        conn = self._reader()
        rows = conn.execute(sql, params).fetchall()
        return [Incident.model_validate_json(doc) for _, doc in rows]

    def _incident_bbox(self, bbox: BBox) -> tuple[str, list[object]]:
        """SQL condition (alias ``i``) for incidents in ``bbox``: grid cells through the index, then the exact
        test. The PostgreSQL store uses its GiST index instead."""
        exact, values = bbox_condition(bbox, "i.")
        sql = (
            "i.id IN (SELECT g.id FROM json_each(?) AS r JOIN incidents AS g"
            " ON g.cell BETWEEN json_extract(r.value, '$[0]') AND json_extract(r.value, '$[1]')) AND " + exact
        )
        return sql, [orjson.dumps(cell_ranges(bbox)).decode(), *values]

    def member_evidence(self, incident_ids: Sequence[str]) -> dict[str, list[MemberEvidence]]:
        """(organisation, id, releasable_to) of each supporting observation per incident: who may read what an
        incident rests on, without parsing each whole document (SQLite's JSON reader takes the one field, 1.6
        against 5.6 µs per member for :meth:`member_documents`; the fusion process asks per announced change)."""
        out: dict[str, list[MemberEvidence]] = {i: [] for i in incident_ids}
        rows = self._reader().execute(
            "SELECT m.incident_id, o.org, o.id, json_extract(o.doc, '$.releasable_to') FROM json_each(?) AS j"
            " JOIN incident_members AS m ON m.incident_id = j.value JOIN observations AS o ON o.seq = m.obs_seq",
            (orjson.dumps(list(incident_ids)).decode(),),
        )
        labels = LabelsCache()
        for incident_id, org, oid, releasable_to in rows:
            out[incident_id].append((org, oid, labels.of(releasable_to)))
        return out

    def member_documents(self, incident_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Supporting observation documents per incident (for releasability-filtered views)."""
        out: dict[str, list[dict[str, Any]]] = {i: [] for i in incident_ids}
        rows = self._reader().execute(
            "SELECT m.incident_id, o.doc FROM json_each(?) AS j JOIN incident_members AS m ON m.incident_id = j.value"
            " JOIN observations AS o ON o.seq = m.obs_seq",
            (orjson.dumps(list(incident_ids)).decode(),),
        )
        for incident_id, doc in rows:
            out[incident_id].append(orjson.loads(doc))
        return out
