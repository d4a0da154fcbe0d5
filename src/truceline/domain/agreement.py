"""Agreement: the terms of a ceasefire as data — parties, territory, zones, rules — immutable once loaded.

Everything a verdict depends on is held here, geometry included (as WKB, exact and compact), so that the
canonical document of an agreement version can be hashed into the evidence ledger and a violation judged
under that version can be re-checked by anyone later. Lengths are stored in metres but must be *written*
with a unit (``50 km``): a bare ``50`` in a treaty annex is an accident waiting to happen.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from truceline.domain.observation import ObservationKind, UtcTime

SCHEMA_ID = "truceline/agreement/v1"
#: The pseudo-party named when the evidence does not single out one party.
UNDETERMINED = "undetermined"
#: Zone distances beyond this are refused as typos (metres read as kilometres and the like).
MAX_ZONE_DISTANCE_M = 1_000_000.0
MAX_TOLERANCE_M = 20_000.0

PartyCode = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_-]{1,31}$", description="party code, e.g. UA")]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$", description="lower-case identifier")]
WkbHex = Annotated[str, Field(pattern=r"^[0-9a-f]+$", min_length=10, description="WKB, little-endian, hex")]

_QUANTITY = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*([A-Za-z]+(?:2|²)?)\s*$", re.ASCII)
_BARE_NUMBER = re.compile(r"^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$", re.ASCII)
_LENGTH_UNITS = {"m": 1.0, "km": 1000.0}
_AREA_UNITS = {"m2": 1.0, "m²": 1.0, "km2": 1e6, "km²": 1e6, "ha": 1e4}


def _quantity_error(kind: str, message: str, what: str, value: Any, example: str, **extra: str) -> PydanticCustomError:
    return PydanticCustomError(kind, message, {"what": what, "value": repr(value), "example": example, **extra})


def _parse_quantity(value: Any, units: dict[str, float], what: str, example: str) -> float:
    """Parse '50 km' into base units; refuse bare numbers because their unit is a guess."""
    if (isinstance(value, (int, float)) and not isinstance(value, bool)) or (isinstance(value, str) and _BARE_NUMBER.match(value)):
        raise _quantity_error("quantity_unit_missing", "{what} {value} has no unit; write it with one, e.g. {example}",
                              what, value, example)
    if not isinstance(value, str):
        raise _quantity_error("quantity_type", "{what} must be a string with a unit such as {example}, got {value}",
                              what, value, example)
    match = _QUANTITY.match(value)
    if match is None:
        raise _quantity_error("quantity_syntax", "{what} {value} is not '<number> <unit>', e.g. {example}", what, value, example)
    number, unit = float(match.group(1)), match.group(2)
    if unit not in units:
        raise _quantity_error("quantity_unit_unknown", "{what} {value} has unit {unit}; use one of {units}",
                              what, value, example, unit=repr(unit), units=", ".join(units))
    result = number * units[unit]
    if not math.isfinite(result):
        raise _quantity_error("quantity_finite", "{what} {value} is not finite", what, value, example)
    return result


def parse_length(value: Any) -> float:
    """Metres from '50 km' / '50000 m'; raises on a bare number, an unknown unit or bad syntax."""
    return _parse_quantity(value, _LENGTH_UNITS, "length", "'50 km' or '50000 m'")


def parse_area(value: Any) -> float:
    """Square metres from '500 km2' / '500 km²' / '20 ha' / '1000 m2'."""
    return _parse_quantity(value, _AREA_UNITS, "area", "'500 km2'")


def _canonical(info: ValidationInfo) -> bool:
    # A stored canonical document carries plain floats (SI units); text written by people must carry units.
    return bool(info.context and info.context.get("canonical"))


def _metres_in(value: Any, info: ValidationInfo) -> Any:
    if _canonical(info) and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return parse_length(value)


def _square_metres_in(value: Any, info: ValidationInfo) -> Any:
    if _canonical(info) and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return parse_area(value)


#: Field type for a length: accepts '50 km' (and float metres when re-reading a canonical document).
Metres = Annotated[float, BeforeValidator(_metres_in), Field(allow_inf_nan=False)]
SquareMetres = Annotated[float, BeforeValidator(_square_metres_in), Field(allow_inf_nan=False)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, str_strip_whitespace=True, populate_by_name=True)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """Copy without the cached values derived from the fields (parsed geometry, digest): they may be stale."""
        copy = super().model_copy(update=update, deep=deep)
        for klass in type(copy).__mro__:
            for name, attr in vars(klass).items():
                if isinstance(attr, cached_property):
                    copy.__dict__.pop(name, None)
        return copy


def wkb_hex(geometry: Any) -> str:
    """Canonical WKB (little-endian, 2D) of a shapely geometry, as lower-case hex."""
    import shapely

    return str(shapely.to_wkb(geometry, hex=True, byte_order=1, output_dimension=2)).lower()


def geometry_from_wkb(value: str) -> Any:
    """Shapely geometry from WKB hex."""
    import shapely

    return shapely.from_wkb(bytes.fromhex(value))


class SourceFile(_Frozen):
    """Provenance of one input file: where it came from, its SHA-256 and the attribution it requires."""

    path: Annotated[str, Field(min_length=1, max_length=500)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    attribution: Annotated[str, Field(max_length=2000)] = ""


class Territory(_Frozen):
    """An area on the ground in WGS84 longitude/latitude."""

    source: Annotated[str, Field(max_length=500)] = Field(default="", description="file it was read from")
    wkb: WkbHex

    @cached_property
    def shape(self) -> Any:
        """The shapely (Multi)Polygon."""
        return geometry_from_wkb(self.wkb)


class Country(_Frozen):
    """The country whose territory the agreement covers (its internationally recognised outline)."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    area: Territory


class Party(_Frozen):
    """A party to the agreement; ``area`` None means 'the rest of the country' (at most one party)."""

    code: PartyCode
    name: Annotated[str, Field(min_length=1, max_length=200)]
    area: Territory | None = None


class ExteriorArea(_Frozen):
    """Territory outside the monitored country that a party controls (e.g. its own soil next to the border).

    Used only to name who controls a launch point found beyond the border; zones stay inside the country.
    """

    party: PartyCode
    area: Territory


class ZoneKind(StrEnum):
    SECURITY_STRIP = "security-strip"
    WITHDRAWAL = "withdrawal"
    NO_FLY = "no-fly"
    CUSTOM = "custom"
    MARITIME_EXCLUSION = "maritime-exclusion"
    CORRIDOR = "corridor"


#: What a zone's terms bind: aircraft (ADS-B/Mode S tracks, flights), vessels (AIS tracks), ground forces.
Subject = Literal["aircraft", "vessel", "ground"]
_DEFAULT_SUBJECTS: dict[str, tuple[str, ...]] = {
    "no-fly": ("aircraft",), "maritime-exclusion": ("vessel",), "corridor": ("vessel",),
}


class AltitudeBand(_Frozen):
    """Altitudes (metres above mean sea level) to which a no-fly zone applies."""

    min_m: Annotated[Metres, Field(alias="min", ge=-500.0, le=100_000.0)] = 0.0
    max_m: Annotated[Metres, Field(alias="max", gt=-500.0, le=100_000.0)]

    @model_validator(mode="after")
    def _ordered(self) -> AltitudeBand:
        if self.max_m <= self.min_m:
            raise PydanticCustomError("altitude_band", "altitude max {max} m must exceed min {min} m",
                                      {"max": self.max_m, "min": self.min_m})
        return self


class Zone(_Frozen):
    """A zone the rules refer to.

    ``security-strip`` and ``withdrawal`` zones are bands measured from the line of contact on the side of
    each party listed in ``sides`` (all parties when empty); ``withdrawal`` zones name the weapon class they
    keep away. ``no-fly``, ``maritime-exclusion`` and ``custom`` zones are polygons; ``no-fly`` ones may carry
    an altitude band. A ``corridor`` is a centreline (``area`` is a LineString) with an allowed ``width``.
    ``applies_to`` says whom the zone binds (default: aircraft for no-fly, vessels for maritime zones and
    corridors, ground otherwise); ``illustrative`` marks a zone drawn for a demonstration, not negotiated.
    """

    id: Slug
    kind: ZoneKind
    description: Annotated[str, Field(max_length=2000)] = ""
    distance_m: Annotated[Metres, Field(gt=0.0, le=MAX_ZONE_DISTANCE_M)] | None = Field(default=None, alias="distance")
    sides: tuple[PartyCode, ...] = ()
    weapon_class: Slug | None = None
    area: Territory | None = None
    altitude: AltitudeBand | None = None
    applies_to: tuple[Subject, ...] = ()
    width_m: Annotated[Metres, Field(gt=0.0, le=MAX_ZONE_DISTANCE_M)] | None = Field(default=None, alias="width")
    illustrative: bool = False

    @model_validator(mode="before")
    @classmethod
    def _default_subjects(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("applies_to"):
            kind = data.get("kind")
            kind = kind.value if isinstance(kind, ZoneKind) else kind
            data = {**data, "applies_to": _DEFAULT_SUBJECTS.get(str(kind), ("ground",))}
        return data

    def applies(self, subject: str) -> bool:
        """Whether the zone binds this subject (aircraft, vessel, ground)."""
        return subject in self.applies_to

    @model_validator(mode="after")
    def _fields_fit_kind(self) -> Zone:
        banded = self.kind in (ZoneKind.SECURITY_STRIP, ZoneKind.WITHDRAWAL)
        if banded and self.distance_m is None:
            raise PydanticCustomError("zone_distance", "a {kind} zone needs a distance from the line, e.g. '50 km'",
                                      {"kind": self.kind.value})
        if banded and self.area is not None:
            raise PydanticCustomError("zone_area", "a {kind} zone is derived from the line of contact; remove 'area'",
                                      {"kind": self.kind.value})
        if not banded and self.area is None:
            raise PydanticCustomError("zone_area", "a {kind} zone needs a polygon 'area'", {"kind": self.kind.value})
        if not banded and (self.distance_m is not None or self.sides):
            raise PydanticCustomError("zone_distance", "a {kind} zone is a polygon; 'distance' and 'sides' do not apply",
                                      {"kind": self.kind.value})
        if (self.kind is ZoneKind.WITHDRAWAL) != (self.weapon_class is not None):
            raise PydanticCustomError("zone_weapon_class", "'weapon_class' is required for withdrawal zones and only for them")
        if self.altitude is not None and self.kind is not ZoneKind.NO_FLY:
            raise PydanticCustomError("zone_altitude", "'altitude' applies to no-fly zones only")
        if len(set(self.sides)) != len(self.sides):
            raise PydanticCustomError("zone_sides", "'sides' lists a party twice")
        if (self.kind is ZoneKind.CORRIDOR) != (self.width_m is not None):
            raise PydanticCustomError("zone_width", "'width' is required for corridors and only for them")
        if len(set(self.applies_to)) != len(self.applies_to):
            raise PydanticCustomError("zone_applies_to", "'applies_to' lists a subject twice")
        return self


def _match_pairs(value: Any) -> Any:
    if isinstance(value, dict):
        items = []
        for key, val in value.items():
            if isinstance(val, bool):
                val = "true" if val else "false"
            items.append((str(key), val if isinstance(val, str) else str(val)))
        return tuple(sorted(items))
    return value


class RuleException(_Frozen):
    """Circumstances under which an otherwise violating incident is allowed (e.g. notified demining).

    ``when`` lists incident attributes that must all be present with exactly these values.
    """

    id: Slug
    description: Annotated[str, Field(max_length=2000)] = ""
    when: Annotated[tuple[tuple[str, str], ...], BeforeValidator(_match_pairs), Field(min_length=1)]

    def applies(self, attributes: dict[str, str]) -> bool:
        """True when every required attribute is present with the required value."""
        return all(str(attributes.get(key, "")).strip().lower() == value.strip().lower() for key, value in self.when)


class Rule(_Frozen):
    """Which kinds of incident are violations where, and who answers for them.

    ``attribution`` says whose act it is: ``origin`` — the party that fired or launched (from the estimated
    origin; an impact alone does not tell), ``location`` — the party controlling the ground where the thing
    was seen (equipment, troops).
    """

    id: Slug
    description: Annotated[str, Field(max_length=2000)] = ""
    kinds: Annotated[tuple[ObservationKind, ...], Field(min_length=1)]
    where: Literal["anywhere"] | Annotated[tuple[Slug, ...], Field(min_length=1)] = "anywhere"
    attribution: Literal["origin", "location"] = "origin"
    exceptions: tuple[RuleException, ...] = ()

    @field_validator("kinds")
    @classmethod
    def _unique_kinds(cls, value: tuple[ObservationKind, ...]) -> tuple[ObservationKind, ...]:
        if len(set(value)) != len(value):
            raise PydanticCustomError("rule_kinds", "'kinds' lists a kind twice")
        return value


#: A notified activity's circle may not exceed this radius: a notice must say where, not "the whole front".
MAX_NOTIFICATION_RADIUS_M = 50_000.0


class Notification(_Frozen):
    """An activity a party announced to the mission in advance (demining, a controlled detonation).

    The rules it names excuse it: an incident of one of its ``kinds`` whose estimated position lies within
    ``radius`` of (``lat``, ``lon``) and whose estimated time lies in [``from``, ``until``] is recorded as
    excused, with this notification as its basis, instead of as a violation. Without such a notice the same
    explosion is a violation like any other — a party cannot excuse an act after the fact.
    """

    id: Slug
    party: PartyCode
    activity: Slug
    description: Annotated[str, Field(max_length=2000)] = ""
    kinds: Annotated[tuple[ObservationKind, ...], Field(min_length=1)]
    rules: Annotated[tuple[Slug, ...], Field(min_length=1, description="ids of the rules this notification excuses")]
    lat: Annotated[float, Field(ge=-90.0, le=90.0)]
    lon: Annotated[float, Field(ge=-180.0, le=180.0)]
    radius_m: Annotated[Metres, Field(alias="radius", gt=0.0, le=MAX_NOTIFICATION_RADIUS_M)]
    starts: Annotated[UtcTime, Field(alias="from")]
    ends: Annotated[UtcTime, Field(alias="until")]

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, populate_by_name=True)

    @model_validator(mode="after")
    def _window(self) -> Notification:
        if self.ends <= self.starts:
            raise PydanticCustomError("notification_window", "'until' must be after 'from'")
        return self


class GeometrySettings(_Frozen):
    """How the line of contact is derived from the areas (see docs/agreement.md).

    ``border_tolerance_m``: parts of a party's boundary closer than this to the country outline are border or
    coast, not contact line (the two sources are digitised differently). ``min_enclave_area_m2``: pieces of
    the remainder party's area smaller than this, cut off from its main territory, are digitising slivers
    and are given to the surrounding party.
    """

    border_tolerance_m: Annotated[Metres, Field(alias="border_tolerance", gt=0.0, le=MAX_TOLERANCE_M)] = 1000.0
    min_enclave_area_m2: Annotated[SquareMetres, Field(alias="min_enclave_area", ge=0.0, le=1e11)] = 500e6
    max_outside_fraction: Annotated[float, Field(ge=0.0, le=0.5)] = 0.01


class AttributionSettings(_Frozen):
    """The standard of proof both parties accept: a party is named only above ``min_confidence``."""

    min_confidence: Annotated[float, Field(gt=0.5, le=1.0)] = 0.9
    samples: Annotated[int, Field(ge=1000, le=1_000_000)] = 20_000


class Agreement(_Frozen):
    """One version of a ceasefire agreement; violations record ``id`` and ``version`` they were judged under."""

    schema_id: Literal["truceline/agreement/v1"] = Field(default="truceline/agreement/v1", alias="schema")
    id: Slug
    version: Annotated[int, Field(ge=1)]
    title: Annotated[str, Field(min_length=1, max_length=500)]
    effective_from: UtcTime
    country: Country
    parties: Annotated[tuple[Party, ...], Field(min_length=2, max_length=16)]
    exterior: tuple[ExteriorArea, ...] = ()
    contact_line: Territory | None = Field(default=None, description="explicit line; derived from the areas when absent")
    zones: tuple[Zone, ...] = ()
    rules: tuple[Rule, ...] = ()
    notifications: tuple[Notification, ...] = ()
    geometry: GeometrySettings = GeometrySettings()
    attribution: AttributionSettings = AttributionSettings()
    provenance: tuple[SourceFile, ...] = ()

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, populate_by_name=True)

    @model_validator(mode="after")
    def _references(self) -> Agreement:
        codes = [p.code for p in self.parties]
        if len(set(codes)) != len(codes):
            raise PydanticCustomError("party_duplicate", "party codes must be unique, got {codes}", {"codes": codes})
        if codes and UNDETERMINED.upper() in codes:
            raise PydanticCustomError("party_reserved", "party code {code} is reserved", {"code": UNDETERMINED.upper()})
        remainder = [p.code for p in self.parties if p.area is None]
        if len(remainder) > 1:
            raise PydanticCustomError("party_remainder", "only one party may hold 'the rest of the country', got {codes}",
                                      {"codes": remainder})
        known = set(codes)
        for i, ext in enumerate(self.exterior):
            if ext.party not in known:
                raise PydanticCustomError("unknown_party", "exterior[{i}] refers to unknown party {party}; parties are {known}",
                                          {"i": i, "party": ext.party, "known": sorted(known)})
        zone_ids = [z.id for z in self.zones]
        if len(set(zone_ids)) != len(zone_ids):
            raise PydanticCustomError("zone_duplicate", "zone ids must be unique, got {ids}", {"ids": zone_ids})
        for zone in self.zones:
            for side in zone.sides:
                if side not in known:
                    raise PydanticCustomError("unknown_party", "zone {zone} refers to unknown party {party}; parties are {known}",
                                              {"zone": zone.id, "party": side, "known": sorted(known)})
        rule_ids = [r.id for r in self.rules]
        if len(set(rule_ids)) != len(rule_ids):
            raise PydanticCustomError("rule_duplicate", "rule ids must be unique, got {ids}", {"ids": rule_ids})
        for rule in self.rules:
            if rule.where != "anywhere":
                for zid in rule.where:
                    if zid not in zone_ids:
                        raise PydanticCustomError("unknown_zone", "rule {rule} refers to unknown zone {zone}; zones are {known}",
                                                  {"rule": rule.id, "zone": zid, "known": zone_ids})
        notice_ids = [n.id for n in self.notifications]
        if len(set(notice_ids)) != len(notice_ids):
            raise PydanticCustomError("notification_duplicate", "notification ids must be unique, got {ids}", {"ids": notice_ids})
        for notice in self.notifications:
            if notice.party not in known:
                raise PydanticCustomError("unknown_party", "notification {id} refers to unknown party {party}; parties are {known}",
                                          {"id": notice.id, "party": notice.party, "known": sorted(known)})
            for rid in notice.rules:
                if rid not in rule_ids:
                    raise PydanticCustomError("unknown_rule", "notification {id} refers to unknown rule {rule}; rules are {known}",
                                              {"id": notice.id, "rule": rid, "known": rule_ids})
        return self

    def party(self, code: str) -> Party:
        """The party with this code (KeyError if none)."""
        for party in self.parties:
            if party.code == code:
                return party
        raise KeyError(code)

    def zone(self, zone_id: str) -> Zone:
        """The zone with this id (KeyError if none)."""
        for zone in self.zones:
            if zone.id == zone_id:
                return zone
        raise KeyError(zone_id)

    def canonical_document(self) -> dict[str, Any]:
        """JSON-serialisable dict that fully determines this agreement version (geometry as WKB hex).

        Feeding it to :meth:`from_canonical_document` gives back an equal agreement; its canonical JSON
        (:func:`canonical_json`) is what the ledger hashes.
        """
        document = self.model_dump(mode="json", by_alias=True)
        if not document["notifications"]:
            del document["notifications"]  # versions written before notifications existed keep their digest
        for zone in document["zones"]:  # likewise versions written before air and sea zones existed
            if tuple(zone["applies_to"]) == _DEFAULT_SUBJECTS.get(zone["kind"], ("ground",)):
                del zone["applies_to"]
            if zone["width"] is None:
                del zone["width"]
            if not zone["illustrative"]:
                del zone["illustrative"]
        return document

    @classmethod
    def from_canonical_document(cls, document: dict[str, Any]) -> Agreement:
        """Rebuild an agreement from :meth:`canonical_document` output (e.g. read back from the store)."""
        return cls.model_validate(document, context={"canonical": True})

    def digest(self) -> str:
        """``sha256:<hex>`` of the canonical JSON: identifies this exact version, geometry included."""
        return self._digest

    @cached_property
    def _digest(self) -> str:
        return "sha256:" + hashlib.sha256(canonical_json(self.canonical_document()).encode()).hexdigest()


def canonical_json(document: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 text, floats in shortest round-trip form."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
