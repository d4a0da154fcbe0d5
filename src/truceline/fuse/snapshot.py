"""Freezing incident states into published figures: position back to latitude/longitude, kind, corroboration.

A batch of states is summarised together so the frame-to-geodetic conversion is one vectorised call. The
pydantic :class:`~truceline.domain.incident.Incident` is built from a summary only when someone asks for it,
because a streaming consumer may need only some of them and building one costs more than fusing a report.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Final

from truceline.domain.identity import local_id, split_ref
from truceline.domain.incident import Incident, IncidentStatus, Origin
from truceline.domain.observation import ObservationKind
from truceline.fuse.corroboration import corroboration_score
from truceline.fuse.kinds import GENERIC_KINDS
from truceline.fuse.measurement import rotate_cov2
from truceline.fuse.state import IncidentState
from truceline.locate.enu import LocalFrame

Cov = tuple[tuple[float, float], tuple[float, float]]


class Snapshot:
    """Every figure of an incident at one moment, in published units (degrees, metres, seconds).

    Immutable, with a frozen dataclass's repr, equality and hash (fields in this order), but written out as a
    plain class: mypyc compiles its ``__init__`` to native stores and its ``Final`` fields to read-only
    attributes, where a frozen dataclass's generated ``__init__`` called ``object.__setattr__`` per field
    (a fifth of :func:`summarise`, which runs for every update).
    """

    def __init__(
        self,
        id: str,
        time_s: float,  # POSIX seconds
        time_sd_s: float,
        kind: ObservationKind,
        lat: float,
        lon: float,
        sigma_m: float,
        cov_m2: Cov,
        origin: tuple[float, float, Cov] | None,
        observation_ids: tuple[str, ...],  # "ORG/id", fusion's keys
        source_groups: tuple[str, ...],
        corroboration: float,
        status: IncidentStatus,
        version: int,
        attributes: dict[str, str],
    ) -> None:
        self.id: Final = id
        self.time_s: Final = time_s
        self.time_sd_s: Final = time_sd_s
        self.kind: Final = kind
        self.lat: Final = lat
        self.lon: Final = lon
        self.sigma_m: Final = sigma_m
        self.cov_m2: Final = cov_m2
        self.origin: Final = origin
        self.observation_ids: Final = observation_ids
        self.source_groups: Final = source_groups
        self.corroboration: Final = corroboration
        self.status: Final = status
        self.version: Final = version
        self.attributes: Final = attributes

    def __setattr__(self, name: str, value: object) -> None:
        """Each field is set once, in ``__init__``, and never again, in either engine (as the frozen dataclass did).
        Compiled, ``__init__`` stores natively and never comes here; interpreted, it comes here once per field."""
        if name not in _FIELDS or hasattr(self, name):
            raise AttributeError(f"cannot assign to field {name!r}: a Snapshot is immutable")
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: a Snapshot is immutable")

    def _fields(self) -> tuple[object, ...]:
        return (
            self.id, self.time_s, self.time_sd_s, self.kind, self.lat, self.lon, self.sigma_m, self.cov_m2,
            self.origin, self.observation_ids, self.source_groups, self.corroboration, self.status, self.version,
            self.attributes,
        )  # fmt: skip

    def __repr__(self) -> str:
        return (
            f"Snapshot(id={self.id!r}, time_s={self.time_s!r}, time_sd_s={self.time_sd_s!r}, kind={self.kind!r}, "
            f"lat={self.lat!r}, lon={self.lon!r}, sigma_m={self.sigma_m!r}, cov_m2={self.cov_m2!r}, "
            f"origin={self.origin!r}, observation_ids={self.observation_ids!r}, source_groups={self.source_groups!r}, "
            f"corroboration={self.corroboration!r}, status={self.status!r}, version={self.version!r}, "
            f"attributes={self.attributes!r})"
        )

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Snapshot)
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def to_incident(self) -> Incident:
        """The domain object, built without re-validation (every field is produced in range here) and without
        :meth:`~pydantic.BaseModel.model_construct`'s per-field loop: the fusion runner builds one per update,
        and the loop was half of it. Same ``__dict__`` (in field order) and fields set as ``model_construct``
        with every field given (tests/test_fuse_snapshot.py compares them)."""
        origin = None
        if self.origin is not None:
            origin = _new(Origin)
            _set(origin, "__dict__", {"lat": self.origin[0], "lon": self.origin[1], "cov_m2": self.origin[2]})
            _set(origin, "__pydantic_fields_set__", set(_ORIGIN_FIELDS))
            _set(origin, "__pydantic_extra__", None)
            _set(origin, "__pydantic_private__", None)
        refs = self.observation_ids
        incident = _new(Incident)
        _set(
            incident,
            "__dict__",
            {
                "id": self.id,
                "time": _fromtimestamp(self.time_s, UTC),
                "time_uncertainty_s": self.time_sd_s,
                "kind": self.kind,
                "lat": self.lat,
                "lon": self.lon,
                "sigma_m": self.sigma_m,
                "origin": origin,
                # Fusion keys observations "ORG/id" (ids are per organisation); the incident lists the plain
                # ids as before, with each one's organisation beside it.
                "observation_ids": tuple(local_id(ref) for ref in refs),
                "observation_orgs": tuple(split_ref(ref)[0] or "" for ref in refs),
                "independent_sources": len(self.source_groups),
                "corroboration": self.corroboration,
                "status": self.status,
                "attributes": dict(self.attributes),
                "cov_m2": self.cov_m2,
                "source_groups": self.source_groups,
                "version": self.version,
            },
        )
        _set(incident, "__pydantic_fields_set__", set(_INCIDENT_FIELDS))
        _set(incident, "__pydantic_extra__", None)
        _set(incident, "__pydantic_private__", None)
        return incident


_FIELDS: Final = frozenset(
    ("id", "time_s", "time_sd_s", "kind", "lat", "lon", "sigma_m", "cov_m2", "origin", "observation_ids", "source_groups",
     "corroboration", "status", "version", "attributes")
)  # fmt: skip
_new = object.__new__
_set = object.__setattr__
_fromtimestamp = datetime.fromtimestamp
_INCIDENT_FIELDS = tuple(Incident.model_fields)
_ORIGIN_FIELDS = tuple(Origin.model_fields)


def summarise(states: list[IncidentState], frame: LocalFrame, epoch: float, corroboration_threshold: float) -> list[Snapshot]:
    """Snapshots of incident states, in the same order.

    A state whose members have not changed since its last snapshot (``IncidentState.summary``, cleared when they
    change) has the same figures but its version: it gets a copy of that snapshot with the new version. Half of
    all snapshots are of incidents finalised unchanged since their last update."""
    if not states:
        return []
    kept = [s.summary for s in states]
    fresh = [s for s, prev in zip(states, kept, strict=True) if prev is None]
    made = _summarise(fresh, frame, epoch, corroboration_threshold) if fresh else []
    out: list[Snapshot] = []
    i = 0
    for s, prev in zip(states, kept, strict=True):
        if prev is None:
            snap = made[i]
            i += 1
        else:
            assert isinstance(prev, Snapshot)
            snap = _reissued(prev, s.version)
        s.summary = snap
        out.append(snap)
    return out


def _reissued(prev: Snapshot, version: int) -> Snapshot:
    """``prev`` at another version (its attributes a dict of its own, as each snapshot's are)."""
    return Snapshot(
        prev.id, prev.time_s, prev.time_sd_s, prev.kind, prev.lat, prev.lon, prev.sigma_m, prev.cov_m2, prev.origin,
        prev.observation_ids, prev.source_groups, prev.corroboration, prev.status, version, dict(prev.attributes),
    )  # fmt: skip


def _summarise(states: list[IncidentState], frame: LocalFrame, epoch: float, corroboration_threshold: float) -> list[Snapshot]:
    """Snapshots of incident states computed from their members and estimates."""
    xs = [s.x for s in states]
    ys = [s.y for s in states]
    origins: list[tuple[float, float, float] | None] = []
    tallies: list[tuple[dict[str, float], dict[ObservationKind, float]]] = []
    for s in states:
        lxx = lxy = lyy = ex = ey = 0.0
        groups: dict[str, float] = {}
        kind_weight: dict[ObservationKind, float] = {}
        for m in s.members.values():  # one pass over the members: groups, kinds and launch points
            w = m.weight
            if w > groups.get(m.group, -1.0):
                groups[m.group] = w
            kind_weight[m.kind] = kind_weight.get(m.kind, 0.0) + w
            if m.origin is not None:
                ox, oy, cxx, cxy, cyy = m.origin
                det = cxx * cyy - cxy * cxy
                ixx, ixy, iyy = cyy / det, -cxy / det, cxx / det
                lxx += ixx
                lxy += ixy
                lyy += iyy
                ex += ixx * ox + ixy * oy
                ey += ixy * ox + iyy * oy
        if lxx > 0.0:
            det = lxx * lyy - lxy * lxy
            pxx, pxy, pyy = lyy / det, -lxy / det, lxx / det
            xs.append(pxx * ex + pxy * ey)
            ys.append(pxy * ex + pyy * ey)
            origins.append((pxx, pxy, pyy))
        else:
            origins.append(None)
        tallies.append((groups, kind_weight))
    lat, lon = frame.to_geodetic(xs, ys)
    angle: list[float] = frame.north_angle(lat, lon).tolist()  # typed: compiled, the loop below reads floats natively
    lat_l: list[float] = lat.tolist()
    lon_l: list[float] = lon.tolist()
    extra = len(states)
    out: list[Snapshot] = []
    for i, s in enumerate(states):
        groups, kind_weight = tallies[i]
        score = corroboration_score(groups)
        cxx, cxy, cyy = rotate_cov2(s.pxx, s.pxy, s.pyy, -angle[i])
        origin = None
        o = origins[i]
        if o is not None:
            oxx, oxy, oyy = rotate_cov2(o[0], o[1], o[2], -angle[extra])
            origin = (lat_l[extra], _wrap(lon_l[extra]), ((oxx, oxy), (oxy, oyy)))
            extra += 1
        out.append(
            Snapshot(
                id=s.id,
                time_s=epoch + s.t,
                time_sd_s=math.sqrt(s.vt),
                kind=pick_kind(kind_weight),
                lat=lat_l[i],
                lon=_wrap(lon_l[i]),
                sigma_m=math.sqrt(0.5 * (s.pxx + s.pyy)),
                cov_m2=((cxx, cxy), (cxy, cyy)),
                origin=origin,
                observation_ids=tuple(s.members),
                source_groups=tuple(sorted(groups)),
                corroboration=score,
                status=IncidentStatus.CORROBORATED if len(groups) >= 2 and score >= corroboration_threshold else IncidentStatus.DETECTED,
                version=s.version,
                attributes=merge_facts(s),
            )
        )
    return out


def merge_facts(state: IncidentState) -> dict[str, str]:
    """An incident's attributes from its members' facts (``fuse.measurement.observation_facts``).

    ``weapon_class``: the best-supported class stated (ties: alphabetical); ``alt_m``: the median stated;
    ``simulated``: ``"true"`` when every member is simulated, ``"partly"`` when some are — an incident that
    mixes real and simulated evidence must not pass for either.
    """
    stated = [m for m in state.members.values() if m.facts is not None]
    if not stated:
        return {}
    weapons: dict[str, float] = {}
    altitudes: list[float] = []
    simulated = 0
    for m in stated:
        facts = m.facts
        assert facts is not None
        weapon = facts.get("weapon_class")
        if weapon is not None:
            weapons[weapon] = weapons.get(weapon, 0.0) + m.weight
        alt = facts.get("alt_m")
        if alt is not None:
            altitudes.append(float(alt))
        simulated += "simulated" in facts
    out: dict[str, str] = {}
    if weapons:
        out["weapon_class"] = min(weapons.items(), key=lambda kv: (-kv[1], kv[0]))[0]
    if altitudes:
        altitudes.sort()
        mid = len(altitudes) // 2
        median = altitudes[mid] if len(altitudes) % 2 else 0.5 * (altitudes[mid - 1] + altitudes[mid])
        out["alt_m"] = f"{median:g}"
    if simulated:
        out["simulated"] = "true" if simulated == len(state.members) else "partly"
    return out


def pick_kind(weights: dict[ObservationKind, float]) -> ObservationKind:
    """The best-supported specific kind, else the best-supported generic one (ties: alphabetical)."""
    # The order of the keys (specific, weight, name), compared one by one: the name (an enum property, Python
    # code to read) is read only on a tie, which is rare.
    best: ObservationKind | None = None
    best_specific = False
    best_weight = -1.0
    for kind, weight in weights.items():
        specific = kind not in GENERIC_KINDS
        if specific != best_specific:
            better = specific
        elif weight != best_weight:
            better = weight > best_weight
        else:
            better = best is None or kind.value > best.value
        if better:
            best, best_specific, best_weight = kind, specific, weight
    assert best is not None, "an incident has at least one member"
    return best


def _wrap(lon: float) -> float:
    return lon if -180.0 <= lon <= 180.0 else (lon + 180.0) % 360.0 - 180.0
