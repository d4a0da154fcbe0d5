"""Incidents and fusion progress in PostgreSQL, per sector for the partitioned fusion workers.

A fusion worker owns a sector through a lease (:mod:`truceline.cluster.lease`); everything it writes is
fenced: the transaction first locks the lease row and aborts (:class:`LeaseLost`) unless the caller still
holds the term it was given, so a worker that lost its sector while paused cannot overwrite its
successor's incidents. Fusion reads observations in ledger order (``ledger_index``), the one order that
only grows at commit: a ``seq`` cursor could step over a row whose slower transaction commits later.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from truceline.store.incident_rows import IncidentItem, incident_rows
from truceline.store.ports import BBox, MemberEvidence
from truceline.store.postgres_base import PgBase
from truceline.store.postgres_conn import PgConnection
from truceline.store.postgres_observations import postgis_bbox
from truceline.store.sqlite_incidents import IncidentTables, LabelsCache
from truceline.store.sqlite_revocations import COUNTS_SQL
from truceline.store.sqlite_schema import StoreError
from truceline.store.timecodes import _us

#: A lease as the fence of a write: (name, holder, term), or any object with those attributes.
Fence = Any


class LeaseLost(StoreError):
    """The caller no longer holds the lease term it wrote under: nothing was written."""


def check_fence(conn: PgConnection, fence: Fence | None) -> None:
    """Lock the lease row of ``fence`` for this transaction; raise :class:`LeaseLost` unless it is still held.

    The row lock keeps a takeover (which updates the row) waiting until this transaction ends, so the check
    stays true until commit. ``None`` writes unfenced (tests, a single process).
    """
    if fence is None:
        return
    if hasattr(fence, "term"):
        name, holder, term = fence.name, fence.holder, fence.term
    else:
        name, holder, term = fence
    row = conn.execute("SELECT holder, term FROM cluster_leases WHERE name = ? FOR UPDATE", (name,)).fetchone()
    if row is None or row[0] != holder or int(row[1]) != int(term):
        now = "nobody" if row is None else f"{row[0]} in term {row[1]}"
        raise LeaseLost(f"lease {name!r} term {term} of {holder} is no longer held (now: {now}); nothing written")


def _cursor_key(sector: str | None) -> str:
    return "cursor" if sector is None else f"cursor:{sector}"


class PgIncidentTables(IncidentTables, PgBase):
    """Incidents, membership, fusion cursors (global and per sector) on PostgreSQL."""

    def fusion_cursor(self, sector: str | None = None) -> int:
        """Fusion's progress: the last seq taken in (``sector`` None, single-node fusion) or the last
        ledger index a sector's worker committed (0 before the first)."""
        row = self._reader().execute("SELECT value FROM fusion_state WHERE key = ?", (_cursor_key(sector),)).fetchone()
        return 0 if row is None else int(row[0])

    def sector_cursors(self) -> dict[str, int]:
        """Every sector's committed ledger-index cursor."""
        rows = self._reader().execute("SELECT key, value FROM fusion_state WHERE key LIKE 'cursor:%'").fetchall()
        return {key.removeprefix("cursor:"): int(value) for key, value in rows}

    def observations_in_ledger_order(self, after_index: int, bbox: BBox | None = None, limit: int = 10_000) -> list[tuple[int, str]]:
        """(ledger index, canonical document) of sequenced observations after ``after_index`` (−1: from the
        first), inside ``bbox`` if given, in ledger order; those that do not count (compromised key) left out."""
        sql = (
            "SELECT p.ledger_index, o.doc FROM ledger_positions p JOIN observations o ON o.seq = p.seq"
            f" WHERE p.ledger_index > ? AND {COUNTS_SQL}"
        )
        params: list[object] = [after_index]
        if bbox is not None:
            box_sql, box_values = postgis_bbox(bbox, "o")
            sql += " AND " + box_sql
            params.extend(box_values)
        sql += " ORDER BY p.ledger_index LIMIT ?"
        params.append(limit)
        return [(int(i), doc) for i, doc in self._reader().execute(sql, params).fetchall()]

    def observations_in_reach(
        self,
        cursor: int,
        reach: BBox,
        *,
        since: datetime | None = None,
        newest_first: bool = False,
        older_than: tuple[int, int] | None = None,
        limit: int | None = None,
    ) -> list[tuple[int, int, int, str]]:
        """(ledger index, event time µs, row seq, canonical document) of the sequenced observations before
        ledger index ``cursor`` that may concern a region: a point inside ``reach``, or a bearing (its sensor
        position is only in the document: the caller decides). That count (see ``observations_in_ledger_order``).

        Why: a sector's fuser recovers from the fusion window before its cursor; reading the whole ledger for
        it made a worker's start-up linear in the ledger's length. ``since`` bounds the event time from below;
        ``newest_first`` orders by event time descending (keyset ``older_than`` = (t_us, seq) of the last row
        seen), else by ledger index.
        """
        box_sql, params = postgis_bbox(reach, "o")
        sql = (
            "SELECT p.ledger_index, o.t_us, o.seq, o.doc FROM ledger_positions p JOIN observations o ON o.seq = p.seq"
            f" WHERE p.ledger_index < ? AND {COUNTS_SQL} AND (({box_sql}) OR o.loc_type = 'bearing')"
        )
        values: list[object] = [cursor, *params]
        if since is not None:
            sql += " AND o.t_us >= ?"
            values.append(_us(since))
        if older_than is not None:
            sql += " AND (o.t_us, o.seq) < (?, ?)"
            values.extend(older_than)
        sql += " ORDER BY o.t_us DESC, o.seq DESC" if newest_first else " ORDER BY p.ledger_index"
        if limit is not None:
            sql += " LIMIT ?"
            values.append(limit)
        return [(int(i), int(t), int(q), doc) for i, t, q, doc in self._reader().execute(sql, values).fetchall()]

    def sector_cells(self, deg: float, before: int) -> set[tuple[int, int]]:
        """(row, column) of every ``deg``° grid cell that owns a counting observation at a ledger index below
        ``before``: its point, or a bearing's sensor (as ``SectorGrid.owner`` places it: cells count from 90°S
        and 180°W, the last row and column closed). Computed in the database, so a starting worker learns
        which sectors have data without parsing the whole ledger."""
        rows, cols = int(round(180 / deg)), int(round(360 / deg))
        sql = (
            "SELECT DISTINCT LEAST(floor((a.lat + 90.0) / ?)::bigint, ?), LEAST(floor((a.lon + 180.0) / ?)::bigint, ?) FROM ("
            " SELECT CASE WHEN o.loc_type = 'bearing' THEN (o.doc::jsonb #>> '{location,sensor_lat}')::float8 ELSE o.lat END AS lat,"
            " CASE WHEN o.loc_type = 'bearing' THEN (o.doc::jsonb #>> '{location,sensor_lon}')::float8 ELSE o.lon END AS lon"
            f" FROM ledger_positions p JOIN observations o ON o.seq = p.seq WHERE p.ledger_index < ? AND {COUNTS_SQL}"
            ") a WHERE a.lat IS NOT NULL AND a.lon IS NOT NULL"
        )
        found = self._reader().execute(sql, (deg, rows - 1, deg, cols - 1, before)).fetchall()
        return {(int(row), int(col)) for row, col in found}

    def apply_incident_changes(
        self,
        upserts: Sequence[tuple[IncidentItem, bool]],
        removed: Sequence[str],
        cursor: int | None = None,
        *,
        sector: str | None = None,
        fence: Fence | None = None,
    ) -> None:
        """Persist fusion's output atomically: (incident, finalised) upserts, removals and progress.

        ``sector`` tags the incidents and names the cursor (a ledger index); ``fence`` (the sector's lease)
        makes the whole write conditional on still holding it (:class:`LeaseLost` otherwise).
        """
        now = _us(datetime.now(UTC))
        with self.pg_transaction() as conn:
            check_fence(conn, fence)
            if removed:
                conn.raw.execute("DELETE FROM incidents WHERE id = ANY(%s)", (list(removed),))
            rows, refs = incident_rows(upserts, now)
            rows = [(*row, sector) for row in rows]
            conn.executemany(
                "INSERT INTO incidents (id, t_us, kind, status, lat, lon, cell, finalised, updated_us, doc, sector)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (id) DO UPDATE SET t_us = excluded.t_us, kind = excluded.kind,"
                " status = excluded.status, lat = excluded.lat, lon = excluded.lon, cell = excluded.cell,"
                " finalised = excluded.finalised, updated_us = excluded.updated_us, doc = excluded.doc,"
                " sector = excluded.sector",
                rows,
            )
            if upserts:
                ids = [incident.id for incident, _ in upserts]
                conn.raw.execute("DELETE FROM incident_members WHERE incident_id = ANY(%s)", (ids,))
                conn.raw.execute(
                    "INSERT INTO incident_members (incident_id, obs_seq) SELECT DISTINCT r.incident_id, i.seq"
                    " FROM unnest(%s::text[], %s::text[], %s::text[]) AS r(incident_id, org, id)"
                    " JOIN observation_ids i ON i.id = r.id AND (r.org IS NULL OR i.org = r.org)",
                    ([r[0] for r in refs], [r[1] for r in refs], [r[2] for r in refs]),
                )
            if cursor is not None:
                conn.execute(
                    "INSERT INTO fusion_state VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (_cursor_key(sector), cursor),
                )

    def drop_open_incidents(self, sector: str | None = None, fence: Fence | None = None) -> int:
        """Delete incidents fusion has not finalised (it rebuilds them); of one sector if given. Returns how many."""
        with self.pg_transaction() as conn:
            check_fence(conn, fence)
            if sector is None:
                return conn.execute("DELETE FROM incidents WHERE finalised = 0").rowcount
            return conn.execute("DELETE FROM incidents WHERE finalised = 0 AND sector = ?", (sector,)).rowcount

    def _incident_bbox(self, bbox: BBox) -> tuple[str, list[object]]:
        return postgis_bbox(bbox, "i")

    def member_evidence(self, incident_ids: Sequence[str]) -> dict[str, list[MemberEvidence]]:
        """(organisation, id, releasable_to) of each supporting observation per incident (the SQLite store's
        :meth:`~truceline.store.sqlite_incidents.IncidentTables.member_evidence`)."""
        out: dict[str, list[MemberEvidence]] = {i: [] for i in incident_ids}
        rows = self._reader().execute(
            "SELECT m.incident_id, o.org, o.id, (o.doc::json -> 'releasable_to')::text FROM incident_members m"
            " JOIN observations o ON o.seq = m.obs_seq WHERE m.incident_id = ANY(?)",
            (list(incident_ids),),
        ).fetchall()
        labels = LabelsCache()
        for incident_id, org, oid, releasable_to in rows:
            out[incident_id].append((org, oid, labels.of(releasable_to)))
        return out

    def member_documents(self, incident_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Supporting observation documents per incident (for releasability-filtered views)."""
        out: dict[str, list[dict[str, Any]]] = {i: [] for i in incident_ids}
        rows = self._reader().execute(
            "SELECT m.incident_id, o.doc FROM incident_members m JOIN observations o ON o.seq = m.obs_seq"
            " WHERE m.incident_id = ANY(?)",
            (list(incident_ids),),
        ).fetchall()
        for incident_id, doc in rows:
            out[incident_id].append(orjson.loads(doc))
        return out
