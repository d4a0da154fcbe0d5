"""Observation: what one source saw, validated once at the edge and immutable afterwards.

Validation is strict on purpose: a ceasefire monitor that silently accepts a swapped latitude, a naive
timestamp or a misspelt kind produces wrong verdicts that nobody can trace. Every refusal names the field,
the value and the rule (pydantic's error ``loc``/``input``/``msg``).
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from enum import Enum, StrEnum
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from truceline.domain import defaults as _defaults
from truceline.domain.grading import Credibility, Reliability
from truceline.domain.strict import int_enum, time_input

#: Observations dated before this are refused: no monitoring data of this system can be older, and an
#: epoch-zero or year-0001 timestamp is always a bug upstream.
EARLIEST_TIME = datetime(2000, 1, 1, tzinfo=UTC)
#: Default allowance for sensor clocks running ahead of ours.
DEFAULT_CLOCK_SKEW = timedelta(minutes=5)
#: CEP / σ of a point's stated CEP (:meth:`PointLocation.sigma_m`), to 4 digits as it always was.
POINT_CEP_PER_SIGMA = 1.1774
MAX_TIME_UNCERTAINTY_S = 30 * 86400.0
MAX_UNCERTAINTY_M = 1_000_000.0

_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,127}$"
_LABEL_PATTERN = r"^[A-Z][A-Z0-9_-]{1,31}$"
_LEAP_SECOND = re.compile(r"^(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}):60(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})$", re.ASCII)


class ObservationKind(StrEnum):
    """What was observed. Fusion and the agreement's rules key on these values."""

    EXPLOSION = "explosion"
    IMPACT = "impact"
    LAUNCH = "launch"
    MUZZLE_FLASH = "muzzle-flash"
    SMALL_ARMS_FIRE = "small-arms-fire"
    FLIGHT = "flight"
    VESSEL = "vessel"  # a ship or boat seen or tracked (AIS), for maritime zones
    THERMAL = "thermal"
    EQUIPMENT_SIGHTING = "equipment-sighting"
    TROOP_MOVEMENT = "troop-movement"
    DAMAGE = "damage"
    CASUALTY_REPORT = "casualty-report"
    MINE = "mine"
    OTHER = "other"


class SourceType(StrEnum):
    """The kind of sensor or reporter; independence of corroboration is judged on it."""

    ACOUSTIC = "acoustic"
    SEISMIC = "seismic"
    RADAR = "radar"
    UAV = "uav"
    SATELLITE = "satellite"
    MONITOR = "monitor"
    OSINT = "osint"
    OFFICIAL = "official"


#: Other words for a source type, accepted on input and stored as the type they name, so two spellings of
#: one report are one observation (same content id, same ledger commitment). Lower case, exact.
SOURCE_TYPE_SYNONYMS: dict[str, SourceType] = {
    "drone": SourceType.UAV,
    "uas": SourceType.UAV,
    "rpas": SourceType.UAV,
    "unmanned-aircraft": SourceType.UAV,
}
_SOURCE_TYPE_WORDS = (
    ", ".join(repr(t.value) for t in SourceType)
    + "; or a synonym: "
    + ", ".join(f"{word!r} (= {t.value!r})" for word, t in SOURCE_TYPE_SYNONYMS.items())
)


_SOURCE_TYPE_VALUES = frozenset(t.value for t in SourceType)


def source_type(value: Any) -> Any:
    """A source type word or one of its synonyms → its :class:`SourceType`; anything else refused, naming the accepted words."""
    if isinstance(value, SourceType):
        return value
    if isinstance(value, str):
        if value in SOURCE_TYPE_SYNONYMS:
            return SOURCE_TYPE_SYNONYMS[value]
        if value in _SOURCE_TYPE_VALUES:
            return SourceType(value)
    raise PydanticCustomError("enum", "Input should be one of {accepted}", {"accepted": _SOURCE_TYPE_WORDS})


class PlacePrecision(int, Enum):
    """ACLED-style geo precision of a place named in text."""

    EXACT = 1
    NEAR = 2
    DISTRICT = 3
    REGION = 4


#: 1-σ radius assumed for a named place at each precision (settlement, near it, district, region).
PLACE_PRECISION_SIGMA_M: dict[PlacePrecision, float] = {
    PlacePrecision.EXACT: 2_000.0,
    PlacePrecision.NEAR: 8_000.0,
    PlacePrecision.DISTRICT: 25_000.0,
    PlacePrecision.REGION: 80_000.0,
}

# Every number a party sends is read strictly: a JSON number (integers included), never a string or a
# boolean (Python's bool is an int; lax mode would store true as 1). See truceline.domain.strict.
Latitude = Annotated[float, Field(strict=True, ge=-90.0, le=90.0, allow_inf_nan=False)]
Longitude = Annotated[float, Field(strict=True, ge=-180.0, le=180.0, allow_inf_nan=False)]
Metres = Annotated[float, Field(strict=True, gt=0.0, le=MAX_UNCERTAINTY_M, allow_inf_nan=False)]
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, str_strip_whitespace=True)


class PointLocation(_Frozen):
    """A point with its horizontal uncertainty: a CEP (50% radius) or a full east/north covariance."""

    type: Literal["point"] = "point"
    lat: Latitude
    lon: Longitude
    cep_m: Metres | None = None
    cov_m2: tuple[tuple[Number, Number], tuple[Number, Number]] | None = Field(
        default=None, description="2×2 east/north covariance in m², symmetric positive definite"
    )
    alt_m: Annotated[float, Field(strict=True, ge=-500.0, le=100_000.0, allow_inf_nan=False)] | None = None

    @model_validator(mode="after")
    def _check_uncertainty(self) -> PointLocation:
        if self.cep_m is not None and self.cov_m2 is not None:
            raise PydanticCustomError("one_uncertainty", "give either cep_m or cov_m2, not both")
        if self.cov_m2 is not None:
            (a, b), (c, d) = self.cov_m2
            if abs(b - c) > 1e-9 * max(abs(a), abs(d), 1.0):
                raise PydanticCustomError("cov_symmetric", "cov_m2 must be symmetric, got {b} and {c}", {"b": b, "c": c})
            if not (a > 0 and d > 0 and a * d - b * c > 0):
                raise PydanticCustomError("cov_positive", "cov_m2 must be positive definite")
            if max(a, d) > MAX_UNCERTAINTY_M**2:
                raise PydanticCustomError("cov_range", "cov_m2 variance exceeds (1000 km)²")
        return self

    def sigma_m(self) -> float | None:
        """One-axis standard deviation in metres (circular approximation), if any uncertainty is given."""
        if self.cep_m is not None:
            return self.cep_m / POINT_CEP_PER_SIGMA  # CEP = sqrt(2 ln 2) σ for a circular normal
        if self.cov_m2 is not None:
            return math.sqrt((self.cov_m2[0][0] + self.cov_m2[1][1]) / 2.0)
        return None


class BearingLocation(_Frozen):
    """A line of bearing from a sensor at a known position (acoustic array, direction finder, observer)."""

    type: Literal["bearing"] = "bearing"
    sensor_lat: Latitude
    sensor_lon: Longitude
    sensor_cep_m: Metres | None = None
    bearing_deg: Annotated[float, Field(strict=True, ge=0.0, lt=360.0, allow_inf_nan=False)]
    bearing_sd_deg: Annotated[float, Field(strict=True, gt=0.0, le=180.0, allow_inf_nan=False)]
    max_range_m: Metres | None = None


class PlaceLocation(_Frozen):
    """A place named in text, with ACLED-style precision; coordinates only if it was resolved."""

    type: Literal["place"] = "place"
    name: Annotated[str, Field(min_length=1, max_length=200)]
    precision: Annotated[PlacePrecision, BeforeValidator(int_enum(PlacePrecision, "1, 2, 3 or 4"))]
    lat: Latitude | None = None
    lon: Longitude | None = None
    admin: Annotated[str, Field(max_length=200)] | None = None

    def sigma_m(self) -> float:
        """Circular 1-σ radius implied by the precision code: a place name is never better than its area."""
        return PLACE_PRECISION_SIGMA_M[self.precision]

    @model_validator(mode="after")
    def _both_or_neither(self) -> PlaceLocation:
        if (self.lat is None) != (self.lon is None):
            raise PydanticCustomError("lat_lon_pair", "give both lat and lon of the place, or neither")
        return self


def _location_tag(value: Any) -> str | None:
    """Tell location shapes apart; the explicit ``type`` wins, otherwise the fields present decide."""
    if isinstance(value, dict):
        if "type" in value:
            return value["type"] if isinstance(value["type"], str) else None
        if "bearing_deg" in value:
            return "bearing"
        if "name" in value:
            return "place"
        return "point"
    return getattr(value, "type", None)


Location = Annotated[
    Annotated[PointLocation, Tag("point")] | Annotated[BearingLocation, Tag("bearing")] | Annotated[PlaceLocation, Tag("place")],
    Discriminator(
        _location_tag,
        custom_error_type="location_type",
        custom_error_message="location must be a point {lat, lon}, a bearing {sensor_lat, sensor_lon, bearing_deg, ...} or a place {name, precision}",
    ),
]


def _leap_second(value: Any) -> Any:
    """Accept a real leap second (23:59:60 UTC on 30 June or 31 December) as 23:59:59.999999 UTC.

    Python datetimes cannot hold second 60; keeping the same date and order is what matters for fusion.
    Any other second 60 is refused.
    """
    if not isinstance(value, str) or ":60" not in value:
        return value
    match = _LEAP_SECOND.match(value)
    if match is None:
        return value
    base = utc_or_refused(datetime.fromisoformat(f"{match.group(1)}:59{match.group(3).replace('z', 'Z')}"), value)
    if (base.month, base.day, base.hour, base.minute) not in {(6, 30, 23, 59), (12, 31, 23, 59)}:
        raise PydanticCustomError(
            "leap_second",
            "second 60 is valid only as a leap second at 23:59:60 UTC on 30 June or 31 December, got {value}",
            {"value": value},
        )
    return base.replace(microsecond=999_999)


def _to_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise PydanticCustomError("timezone_aware", "time must carry a UTC offset (e.g. 'Z'), got a naive time")
    return utc_or_refused(value)


def utc_or_refused(value: datetime, given: str | None = None) -> datetime:
    """``value`` in UTC; a time whose offset carries it outside years 1-9999 (0001-01-01T00:30+01:00) is refused.

    ``astimezone`` raises OverflowError there, which would otherwise escape validation as a crash. ``given`` is
    the sender's text, quoted in the refusal when it differs from ``value`` (a leap second read as :59).
    """
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError(
            "time_range",
            "time {value} lies outside the years 1-9999 once converted to UTC",
            {"value": given if given is not None else value.isoformat()},
        ) from None


UtcTime = Annotated[datetime, BeforeValidator(_leap_second), AfterValidator(_to_utc)]


def check_time_plausible(value: datetime, now: datetime, skew: timedelta = DEFAULT_CLOCK_SKEW) -> datetime:
    """Refuse times before :data:`EARLIEST_TIME` or later than ``now + skew``."""
    if value < EARLIEST_TIME:
        raise PydanticCustomError(
            "time_too_early", "time {value} is before {earliest}", {"value": value.isoformat(), "earliest": EARLIEST_TIME.isoformat()}
        )
    if value > now + skew:
        raise PydanticCustomError(
            "time_in_future",
            "time {value} is in the future (now {now}, allowed clock skew {skew} s)",
            {"value": value.isoformat(), "now": now.isoformat(), "skew": int(skew.total_seconds())},
        )
    return value


#: Attributes of one observation, as compact UTF-8 JSON. Every other field has its own bound (ids 128
#: characters, names 200, 64 labels), together well under 8 KiB, so one observation stays under 64 KiB of
#: canonical JSON (docs/observations.md#size): a ledger leaf, a store row and a report line stay small, and one
#: sender cannot fill the store with a few requests.
MAX_ATTRIBUTES_BYTES = 56 * 1024
_MAX_SAFE_INTEGER = 2**53 - 1
_MAX_ATTRIBUTE_DEPTH = 8


def _check_portable(value: Any, path: str, depth: int) -> None:
    """Refuse attribute values that another JSON reader would change: huge integers, NaN, deep nesting."""
    if depth > _MAX_ATTRIBUTE_DEPTH:
        raise PydanticCustomError("attribute_depth", "{path} is nested deeper than {depth} levels", {"path": path, "depth": _MAX_ATTRIBUTE_DEPTH})
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INTEGER:
            raise PydanticCustomError(
                "attribute_integer", "{path}: integer {value} is beyond ±(2^53−1); send it as a string", {"path": path, "value": value}
            )
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise PydanticCustomError("attribute_number", "{path}: {value} is not a finite number", {"path": path, "value": value})
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _check_portable(item, f"{path}.{key}", depth + 1)
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_portable(item, f"{path}[{i}]", depth + 1)
        return
    raise PydanticCustomError("attribute_type", "{path}: {kind} is not a JSON value", {"path": path, "kind": type(value).__name__})


def _plainly_portable(container: dict[str, Any] | list[Any], depth: int) -> bool:
    """True when :func:`_check_portable` would accept ``container`` (at ``depth``), judged on exact builtin
    types only; False means "not sure": the caller then lets :func:`_check_portable` decide (and explain).

    One pass without building paths, for the common case (JSON values): every ingested record runs it.
    """
    if depth >= _MAX_ATTRIBUTE_DEPTH and container:
        return False  # its items are nested too deeply
    items: Iterable[Any] = container.values() if type(container) is dict else container
    for item in items:
        t = type(item)
        if t is str or t is bool or item is None:
            continue
        if t is float:
            if not _isfinite(item):
                return False
        elif t is int:
            if not -_MAX_SAFE_INTEGER <= item <= _MAX_SAFE_INTEGER:
                return False
        elif t is dict or t is list:
            if not _plainly_portable(item, depth + 1):
                return False
        else:
            return False
    return True


_isfinite = math.isfinite


class Source(_Frozen):
    """Who observed: a sensor or reporter, its type and the organisation that owns its data."""

    id: Annotated[str, Field(pattern=_ID_PATTERN)]
    type: Annotated[SourceType, BeforeValidator(source_type)]
    org: Annotated[str, Field(pattern=_LABEL_PATTERN, description="owning organisation code, e.g. UA")]


Positive = Annotated[float, Field(strict=True, gt=0.0, allow_inf_nan=False)]


class Assumed(_Frozen):
    """The uncertainties truceline assumed because the sender did not state them, and the rules that did.

    Each value stands in for the field of the same name (``cep_m`` of a point location, ``sensor_cep_m`` of
    a bearing, ``origin_cep_m`` of ``attributes.origin``); the sender's own fields stay absent, so the
    stored document shows what was claimed and, here, what was assumed (:mod:`truceline.domain.defaults`).
    """

    rules: Annotated[str, Field(max_length=64, description="the defaults table that produced these values")]
    time_uncertainty_s: Positive | None = None
    cep_m: Positive | None = None
    sensor_cep_m: Positive | None = None
    origin_cep_m: Positive | None = None


def _origin_unstated(attributes: dict[str, Any]) -> bool:
    """True when ``attributes.origin`` is a usable point that gives neither ``cep_m`` nor ``cov_m2``."""
    origin = attributes.get("origin") if attributes else None
    if type(origin) is not dict or "cep_m" in origin or "cov_m2" in origin:
        return False
    lat, lon = origin.get("lat"), origin.get("lon")
    if not (isinstance(lat, int | float) and isinstance(lon, int | float)) or isinstance(lat, bool) or isinstance(lon, bool):
        return False
    return -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0


@functools.lru_cache(maxsize=4096)
def _assumed_for(
    rules: str, source_type: str, kind: str, time_stated: bool, point_unstated: bool, sensor_unstated: bool, origin_unstated: bool
) -> Assumed | None:
    """The record a known rules version gives for these gaps; one shared immutable instance per combination."""
    table = _defaults.table_named(rules)
    assert table is not None
    values = _defaults.assume(
        table,
        source_type,
        kind,
        time_stated=time_stated,
        point_unstated=point_unstated,
        sensor_unstated=sensor_unstated,
        origin_unstated=origin_unstated,
    )
    return Assumed(rules=rules, **values) if values else None


def assumed_for_point(source_type: str, kind: str, time_stated: bool, point_unstated: bool) -> Assumed | None:
    """The ``assumed`` record :meth:`Observation._check_assumed` sets on a point observation under the current
    rules when nothing else is unstated (no ``attributes.origin`` without its uncertainty): for decoders that
    write the stored document without a model object (:mod:`truceline.ingest.validated_json`)."""
    return _assumed_for(_defaults.rules_name(_defaults.CURRENT), source_type, kind, time_stated, point_unstated, False, False)


class Observation(_Frozen):
    """One source's report of one thing at one time and place; immutable once accepted.

    ``id`` is the client's idempotency key; when absent it is derived from the content, so re-sending the
    same report cannot create a second observation.
    """

    id: Annotated[str, Field(pattern=_ID_PATTERN)] | None = None
    time: datetime  # UtcTime, plus plausibility: one validator below instead of three calls into Python
    time_uncertainty_s: Annotated[float, Field(strict=True, ge=0.0, le=MAX_TIME_UNCERTAINTY_S, allow_inf_nan=False)] | None = Field(
        default=None, description="1-σ of time in seconds; leave it out when unknown, and a default is assumed"
    )
    kind: ObservationKind
    location: Location
    source: Source
    reliability: Reliability = Reliability.F
    credibility: Annotated[Credibility, BeforeValidator(int_enum(Credibility, "1 to 6"))] = Credibility.CANNOT_BE_JUDGED
    releasable_to: Annotated[list[Annotated[str, Field(pattern=_LABEL_PATTERN)]], Field(max_length=64)] = Field(
        default_factory=list, description="organisations or groups that may read it; empty = the owner only"
    )
    attributes: Annotated[dict[str, Any], Field(max_length=64)] = Field(default_factory=dict)
    evidence_hash: Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")] | None = None
    assumed: Assumed | None = Field(
        default=None,
        description="set by truceline: the uncertainties it assumed because they were not stated (docs/observations.md)",
    )

    @field_validator("time_uncertainty_s", mode="before")
    @classmethod
    def _time_uncertainty_given(cls, value: Any) -> Any:
        """An explicit null is refused: a sender who does not know leaves the field out (then it is assumed)."""
        if value is None:
            raise PydanticCustomError("time_uncertainty_null", "time_uncertainty_s must be a number of seconds; leave it out if unknown")
        return value

    @field_validator("attributes")
    @classmethod
    def _attributes_portable(cls, value: dict[str, Any]) -> dict[str, Any]:
        """Portable JSON values only, and at most :data:`MAX_ATTRIBUTES_BYTES`: the one unbounded field."""
        if value:
            if not (type(value) is dict and _plainly_portable(value, 0)):
                _check_portable(value, "attributes", 0)
            size = len(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS))
            if size > MAX_ATTRIBUTES_BYTES:
                raise PydanticCustomError(
                    "attributes_size",
                    "attributes are {size} bytes as compact JSON; the limit is {limit} bytes (an observation is at most 64 KiB)",
                    {"size": size, "limit": MAX_ATTRIBUTES_BYTES},
                )
        return value

    @field_validator("time", mode="wrap")
    @classmethod
    def _time_plausible(cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> datetime:
        """:data:`UtcTime`'s rules (leap second, then the datetime, then UTC), then :func:`check_time_plausible`."""
        if type(value) is not str or not (value[4:5] == "-" and value[:4].isdigit()):
            value = time_input(value)  # not plainly a date: refuse numbers and numeric strings (issue 20)
        when = _to_utc(handler(_leap_second(value)))
        context = info.context or {}
        now = context.get("now") or datetime.now(UTC)
        return check_time_plausible(when, now, context.get("clock_skew", DEFAULT_CLOCK_SKEW))

    @model_validator(mode="after")
    def _normalise(self) -> Observation:
        labels = sorted(set(self.releasable_to)) or [self.source.org]
        if labels != self.releasable_to:
            object.__setattr__(self, "releasable_to", labels)
        if self.id is None:
            object.__setattr__(self, "id", "h-" + content_digest(self)[:32])
        self._check_assumed()
        return self

    def _check_assumed(self) -> None:
        """Record the defaults for what is unstated; a given ``assumed`` must be exactly what its rules give.

        A stored document carries its ``assumed`` record and validates again to the same bytes; a sender
        cannot pass off its own values as truceline's assumptions, nor assume what it stated.
        """
        given = self.assumed
        loc = self.location
        if (
            given is None
            and self.time_uncertainty_s is not None
            and (type(loc) is PlaceLocation or (type(loc) is PointLocation and (loc.cep_m is not None or loc.cov_m2 is not None)))
            and (not self.attributes or "origin" not in self.attributes)
        ):
            return  # everything stated (the common case of sensors): nothing to assume, nothing to check
        rules = _defaults.rules_name(_defaults.CURRENT) if given is None else given.rules
        if _defaults.table_named(rules) is None:
            raise PydanticCustomError(
                "assumed_rules", "assumed.rules {rules} is not one of {known}", {"rules": rules, "known": ", ".join(_defaults.known_rules())}
            )
        expected = self._assumed_under(rules)
        if given is None:
            if expected is not None:
                object.__setattr__(self, "assumed", expected)
            return
        if given != expected:
            want = {} if expected is None else expected.model_dump(exclude_none=True, exclude={"rules"})
            raise PydanticCustomError(
                "assumed_mismatch",
                "assumed is set by truceline, not by senders: under {rules} this observation assumes {expected}, got {got}",
                {"rules": rules, "expected": want, "got": given.model_dump(exclude_none=True, exclude={"rules"})},
            )

    def _assumed_under(self, rules: str) -> Assumed | None:
        """What a known rules version assumes for what this observation leaves unstated (None: nothing)."""
        loc = self.location
        return _assumed_for(
            rules,
            self.source.type._value_,
            self.kind._value_,
            self.time_uncertainty_s is not None,
            type(loc) is PointLocation and loc.cep_m is None and loc.cov_m2 is None,
            type(loc) is BearingLocation and loc.sensor_cep_m is None,
            _origin_unstated(self.attributes),
        )

    @property
    def time_sd_s(self) -> float:
        """1-σ of :attr:`time` in seconds: as stated, or as assumed when the sender did not say."""
        if self.time_uncertainty_s is not None:
            return self.time_uncertainty_s
        assert self.assumed is not None and self.assumed.time_uncertainty_s is not None
        return self.assumed.time_uncertainty_s

    @property
    def point(self) -> tuple[float, float] | None:
        """(lat, lon) when the location is or resolves to a point, else None."""
        loc = self.location
        if isinstance(loc, BearingLocation) or loc.lat is None or loc.lon is None:
            return None
        return (loc.lat, loc.lon)

    @property
    def sigma_m(self) -> float | None:
        """1-σ horizontal uncertainty of :attr:`point` in metres: given, implied, or assumed; None for a bearing."""
        loc = self.location
        if isinstance(loc, BearingLocation):
            return None
        sigma = loc.sigma_m()
        if sigma is None and self.assumed is not None and self.assumed.cep_m is not None:
            return self.assumed.cep_m / _defaults.CEP_PER_SIGMA
        return sigma

    @property
    def sensor_sigma_m(self) -> float | None:
        """1-σ of a bearing sensor's own position in metres (given or assumed); None for other locations."""
        loc = self.location
        if not isinstance(loc, BearingLocation):
            return None
        cep = loc.sensor_cep_m
        if cep is None and self.assumed is not None:
            cep = self.assumed.sensor_cep_m
        return None if cep is None else cep / _defaults.CEP_PER_SIGMA


def content_digest(observation: Observation) -> str:
    """SHA-256 hex of the observation's content without its id: the idempotency key of last resort.

    ``assumed`` is left out: it is derived, so the id names what the sender claimed.
    """
    payload = observation.model_dump_json(exclude={"id", "assumed"}, exclude_none=True)
    return hashlib.sha256(payload.encode()).hexdigest()
