"""Aircraft and vessel tracks in the store: points, per-track summaries, ledger coverage.

Tables (migration 7): ``track_points`` (one row per decoded message, its raw text kept), ``tracks`` (one
row per aircraft or vessel: latest position, names, counts; updated in the same transaction), and
``track_minutes`` (one row per ledger leaf: the canonical document of a track-minute batch and its salt,
so a reader can recompute the commitment). Re-ingesting the same messages changes nothing: a point is
identified by (track, time, raw message), and only new points get a leaf.

The SQL is written once for both stores (the PostgreSQL store runs it through its adapter and has the same
tables, migration 2 of :mod:`~truceline.store.postgres_schema`); what differs is asked of the store:
``append_leaves`` (appended now in SQLite, queued for the sequencer in PostgreSQL, where a track-minute's
``ledger_index`` stays NULL until then) and ``next_track_minute_id``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from truceline.store.grid import bbox_condition
from truceline.store.ports import BBox
from truceline.track.evidence import group_by_track_minute, minute_leaf
from truceline.track.model import TrackPoint

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


_US_CACHE: dict[datetime, int] = {}


def _us(value: datetime) -> int:
    """Integer microseconds since the epoch; remembered, as a feed's messages share their time stamps."""
    us = _US_CACHE.get(value)
    if us is None:
        if len(_US_CACHE) > 8192:
            _US_CACHE.clear()
        us = _US_CACHE[value] = (value - _EPOCH) // timedelta(microseconds=1)
    return us


def _from_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def create_track_tables(conn: sqlite3.Connection) -> None:
    """Migration 9: track points, track summaries, track-minute ledger documents."""
    for statement in (
        """CREATE TABLE track_points (
            seq INTEGER PRIMARY KEY, track_id TEXT NOT NULL, t_us INTEGER NOT NULL,
            lat REAL, lon REAL, alt_m REAL, alt_ref TEXT, speed_mps REAL, course_deg REAL,
            callsign TEXT, squawk TEXT, extra TEXT NOT NULL, raw TEXT NOT NULL, source TEXT NOT NULL,
            minute_id INTEGER NOT NULL, UNIQUE (track_id, t_us, raw))""",
        "CREATE INDEX track_points_time ON track_points (track_id, t_us)",
        """CREATE TABLE tracks (
            track_id TEXT PRIMARY KEY, kind TEXT NOT NULL, ident TEXT NOT NULL,
            first_us INTEGER NOT NULL, last_us INTEGER NOT NULL, pos_us INTEGER, lat REAL, lon REAL, alt_m REAL,
            speed_mps REAL, course_deg REAL, callsign TEXT, messages INTEGER NOT NULL, positions INTEGER NOT NULL,
            info TEXT NOT NULL)""",
        "CREATE INDEX tracks_last ON tracks (kind, last_us)",
        """CREATE TABLE track_minutes (
            id INTEGER PRIMARY KEY, track_id TEXT NOT NULL, minute_us INTEGER NOT NULL,
            ledger_index INTEGER NOT NULL, salt BLOB NOT NULL, doc TEXT NOT NULL, received_us INTEGER NOT NULL)""",
        "CREATE INDEX track_minutes_track ON track_minutes (track_id, minute_us)",
        """CREATE TABLE track_findings (
            id TEXT PRIMARY KEY, category TEXT NOT NULL, type TEXT NOT NULL, track_id TEXT NOT NULL,
            t_us INTEGER NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL, party TEXT, rule_id TEXT,
            agreement_digest TEXT NOT NULL, doc TEXT NOT NULL)""",
        "CREATE INDEX track_findings_time ON track_findings (category, t_us)",
    ):
        conn.execute(statement)


@dataclass(frozen=True)
class TrackAddResult:
    """How many points were new, already stored, and how many ledger leaves were written."""

    stored: int
    duplicates: int
    leaves: int


#: Static facts worth keeping per track, from the latest message that carries them.
_INFO_KEYS = ("callsign", "ship_type", "imo", "destination", "station", "class", "aid_type", "on_ground", "category")


def add_track_points(store: Any, points: Sequence[TrackPoint], source: str, received_at: datetime | None = None) -> TrackAddResult:
    """Store decoded points atomically with one ledger leaf per new track-minute; idempotent."""
    if not points:
        return TrackAddResult(0, 0, 0)
    received = received_at or datetime.now(UTC)
    received_us = _us(received)
    stored = duplicates = leaves = 0
    times = [_us(p.time) for p in points]
    track_ids = sorted({p.track_id for p in points})
    with store.transaction() as conn:
        # Which (track, time, raw) are stored already: one query for the batch instead of one insert per point.
        seen = set(map(tuple, conn.execute(
            f"SELECT track_id, t_us, raw FROM track_points WHERE t_us BETWEEN ? AND ? AND track_id IN ({','.join('?' * len(track_ids))})",
            (min(times), max(times), *track_ids),
        ).fetchall()))
        fresh: list[TrackPoint] = []
        fresh_us: list[int] = []
        for p, t in zip(points, times, strict=True):
            key = (f"{p.kind}:{p.ident}", t, p.raw)
            if key in seen:
                duplicates += 1
            else:
                seen.add(key)
                fresh.append(p)
                fresh_us.append(t)
        next_minute = store.next_track_minute_id(conn)
        leaf_datas: list[bytes] = []
        minute_rows: list[list[object]] = []
        point_rows: list[tuple[object, ...]] = []
        summaries: dict[str, list[TrackPoint]] = {}
        dumps = orjson.dumps
        for group in group_by_track_minute(fresh, fresh_us):
            track_id = group.track_id
            point_rows.extend(
                (track_id, _us(p.time), p.lat, p.lon, p.alt_m, p.alt_ref, p.speed_mps, p.course_deg, p.callsign, p.squawk,
                 dumps(p.extra if type(p.extra) is dict else dict(p.extra), default=str).decode(), p.raw, source, next_minute)
                for p in group.points)
            canonical, salt, leaf = minute_leaf(group, source, received)
            minute_rows.append([next_minute, track_id, _us(group.minute), None, salt, canonical.decode(), received_us])
            leaf_datas.append(leaf)
            next_minute += 1
            stored += len(group.points)
            summaries.setdefault(group.track_id, []).extend(group.points)
        conn.executemany(
            "INSERT INTO track_points (track_id, t_us, lat, lon, alt_m, alt_ref, speed_mps, course_deg,"
            " callsign, squawk, extra, raw, source, minute_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", point_rows)
        # The embedded store appends the leaves now; the PostgreSQL store queues them for its sequencer (None).
        leaf_start = store.append_leaves(conn, "track_minute", [row[0] for row in minute_rows], leaf_datas)
        for k, row in enumerate(minute_rows):
            row[3] = None if leaf_start is None else leaf_start + k
        conn.executemany("INSERT INTO track_minutes VALUES (?,?,?,?,?,?,?)", minute_rows)
        leaves = len(leaf_datas)
        for track_id, new_points in summaries.items():
            _update_summary(conn, track_id, new_points)
    return TrackAddResult(stored, duplicates, leaves)


def _update_summary(conn: sqlite3.Connection, track_id: str, new: list[TrackPoint]) -> None:
    row = conn.execute(
        "SELECT first_us, last_us, pos_us, lat, lon, alt_m, speed_mps, course_deg, callsign, messages, positions, info"
        " FROM tracks WHERE track_id = ?", (track_id,),
    ).fetchone()
    first = new[0]
    if row is None:
        state: list[Any] = [None, None, None, None, None, None, None, None, None, 0, 0, "{}"]
    else:
        state = list(row)
    first_us, last_us, pos_us = state[0], state[1], state[2]
    info = orjson.loads(state[11])
    callsign_time = info.pop("_callsign_us", -1)
    for p in sorted(new, key=lambda q: q.time):
        t = _us(p.time)
        first_us = t if first_us is None else min(first_us, t)
        last_us = t if last_us is None else max(last_us, t)
        state[9] += 1
        if p.has_position:
            state[10] += 1
            if pos_us is None or t >= pos_us:
                pos_us = t
                state[3], state[4] = p.lat, p.lon
                state[5] = p.alt_m if p.alt_m is not None else state[5]
                state[6] = p.speed_mps if p.speed_mps is not None else state[6]
                state[7] = p.course_deg if p.course_deg is not None else state[7]
        if p.callsign and t >= callsign_time:
            state[8], callsign_time = p.callsign, t
        for key in _INFO_KEYS:
            if key in p.extra and p.extra[key] is not None:
                info[key] = p.extra[key]
        if p.squawk:
            info["squawk"] = p.squawk
    info["_callsign_us"] = callsign_time
    conn.execute(
        "INSERT INTO tracks VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (track_id) DO UPDATE SET kind = excluded.kind,"
        " ident = excluded.ident, first_us = excluded.first_us, last_us = excluded.last_us, pos_us = excluded.pos_us,"
        " lat = excluded.lat, lon = excluded.lon, alt_m = excluded.alt_m, speed_mps = excluded.speed_mps,"
        " course_deg = excluded.course_deg, callsign = excluded.callsign, messages = excluded.messages,"
        " positions = excluded.positions, info = excluded.info",
        (track_id, first.kind, first.ident, first_us, last_us, pos_us, state[3], state[4], state[5], state[6], state[7],
         state[8], state[9], state[10], orjson.dumps(info, default=str).decode()),
    )


@dataclass(frozen=True)
class TrackSummary:
    """One track as listed: identity, latest position, names, counts, static info."""

    track_id: str
    kind: str
    ident: str
    first_time: datetime
    last_time: datetime
    position_time: datetime | None
    lat: float | None
    lon: float | None
    alt_m: float | None
    speed_mps: float | None
    course_deg: float | None
    callsign: str | None
    messages: int
    positions: int
    info: dict[str, Any]


def _summary(row: tuple[Any, ...]) -> TrackSummary:
    info = orjson.loads(row[14])
    info.pop("_callsign_us", None)
    return TrackSummary(row[0], row[1], row[2], _from_us(row[3]), _from_us(row[4]), _from_us(row[5]) if row[5] is not None else None,
                        row[6], row[7], row[8], row[9], row[10], row[11], row[12], row[13], info)


def list_tracks(store: Any, *, kind: str | None = None, since: datetime | None = None, bbox: BBox | None = None,
                limit: int = 1000) -> list[TrackSummary]:
    """Tracks heard since ``since`` (newest first), their latest position inside ``bbox`` when one is given."""
    sql = "SELECT * FROM tracks WHERE 1=1"
    params: list[object] = []
    if kind:
        sql += " AND kind = ?"
        params.append(kind)
    if since is not None:
        sql += " AND last_us >= ?"
        params.append(_us(since))
    if bbox is not None:
        exact, values = bbox_condition(bbox)
        sql += " AND " + exact
        params += values
    sql += " ORDER BY last_us DESC, track_id LIMIT ?"
    params.append(limit)
    return [_summary(r) for r in store._reader().execute(sql, params).fetchall()]


def get_track(store: Any, track_id: str) -> TrackSummary | None:
    """One track's summary, or None."""
    row = store._reader().execute("SELECT * FROM tracks WHERE track_id = ?", (track_id,)).fetchone()
    return _summary(row) if row else None


def track_points(store: Any, track_id: str, *, since: datetime | None = None, until: datetime | None = None,
                 positions_only: bool = False, limit: int = 100_000) -> list[TrackPoint]:
    """A track's points in time order (the latest ``limit`` when there are more)."""
    kind, _, ident = track_id.partition(":")
    sql = ("SELECT t_us, lat, lon, alt_m, alt_ref, speed_mps, course_deg, callsign, squawk, extra, raw FROM track_points"
           " WHERE track_id = ?")
    params: list[object] = [track_id]
    if since is not None:
        sql += " AND t_us >= ?"
        params.append(_us(since))
    if until is not None:
        sql += " AND t_us < ?"
        params.append(_us(until))
    if positions_only:
        sql += " AND lat IS NOT NULL"
    sql += " ORDER BY t_us DESC, seq DESC LIMIT ?"
    params.append(limit)
    rows = store._reader().execute(sql, params).fetchall()
    return [
        TrackPoint(kind, ident, _from_us(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], orjson.loads(r[9]), r[10])  # type: ignore[arg-type]
        for r in reversed(rows)
    ]


def track_minute_evidence(store: Any, track_id: str, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """The ledger leaves covering a track between two times: index, salt (hex) and committed document."""
    rows = store._reader().execute(
        "SELECT ledger_index, salt, doc FROM track_minutes WHERE track_id = ? AND minute_us >= ? AND minute_us < ? ORDER BY id",
        (track_id, _us(since) - 60_000_000, _us(until)),
    ).fetchall()
    return [{"ledger_index": r[0], "salt": bytes(r[1]).hex(), "document": orjson.loads(r[2])} for r in rows]


def previous_position(store: Any, track_id: str, before: datetime) -> TrackPoint | None:
    """The track's last stored position strictly before ``before`` (continuity for zone entries and jumps)."""
    kind, _, ident = track_id.partition(":")
    r = store._reader().execute(
        "SELECT t_us, lat, lon, alt_m, alt_ref, speed_mps, course_deg, callsign, squawk, extra, raw FROM track_points"
        " WHERE track_id = ? AND t_us < ? AND lat IS NOT NULL ORDER BY t_us DESC, seq DESC LIMIT 1",
        (track_id, _us(before)),
    ).fetchone()
    if r is None:
        return None
    return TrackPoint(kind, ident, _from_us(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], orjson.loads(r[9]), r[10])  # type: ignore[arg-type]


def save_findings(store: Any, findings: Sequence[Any], agreement_digest: str) -> int:
    """Keep track findings (``verify.airsea.TrackFinding``); one already stored (same id) is left as it is."""
    if not findings:
        return 0
    rows = [
        (f.id, f.category, f.type, f.track_id, _us(f.time), f.lat, f.lon,
         f.violation.party if f.violation is not None else None, f.violation.rule_id if f.violation is not None else None,
         agreement_digest, orjson.dumps(f.as_dict(), default=str).decode())
        for f in findings
    ]
    with store.transaction() as conn:
        inserted = conn.executemany("INSERT INTO track_findings VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (id) DO NOTHING", rows)
        return int(inserted.rowcount)


def list_findings(store: Any, *, category: str | None = None, agreement_digest: str | None = None,
                  since: datetime | None = None, until: datetime | None = None, bbox: BBox | None = None,
                  party: str | None = None, rule: str | None = None, track_id: str | None = None,
                  limit: int = 10_000) -> list[dict[str, Any]]:
    """Stored findings in time order, filtered."""
    sql = "SELECT doc FROM track_findings WHERE 1=1"
    params: list[object] = []
    for column, value in (("category", category), ("agreement_digest", agreement_digest), ("party", party),
                          ("rule_id", rule), ("track_id", track_id)):
        if value is not None:
            sql += f" AND {column} = ?"
            params.append(value)
    if since is not None:
        sql += " AND t_us >= ?"
        params.append(_us(since))
    if until is not None:
        sql += " AND t_us < ?"
        params.append(_us(until))
    if bbox is not None:
        exact, values = bbox_condition(bbox)
        sql += " AND " + exact
        params += values
    sql += " ORDER BY t_us, id LIMIT ?"
    params.append(limit)
    return [orjson.loads(r[0]) for r in store._reader().execute(sql, params).fetchall()]


def count_track_points(store: Any) -> dict[str, int]:
    """Messages stored per kind (for /metrics and the report)."""
    rows = store._reader().execute("SELECT kind, sum(messages), count(*) FROM tracks GROUP BY kind ORDER BY kind").fetchall()
    return {f"{kind}_messages": int(m or 0) for kind, m, _ in rows} | {f"{kind}_tracks": int(n) for kind, _, n in rows}
