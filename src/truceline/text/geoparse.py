"""Geoparsing: place names in a location field or in running text → places with honest precision.

Two entry points share one resolver:

* :func:`parse_location` reads a location *field* ("Kupyansk (Kharkiv region)", "Beryslav, Kherson Oblast",
  "Kharkiv (Saltivka district)"): every part is meant as a place, so near spellings are accepted
  (fuzzy matching above :attr:`Thresholds.fuzzy_field`).
* :func:`geoparse` reads running text in German, English, Ukrainian or Russian. Most capitalised words
  there are not places, so only exact names (in any spelling system, Cyrillic ones inflected) count,
  villages known only from the codifier need a cue ("near", "village", "біля", "с."), and a name glued
  to another capitalised word ("Wladimir Putin") is taken for a person.

Choosing among same-named places, in this order: the region the text names ("…, Zaporizhzhia Oblast"),
proximity to the other places it names, the official name over an alternate one, and population as the
last resort — and only when one place clearly dominates (:attr:`Thresholds.dominance`); otherwise the
name is reported as ambiguous, without a point. A name that cannot be resolved is returned without a
point and a note saying why, never as the nearest-looking place.

Precision is ACLED's: 1 the settlement (or a known city district), 2 near it or an unknown part of it,
3 a district (raion/hromada; also a village placed at its hromada's median point), 4 a region.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from truceline.text.gazetteer import (
    FUZZY_COUNTRIES,
    TIER_ALTERNATE,
    TIER_FUZZY,
    TIER_OFFICIAL,
    Candidate,
    Gazetteer,
    Place,
    RegionArea,
    default_gazetteer,
    distance_km,
)
from truceline.text.normalise import fold_cyrillic, is_cyrillic, skeleton
from truceline.text.regions import GROUP_NAMES, GROUPS

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
    #: Near spellings scoring within this many points of the best one are equally good.
    fuzzy_window: float = 10.0
    #: Shortest name (letters of its skeleton) for which near spellings are tried at all.
    fuzzy_min_length: int = 7
    #: Population assumed for a village only the codifier lists (GeoNames lists every place from 500).
    unlisted_population: int = 250
    #: Population assumed for a place GeoNames lists without a figure: its list holds places of ≥ 500
    #: inhabitants and seats of administrations, so such a place is at least as big as that.
    listed_population: int = 500
    #: A town this big whose official name is unique is taken even if the text names the wrong region.
    distinct_town: int = 10_000
    #: A city this big names a whole area: a smaller place named with it is the one meant.
    big_city: int = 100_000
    #: Smallest town whose unnamed district is placed at the town (Kharkiv (Saltivka district) → Kharkiv).
    district_city: int = 20_000
    #: Places named as alternatives ("A, B or C") this close to their mean point answer as one area (km).
    alternatives_km: float = 15.0
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
        for key in ("raion", "hromada", "note"):
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


# --- vocabulary ------------------------------------------------------------------------------------------

_REGION_WORDS = frozenset(
    "oblast oblasts region regions province obl oblasti gebiet gebiets gebietes krai kray область області "
    "областю обл области областей областях регион региона регіон регіону край краю".split()
)
_REGION_BEFORE = frozenset("region gebiet oblast provinz".split())  # German order: "Gebiet Charkiw"
_DISTRICT_WORDS = frozenset(
    "district districts raion rayon microdistrict neighbourhood neighborhood quarter hromada community "
    "municipality territorial stadtteil bezirk район району районі мікрорайон микрорайон громада громади".split()
)
_CITY_PART_WORDS = frozenset("district districts microdistrict neighbourhood neighborhood quarter stadtteil район районі мікрорайон микрорайон".split())
_SETTLEMENT_WORDS = frozenset(
    "village villages city town settlement selo dorf stadt ort село селі села селище місто місті город "
    "поселок посёлок деревня смт".split()
)
_NEAR_WORDS = frozenset("near outskirts nahe bei біля поблизу під около возле".split())
_CUE_WORDS = _NEAR_WORDS | _SETTLEMENT_WORDS | frozenset("in im at village of с сел м смт в у на".split())
_QUALIFIER = re.compile(r"^\s*[,(]\s*$")
_VENUE_CUES = frozenset("in im nach aus at to from into в у до из з із во".split())
_FIELD_NOISE = frozenset(
    "the of in de und and or and/or to a an also mentioned possibly suspected based on another post one "
    "these three middle center centre central side end from road between area areas".split()
)
_ALTERNATIVES = re.compile(r"\s(?:or|oder|або|чи|или|либо)\s", re.IGNORECASE)
_LOCATION_SPLIT = re.compile(r"[,;()\[\]\n:/]|\s(?:and|or|und|oder|і|и|та|to|near|in the|of)\s", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|['’ʼ`\-](?=[^\W\d_]))*", re.UNICODE)
_SENTENCE_END = re.compile(r"[.!?…:;]\s|\n")


@dataclass
class _Component:
    text: str
    words: list[str]
    kind: str  # settlement | district | region | country
    near: bool = False
    city_part: bool = False  # "district", "microdistrict": a part of a city rather than a raion
    raw: str = ""  # the part as written, for reporting the mention


def _classify(raw: str) -> _Component | None:
    text = raw.strip(" \t\"'«»“”„.-")
    if not text:
        return None
    words = _WORD.findall(text)
    lowered = [w.casefold() for w in words]
    kind = "settlement"
    if any(w in _REGION_WORDS for w in lowered):
        kind = "region"
    elif any(w in _DISTRICT_WORDS for w in lowered):
        kind = "district"
    near = any(w in _NEAR_WORDS for w in lowered)
    city_part = kind == "district" and any(w in _CITY_PART_WORDS for w in lowered)
    kept = [
        w
        for w, low in zip(words, lowered, strict=True)
        if low not in _REGION_WORDS and low not in _DISTRICT_WORDS and low not in _SETTLEMENT_WORDS and low not in _NEAR_WORDS and low not in _FIELD_NOISE
    ]
    if not kept:
        return None
    capitalised = [w for w in kept if w[0].isupper()]
    if capitalised and len(capitalised) < len(kept):
        kept = capitalised
    return _Component(" ".join(kept), kept, kind, near, city_part, text)


# --- the resolver -----------------------------------------------------------------------------------------


@dataclass
class _Context:
    regions: set[str] = field(default_factory=set)
    hard_regions: bool = False
    countries: set[str] = field(default_factory=set)
    anchors: list[tuple[float, float]] = field(default_factory=list)


class Geoparser:
    """Resolves place mentions against a gazetteer with the given thresholds."""

    def __init__(self, gazetteer: Gazetteer | None = None, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> None:
        self.gazetteer = gazetteer or default_gazetteer()
        self.thresholds = thresholds

    # -- regions --------------------------------------------------------------------------------------

    def _region(self, name: str) -> tuple[RegionArea | None, str | None]:
        group = GROUP_NAMES.get(name) or GROUP_NAMES.get(name.title())
        if group:
            return None, group
        region = self.gazetteer.region_by_stem(name) or self.gazetteer.region_by_adjective(name)
        if region is None and is_cyrillic(name):
            region = self.gazetteer.region_by_cyrillic(name.split()[0])
        return region, None

    def _region_place(self, mention: str, region: RegionArea, start: int | None = None, end: int | None = None) -> ResolvedPlace:
        return ResolvedPlace(
            mention=mention, name=region.name, lat=region.lat, lon=region.lon, precision=4, country=region.country,
            admin1=region.name, kind="region", match="region", start=start, end=end, region_key=region.key,
        )

    def _group_place(self, mention: str, group: str) -> ResolvedPlace:
        label, keys = GROUPS[group]
        areas = [self.gazetteer.regions[k] for k in keys]
        lat = sum(a.lat for a in areas) / len(areas)
        lon = sum(a.lon for a in areas) / len(areas)
        return ResolvedPlace(mention=mention, name=label, lat=round(lat, 4), lon=round(lon, 4), precision=4, country="UA",
                             admin1=" and ".join(a.name for a in areas), kind="region", match="region")

    def region_keys(self, region: RegionArea | None, group: str | None) -> set[str]:
        """Region keys a region mention stands for (a group such as Donbas stands for several)."""
        if group:
            return set(GROUPS[group][1])
        return {region.key} if region else set()

    # -- settlements ----------------------------------------------------------------------------------

    def candidates(self, name: str, fuzzy: bool) -> list[Candidate]:
        """Exact-spelling candidates, or near spellings if none and ``fuzzy``."""
        found = self.gazetteer.exact(name)
        if not found and is_cyrillic(name):
            found = self.gazetteer.inflected(name)
        if not found and fuzzy and _fuzzy_allowed(name, self.thresholds):
            found = self.gazetteer.fuzzy(name, self.thresholds.fuzzy_field)
        return found

    def choose(self, mention: str, found: Sequence[Candidate], context: _Context, fuzzy_name: str | None = None) -> ResolvedPlace:
        """Pick one candidate, or explain why none: region, proximity, tier, then dominant population.

        ``fuzzy_name``: when no exact candidate lies in the region the text names, look for near spellings
        there ("Krasnopil, Sumy region" → Krasnopillia) before giving up.
        """
        t = self.thresholds
        pool = [c for c in found if c.place.lat is not None]
        if context.countries:
            pool = [c for c in pool if c.place.country in context.countries]
        if context.regions:
            inside = [c for c in pool if c.place.region_key in context.regions]
            if not inside and fuzzy_name is not None and (context.hard_regions or not pool) and _fuzzy_allowed(fuzzy_name, t):
                near = self.gazetteer.fuzzy(fuzzy_name, t.fuzzy_field)
                inside = [c for c in near if c.place.region_key in context.regions and c.place.lat is not None]
            if inside:
                pool = inside
            elif context.hard_regions:
                named = ", ".join(self._region_names(context.regions))
                towns = [c for c in pool if c.tier == TIER_OFFICIAL and c.place.population >= t.distinct_town and c.place.country in THEATRE]
                if len(towns) == 1:
                    return replace(self._pick(mention, towns[0], towns), note=f"the text says {named}; the only place of this name is elsewhere")
                return _unresolved(mention, f"no place of this name in {named}")
        if not pool:
            return _unresolved(mention, "not in the gazetteer" if not found else "no place of this name in the country named")
        if context.anchors:
            near_anchor = [c for c in pool if _nearest(c.place, context.anchors) <= t.anchor_km]
            if near_anchor:
                best = min(near_anchor, key=lambda c: (c.tier, -c.score, _nearest(c.place, context.anchors)))
                return self._pick(mention, best, near_anchor)
        best_tier = min(c.tier for c in pool)
        pool = [c for c in pool if c.tier == best_tier]
        if best_tier == TIER_FUZZY:
            top = max(c.score for c in pool)
            pool = [c for c in pool if c.score >= top - t.fuzzy_window]
        theatre = [c for c in pool if c.place.country in THEATRE]
        if theatre and len(theatre) < len(pool):
            big_foreign = max((c.place.population for c in pool if c.place.country not in THEATRE), default=0)
            if max(c.place.population for c in theatre) * 20 >= big_foreign:
                pool = theatre
        pool = sorted(pool, key=lambda c: (-self._population(c.place), c.place.precision))
        first = pool[0]
        rivals = [c for c in pool[1:] if _km(first.place, c.place) > t.same_place_km]
        if rivals:
            runner_up = self._population(rivals[0].place)
            if self._population(first.place) < t.dominance * runner_up:
                return ResolvedPlace(
                    mention=mention, name=first.place.name, lat=None, lon=None, precision=None, kind="ambiguous",
                    match=_MATCH[first.tier], note=f"{len(pool)} places of this name; the text does not say which",
                    candidates=len(pool),
                )
        return self._pick(mention, first, pool)

    def _population(self, place: Place) -> int:
        """Inhabitants for comparing namesakes: a place without a figure counts as the least its source implies."""
        if place.codifier_only:
            return self.thresholds.unlisted_population
        return place.population or self.thresholds.listed_population

    def _pick(self, mention: str, chosen: Candidate, pool: Sequence[Candidate]) -> ResolvedPlace:
        place = chosen.place
        region = self.gazetteer.regions.get(place.region_key)
        note = None
        if place.codifier_only:
            note = "village not in GeoNames: point is the median of its hromada's settlements" if place.precision == 3 else "point is its oblast's centroid"
        return ResolvedPlace(
            mention=mention, name=place.name, lat=place.lat, lon=place.lon, precision=place.precision,
            country=place.country, admin1=region.name if region else None, raion=place.raion, hromada=place.hromada,
            kind="settlement", match=_MATCH[chosen.tier], score=chosen.score, note=note, candidates=max(len(pool), 1),
            region_key=place.region_key, place_index=place.index, population=place.population,
        )

    def _region_names(self, keys: Iterable[str]) -> list[str]:
        return sorted(self.gazetteer.regions[k].name for k in keys if k in self.gazetteer.regions)

    # -- location fields ------------------------------------------------------------------------------

    def parse_location(self, text: str) -> list[ResolvedPlace]:
        """Places of a location field, the most specific first; unresolved parts say why."""
        context = _Context()
        regions_seen: list[ResolvedPlace] = []
        items: list[_Component] = []
        components = [c for c in (_classify(part) for part in _LOCATION_SPLIT.split(text)) if c is not None]
        named_regions = {r.key for c in components if c.kind == "region" for r in [self._region(c.text)[0]] if r is not None}
        for comp in components:
            if self.gazetteer.is_foreign_name(comp.text) and not self._named_there(comp.text, named_regions):
                country = _COUNTRY_CODES.get(comp.text.casefold())
                if country:
                    context.countries.add(country)
                continue
            if comp.text in GROUP_NAMES or comp.text.title() in GROUP_NAMES:
                group = GROUP_NAMES.get(comp.text) or GROUP_NAMES[comp.text.title()]
                context.regions |= self.region_keys(None, group)
                context.hard_regions = True
                regions_seen.append(self._group_place(comp.text, group))
                continue
            if comp.kind == "region" or (comp.kind == "settlement" and self._names_region_only(comp.text)):
                region, _ = self._region(comp.text)
                if region is not None:
                    context.regions.add(region.key)
                    context.hard_regions = True
                    regions_seen.append(self._region_place(comp.raw or comp.text, region))
                    continue
                items.append(replace(comp, kind="district"))  # "Kupyansk region": the district of a town
                continue
            items.append(comp)
        found = [self.candidates(c.text, fuzzy=True) for c in items]
        first = [self._resolve(c, f, context, []) for c, f in zip(items, found, strict=True)]
        final = []
        for i, (comp, f) in enumerate(zip(items, found, strict=True)):
            others = [p for j, p in enumerate(first) if j != i and p.resolved and p.kind in ("settlement", "district")]
            local = _Context(set(context.regions), context.hard_regions, set(context.countries), [(p.lat or 0.0, p.lon or 0.0) for p in others])
            if not context.hard_regions:
                local.regions |= {p.region_key for p in others if p.region_key}
            final.append(self._resolve(comp, f, local, others))
        if _ALTERNATIVES.search(text):
            final = self._alternatives(final)
        ordered = self._order(final)
        if any(p.resolved for p in ordered):
            return _dedupe(ordered)
        if regions_seen:
            return regions_seen + ordered
        return ordered or [_unresolved(text.strip(), "no place name found")]

    def _alternatives(self, resolved: list[ResolvedPlace]) -> list[ResolvedPlace]:
        """Settlements given as alternatives ("Pokrovsk, Myrnohrad or Novohrodivka") are not all meant.

        Close together (each within :attr:`Thresholds.alternatives_km` of their mean), the answer is the
        area they span: their mean point at precision 3. Farther apart, picking the first would be a guess,
        so none is kept as a point and the region named, if any, answers.
        """
        settlements = [p for p in resolved if p.resolved and p.kind == "settlement"]
        if len(settlements) < 2:
            return resolved
        lat = sum(p.lat or 0.0 for p in settlements) / len(settlements)
        lon = sum(p.lon or 0.0 for p in settlements) / len(settlements)
        names = " or ".join(p.name for p in settlements)
        rest = [p for p in resolved if not any(p is q for q in settlements)]
        if all(distance_km(lat, lon, p.lat or 0.0, p.lon or 0.0) <= self.thresholds.alternatives_km for p in settlements):
            first = settlements[0]
            area = replace(first, mention=names, name=names, lat=round(lat, 5), lon=round(lon, 5), precision=3, kind="district",
                           match="context", note=f"one of {len(settlements)} places named as alternatives: the middle of them",
                           place_index=None, candidates=len(settlements))
            return [area, *rest]
        return [*rest, replace(_unresolved(names, "alternatives far apart: the text does not say which"), kind="ambiguous",
                               candidates=len(settlements))]

    def _named_there(self, text: str, region_keys: set[str]) -> bool:
        """True if a place of this name lies in one of the regions the field names ("New York, Donetsk Oblast")."""
        return bool(region_keys) and any(c.place.region_key in region_keys for c in self.gazetteer.exact(text))

    def _names_region_only(self, text: str) -> bool:
        """True for a bare region adjective (Khersons'ka) or a former city name kept by its oblast (Dnipropetrovsk)."""
        if self.gazetteer.region_by_adjective(text) is not None and not self.gazetteer.exact(text):
            return True
        return skeleton(text) in _REGION_ONLY

    def _resolve(self, comp: _Component, found: list[Candidate], context: _Context, others: list[ResolvedPlace]) -> ResolvedPlace:
        if comp.kind == "district":
            return self._resolve_district(comp, found, context, others)
        place = self.choose(comp.text, found, context, fuzzy_name=comp.text)
        if comp.near and place.resolved and place.precision == 1:
            place = replace(place, precision=2, note="near the named place")
        return place

    def _resolve_district(self, comp: _Component, found: list[Candidate], context: _Context, others: list[ResolvedPlace]) -> ResolvedPlace:
        t = self.thresholds
        cities = [p for p in others if p.place_index is not None and p.kind == "settlement" and p.population >= t.district_city]
        for city in cities:  # a district of a city named beside it: "Korabelnyi district, Kherson"
            place = self.gazetteer.places[city.place_index or 0]
            districts = self.gazetteer.city_districts(place, comp.text, t.fuzzy_field)
            if districts:
                return replace(city, mention=comp.text, name=f"{place.name}, {districts[0].name}", precision=2, kind="district",
                               match="context", note="city district without a point of its own: the city's point")
            if place.population >= t.big_city:  # a part of a big city that GeoNames has as a point: Saltivka
                parts = [c for c in found if c.tier != TIER_FUZZY and not c.place.codifier_only and _km(c.place, place) <= t.same_place_km]
                if parts:
                    best = min(parts, key=lambda c: (c.tier, _km(c.place, place)))
                    return replace(self._pick(comp.text, best, parts), kind="district")
        areas = [a for a in self.gazetteer.admin_areas(comp.text) if not context.regions or a.region_key in context.regions]
        if areas and all(distance_km(a.lat, a.lon, areas[0].lat, areas[0].lon) <= t.same_place_km for a in areas):
            area = areas[0]
            region = self.gazetteer.regions.get(area.region_key)
            return ResolvedPlace(
                mention=comp.text, name=area.name, lat=area.lat, lon=area.lon, precision=3, country=area.country,
                admin1=region.name if region else None, raion=area.raion if area.kind == "hromada" else area.name,
                kind="district", match="official", note=f"{area.kind}: median point of its settlements", region_key=area.region_key,
            )
        if not cities:  # "Desnianskyi district" alone: a district of which city?
            named = self.gazetteer.districts(comp.text)
            owners = {d.city.index for d in named}
            if len(owners) > 1:
                return replace(_unresolved(comp.text, f"{len(owners)} cities have a district of this name; the text does not say which"),
                               kind="ambiguous", candidates=len(owners))
            if len(owners) == 1:
                city_place = named[0].city
                base = self._pick(comp.text, Candidate(city_place, TIER_OFFICIAL, 100.0), [])
                return replace(base, name=f"{city_place.name}, {named[0].name}", precision=2, kind="district", match="context",
                               note="city district without a point of its own: the city's point")
        # "Izyum district", "Kupyansk region": the district of a town, placed at the town.
        countries = context.countries or {"UA"}
        towns = [c for c in found if c.place.country in countries and not c.place.codifier_only and c.tier != TIER_FUZZY or
                 (c.tier == TIER_FUZZY and c.place.country in countries and not c.place.codifier_only)]
        if context.regions:
            towns = [c for c in towns if c.place.region_key in context.regions] or ([] if context.hard_regions else towns)
        if not towns or all(c.tier == TIER_FUZZY for c in towns):
            # "Borovsky district", "Borivskyi raion": a former raion named by its centre's adjective
            adjective = [c for c in self._adjective_towns(comp.text) if c.place.country in countries]
            if context.regions:
                adjective = [c for c in adjective if c.place.region_key in context.regions] or ([] if context.hard_regions else adjective)
            towns = adjective or towns
        if towns:
            town = self.choose(comp.text, towns, _Context(set(), False, set(), context.anchors))
            if town.resolved:
                return replace(town, precision=3, kind="district", note="district named after this town; the town's point")
        if cities and comp.city_part:
            return replace(cities[0], mention=comp.text, precision=2, kind="district", match="context",
                           note="district not in the gazetteer: the point of the city it is in")
        return _unresolved(comp.text, "district not in the gazetteer")

    def _adjective_towns(self, name: str) -> list[Candidate]:
        """Towns a raion adjective is derived from: Borovsky/Borivskyi → Borova, Bakhmutskyi → Bakhmut.

        Raions were named after their centres with the suffix -sk-; the 2020 reform merged most of them, so
        reports still use the old names that the codifier no longer has. The adjective's stem is tried with
        the usual endings of the town's name and with the Ukrainian i ← o/e alternation undone; only
        towns GeoNames lists (raion centres are), never codifier-only villages.
        """
        words = name.split()
        if len(words) != 1:
            return []
        key = skeleton(words[0])
        match = re.fullmatch(r"(.{3,}?)(s|c)k(i|ii|a|e|o)", key)
        if match is None:
            return []
        stem, soft = match.group(1), match.group(2)
        stems = {stem}
        last_i = stem.rfind("i")
        if last_i >= len(stem) - 3 and last_i > 0:
            stems |= {stem[:last_i] + v + stem[last_i + 1 :] for v in "oe"}
        endings = ("", "a", "e", "o", "ka") + (("t",) if soft == "c" else ("sk",))
        found: dict[int, Candidate] = {}
        for base in stems:
            for ending in endings:
                for c in self.gazetteer.exact(base + ending):
                    if c.tier == TIER_OFFICIAL and not c.place.codifier_only:
                        found.setdefault(c.place.index, c)
        return list(found.values())

    def _order(self, resolved: list[ResolvedPlace]) -> list[ResolvedPlace]:
        """Most specific first: a district before its city, a village before the big city that names its region."""
        if len(resolved) < 2:
            return resolved
        first = resolved[0]
        if first.resolved and first.kind == "settlement":
            for i, other in enumerate(resolved[1:], start=1):
                if other.kind == "district" and other.resolved and (other.precision or 4) <= 2:
                    return [other] + [p for j, p in enumerate(resolved) if j != i]
        if not first.resolved and first.kind == "unresolved":
            city = next((p for p in resolved[1:] if p.resolved and p.kind == "settlement"), None)
            if city is not None:
                part_of = replace(city, mention=first.mention, precision=max(city.precision or 1, 2), match="context",
                                  note=f"'{first.mention}' not in the gazetteer: the place it is part of or near")
                return [part_of] + [p for p in resolved if p is not city]
        if first.resolved and first.kind == "settlement" and first.population >= self.thresholds.big_city:
            for i, other in enumerate(resolved[1:], start=1):
                if (other.resolved and other.kind == "settlement" and other.population < first.population
                        and distance_km(first.lat or 0, first.lon or 0, other.lat or 0, other.lon or 0) <= 2 * self.thresholds.anchor_km):
                    return [other] + [p for j, p in enumerate(resolved) if j != i]
        return resolved

    # -- running text ---------------------------------------------------------------------------------

    def geoparse(self, text: str) -> list[ResolvedPlace]:
        """Places named in running text, most mentioned first; a short field-like text is read as a field."""
        if _looks_like_field(text):
            return self.parse_location(text)
        return merge_mentions(self.mentions(text))

    def mentions(self, text: str) -> list[ResolvedPlace]:
        """Every place mention of running text, in text order, each with its character span."""
        return sorted(self._scan(text), key=lambda p: p.start if p.start is not None else 1 << 30)

    def _scan(self, text: str) -> list[ResolvedPlace]:
        tokens = [(m.group(0), m.start(), m.end()) for m in _WORD.finditer(text)]
        sentence_starts = {0} | {m.end() for m in _SENTENCE_END.finditer(text)}
        out: list[tuple[int, int, str, list[Candidate], bool]] = []
        regions: list[ResolvedPlace] = []
        region_keys: set[str] = set()
        i = 0
        while i < len(tokens):
            word, start, end = tokens[i]
            consumed, region_hit = self._region_at(text, tokens, i)
            if region_hit is not None:
                regions.append(region_hit)
                if region_hit.admin1:
                    region_keys |= {k for k, a in self.gazetteer.regions.items() if a.name in region_hit.admin1.split(" and ")}
                i += consumed
                continue
            if not word[0].isupper() or fold_cyrillic(word) in _STOP:
                i += 1
                continue
            matched = False
            for length in (3, 2, 1):
                if i + length > len(tokens):
                    continue
                span = tokens[i : i + length]
                if any(not w[0].isupper() for w, _, _ in span[1:]) or _gap(text, span):
                    continue
                phrase = " ".join(w for w, _, _ in span)
                found, spelled_as = self._text_candidates(phrase)
                if found:
                    before = tokens[i - 1] if i > 0 else None
                    after = tokens[i + length] if i + length < len(tokens) else None
                    if self._person_like(text, span, before, after, sentence_starts):
                        break
                    joined = before is not None and not _gap(text, [before, span[0]], allow_space=True)
                    cue = joined and before is not None and fold_cyrillic(before[0]) in _CUE_WORDS
                    venue_cue = joined and before is not None and fold_cyrillic(before[0]) in _VENUE_CUES
                    found = self._text_filter(spelled_as, found, venue_cue)
                    if not cue:
                        found = [c for c in found if not c.place.codifier_only]
                    if found:
                        out.append((span[0][1], span[-1][2], phrase, found, cue))
                        i += length
                        matched = True
                        break
                if self.gazetteer.is_foreign_name(phrase):  # a country or US state: recognised, not a place here
                    i += length
                    matched = True
                    break
            if not matched:
                i += 1
        # "Huliaipole, Zaporizhzhia Oblast" / "Kupiansk (Kharkiv region)": the region qualifies the place
        # before it — it decides among namesakes and is not a place of its own.
        qualified: dict[int, set[str]] = {}
        kept_regions = []
        for region in regions:
            owner = next((n for n, entry in enumerate(out) if region.start is not None and _QUALIFIER.match(text[entry[1] : region.start])), None)
            if owner is not None and region.region_key:
                qualified[owner] = {region.region_key}
            else:
                kept_regions.append(region)
        context = _Context(regions=region_keys)
        first = [
            self.choose(phrase, found, _Context(qualified[n], True) if n in qualified else _Context())
            for n, (_, _, phrase, found, _) in enumerate(out)
        ]
        context.anchors = [(p.lat or 0.0, p.lon or 0.0) for p in first if p.resolved and p.in_theatre and p.candidates == 1]
        resolved = []
        for n, ((start, end, phrase, found, _cue), initial) in enumerate(zip(out, first, strict=True)):
            place = initial if n in qualified or (initial.resolved and initial.candidates == 1) else self.choose(phrase, found, context)
            resolved.append(replace(place, start=start, end=end))
        return resolved + kept_regions

    def _text_candidates(self, phrase: str) -> tuple[list[Candidate], str]:
        if is_cyrillic(phrase):
            exact = [replace(c, tier=max(c.tier, TIER_ALTERNATE)) for c in self.gazetteer.exact(phrase)]
            inflected = self.gazetteer.inflected(phrase) if " " not in phrase else []
            merged = {c.place.index: c for c in inflected + exact}
            return list(merged.values()), phrase
        found = self.gazetteer.exact(phrase)
        if not found and not is_cyrillic(phrase) and phrase.endswith("s") and len(phrase) > 4:
            return self.gazetteer.exact(phrase[:-1]), phrase[:-1]  # German genitive: Kiews, Charkiws
        return found, phrase

    def _text_filter(self, phrase: str, found: list[Candidate], venue_cue: bool) -> list[Candidate]:
        """Running text is full of words that share a skeleton with some place (Tagen, Länder, Wenn).

        Near Ukraine an official name matches by skeleton, an alternate only as spelled. A place further
        away counts only as spelled, only if it is a city (≥ :attr:`Thresholds.venue_population`), and
        only after a locative word ("in Washington", "nach Paris", "в Москві" aside: Moscow is near).
        """
        spelled = None if is_cyrillic(phrase) else {p.index for p in self.gazetteer.spelled(phrase)}
        out = []
        for c in found:
            exact_spelling = spelled is None or c.place.index in spelled
            if c.place.country in FUZZY_COUNTRIES:
                if c.tier == TIER_OFFICIAL or exact_spelling:
                    out.append(c)
            elif exact_spelling and venue_cue and c.place.population >= self.thresholds.venue_population:
                out.append(c)
        return out

    def _person_like(self, text: str, span: list[tuple[str, int, int]], before: tuple[str, int, int] | None,
                     after: tuple[str, int, int] | None, sentence_starts: set[int]) -> bool:
        """A name glued to another capitalised word is a person or an organisation: Wladimir Putin, Fox News."""
        if after is not None and after[0][0].isupper() and not _gap(text, [span[-1], after], allow_space=True):
            low = fold_cyrillic(after[0])
            if low not in _REGION_WORDS and low not in _STOP and not self.gazetteer.exact(after[0]):
                return True
        if before is not None and before[0][0].isupper() and before[1] not in sentence_starts and not _gap(text, [before, span[0]], allow_space=True):
            low = fold_cyrillic(before[0])
            if low not in _STOP and low not in _CUE_WORDS and not self.gazetteer.exact(before[0]):
                return True
        return False

    def _region_at(self, text: str, tokens: list[tuple[str, int, int]], i: int) -> tuple[int, ResolvedPlace | None]:
        """A region mention starting at token ``i``: "Kharkiv region", "Gebiet Charkiw", "Харківщина", "Херсонської області"."""
        word, start, end = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        low = fold_cyrillic(word)
        if word[0].isupper() and nxt is not None and fold_cyrillic(nxt[0]) in _REGION_WORDS and not _gap(text, [tokens[i], nxt], allow_space=True):
            region, group = self._region(word)
            if region is None and group is None and is_cyrillic(word):
                region = self.gazetteer.region_by_cyrillic(word)
            if region:
                return 2, self._region_place(f"{word} {nxt[0]}", region, start, nxt[2])
            if group:
                return 2, replace(self._group_place(f"{word} {nxt[0]}", group), start=start, end=nxt[2])
        if low in _REGION_BEFORE and nxt is not None and nxt[0][0].isupper():
            region, group = self._region(nxt[0])
            if region:
                return 2, self._region_place(f"{word} {nxt[0]}", region, start, nxt[2])
        if word[0].isupper():
            group = GROUP_NAMES.get(word)
            if group:
                return 1, replace(self._group_place(word, group), start=start, end=end)
            if is_cyrillic(word):
                region = self.gazetteer.region_by_cyrillic(word, nouns_only=True)
                if region and not self.gazetteer.inflected(word):
                    return 1, self._region_place(word, region, start, end)
        return 1, None


_MATCH = {0: "official", 1: "alternate", 2: "fuzzy"}

#: Former names of regional centres that live on as the names of their oblasts: said alone, they mean the oblast.
_REGION_ONLY = frozenset(
    skeleton(n) for n in ("Dnipropetrovsk", "Dnepropetrovsk", "Dnipropetrowsk", "Дніпропетровськ", "Днепропетровск",
                          "Kirovohrad", "Kirovograd", "Kirowohrad", "Кіровоград", "Кировоград")
)

_COUNTRY_CODES = {
    "ukraine": "UA", "україна": "UA", "украина": "UA", "russia": "RU", "russland": "RU", "росія": "RU", "россия": "RU",
    "russian federation": "RU",
}

# Capitalised words that are never places here although a gazetteer name may share their spelling:
# sentence-initial function words and frequent words of the four languages.
_STOP = frozenset(
    """
    the a an in on at of and or but for from to by with after before during since this that these those it its
    he she they we you i his her their our
    der die das den dem des ein eine einer eines einem und oder aber in im am an auf aus bei mit nach von vor zu
    zum zur über unter für gegen durch um ist sind war wie was wer wo als auch nur noch schon so es er sie wir
    ihr man nicht kein keine dies diese dieser dieses jetzt dann doch
    в у на з із за до від по при для про та і й а але що як це цей ця ці він вона вони ми ви
    в во на с со за до от по при для про и а но что как это этот эта эти он она они мы вы
    monday tuesday wednesday thursday friday saturday sunday montag dienstag mittwoch donnerstag freitag
    samstag sonntag january february march april may june july august september october november december
    januar februar märz juni juli oktober dezember nato eu un uno osze osce usa us uk
    """.split()
)


def _fuzzy_allowed(name: str, thresholds: Thresholds) -> bool:
    """Near spellings of short names are other names (Borov is not Bobrov): only long names get fuzzy matching."""
    return len(skeleton(name).replace(" ", "")) >= thresholds.fuzzy_min_length


def _unresolved(mention: str, why: str) -> ResolvedPlace:
    return ResolvedPlace(mention=mention, name=mention, lat=None, lon=None, precision=None, kind="unresolved", match="none", score=0.0, note=why, candidates=0)


def _km(a: Place, b: Place) -> float:
    if a.lat is None or a.lon is None or b.lat is None or b.lon is None:
        return math.inf
    return distance_km(a.lat, a.lon, b.lat, b.lon)


def _nearest(place: Place, anchors: Sequence[tuple[float, float]]) -> float:
    if place.lat is None or place.lon is None:
        return math.inf
    return min(distance_km(place.lat, place.lon, lat, lon) for lat, lon in anchors)


def _gap(text: str, span: Sequence[tuple[str, int, int]], allow_space: bool = False) -> bool:
    """True if punctuation separates consecutive tokens (a comma ends a multi-word name)."""
    for (_, _, end), (_, start, _) in zip(span, span[1:], strict=False):
        between = text[end:start]
        if between.strip() or (not allow_space and "\n" in between) or len(between) > 2:
            return True
    return False


def _looks_like_field(text: str) -> bool:
    stripped = text.strip()
    if len(stripped) > 120 or "\n\n" in stripped:
        return False
    words = _WORD.findall(stripped)
    if not words or len(words) > 12:
        return False
    vocabulary = _REGION_WORDS | _DISTRICT_WORDS | _SETTLEMENT_WORDS | _NEAR_WORDS | _FIELD_NOISE
    return all(w[0].isupper() or w.casefold() in vocabulary for w in words)


def _dedupe(places: list[ResolvedPlace]) -> list[ResolvedPlace]:
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


_DEFAULT: Geoparser | None = None


def default_geoparser() -> Geoparser:
    """A geoparser over the bundled gazetteer with the default thresholds, created once per process."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Geoparser()
    return _DEFAULT


def parse_location(text: str) -> list[ResolvedPlace]:
    """:meth:`Geoparser.parse_location` with the default geoparser."""
    return default_geoparser().parse_location(text)


def geoparse(text: str) -> list[ResolvedPlace]:
    """:meth:`Geoparser.geoparse` with the default geoparser."""
    return default_geoparser().geoparse(text)
