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

from datetime import UTC, datetime
from typing import Any

import orjson

from truceline.domain.identity import split_ref
from truceline.domain.incident import Incident
from truceline.fuse.snapshot import Snapshot
from truceline.store.grid import grid_cell
from truceline.store.timecodes import _us

#: What the stores' ``apply_incident_changes`` take as an incident to upsert.
IncidentItem = Incident | Snapshot

_fromtimestamp = datetime.fromtimestamp
_UTC_Z = orjson.OPT_UTC_Z


def snapshot_time(snapshot: Snapshot) -> datetime:
    """The snapshot's time as the incident holds it (``Snapshot.to_incident`` converts the same way)."""
    return _fromtimestamp(snapshot.time_s, UTC)


def snapshot_json(snapshot: Snapshot, time: datetime | None = None) -> str:
    """``snapshot.to_incident().model_dump_json()``, without building the incident."""
    origin = snapshot.origin
    refs = [split_ref(ref) for ref in snapshot.observation_ids]
    document: dict[str, Any] = {
        "id": snapshot.id,
        "time": snapshot_time(snapshot) if time is None else time,
        "time_uncertainty_s": snapshot.time_sd_s,
        "kind": snapshot.kind.value,
        "lat": snapshot.lat,
        "lon": snapshot.lon,
        "sigma_m": snapshot.sigma_m,
        "origin": None if origin is None else {"lat": origin[0], "lon": origin[1], "cov_m2": origin[2]},
        "observation_ids": [oid for _, oid in refs],
        "observation_orgs": [org or "" for org, _ in refs],
        "independent_sources": len(snapshot.source_groups),
        "corroboration": snapshot.corroboration,
        "status": snapshot.status.value,
        "attributes": snapshot.attributes,
        "cov_m2": snapshot.cov_m2,
        "source_groups": snapshot.source_groups,
        "version": snapshot.version,
    }
    return orjson.dumps(document, option=_UTC_Z).decode()


def incident_row(item: IncidentItem, finalised: bool, updated_us: int) -> tuple[Any, ...]:
    """The ``incidents`` columns id, t_us, kind, status, lat, lon, cell, finalised, updated_us, doc."""
    if isinstance(item, Snapshot):
        time = snapshot_time(item)
        kind, status, document = item.kind.value, item.status.value, snapshot_json(item, time)
    else:
        time, kind, status, document = item.time, item.kind, item.status, item.model_dump_json()
    lat, lon = item.lat, item.lon
    return item.id, _us(time), kind, status, lat, lon, grid_cell(lat, lon), int(finalised), updated_us, document


def incident_refs(item: IncidentItem) -> list[tuple[str | None, str]]:
    """(organisation, id) of each supporting observation, as :meth:`Incident.observation_refs` gives them."""
    if isinstance(item, Snapshot):
        return [split_ref(ref) for ref in item.observation_ids]
    return item.observation_refs()
