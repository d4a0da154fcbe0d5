"""Agreement loader: the bundled demo loads; every kind of bad input is refused with file, place and reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from truceline.domain.geo import geodesic_distance
from truceline.verify.agreement_loader import AgreementError, load_agreement, load_agreement_files, load_demo_agreement
from truceline.verify.geometry import geometry_for

SRC = Path(__file__).resolve().parents[1] / "src" / "truceline" / "data"
COUNTRY = [[30.0, 45.0], [36.0, 45.0], [36.0, 50.0], [30.0, 50.0], [30.0, 45.0]]
EAST = [[34.0, 45.0], [36.0, 45.0], [36.0, 50.0], [34.0, 50.0], [34.0, 45.0]]


def _fc(*geometries: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": f"f{i}"}, "geometry": g} for i, g in enumerate(geometries)]}


def _poly(ring: list[list[float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [ring]}


def _terms(**overrides: Any) -> dict[str, Any]:
    terms: dict[str, Any] = {
        "schema": "truceline/agreement/v1",
        "id": "square",
        "version": 1,
        "title": "Square test agreement",
        "effective_from": "2023-04-01T00:00:00Z",
        "country": {"name": "Squareland", "area": "country.geojson"},
        "parties": [{"code": "UA", "name": "West", "area": "remainder"}, {"code": "RU", "name": "East", "area": "east.geojson"}],
        "zones": [
            {"id": "strip", "kind": "security-strip", "distance": "15 km"},
            {"id": "withdrawal-mlrs", "kind": "withdrawal", "weapon_class": "mlrs", "distance": "70 km", "sides": ["RU"]},
        ],
        "rules": [{"id": "no-fire", "kinds": ["explosion"], "where": "anywhere"}],
    }
    terms.update(overrides)
    return terms


def _write(tmp: Path, terms: dict[str, Any], files: dict[str, Any] | None = None, raw_yaml: str | None = None) -> Path:
    geo = {"country.geojson": _fc(_poly(COUNTRY)), "east.geojson": _fc(_poly(EAST))}
    geo.update(files or {})
    for name, content in geo.items():
        (tmp / name).write_text(content if isinstance(content, str) else json.dumps(content))
    path = tmp / "agreement.yaml"
    path.write_text(raw_yaml if raw_yaml is not None else yaml.safe_dump(terms, sort_keys=False))
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(AgreementError) as info:
        load_agreement(path)
    assert info.value.problems, "an AgreementError always lists its problems"
    return [str(p) for p in info.value.problems]


def _one(problems: list[str], *fragments: str) -> str:
    hits = [p for p in problems if all(f in p for f in fragments)]
    assert hits, f"no problem mentions {fragments}: {problems}"
    return hits[0]


def test_valid_synthetic_agreement_loads_and_derives_the_meridian_as_contact_line(tmp_path: Path) -> None:
    agreement = load_agreement(_write(tmp_path, _terms()))
    geometry = geometry_for(agreement)
    # the line is the 34°E meridian from 45°N to 50°N, cut 1 km (border tolerance) short at both ends
    expected = float(geodesic_distance(34.0, 45.0, 34.0, 50.0)) - 2_000.0
    assert geometry.contact_line_length_m == pytest.approx(expected, rel=2e-3)
    here = geometry.locate(47.5, 33.0)
    assert here["controlled_by"] == "UA"
    assert here["distance_to_contact_line_m"] == pytest.approx(float(geodesic_distance(33.0, 47.5, 34.0, 47.5)), rel=1e-3)
    assert geometry.locate(47.5, 34.5)["zones"] == ["withdrawal-mlrs"]
    assert geometry.locate(47.5, 35.5)["zones"] == []  # 113 km east: beyond 70 km
    assert geometry.locate(47.5, 34.1)["zones"] == ["strip", "withdrawal-mlrs"]
    assert geometry.locate(47.5, 33.9)["zones"] == ["strip"]
    assert {p.path for p in agreement.provenance} == {"agreement.yaml", "country.geojson", "east.geojson"}


def test_in_memory_files_load_like_files_on_disk(tmp_path: Path) -> None:
    path = _write(tmp_path, _terms())
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert load_agreement_files(files).digest() == load_agreement(path).digest()
    with pytest.raises(AgreementError, match=r"east\.geojson"):
        load_agreement_files({k: v for k, v in files.items() if k != "east.geojson"})


def test_demo_agreement_loads_with_its_terms() -> None:
    agreement = load_demo_agreement()
    assert agreement.id == "isw-2023-03-04"
    assert [p.code for p in agreement.parties] == ["UA", "RU"]
    assert agreement.effective_from.isoformat() == "2023-04-01T00:00:00+00:00"
    withdrawal = {z.weapon_class: z.distance_m for z in agreement.zones if z.weapon_class}
    assert withdrawal == {"artillery-100mm": 50_000.0, "mlrs": 70_000.0, "heavy-mlrs": 140_000.0, "tactical-missile": 140_000.0}
    isw = next(p for p in agreement.provenance if p.path.startswith("isw-"))
    assert "Institute for the Study of War" in isw.attribution


def test_demo_yaml_matches_the_json_schema_and_schema_rejects_bare_numbers() -> None:
    schema = json.loads((SRC / "schemas" / "agreement.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    demo = yaml.safe_load((SRC / "agreements" / "isw-2023-03-04" / "agreement.yaml").read_text())
    jsonschema.Draft202012Validator(schema).validate(demo)
    demo["zones"][0]["distance"] = 15
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(demo))


def test_self_intersecting_polygon_is_refused_with_its_location(tmp_path: Path) -> None:
    bowtie = [[34.0, 45.0], [36.0, 50.0], [36.0, 45.0], [34.0, 50.0], [34.0, 45.0]]
    problem = _one(_problems(_write(tmp_path, _terms(), {"east.geojson": _fc(_poly(bowtie))})), "east.geojson", "feature 1 (f0)")
    assert "self-intersects at lon 35.000000, lat 47.500000" in problem


def test_ring_that_is_not_closed_is_refused(tmp_path: Path) -> None:
    problem = _one(_problems(_write(tmp_path, _terms(), {"east.geojson": _fc(_poly(EAST[:-1]))})), "east.geojson", "not closed")
    assert "feature 1" in problem


def test_ring_with_too_few_positions_is_refused(tmp_path: Path) -> None:
    _one(_problems(_write(tmp_path, _terms(), {"east.geojson": _fc(_poly([[34.0, 45.0], [36.0, 45.0], [34.0, 45.0]]))})),
         "east.geojson", "at least 4")


def test_swapped_coordinates_are_refused(tmp_path: Path) -> None:
    swapped = [[lat, lon] for lon, lat in EAST]
    _one(_problems(_write(tmp_path, _terms(), {"east.geojson": _fc(_poly(swapped))})), "east.geojson", "outside the country")
    out_of_range = [[47.0, 120.0], [48.0, 120.0], [48.0, 121.0], [47.0, 120.0]]
    _one(_problems(_write(tmp_path, _terms(), {"east.geojson": _fc(_poly(out_of_range))})), "swapped")


def test_party_area_mostly_outside_the_country_is_refused(tmp_path: Path) -> None:
    beyond = [[35.0, 45.0], [40.0, 45.0], [40.0, 50.0], [35.0, 50.0], [35.0, 45.0]]
    problem = _one(_problems(_write(tmp_path, _terms(), {"east.geojson": _fc(_poly(beyond))})), "east.geojson", "party RU")
    assert "lies more than 1,000 m outside the country outline" in problem


def test_explicit_contact_lines_that_cross_are_refused(tmp_path: Path) -> None:
    lines = _fc({"type": "LineString", "coordinates": [[33.0, 46.0], [35.0, 49.0]]},
                {"type": "LineString", "coordinates": [[33.0, 49.0], [35.0, 46.0]]})
    problem = _one(_problems(_write(tmp_path, _terms(contact_line="line.geojson"), {"line.geojson": lines})),
                   "line.geojson", "cross")
    assert "feature 1 (f0) and feature 2 (f1)" in problem and "lon 34.0" in problem


def test_contact_line_crossing_itself_is_refused(tmp_path: Path) -> None:
    loop = _fc({"type": "LineString", "coordinates": [[33.0, 46.0], [35.0, 49.0], [35.0, 46.0], [33.0, 49.0]]})
    _one(_problems(_write(tmp_path, _terms(contact_line="line.geojson"), {"line.geojson": loop})), "line.geojson", "crosses itself")


def test_zone_referring_to_an_unknown_party_is_refused(tmp_path: Path) -> None:
    terms = _terms()
    terms["zones"][1]["sides"] = ["XX"]
    problem = _one(_problems(_write(tmp_path, terms)), "agreement.yaml", "zones[1] (withdrawal-mlrs).sides[0]")
    assert "unknown party 'XX'" in problem


def test_rule_referring_to_an_unknown_zone_is_refused(tmp_path: Path) -> None:
    terms = _terms(rules=[{"id": "r1", "kinds": ["explosion"], "where": ["nowhere"]}])
    _one(_problems(_write(tmp_path, terms)), "rules[0] (r1).where[0]", "unknown zone 'nowhere'")


@pytest.mark.parametrize(("distance", "fragment"), [
    (70, "has no unit"), ("70", "has no unit"), ("70 mi", "unit 'mi'"), ("7000 km", "less than or equal"), ("0 m", "greater than 0"),
])
def test_distances_without_unit_or_absurd_are_refused(tmp_path: Path, distance: object, fragment: str) -> None:
    terms = _terms()
    terms["zones"][1]["distance"] = distance
    problem = _one(_problems(_write(tmp_path, terms)), "zones[1] (withdrawal-mlrs).distance")
    assert fragment in problem


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    terms = _terms(effective_from="2023-04-01T00:00:00")
    terms["zones"][0]["distance"] = 15
    terms["zones"][1]["sides"] = ["XX"]
    problems = _problems(_write(tmp_path, terms, {"east.geojson": _fc(_poly(EAST[:-1]))}))
    _one(problems, "effective_from", "UTC offset")
    _one(problems, "zones[0] (strip).distance", "no unit")
    _one(problems, "unknown party 'XX'")
    _one(problems, "east.geojson", "not closed")
    assert len(problems) == 4


def test_yaml_problems_are_located(tmp_path: Path) -> None:
    text = yaml.safe_dump(_terms(), sort_keys=False) + "id: again\n"
    _one(_problems(_write(tmp_path, {}, raw_yaml=text)), "agreement.yaml", "duplicate key 'id'")
    _one(_problems(_write(tmp_path, {}, raw_yaml="id: [unclosed\n")), "line 2", "invalid YAML")
    _one(_problems(_write(tmp_path, _terms(colour="blue"))), "colour", "unknown key")


def test_file_references_must_stay_inside_the_folder_and_exist(tmp_path: Path) -> None:
    terms = _terms()
    terms["parties"][1]["area"] = "../east.geojson"
    _one(_problems(_write(tmp_path, terms)), "parties[1].area", "relative path inside")
    terms["parties"][1]["area"] = "missing.geojson"
    _one(_problems(_write(tmp_path, terms)), "missing.geojson", "cannot read")
    _one(_problems(_write(tmp_path, _terms(), {"east.geojson": "{not json"})), "east.geojson", "not valid JSON")


def test_wrong_geometry_type_is_refused(tmp_path: Path) -> None:
    line = _fc({"type": "LineString", "coordinates": [[34.0, 45.0], [36.0, 50.0]]})
    _one(_problems(_write(tmp_path, _terms(), {"east.geojson": line})), "east.geojson", "'LineString' is not allowed")


def test_two_remainder_parties_are_refused(tmp_path: Path) -> None:
    terms = _terms(parties=[{"code": "UA", "name": "West", "area": "remainder"}, {"code": "RU", "name": "East", "area": "remainder"}])
    _one(_problems(_write(tmp_path, terms)), "only one party")


def test_overlapping_explicit_areas_are_refused(tmp_path: Path) -> None:
    terms = _terms(parties=[
        {"code": "UA", "name": "West", "area": "remainder"},
        {"code": "RU", "name": "East", "area": "east.geojson"},
        {"code": "XX", "name": "Third", "area": "third.geojson"},
    ])
    third = _fc(_poly([[33.0, 46.0], [35.0, 46.0], [35.0, 48.0], [33.0, 48.0], [33.0, 46.0]]))
    _one(_problems(_write(tmp_path, terms, {"third.geojson": third})), "parties RU and XX", "overlap")


def test_areas_without_a_line_of_contact_are_refused(tmp_path: Path) -> None:
    sliver = [[35.996, 45.0], [36.0, 45.0], [36.0, 50.0], [35.996, 50.0], [35.996, 45.0]]
    _one(_problems(_write(tmp_path, _terms(), {"east.geojson": _fc(_poly(sliver))})), "no line of contact")
