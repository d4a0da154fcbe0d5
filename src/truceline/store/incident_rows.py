"""The ``incidents`` row of one incident, from the domain :class:`Incident` or straight from the fuser's
:class:`~truceline.fuse.snapshot.Snapshot`.

The fusion runner stores every incident the fuser publishes; building the pydantic ``Incident`` of each
(``Snapshot.to_incident``) only to serialise it again (``model_dump_json``) was a third of what the runner
spent on persisting. :func:`snapshot_json` writes the same document from the snapshot's fields with orjson:
the same keys in the same order, the same bytes (pydantic and orjson both write the shortest round-trip
float, ``1e+16`` style exponents, ``null`` for non-finite numbers and ``...Z`` UTC times with
microseconds only when there are any); tests/test_incident_rows.py compares the bytes on fused scenarios
and edge values. Both stores take either kind of item (:data:`IncidentItem`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from truceline.domain.identity import REMEMBERED_ORGS, split_ref
from truceline.domain.incident import Incident
from truceline.fuse.snapshot import Snapshot
from truceline.store.grid import CELL_DEG, COLUMNS, LAST_COLUMN, LAST_ROW, grid_cell
from truceline.store.timecodes import _us

#: What the stores' ``apply_incident_changes`` take as an incident to upsert.
IncidentItem = Incident | Snapshot
#: (incident id, organisation or None, observation id): one ``incident_members`` row to resolve.
Member = tuple[str, str | None, str]
#: One fusion transaction's rows, built before it (:func:`incident_changes`): the ``incidents`` rows, their ids
#: and their members as JSON arrays, the members to find by id alone (no organisation), the removed
#: incidents' ids, and the fusion cursor (None: unchanged). Plain lists, strings and numbers, so the fusion
#: process can hand them to its writer (:mod:`truceline.service.fusion_writer`) as JSON.
IncidentChanges = tuple[list[tuple[Any, ...]], str, str, list[tuple[str, str]], list[str], int | None]

_fromtimestamp = datetime.fromtimestamp
_dumps = orjson.dumps
_UTC_Z = orjson.OPT_UTC_Z
_floor = math.floor


def snapshot_time(snapshot: Snapshot) -> datetime:
    """The snapshot's time as the incident holds it (``Snapshot.to_incident`` converts the same way)."""
    return _fromtimestamp(snapshot.time_s, UTC)


def _document(snapshot: Snapshot, time: datetime, ids: list[str], orgs: list[str]) -> str:
    """The incident's JSON from the snapshot and its observations split into ids and organisations."""
    return _dumps(_document_values(snapshot, time, ids, orgs), option=_UTC_Z).decode()


def _document_values(snapshot: Snapshot, time: datetime, ids: list[str], orgs: list[str]) -> dict[str, Any]:
    """The incident's document as values, ``time`` a datetime: what :func:`_document` writes."""
    origin = snapshot.origin
    groups = snapshot.source_groups
    return {
        "id": snapshot.id,
        "time": time,
        "time_uncertainty_s": snapshot.time_sd_s,
        "kind": snapshot.kind._value_,  # the plain attribute: ``.value`` is a property, several times slower
        "lat": snapshot.lat,
        "lon": snapshot.lon,
        "sigma_m": snapshot.sigma_m,
        "origin": None if origin is None else {"lat": origin[0], "lon": origin[1], "cov_m2": origin[2]},
        "observation_ids": ids,
        "observation_orgs": orgs,
        "independent_sources": len(groups),
        "corroboration": snapshot.corroboration,
        "status": snapshot.status._value_,
        "attributes": snapshot.attributes,
        "cov_m2": snapshot.cov_m2,
        "source_groups": groups,
        "version": snapshot.version,
    }


def _split(refs: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """``observation_ids`` and ``observation_orgs`` of an incident whose observations fusion keys ``refs``."""
    ids: list[str] = []
    orgs: list[str] = []
    for ref in refs:
        org, oid = split_ref(ref)
        ids.append(oid)
        orgs.append(org or "")
    return ids, orgs


def snapshot_json(snapshot: Snapshot, time: datetime | None = None) -> str:
    """``snapshot.to_incident().model_dump_json()``, without building the incident."""
    return _document(snapshot, snapshot_time(snapshot) if time is None else time, *_split(snapshot.observation_ids))


def snapshot_document(snapshot: Snapshot) -> dict[str, Any]:
    """``snapshot.to_incident().model_dump()`` as JSON values (``time`` a datetime, enums their values, tuples kept):
    the document :func:`snapshot_json` writes, before it is written."""
    return _document_values(snapshot, snapshot_time(snapshot), *_split(snapshot.observation_ids))


def incident_row(item: IncidentItem, finalised: bool, updated_us: int) -> tuple[Any, ...]:
    """The ``incidents`` columns id, t_us, kind, status, lat, lon, cell, finalised, updated_us, doc."""
    if isinstance(item, Snapshot):  # built where the runner's rows are, so there is one way to build it
        return incident_rows([(item, finalised)], updated_us)[0][0]
    time, lat, lon = item.time, item.lat, item.lon
    return item.id, _us(time), item.kind, item.status, lat, lon, grid_cell(lat, lon), int(finalised), updated_us, item.model_dump_json()


def incident_refs(item: IncidentItem) -> list[tuple[str | None, str]]:
    """(organisation, id) of each supporting observation, as :meth:`Incident.observation_refs` gives them."""
    if isinstance(item, Snapshot):
        return [split_ref(ref) for ref in item.observation_ids]
    return item.observation_refs()


def incident_changes(upserts: Sequence[tuple[IncidentItem, bool]], removed: Sequence[str], cursor: int | None) -> IncidentChanges:
    """Everything the SQLite store writes for one fusion transaction (``write_incident_changes``), stamped now."""
    rows, members = incident_rows(upserts, _us(datetime.now(UTC)))
    by_id = [(iid, oid) for iid, org, oid in members if org is None]
    return rows, _dumps([row[0] for row in rows]).decode(), _dumps(members).decode(), by_id, list(removed), cursor


def incident_rows(upserts: Sequence[tuple[IncidentItem, bool]], updated_us: int) -> tuple[list[tuple[Any, ...]], list[Member]]:
    """:func:`incident_row` of every upsert, and (incident id, organisation, observation id) of every
    :func:`incident_refs`, in order: a snapshot's observations are split once for both (the runner stores
    thousands of incidents per batch; splitting each reference twice was a sixth of building the rows).

    A snapshot's row is built here in one piece, :func:`_document`, :func:`grid_cell`, :func:`_us` and the
    known organisations' case of :func:`split_ref` written out: the runner's child builds one per stored
    observation, and the calls were a third of building it (tests/test_incident_rows.py holds the pieces
    equal to the functions on edge values).

    The row's ``t_us`` is read off the time fromtimestamp made, exactly: fromtimestamp keeps the whole seconds
    of ``time_s`` and rounds the fraction half-even to microseconds, carrying a full second into the seconds
    (and borrowing one below zero). So a time with microseconds ``m > 0`` lies in second ``floor(time_s)``; one
    with ``m == 0`` is within half a microsecond of a whole second, which is then ``round(time_s)``. That is
    ``_us(time)`` without the timedelta arithmetic."""
    rows: list[tuple[Any, ...]] = []
    members: list[Member] = []
    add_row, add_member = rows.append, members.append
    fromtimestamp, dumps, utc_z = _fromtimestamp, _dumps, _UTC_Z
    floor, cell_deg, columns, last_row, last_column = _floor, CELL_DEG, COLUMNS, LAST_ROW, LAST_COLUMN
    known_orgs = REMEMBERED_ORGS  # split_ref's set of codes it matched (cleared in place, never replaced)
    for item, finalised in upserts:
        if type(item) is not Snapshot:
            iid = item.id
            add_row(incident_row(item, finalised, updated_us))
            for org, oid in incident_refs(item):
                add_member((iid, org, oid))
            continue
        # One compiled call for every field (the equality tuple, in field order), not fifteen attribute reads.
        fields: tuple[Any, ...] = item._fields()
        iid, time_s, time_sd_s, kind, lat, lon, sigma_m, cov_m2, origin, refs, groups, corroboration, status, version, attributes = fields
        ids: list[str] = []
        orgs: list[str] = []
        for ref in refs:
            org, _, oid = ref.partition("/")
            if not oid or org not in known_orgs:  # split_ref's other cases, and organisations not seen yet
                split_org, oid = split_ref(ref)
                ids.append(oid)
                orgs.append(split_org or "")
                add_member((iid, split_org, oid))
                continue
            ids.append(oid)
            orgs.append(org)
            add_member((iid, org, oid))
        time = fromtimestamp(time_s, UTC)
        microsecond = time.microsecond
        row = floor((lat + 90.0) / cell_deg)
        column = floor((lon + 180.0) / cell_deg)
        kind, status = kind._value_, status._value_
        document = {
            "id": iid,
            "time": time,
            "time_uncertainty_s": time_sd_s,
            "kind": kind,
            "lat": lat,
            "lon": lon,
            "sigma_m": sigma_m,
            "origin": None if origin is None else {"lat": origin[0], "lon": origin[1], "cov_m2": origin[2]},
            "observation_ids": ids,
            "observation_orgs": orgs,
            "independent_sources": len(groups),
            "corroboration": corroboration,
            "status": status,
            "attributes": attributes,
            "cov_m2": cov_m2,
            "source_groups": groups,
            "version": version,
        }
        add_row((
            iid, (floor(time_s) if microsecond else round(time_s)) * 1_000_000 + microsecond, kind, status, lat, lon,
            (last_row if row > last_row else row) * columns + (last_column if column > last_column else column),
            int(finalised), updated_us, dumps(document, option=utc_z).decode(),
        ))  # fmt: skip
    return rows, members
