"""What a geoparse answer is: a place mention resolved to a point with honest precision, or not and why.

Also the thresholds the choice among candidates uses (chosen on the ``dev`` half of the Bellingcat file, see
docs/text.md) and the small helpers every stage shares (distances between candidates, merging mentions).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from truceline.text.gazetteer import Place, distance_km
from truceline.text.normalise import skeleton

#: Countries where an event can be in the theatre of the ceasefire.
THEATRE = frozenset({"UA", "RU"})


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds of the resolver; the defaults were chosen on data (see docs/text.md)."""

    #: Minimum rapidfuzz ratio (0–100, on spelling skeletons) for a near spelling in a location field.
    fuzzy_field: float = 84.0
    #: Population ratio the most populous of several same-named places needs over the next one to be chosen.
    dominance: float = 3.0
    #: Same-named places closer than this are one answer whichever is meant (km).
    same_place_km: float = 15.0
    #: A candidate this close to another place named in the same text is preferred (km).
    anchor_km: float = 60.0
    #: Least ratio for a name of the same letters in another order (Enerdohar, Enerhodar: 78), tried when no
    #: near spelling reaches :attr:`fuzzy_field`: chosen on 3,000 of the gazetteer's names with two letters
    #: swapped (seeded; docs/text.md), 70 keeps 192 right answers and 3 far ones of the 201 and 9 without it.
    fuzzy_transposed: float = 70.0
    #: Near spellings scoring within this many points of the best one are equally good.
    fuzzy_window: float = 10.0
    #: Shortest name (letters of its skeleton) for which near spellings are tried at all.
    fuzzy_min_length: int = 7
    #: The same within a raion or hromada the text names, whose few places leave a near spelling little to mistake
    #: ("Borov", Izium raion: Borova; not Bobrov, Voronezh Oblast).
    fuzzy_unit_min_length: int = 5
    #: Population assumed for a village only the codifier lists (GeoNames lists every place from 500).
    unlisted_population: int = 250
    #: Population assumed for a place GeoNames lists without a figure: its list holds places of ≥ 500
    #: inhabitants and seats of administrations, so such a place is at least as big as that.
    listed_population: int = 500
    #: Population assumed for the seat its hromada is named after (Kochubeivka of Kochubeivska hromada) when
    #: GeoNames gives no figure: of the 902 seats it gives one for, fewer than 5% have fewer (docs/text.md).
    seat_population: int = 1_000
    #: A town this big whose official name is unique is taken even if the text names the wrong region.
    distinct_town: int = 10_000
    #: A city this big names a whole area: a smaller place named with it is the one meant.
    big_city: int = 100_000
    #: Smallest town whose unnamed district is placed at the town (Kharkiv (Saltivka district) → Kharkiv).
    district_city: int = 20_000
    #: Places named as alternatives ("A, B or C") this close to their mean point answer as one area (km).
    alternatives_km: float = 15.0
    #: A candidate this close to the line of contact is "near the line" for the front-line prior (km; 0: no prior).
    front_km: float = 60.0
    #: A candidate this close to the state border with Russia (north of 49.5° N) is also "near the line"
    #: (km; 0: no border prior): the fighting of 2024–25 is on that border too.
    border_km: float = 25.0
    #: Smallest city abroad that running text may name (a summit venue); smaller foreign places are noise.
    venue_population: int = 100_000


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class ResolvedPlace:
    """A place mention and what it resolved to; ``lat``/``lon`` are None when it did not resolve."""

    mention: str
    name: str
    lat: float | None
    lon: float | None
    precision: int | None
    country: str | None = None
    admin1: str | None = None
    raion: str | None = None
    hromada: str | None = None
    kind: str = "settlement"  # settlement | district | region | unresolved | ambiguous
    match: str = "official"  # official | alternate | fuzzy | region | context
    score: float = 100.0
    note: str | None = None
    start: int | None = None
    end: int | None = None
    mentions: int = 1
    candidates: int = 1
    region_key: str | None = field(default=None, compare=False)
    place_index: int | None = field(default=None, compare=False)
    population: int = field(default=0, compare=False)
    #: Why this candidate: the context that decided (region named, another place named, line of contact, population).
    basis: str | None = None

    @property
    def resolved(self) -> bool:
        """True if there is a point."""
        return self.lat is not None and self.lon is not None

    @property
    def in_theatre(self) -> bool:
        """True if the place is in Ukraine or Russia (where an event of the ceasefire can happen)."""
        return self.country in THEATRE

    def as_dict(self) -> dict[str, Any]:
        """JSON form of ``truceline geoparse`` (``name, lat, lon, precision, admin1, ...``)."""
        out: dict[str, Any] = {
            "name": self.name,
            "lat": self.lat,
            "lon": self.lon,
            "precision": self.precision,
            "admin1": self.admin1,
            "country": self.country,
            "kind": self.kind,
            "mention": self.mention,
            "match": self.match,
        }
        for key in ("raion", "hromada", "note", "basis"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.match == "fuzzy":
            out["score"] = round(self.score, 1)
        if self.candidates > 1:
            out["candidates"] = self.candidates
        if self.start is not None:
            out["span"] = [self.start, self.end]
        if self.mentions > 1:
            out["mentions"] = self.mentions
        return out


#: How a candidate matched, by gazetteer tier.
MATCH = {0: "official", 1: "alternate", 2: "derived Russian", 3: "fuzzy"}


def fuzzy_allowed(name: str, thresholds: Thresholds) -> bool:
    """Near spellings of short names are other names (Borov is not Bobrov): only long names get fuzzy matching."""
    return len(skeleton(name).replace(" ", "")) >= thresholds.fuzzy_min_length


def unresolved(mention: str, why: str) -> ResolvedPlace:
    """A mention without a point, and why: never the nearest-looking place."""
    return ResolvedPlace(mention=mention, name=mention, lat=None, lon=None, precision=None, kind="unresolved", match="none", score=0.0, note=why, candidates=0)


def km(a: Place, b: Place) -> float:
    """Distance between two places (infinite when either has no point)."""
    if a.lat is None or a.lon is None or b.lat is None or b.lon is None:
        return math.inf
    return distance_km(a.lat, a.lon, b.lat, b.lon)


def nearest(place: Place, anchors: Sequence[tuple[float, float]]) -> float:
    """Distance from a place to the nearest of the other points the text names."""
    if place.lat is None or place.lon is None:
        return math.inf
    return min(distance_km(place.lat, place.lon, lat, lon) for lat, lon in anchors)


def dedupe(places: list[ResolvedPlace]) -> list[ResolvedPlace]:
    """The places without repeats (one point per name, one unresolved entry per mention)."""
    seen: set[tuple[Any, ...]] = set()
    out = []
    for place in places:
        key = (place.name, place.lat, place.lon) if place.resolved else (place.mention, None, None)
        if key in seen:
            continue
        seen.add(key)
        out.append(place)
    return out


def merge_mentions(mentions: list[ResolvedPlace]) -> list[ResolvedPlace]:
    """One entry per place, counted; most mentioned first, then first mentioned."""
    groups: dict[tuple[Any, ...], list[ResolvedPlace]] = {}
    for place in mentions:
        key = (place.name, place.lat, place.lon, place.kind)
        groups.setdefault(key, []).append(place)
    merged = [replace(group[0], mentions=len(group)) for group in groups.values()]
    merged.sort(key=lambda p: (-p.mentions, p.start if p.start is not None else 1 << 30))
    return merged
