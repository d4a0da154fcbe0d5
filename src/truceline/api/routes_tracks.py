"""``/api/v1/tracks``: aircraft and vessel tracks (ADS-B/Mode S, AIS) as GeoJSON; see service/tracks.py."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from truceline.access.policy import Permission, Principal
from truceline.api.auth import require
from truceline.api.routes_observations import json_response, parse_bbox
from truceline.domain.strict import PlainInt
from truceline.service.tracks import MAX_TRACK_POINTS, normalise_track_id, track_detail, tracks_collection
from truceline.store.tracks import list_findings

router = APIRouter(prefix="/api/v1", tags=["tracks"])


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{name} needs a UTC offset (e.g. 2024-05-01T00:00:00Z)")
    return value


@router.get("/tracks", summary="Aircraft and vessel tracks: one Feature per track at its latest position")
async def list_tracks_route(
    request: Request,
    principal: Annotated[Principal, Depends(require(Permission.READ))],
    kind: Annotated[Literal["aircraft", "vessel"] | None, Query(description="aircraft or vessel")] = None,
    since: Annotated[datetime | None, Query(description="Only tracks heard at or after this time")] = None,
    bbox: Annotated[str | None, Query(description="min_lon,min_lat,max_lon,max_lat of the latest position")] = None,
    limit: Annotated[PlainInt, Query(ge=1, le=100_000)] = 1000,
) -> Response:
    """Broadcast data (ADS-B, AIS) is readable by every key; ``state`` is what the transponder's identity says."""
    box = parse_bbox(bbox) if bbox else None
    payload = await run_in_threadpool(
        tracks_collection, request.app.state.store, kind=kind, since=_aware(since, "since"), bbox=box, limit=limit
    )
    return json_response(payload)


@router.get("/feeds", summary="Live ADS-B and AIS feeds: status, counters, last error")
async def feeds_route(request: Request, principal: Annotated[Principal, Depends(require(Permission.READ))]) -> Response:
    """One entry per ``serve --ais``/``--adsb`` feed (empty when none)."""
    return json_response({"feeds": request.app.state.live_tracks.states()})


@router.get("/tracks/findings", summary="Violations and incidents found on tracks (zone entries, AIS gaps, spoofing signs)")
async def track_findings_route(
    request: Request,
    principal: Annotated[Principal, Depends(require(Permission.READ))],
    category: Annotated[Literal["violation", "incident"] | None, Query()] = None,
    track: Annotated[str | None, Query(description="only this track (vessel:<MMSI> or aircraft:<icao24>)")] = None,
    since: Annotated[datetime | None, Query()] = None,
    until: Annotated[datetime | None, Query()] = None,
    limit: Annotated[PlainInt, Query(ge=1, le=100_000)] = 10_000,
) -> Response:
    """Each finding has its ``basis``; violations carry the ``violation`` as ``GET /violations`` serves it."""
    track_id = normalise_track_id(track) if track else None
    if track and track_id is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"bad track id {track!r}")
    found = await run_in_threadpool(
        list_findings, request.app.state.store, category=category, track_id=track_id,
        since=_aware(since, "since"), until=_aware(until, "until"), limit=limit,
    )
    return json_response({"findings": found})


@router.get("/tracks/{track_id}", summary="One track with its positions")
async def get_track_route(
    request: Request,
    track_id: str,
    principal: Annotated[Principal, Depends(require(Permission.READ))],
    since: Annotated[datetime | None, Query()] = None,
    until: Annotated[datetime | None, Query()] = None,
    limit: Annotated[PlainInt, Query(ge=1, le=MAX_TRACK_POINTS)] = MAX_TRACK_POINTS,
) -> Response:
    """``track_id`` is ``vessel:<MMSI>``, ``aircraft:<icao24>``, or a bare 9-digit MMSI or 6-hex ICAO address."""
    normalised = normalise_track_id(track_id)
    if normalised is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"bad track id {track_id!r}: use vessel:<9-digit MMSI> or aircraft:<6 hex digits>")
    detail = await run_in_threadpool(
        track_detail, request.app.state.store, normalised, since=_aware(since, "since"), until=_aware(until, "until"), limit=limit
    )
    if detail is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no track {normalised}")
    return json_response(detail)
