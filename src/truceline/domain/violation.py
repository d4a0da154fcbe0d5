"""Violation and attribution: an incident judged against one rule of one agreement version.

Attribution names the party that *acted* (fired, launched, deployed), never the one hit, and says how sure
it is: the probability mass of the estimated origin on each party's side — an origin point, a back-bearing,
the position of a launch-phase incident (where a launch or muzzle-flash is seen, the act started), or for an
impact the launches linked to it (:class:`Engagement`), weighted by the link probability. When the evidence
cannot tell — typically only an impact point is known — the party is :data:`UNDETERMINED` rather than a guess.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from truceline.domain.agreement import UNDETERMINED
from truceline.domain.observation import Latitude, Longitude, ObservationKind, UtcTime

__all__ = [
    "OUTSIDE",
    "UNDETERMINED",
    "Attribution",
    "AttributionMethod",
    "BackBearing",
    "Engagement",
    "IMPACT_PHASE_KINDS",
    "JudgedEvent",
    "LAUNCH_PHASE_KINDS",
    "OriginPoint",
    "UNLINKED",
    "Violation",
]

#: Probability key for mass that falls in no party's territory (e.g. the sea, a third country).
OUTSIDE = "outside"
#: Probability key, for an impact attributed through its launch, of the chance that none of the candidate
#: launches fired it (the shot's launch was not observed, or the candidates are coincidences).
UNLINKED = "unlinked"

#: Kinds that describe the launch phase: the place seen *is* where the act started. Fusion names an incident
#: after its most specific kind (``fuse.snapshot.pick_kind``), so an explosion joined by a launch or a
#: muzzle-flash (narrowed to the launch phase) is published as one of these.
LAUNCH_PHASE_KINDS: frozenset[ObservationKind] = frozenset({ObservationKind.LAUNCH, ObservationKind.MUZZLE_FLASH})
#: Kinds that can be the landing end of a shot, and so be linked to the launch that fired it.
IMPACT_PHASE_KINDS: frozenset[ObservationKind] = frozenset({ObservationKind.IMPACT, ObservationKind.EXPLOSION, ObservationKind.DAMAGE})

Probability = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class AttributionMethod(StrEnum):
    """What the attribution rests on."""

    ORIGIN_POINT = "origin-point"  # an estimated launch/firing point with covariance
    ORIGIN_BEARING = "origin-bearing"  # a back-bearing with a range interval (crater analysis, radar track)
    LOCATION = "location"  # the ground where the thing was seen (equipment, troops)
    FIRING_POINT = "firing-point"  # a launch-phase incident (launch, muzzle-flash): its own position is the origin
    LAUNCH_LINK = "launch-link"  # an impact linked by time of flight, range and bearing to launches attributed by position
    NO_ORIGIN = "no-origin"  # only the impact or sighting is known: undetermined by construction
    REGISTRY = "registry"  # an aircraft's state of registry or a vessel's flag, as its transponder broadcasts it


class Attribution(_Frozen):
    """Who is held responsible, how sure, and why, with the probability per party behind it."""

    party: Annotated[str, Field(min_length=1, max_length=32)]
    confidence: Probability = Field(description="probability that `party` acted; 0 when undetermined")
    basis: Annotated[str, Field(min_length=1, max_length=4000)]
    method: AttributionMethod
    probabilities: dict[str, Probability] = Field(default_factory=dict)
    samples: Annotated[int, Field(ge=0)] = 0

    @model_validator(mode="after")
    def _consistent(self) -> Attribution:
        if self.probabilities and not math.isclose(sum(self.probabilities.values()), 1.0, abs_tol=1e-6):
            raise PydanticCustomError("probabilities_sum", "probabilities must sum to 1, got {total}",
                                      {"total": sum(self.probabilities.values())})
        if self.party == UNDETERMINED and self.confidence != 0.0:
            raise PydanticCustomError("undetermined_confidence", "an undetermined attribution carries confidence 0")
        return self


class Engagement(_Frozen):
    """One shot as one act: a launch-phase incident linked to the impact it fired, and how sure the link is."""

    launch_incident_id: Annotated[str, Field(min_length=1, max_length=200)]
    impact_incident_id: Annotated[str, Field(min_length=1, max_length=200)]
    launch_kind: ObservationKind
    launch_lat: Latitude
    launch_lon: Longitude
    impact_lat: Latitude
    impact_lon: Longitude
    launch_observation_ids: tuple[str, ...] = ()
    probability: Probability = Field(description="probability that this launch fired this impact")
    time_of_flight_s: float = Field(description="impact time minus launch time, as estimated")
    range_m: Annotated[float, Field(ge=0.0)]
    weapon_classes: tuple[str, ...] = Field(default=(), description="weapon classes whose envelope fits range and time of flight")


class Violation(_Frozen):
    """An incident that breaks a rule of a given agreement version, with the attribution."""

    id: Annotated[str, Field(min_length=1, max_length=300)]
    incident_id: Annotated[str, Field(min_length=1, max_length=200)]
    rule_id: str
    agreement_id: str
    agreement_version: Annotated[int, Field(ge=1)]
    time: UtcTime
    kind: ObservationKind
    lat: Latitude
    lon: Longitude
    zones: tuple[str, ...] = ()
    controlled_by: str | None = Field(default=None, description="party controlling the incident location")
    distance_to_contact_line_m: Annotated[float, Field(ge=0.0)] | None = None
    party: Annotated[str, Field(min_length=1, max_length=32)]
    confidence: Probability
    basis: Annotated[str, Field(min_length=1, max_length=8000)]
    probabilities: dict[str, Probability] = Field(default_factory=dict)
    attribution_method: AttributionMethod
    engagements: tuple[Engagement, ...] = Field(
        default=(), description="launch-to-impact links of this incident (an impact's candidate launches, a launch's impacts)")
    excused_by: str | None = Field(default=None, description="id of the agreement notification that excuses this act")
    simulated: Literal["true", "partly"] | None = Field(
        default=None, description="the incident rests wholly ('true') or partly ('partly') on simulated observations"
    )

    def to_feature(self) -> dict[str, Any]:
        """GeoJSON Feature (point at the incident) for map layers and ``GET /violations``."""
        unset = {name for name in ("excused_by", "simulated") if getattr(self, name) is None}
        props = self.model_dump(mode="json", exclude={"lat", "lon"} | unset)
        return {"type": "Feature", "id": self.id, "geometry": {"type": "Point", "coordinates": [self.lon, self.lat]},
                "properties": props}


Covariance = tuple[tuple[float, float], tuple[float, float]]


def _check_covariance(cov: Covariance) -> None:
    (a, b), (c, d) = cov
    if not all(math.isfinite(v) for v in (a, b, c, d)):
        raise PydanticCustomError("cov_finite", "cov_m2 must be finite")
    if abs(b - c) > 1e-9 * max(abs(a), abs(d), 1.0):
        raise PydanticCustomError("cov_symmetric", "cov_m2 must be symmetric")
    if not (a > 0 and d > 0 and a * d - b * c > 0):
        raise PydanticCustomError("cov_positive", "cov_m2 must be positive definite")


class OriginPoint(_Frozen):
    """Estimated firing or launch point with its east/north covariance in m²."""

    lat: Latitude
    lon: Longitude
    cov_m2: Covariance

    @model_validator(mode="after")
    def _cov(self) -> OriginPoint:
        _check_covariance(self.cov_m2)
        return self


class BackBearing(_Frozen):
    """The origin lies along a bearing from a known point, somewhere within a range interval.

    Typical sources: crater/fuze analysis at the impact (bearing back towards the gun, range from the weapon
    type) or a counter-battery radar track. The sampling is uniform in range and Gaussian in bearing.
    """

    from_lat: Latitude
    from_lon: Longitude
    bearing_deg: Annotated[float, Field(ge=0.0, lt=360.0, allow_inf_nan=False)]
    bearing_sd_deg: Annotated[float, Field(gt=0.0, le=90.0, allow_inf_nan=False)]
    min_range_m: Annotated[float, Field(ge=0.0, le=2_000_000.0, allow_inf_nan=False)] = 0.0
    max_range_m: Annotated[float, Field(gt=0.0, le=2_000_000.0, allow_inf_nan=False)]

    @model_validator(mode="after")
    def _ranges(self) -> BackBearing:
        if self.max_range_m <= self.min_range_m:
            raise PydanticCustomError("range_order", "max_range_m must exceed min_range_m")
        return self


class JudgedEvent(_Frozen):
    """The minimum the violation engine needs to know about an incident.

    Built from an :class:`~truceline.domain.incident.Incident` with :meth:`from_incident`, or directly (tests,
    simulations, other pipelines). ``attributes`` carry facts rules key on, e.g. ``weapon_class``,
    ``alt_m``, ``notified_demining``.
    """

    id: Annotated[str, Field(min_length=1, max_length=200)]
    time: UtcTime
    kind: ObservationKind
    lat: Latitude
    lon: Longitude
    sigma_m: Annotated[float, Field(gt=0.0, le=1_000_000.0, allow_inf_nan=False)] = 100.0
    cov_m2: Covariance | None = Field(default=None, description="east/north covariance of the position; sigma_m when absent")
    origin: OriginPoint | None = None
    back_bearing: BackBearing | None = None
    attributes: dict[str, str] = Field(default_factory=dict)
    time_uncertainty_s: Annotated[float, Field(ge=0.0, allow_inf_nan=False)] = 0.0
    observation_ids: tuple[str, ...] = ()
    independent_sources: Annotated[int, Field(ge=0)] = 1

    @model_validator(mode="after")
    def _cov(self) -> JudgedEvent:
        if self.cov_m2 is not None:
            _check_covariance(self.cov_m2)
        return self

    def position_covariance(self) -> Covariance:
        """East/north covariance (m²) of where the incident was seen."""
        if self.cov_m2 is not None:
            return self.cov_m2
        return ((self.sigma_m**2, 0.0), (0.0, self.sigma_m**2))

    @classmethod
    def from_incident(cls, incident: Any) -> JudgedEvent:
        """Adapt a fused incident (``truceline.domain.incident.Incident``) without importing fusion code."""
        origin = getattr(incident, "origin", None)
        return cls(
            id=incident.id,
            time=incident.time,
            kind=incident.kind,
            lat=incident.lat,
            lon=incident.lon,
            sigma_m=incident.sigma_m,
            cov_m2=getattr(incident, "cov_m2", None),
            origin=None if origin is None else OriginPoint(lat=origin.lat, lon=origin.lon, cov_m2=origin.cov_m2),
            back_bearing=getattr(incident, "back_bearing", None),
            attributes={str(k): str(v) for k, v in dict(getattr(incident, "attributes", {}) or {}).items()},
            time_uncertainty_s=float(getattr(incident, "time_uncertainty_s", 0.0) or 0.0),
            observation_ids=tuple(getattr(incident, "observation_ids", ()) or ()),
            independent_sources=int(getattr(incident, "independent_sources", 1)),
        )

