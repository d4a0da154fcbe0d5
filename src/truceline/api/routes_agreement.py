"""``/api/v1/agreement`` and ``/api/v1/violations``: the terms in force, where a point stands, what breaks them.

Every agreement version is kept (and is a ledger leaf); a failed load leaves the version in force as it
was. Violations are judged on request from the incidents the caller may see, under the version in force,
which each violation names, after analysts' reviews exactly as the daily report applies them
(``domain.review.violation_candidates``): an incident analysts dismissed is no violation unless coalition
staff ask for it with ``include_dismissed=true``; each violation carries the incident's ``review``.
``/violations`` pages violations, not incidents: every incident matching the filters is read (in chunks,
at most ``SCAN_CEILING`` per request) and ``limit`` caps the violations returned, with ``next_cursor``.
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from truceline.access.policy import Permission, Principal, is_coalition_staff
from truceline.access.views import MAX_INCIDENTS, reader_view, with_reviews
from truceline.api.auth import require
from truceline.api.routes_observations import json_response, parse_bbox
from truceline.domain.agreement import Agreement
from truceline.domain.incident import Incident, base_incident_id
from truceline.domain.review import violation_candidates
from truceline.domain.strict import PlainFloat, PlainInt
from truceline.domain.violation import LAUNCH_PHASE_KINDS, Violation
from truceline.service.tracks import track_violation_features
from truceline.store.ports import IncidentQuery
from truceline.store.sqlite import SqliteStore, StoreError
from truceline.verify.agreement_loader import AgreementError, load_agreement_files
from truceline.verify.engagement import LINK_LOOKBACK_S
from truceline.verify.geometry import AgreementGeometry, geometry_for
from truceline.verify.rules import judge_all

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
    simplify_m: Annotated[PlainFloat, Query(ge=0, le=10_000, description="simplify lines to this tolerance")] = 100.0,
) -> Response:
    """Terms, version and digest, plus ``geojson`` (line of contact, controlled areas, zones)."""
    current = await run_in_threadpool(_in_force, request)
    geojson = await run_in_threadpool(lambda: current.geometry.to_geojson(simplify_m=simplify_m))
    return json_response({**summary(current.agreement), "geojson": geojson})


@router.get("/agreement/locate", summary="Which side, how far from the line of contact, which zones")
async def locate(
    request: Request,
    principal: Reader,
    lat: Annotated[PlainFloat, Query(ge=-90, le=90)],
    lon: Annotated[PlainFloat, Query(ge=-180, le=180)],
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


#: Incidents read from the store per step while a page of violations fills.
SCAN_CHUNK = 5_000
#: A request reads no further chunk once it has read this many incidents: a page that has not filled by
#: then ends early, with a cursor.
SCAN_CEILING = 100_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
#: The cursor times a datetime can hold (years 1-9999): anything else was not issued here.
_FIRST_US = (datetime.min.replace(tzinfo=UTC) - _EPOCH) // _MICROSECOND
_LAST_US = (datetime.max.replace(tzinfo=UTC) - _EPOCH) // _MICROSECOND


@dataclass(frozen=True)
class _Position:
    """Where a page ended: incidents before (t_us, id) done, and ``emitted`` violations of that one."""

    t_us: int
    incident_id: str
    emitted: int

    @property
    def key(self) -> tuple[int, str]:
        return self.t_us, self.incident_id


def _key(incident: Incident) -> tuple[int, str]:
    """An incident's place in the store's order (``t_us``, ``id``)."""
    return (incident.time - _EPOCH) // _MICROSECOND, incident.id


def _encode_cursor(position: _Position, digest: str) -> str:
    raw = orjson.dumps([position.t_us, position.incident_id, position.emitted, digest[:16]])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, digest: str) -> _Position:
    try:
        t_us, incident_id, emitted, issued_for = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if type(t_us) is not int or type(emitted) is not int:  # int() would read "١٢", 1.5 and true
            raise TypeError(cursor)
        position = _Position(t_us, str(incident_id), emitted)
        if position.emitted < 0 or not isinstance(issued_for, str) or not _FIRST_US <= position.t_us <= _LAST_US:
            raise ValueError(cursor)
    except (ValueError, TypeError, OverflowError, orjson.JSONDecodeError) as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"cursor {cursor!r} is not a next_cursor this server issued for /violations"
        ) from exc
    if issued_for != digest[:16]:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            "the agreement in force changed since this cursor was issued; start again without a cursor",
        )
    return position


def _launch_context(store: Any, principal: Principal, judged: list[Incident], area: Any, include_dismissed: bool) -> list[Incident]:
    """Launches the reader may see that may have fired the judged impacts but are not in the chunk.

    Those of the hour before the chunk (``LINK_LOOKBACK_S``), and with a ``bbox`` also those outside it: a gun
    fires from outside the box it hits. So a page names the same party as a longer read would.
    """
    if not judged:
        return []
    first, last = judged[0].time, judged[-1].time
    rows = store.list_incidents(IncidentQuery(since=first - timedelta(seconds=LINK_LOOKBACK_S),
                                              until=last if area is not None else first, limit=SCAN_CHUNK))
    rows = [r for r in rows if r.kind in LAUNCH_PHASE_KINDS]
    if not rows:
        return []
    items = with_reviews(store, reader_view(store, principal, rows), with_reviewers=False)
    kept = violation_candidates((i for i, _ in items), include_dismissed=include_dismissed)
    return [i for i in kept if i.kind in LAUNCH_PHASE_KINDS]


@dataclass
class _ViolationPage:
    features: list[dict[str, Any]]
    next_cursor: str | None
    incidents_read: int


@router.get("/violations", summary="Violations of the agreement in force, as GeoJSON, a page at a time")
async def violations(
    request: Request,
    principal: Reader,
    since: Annotated[datetime | None, Query()] = None,
    until: Annotated[datetime | None, Query()] = None,
    bbox: Annotated[str | None, Query(description="min_lon,min_lat,max_lon,max_lat")] = None,
    party: Annotated[str | None, Query(description="party held responsible, or 'undetermined'")] = None,
    rule: Annotated[str | None, Query()] = None,
    limit: Annotated[PlainInt, Query(ge=1, le=MAX_INCIDENTS, description="violations per page (not incidents)")] = 1000,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page (same filters)")] = None,
    include_dismissed: Annotated[
        bool, Query(description="also judge incidents analysts dismissed (coalition analysts and supervisors only)")
    ] = False,
    include_excused: Annotated[
        bool, Query(description="also list acts an agreement notification excuses (each with excused_by and the notice in its basis)")
    ] = False,
) -> Response:
    """Incidents the caller may see, reviews applied, judged now: rule, party held responsible, confidence,
    basis and the incident's ``review`` (``status`` pending, verified or dismissed). Dismissed incidents are
    left out, as in the daily report, unless ``include_dismissed=true``. Acts a notification of the agreement
    excuses (e.g. notified demining) are not violations; ``include_excused=true`` lists them too, each with
    ``excused_by``. A violation resting on simulated observations carries ``simulated`` ("true" or "partly").
    The last page ends with the violations found on aircraft and vessel tracks (zone entries, attributed by
    registry or flag state).

    A page holds at most ``limit`` violations, after every filter, in incident time order; follow
    ``next_cursor`` (null on the last page) with the same filters for the rest. Every incident matching the
    filters is read, ``SCAN_CHUNK`` at a time; one request stops reading after ``SCAN_CEILING`` incidents, so a page
    over a sparse stretch may hold fewer than ``limit`` and still carry a ``next_cursor``. ``incidents_read``
    says how many incidents this page read. A cursor issued under another agreement version is refused (409).
    """
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{name} must carry a UTC offset")
    staff = is_coalition_staff(principal)
    if include_dismissed and not staff:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"include_dismissed is for analysts and supervisors of COALITION organisations; a {principal.org} "
            f"{principal.role.value} sees violations as counted, without dismissed incidents",
        )
    area = parse_bbox(bbox) if bbox else None

    def wanted(found: list[Violation]) -> list[Violation]:
        return [v for v in found if (party is None or v.party == party) and (rule is None or v.rule_id == rule)]

    def load() -> _ViolationPage:
        current = _in_force(request)
        store = request.app.state.store
        digest = current.agreement.digest()
        after = _decode_cursor(cursor, digest) if cursor else None
        features: list[dict[str, Any]] = []
        read, chunk = 0, SCAN_CHUNK
        while read < SCAN_CEILING:
            lower = since
            if after is not None:
                resume = _EPOCH + timedelta(microseconds=after.t_us)
                lower = resume if since is None or resume > since else since
            rows = store.list_incidents(IncidentQuery(since=lower, until=until, bbox=area, limit=chunk))
            last_chunk = len(rows) < chunk
            todo = [r for r in rows if after is None or _key(r) >= after.key]
            if not last_chunk and not any(after is None or _key(r) > after.key for r in todo):
                chunk *= 2  # more incidents share the cursor's microsecond than one chunk holds
                continue
            read += len(todo)
            items = with_reviews(store, reader_view(store, principal, todo), with_reviewers=staff)
            reviews = {i.id: r for i, r in items}
            candidates = violation_candidates((i for i, _ in items), include_dismissed=include_dismissed)
            context = _launch_context(store, principal, todo, area, include_dismissed)
            by_incident: dict[str, list[Violation]] = {}
            found, excused = judge_all(current.agreement, current.geometry, candidates, context)
            for v in wanted(found + excused if include_excused else found):
                by_incident.setdefault(base_incident_id(v.incident_id), []).append(v)
            for n, row in enumerate(todo):
                skip = after.emitted if after is not None and _key(row) == after.key else 0
                remaining = by_incident.get(row.id, [])[skip:]
                taken = remaining[: limit - len(features)]
                for v in taken:
                    feature = v.to_feature()
                    feature["properties"]["review"] = reviews[v.incident_id]
                    features.append(feature)
                after = _Position(*_key(row), skip + len(taken))
                if len(features) == limit:
                    more = len(taken) < len(remaining) or n + 1 < len(todo) or not last_chunk
                    return _ViolationPage(features, _encode_cursor(after, digest) if more else None, read)
            if last_chunk:
                return _ViolationPage(features, None, read)
        assert after is not None  # the ceiling is reached only after reading incidents
        return _ViolationPage(features, _encode_cursor(after, digest), read)

    page = await run_in_threadpool(load)
    if page.next_cursor is None:  # the last page: violations found on aircraft and vessel tracks follow
        current = _in_force(request)
        page.features += await run_in_threadpool(
            track_violation_features, request.app.state.store, current.agreement.digest(), since=since, until=until,
            bbox=area, party=party, rule=rule,
        )
    return json_response(
        {"type": "FeatureCollection", "features": page.features, "next_cursor": page.next_cursor,
         "incidents_read": page.incidents_read}
    )
