"""Air and sea checks on tracks: zone entries judged against the agreement, and track incidents.

Violations (``Violation``, the same model as for fused incidents):
- an aircraft entering a zone that binds aircraft (a no-fly area) inside its altitude band, under a rule
  whose kinds include ``flight``;
- a vessel of a party's flag, or without a valid flag, entering a zone that binds vessels (a maritime
  exclusion zone) under a rule whose kinds include ``vessel``.
One violation per entry (a track inside, after being outside or unheard for ``REENTRY_GAP``). The party
held responsible is the state of registry or flag *as the transponder broadcasts it*: ADS-B and AIS
identities are unauthenticated and can be spoofed, so the confidence is ``IDENTITY_CONFIDENCE`` at most and
the basis says so. A state that is not a party gives ``undetermined``.

Incidents (not violations by themselves; they flag what needs a look): an AIS gap inside a zone (a vessel
going dark), impossible kinematics, a vessel position on land, one MMSI/ICAO address in two places at once.
Timing checks use only points whose time is real (tag block, receipt of a live feed, Mode S time stamps),
never the ingest time of an untimed file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import shapely

from truceline.domain.agreement import UNDETERMINED, Agreement, Zone, ZoneKind
from truceline.domain.geo import GEOD
from truceline.domain.observation import ObservationKind
from truceline.domain.violation import AttributionMethod, Violation
from truceline.track.model import TrackPoint
from truceline.verify.geometry import AgreementGeometry

#: Highest confidence an attribution by broadcast identity gets: the identity may be spoofed or mis-set.
IDENTITY_CONFIDENCE = 0.7
REENTRY_GAP = timedelta(hours=6)  # inside again after this long unheard: a new entry
#: An AIS silence this long inside a zone is an incident (class A reports every 2-10 s under way, 3 min at anchor).
AIS_GAP = timedelta(minutes=15)
MAX_SPEED_MPS = {"vessel": 30.0, "aircraft": 350.0}  # ~58 kn; ~680 kn (faster than any civil aircraft)
TWO_PLACES_S = 60.0
TWO_PLACES_M = 10_000.0
MIN_JUMP_M = 2_000.0  # below this, a "too fast" step is position noise, not kinematics
LAND_MARGIN_M = 2_000.0  # a vessel this far inside land is on land (ports and river mouths stay clear)
_NOT_VESSELS = {"aid-to-navigation", "coast", "sart", "mob", "epirb", "sar-aircraft", "group"}
_UNTIMED = {"ingest"}


@dataclass(frozen=True)
class TrackFinding:
    """A violation or an incident found on a track, with everything needed to show and prove it."""

    id: str
    category: str  # "violation" | "incident"
    type: str  # zone-entry, ais-gap, impossible-kinematics, position-on-land, two-places
    track_id: str
    time: datetime
    lat: float
    lon: float
    basis: str
    zones: tuple[str, ...] = ()
    violation: Violation | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "category": self.category, "type": self.type, "track": self.track_id,
            "time": self.time.astimezone(UTC).isoformat().replace("+00:00", "Z"), "lat": self.lat, "lon": self.lon,
            "zones": list(self.zones), "basis": self.basis, "details": self.details,
        }
        if self.violation is not None:
            out["violation"] = self.violation.model_dump(mode="json")
        return out


def _lat(p: TrackPoint) -> float:
    assert p.lat is not None  # only positioned points are judged
    return p.lat


def _lon(p: TrackPoint) -> float:
    assert p.lon is not None
    return p.lon


def _timed(p: TrackPoint) -> bool:
    return p.extra.get("time_source") not in _UNTIMED


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _in_band(zone: Zone, p: TrackPoint) -> tuple[bool, str]:
    if zone.kind is not ZoneKind.NO_FLY or zone.altitude is None:
        return True, ""
    band = f"{zone.altitude.min_m:g}–{zone.altitude.max_m:g} m"
    if p.alt_m is None:
        return True, f"altitude not reported (the zone applies from {band}; unknown is not outside)"
    if zone.altitude.min_m <= p.alt_m <= zone.altitude.max_m:
        return True, f"at {p.alt_m:,.0f} m ({p.alt_ref or 'reference unknown'}), inside the band {band}"
    return False, ""


def judge_track(agreement: Agreement, geometry: AgreementGeometry, track_id: str, points: Sequence[TrackPoint],
                previous: TrackPoint | None, identity: dict[str, Any]) -> list[TrackFinding]:
    """Findings for the new ``points`` of one track (time order), ``previous`` being its last stored position."""
    pts = [p for p in points if p.has_position]
    if not pts:
        return []
    kind = pts[0].kind
    chain = ([previous] if previous is not None and previous.has_position else []) + pts
    located = geometry.locate_many([_lat(p) for p in chain], [_lon(p) for p in chain], exact=True)
    offset = len(chain) - len(pts)
    findings: list[TrackFinding] = []
    zones = [z for z in agreement.zones if z.applies(kind)]
    for zone in zones:
        inside_before = False
        last_t: datetime | None = None
        column = located.in_zone[:, located.zone_ids.index(zone.id)].tolist()  # zone.id in located.zones_of(i), per i
        for i, p in enumerate(chain):
            here = column[i]
            ok, note = _in_band(zone, p) if here else (False, "")
            inside = here and ok
            gap = last_t is not None and p.time - last_t > REENTRY_GAP
            if i >= offset and inside and (not inside_before or gap):
                findings.extend(_violations(agreement, zone, track_id, p, note, located, i, identity))
            if i >= offset and here and i > 0 and kind == "vessel" and _timed(p) and _timed(chain[i - 1]) \
                    and column[i - 1] and p.time - chain[i - 1].time > AIS_GAP:
                findings.append(_gap(track_id, zone, chain[i - 1], p))
            inside_before, last_t = inside, p.time
    findings.extend(_kinematics(track_id, kind, chain, offset))
    if kind == "vessel":
        findings.extend(_on_land(geometry, track_id, chain[offset:]))
    return findings


def _violations(agreement: Agreement, zone: Zone, track_id: str, p: TrackPoint, note: str, located: Any, i: int,
                identity: dict[str, Any]) -> list[TrackFinding]:
    if p.time < agreement.effective_from:
        return []
    kind = ObservationKind.FLIGHT if p.kind == "aircraft" else ObservationKind.VESSEL
    if p.kind == "vessel" and identity.get("station") in _NOT_VESSELS:
        return []
    state = identity.get("state")
    parties = {party.code for party in agreement.parties}
    who = "state of registry" if p.kind == "aircraft" else "flag state"
    ident = f"ICAO address {p.ident}" if p.kind == "aircraft" else f"MMSI {p.ident}"
    if p.kind == "vessel" and state is not None and state not in parties:
        return []  # the exclusion binds the parties' vessels and vessels without a valid flag
    party = state if state in parties else UNDETERMINED
    confidence = IDENTITY_CONFIDENCE if party != UNDETERMINED else 0.0
    if state is None:
        attribution = (f"{ident} names no valid {who} ({identity.get('state_basis')}): no party can be named, and a "
                       "transponder without a valid identity is itself what the zone forbids.")
    elif party == UNDETERMINED:
        attribution = f"{who.capitalize()} {state} ({identity.get('state_basis')} of {ident}) is not a party to the agreement."
    else:
        attribution = (f"Attributed to {party} by the {who} of {ident} ({identity.get('state_basis')}). ADS-B and AIS "
                       f"identities are broadcast unauthenticated and can be spoofed or mis-set, so the confidence is "
                       f"{IDENTITY_CONFIDENCE:g}, not higher; corroborate by other sensors before acting.")
    out = []
    for rule in agreement.rules:
        if kind not in rule.kinds or rule.where == "anywhere" or zone.id not in rule.where:
            continue
        label = p.callsign or identity.get("name")
        name = f" ({label})" if label else ""
        basis = (f"Rule {rule.id} ({rule.description or 'no description'}): {p.kind} {ident}{name} entered zone {zone.id}"
                 f"{' (illustrative)' if zone.illustrative else ''} at {_iso(p.time)} — on or after "
                 f"{_iso(agreement.effective_from)} — at {p.lat:.5f} N, {p.lon:.5f} E"
                 f"{'; ' + note if note else ''}. {attribution}")
        entry = f"track:{track_id}@{_iso(p.time)}"
        violation = Violation(
            id=f"{agreement.id}/v{agreement.version}/{rule.id}/{entry}", incident_id=entry, rule_id=rule.id,
            agreement_id=agreement.id, agreement_version=agreement.version, time=p.time, kind=kind, lat=_lat(p), lon=_lon(p),
            zones=tuple(located.zones_of(i)), controlled_by=located.controlled_by(i),
            distance_to_contact_line_m=float(located.distance_m[i]), party=party, confidence=confidence, basis=basis,
            attribution_method=AttributionMethod.REGISTRY,
        )
        out.append(TrackFinding(violation.id, "violation", "zone-entry", track_id, p.time, p.lat, p.lon, basis,  # type: ignore[arg-type]
                                tuple(located.zones_of(i)), violation, {"state": state, "alt_m": p.alt_m, "raw": p.raw}))
    return out


def _gap(track_id: str, zone: Zone, before: TrackPoint, after: TrackPoint) -> TrackFinding:
    minutes = (after.time - before.time).total_seconds() / 60
    basis = (f"AIS silent for {minutes:,.0f} min inside zone {zone.id}: last heard {_iso(before.time)} at "
             f"{before.lat:.5f} N, {before.lon:.5f} E, next {_iso(after.time)} at {after.lat:.5f} N, {after.lon:.5f} E. "
             "A vessel going dark can also be a gap in receiver coverage.")
    return TrackFinding(f"track:{track_id}/ais-gap@{_iso(before.time)}", "incident", "ais-gap", track_id, before.time,
                        before.lat, before.lon, basis, (zone.id,), None, {"minutes": round(minutes, 1)})  # type: ignore[arg-type]


def _kinematics(track_id: str, kind: str, chain: list[TrackPoint], offset: int) -> list[TrackFinding]:
    out: list[TrackFinding] = []
    limit = MAX_SPEED_MPS[kind]
    timed = [_timed(p) for p in chain]
    pairs = [i for i in range(max(1, offset), len(chain)) if timed[i - 1] and timed[i]]
    if not pairs:
        return out
    # One geodesic call for the whole track (the same per-pair computation, in one array call).
    dists = GEOD.inv([chain[i - 1].lon for i in pairs], [chain[i - 1].lat for i in pairs],
                     [chain[i].lon for i in pairs], [chain[i].lat for i in pairs])[2]
    for i, dist_value in zip(pairs, dists, strict=True):
        a, b = chain[i - 1], chain[i]
        dist = float(dist_value)
        dt = (b.time - a.time).total_seconds()
        if dist < MIN_JUMP_M or dist <= limit * max(dt, 0.0) + MIN_JUMP_M:
            continue
        what = "MMSI" if kind == "vessel" else "ICAO address"
        if dt <= TWO_PLACES_S and dist >= TWO_PLACES_M:
            typ = "two-places"
            basis = (f"One {what} {b.ident} heard at two places {dist / 1e3:,.1f} km apart within {dt:,.0f} s "
                     f"({_iso(a.time)} at {a.lat:.5f}, {a.lon:.5f}; {_iso(b.time)} at {b.lat:.5f}, {b.lon:.5f}): "
                     "two transmitters share the identity, or one position is spoofed.")
        else:
            typ = "impossible-kinematics"
            speed = dist / dt if dt > 0 else float("inf")
            basis = (f"{what} {b.ident} moved {dist / 1e3:,.1f} km in {dt:,.0f} s ({speed:,.0f} m/s; a {kind} does at most "
                     f"{limit:g} m/s) from {a.lat:.5f}, {a.lon:.5f} to {b.lat:.5f}, {b.lon:.5f}: a spoofed or corrupted position.")
        out.append(TrackFinding(f"track:{track_id}/{typ}@{_iso(b.time)}", "incident", typ, track_id, b.time, b.lat, b.lon,  # type: ignore[arg-type]
                                basis, (), None, {"distance_m": round(dist), "seconds": dt}))
    return out


def _on_land(geometry: AgreementGeometry, track_id: str, points: list[TrackPoint]) -> list[TrackFinding]:
    land = _land_local(geometry)
    if land is None:
        return []
    xs, ys = geometry.projection.forward([_lon(p) for p in points], [_lat(p) for p in points])
    inside = shapely.contains_xy(land, xs, ys)
    out = []
    for p, flag in zip(points, inside, strict=True):
        if flag:
            basis = (f"Vessel MMSI {p.ident} reported at {p.lat:.5f} N, {p.lon:.5f} E at {_iso(p.time)}, more than "
                     f"{LAND_MARGIN_M / 1e3:g} km inside land (the agreement's country and exterior areas): a spoofed "
                     "or corrupted position.")
            out.append(TrackFinding(f"track:{track_id}/position-on-land@{_iso(p.time)}", "incident", "position-on-land",
                                    track_id, p.time, p.lat, p.lon, basis, (), None, {}))  # type: ignore[arg-type]
    return out


_LAND_CACHE: dict[str, Any] = {}


def _land_local(geometry: AgreementGeometry) -> Any:
    key = geometry.agreement.digest()
    if key not in _LAND_CACHE:
        agreement = geometry.agreement
        proj = geometry.projection
        parts = [proj.to_local(agreement.country.area.shape)] + [proj.to_local(e.area.shape) for e in agreement.exterior]
        land = shapely.buffer(shapely.union_all(parts), -LAND_MARGIN_M, quad_segs=4)
        shapely.prepare(land)
        _LAND_CACHE.clear()
        _LAND_CACHE[key] = None if land.is_empty else land
    return _LAND_CACHE[key]
