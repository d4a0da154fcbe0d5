"""``/api/v1/agreement`` and ``/api/v1/violations``: the terms in force, where a point stands, what breaks them.

Every agreement version is kept (and is a ledger leaf); a failed load leaves the version in force as it
was. Violations are judged on request from the incidents the caller may see, under the version in force,
which each violation names, after analysts' reviews exactly as the daily report applies them
(``domain.review.violation_candidates``): an incident analysts dismissed is no violation unless coalition
staff ask for it with ``include_dismissed=true``; each violation carries the incident's ``review``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from truceline.access.policy import Permission, Principal
from truceline.api.auth import require
from truceline.api.routes_incidents import MAX_INCIDENTS, reader_view, sees_reviewers, with_reviews
from truceline.api.routes_observations import json_response, parse_bbox
from truceline.domain.agreement import Agreement
from truceline.domain.review import violation_candidates
from truceline.store.ports import IncidentQuery
from truceline.store.sqlite import SqliteStore, StoreError
from truceline.verify.agreement_loader import AgreementError, load_agreement_files
from truceline.verify.geometry import AgreementGeometry, geometry_for
from truceline.verify.rules import judge

router = APIRouter(prefix="/api/v1", tags=["agreement"])
Reader = Annotated[Principal, Depends(require(Permission.READ))]


@dataclass(frozen=True)
class InForce:
    """The agreement version in force and its derived geometry."""

    agreement: Agreement
    geometry: AgreementGeometry


class AgreementHolder:
    """Thread-safe access to the version in force, loaded lazily from the store."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._current: InForce | None = None
        self._loaded = False

    def get(self) -> InForce | None:
        """The version in force, or None when no agreement was ever loaded."""
        with self._lock:
            if not self._loaded:
                document = self._store.current_agreement_document()
                if document is not None:
                    agreement = Agreement.from_canonical_document(document)
                    self._current = InForce(agreement, geometry_for(agreement))
                self._loaded = True
            return self._current

    def put(self, agreement: Agreement, loaded_by: str) -> dict[str, Any] | None:
        """Make ``agreement`` the version in force (kept in the store and the ledger first)."""
        geometry = geometry_for(agreement)  # derive before storing: a geometry failure keeps the old version
        with self._lock:
            saved = self._store.save_agreement(agreement.canonical_document(), agreement.digest(), loaded_by)
            self._current = InForce(agreement, geometry)
            self._loaded = True
            return saved


def _in_force(request: Request) -> InForce:
    current = request.app.state.agreement.get()
    if current is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "no agreement loaded: start the server with --agreement FILE or PUT /api/v1/agreement"
        )
    return current


def summary(agreement: Agreement) -> dict[str, Any]:
    """The terms without the geometry's bytes: what a reader needs to understand a verdict."""
    document = agreement.canonical_document()
    out: dict[str, Any] = {
        "id": agreement.id,
        "version": agreement.version,
        "title": agreement.title,
        "digest": agreement.digest(),
        "effective_from": agreement.effective_from.isoformat().replace("+00:00", "Z"),
    }
    for key in ("parties", "zones", "rules"):
        out[key] = _strip_wkb(document.get(key, []))
    return out


def _strip_wkb(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_wkb(v) for k, v in value.items() if k != "wkb"}
    if isinstance(value, list):
        return [_strip_wkb(v) for v in value]
    return value


@router.get("/agreement", summary="The agreement in force: terms and its lines and zones as GeoJSON")
async def get_agreement(
    request: Request,
    principal: Reader,
    simplify_m: Annotated[float, Query(ge=0, le=10_000, description="simplify lines to this tolerance")] = 100.0,
) -> Response:
    """Terms, version and digest, plus ``geojson`` (line of contact, controlled areas, zones)."""
    current = await run_in_threadpool(_in_force, request)
    geojson = await run_in_threadpool(lambda: current.geometry.to_geojson(simplify_m=simplify_m))
    return json_response({**summary(current.agreement), "geojson": geojson})


@router.get("/agreement/locate", summary="Which side, how far from the line of contact, which zones")
async def locate(
    request: Request,
    principal: Reader,
    lat: Annotated[float, Query(ge=-90, le=90)],
    lon: Annotated[float, Query(ge=-180, le=180)],
) -> Response:
    """``{"controlled_by", "distance_to_contact_line_m", "zones"}`` (geodesic, WGS84)."""
    current = await run_in_threadpool(_in_force, request)
    return json_response(current.geometry.locate(lat, lon))


@router.get("/agreement/versions", summary="Every agreement version ever in force")
async def versions(request: Request, principal: Reader) -> Response:
    """Oldest first, with digest and ledger index."""
    return json_response(await run_in_threadpool(request.app.state.store.agreement_versions))


class AgreementUpload(BaseModel):
    """A new version: the YAML file and the GeoJSON files it names, by file name."""

    model_config = ConfigDict(extra="forbid")
    files: dict[Annotated[str, Field(min_length=1, max_length=200)], str] = Field(min_length=1, max_length=50)
    main: str = "agreement.yaml"


@router.put("/agreement", status_code=201, summary="Load a new agreement version (supervisors)")
async def put_agreement(
    request: Request, body: AgreementUpload, principal: Annotated[Principal, Depends(require(Permission.MANAGE_AGREEMENT))]
) -> Response:
    """422 with every problem (file, where, reason) and the previous version stays in force."""

    def load() -> tuple[int, dict[str, Any]]:
        try:
            agreement = load_agreement_files({k: v.encode() for k, v in body.files.items()}, main=body.main)
            saved = request.app.state.agreement.put(agreement, f"{principal.org}/{principal.key_id}")
        except AgreementError as exc:
            return 422, {"detail": "agreement refused; the version in force is unchanged", "problems": exc.as_dicts()}
        except StoreError as exc:
            return 409, {"detail": str(exc)}
        if saved is None:
            return 200, {"detail": "identical to the version in force; nothing changed", **summary(agreement)}
        return 201, {**saved, **summary(agreement)}

    code, payload = await run_in_threadpool(load)
    return json_response(payload, code)


@router.get("/violations", summary="Violations of the agreement in force, as GeoJSON")
async def violations(
    request: Request,
    principal: Reader,
    since: Annotated[datetime | None, Query()] = None,
    until: Annotated[datetime | None, Query()] = None,
    bbox: Annotated[str | None, Query(description="min_lon,min_lat,max_lon,max_lat")] = None,
    party: Annotated[str | None, Query(description="party held responsible, or 'undetermined'")] = None,
    rule: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_INCIDENTS)] = 1000,
    include_dismissed: Annotated[
        bool, Query(description="also judge incidents analysts dismissed (coalition analysts and supervisors only)")
    ] = False,
) -> Response:
    """Incidents the caller may see, reviews applied, judged now: rule, party held responsible, confidence,
    basis and the incident's ``review`` (``status`` pending, verified or dismissed). Dismissed incidents are
    left out, as in the daily report, unless ``include_dismissed=true``."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{name} must carry a UTC offset")
    staff = sees_reviewers(principal)
    if include_dismissed and not staff:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"include_dismissed is for analysts and supervisors of COALITION organisations; a {principal.org} "
            f"{principal.role.value} sees violations as counted, without dismissed incidents",
        )
    query = IncidentQuery(since=since, until=until, bbox=parse_bbox(bbox) if bbox else None, limit=limit)

    def load() -> list[dict[str, Any]]:
        current = _in_force(request)
        store = request.app.state.store
        items = with_reviews(store, reader_view(store, principal, store.list_incidents(query)), with_reviewers=staff)
        reviews = {i.id: r for i, r in items}
        found = judge(current.agreement, current.geometry,
                      violation_candidates((i for i, _ in items), include_dismissed=include_dismissed))
        features = []
        for v in found:
            if (party is None or v.party == party) and (rule is None or v.rule_id == rule):
                feature = v.to_feature()
                feature["properties"]["review"] = reviews[v.incident_id]
                features.append(feature)
        return features

    return json_response({"type": "FeatureCollection", "features": await run_in_threadpool(load)})
