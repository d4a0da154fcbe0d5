"""Agreement domain model: units, cross-references, canonical document and digest."""

from __future__ import annotations

import json

import pydantic
import pytest
import shapely
from pydantic_core import PydanticCustomError

from truceline.domain.agreement import (
    Agreement,
    AltitudeBand,
    Country,
    Party,
    Rule,
    RuleException,
    Territory,
    Zone,
    parse_area,
    parse_length,
    wkb_hex,
)


def _territory(geom: shapely.Geometry) -> Territory:
    return Territory(source="t.geojson", wkb=wkb_hex(geom))


def _agreement(**overrides: object) -> Agreement:
    base: dict[str, object] = {
        "id": "test",
        "version": 1,
        "title": "Test",
        "effective_from": "2023-04-01T00:00:00Z",
        "country": Country(name="Testland", area=_territory(shapely.box(30, 45, 36, 50))),
        "parties": [Party(code="UA", name="A"), Party(code="RU", name="B", area=_territory(shapely.box(34, 45, 36, 50)))],
        "zones": [Zone.model_validate({"id": "strip", "kind": "security-strip", "distance": "15 km"})],
        "rules": [Rule(id="no-fire", kinds=("explosion",), where=("strip",))],
    }
    base.update(overrides)
    return Agreement.model_validate(base)


@pytest.mark.parametrize(("text", "metres"), [("50 km", 50_000.0), ("50000 m", 50_000.0), ("1.5km", 1_500.0), (" 2e1 km ", 20_000.0)])
def test_lengths_need_and_honour_units(text: str, metres: float) -> None:
    assert parse_length(text) == metres


@pytest.mark.parametrize(("value", "fragment"), [
    (50, "has no unit"), ("50", "has no unit"), ("50 mi", "unit 'mi'"), ("fifty km", "is not '<number> <unit>'"),
    (None, "must be a string"), (True, "must be a string"),
])
def test_lengths_without_a_known_unit_are_refused(value: object, fragment: str) -> None:
    with pytest.raises(PydanticCustomError) as info:
        parse_length(value)
    assert fragment in str(info.value)


def test_areas_parse_in_all_spellings() -> None:
    assert parse_area("500 km2") == parse_area("500 km²") == 500e6
    assert parse_area("20 ha") == 200_000.0
    with pytest.raises(PydanticCustomError):
        parse_area("500")


@pytest.mark.parametrize("distance", ["0 km", "-5 km", "1500 km"])
def test_absurd_zone_distances_are_refused(distance: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        Zone.model_validate({"id": "w", "kind": "withdrawal", "weapon_class": "mlrs", "distance": distance})


def test_zone_fields_must_fit_the_kind() -> None:
    with pytest.raises(pydantic.ValidationError, match="weapon_class"):
        Zone.model_validate({"id": "w", "kind": "withdrawal", "distance": "50 km"})
    with pytest.raises(pydantic.ValidationError, match="needs a polygon"):
        Zone.model_validate({"id": "n", "kind": "no-fly"})
    with pytest.raises(pydantic.ValidationError, match="must exceed"):
        AltitudeBand.model_validate({"min": "5 km", "max": "1 km"})


def test_unknown_party_and_zone_references_are_refused() -> None:
    with pytest.raises(pydantic.ValidationError, match="unknown party XX"):
        _agreement(zones=[Zone.model_validate({"id": "strip", "kind": "security-strip", "distance": "15 km", "sides": ["XX"]})])
    with pytest.raises(pydantic.ValidationError, match="unknown zone nowhere"):
        _agreement(rules=[Rule(id="r", kinds=("explosion",), where=("nowhere",))])
    with pytest.raises(pydantic.ValidationError, match="only one party"):
        _agreement(parties=[Party(code="UA", name="A"), Party(code="RU", name="B")])


def test_naive_effective_from_is_refused() -> None:
    with pytest.raises(pydantic.ValidationError, match="UTC offset"):
        _agreement(effective_from="2023-04-01T00:00:00")


def test_canonical_document_round_trips_and_digest_identifies_the_version() -> None:
    agreement = _agreement()
    document = agreement.canonical_document()
    text = json.dumps(document)  # JSON-serialisable as is
    again = Agreement.from_canonical_document(json.loads(text))
    assert again == agreement
    assert again.digest() == agreement.digest()
    assert agreement.digest().startswith("sha256:")
    wider = _agreement(zones=[Zone.model_validate({"id": "strip", "kind": "security-strip", "distance": "16 km"})])
    assert wider.digest() != agreement.digest()
    bumped = _agreement(version=2)
    assert bumped.digest() != agreement.digest()
    assert hash(agreement) == hash(again)


def test_canonical_document_keeps_geometry_exactly() -> None:
    poly = shapely.Polygon([(34.123456789, 45.0), (36.0, 45.0), (36.0, 50.0), (34.000000001, 50.0)])
    agreement = _agreement(parties=[Party(code="UA", name="A"), Party(code="RU", name="B", area=_territory(poly))])
    again = Agreement.from_canonical_document(json.loads(json.dumps(agreement.canonical_document())))
    area = again.party("RU").area
    assert area is not None
    assert shapely.equals_exact(area.shape, poly, tolerance=0.0)


def test_rule_exceptions_match_all_attributes_case_insensitively() -> None:
    exc = RuleException.model_validate({"id": "demining", "when": {"notified_demining": True, "team": "UN-3"}})
    assert exc.when == (("notified_demining", "true"), ("team", "UN-3"))
    assert exc.applies({"notified_demining": "TRUE", "team": "un-3", "other": "x"})
    assert not exc.applies({"notified_demining": "true"})
    assert not exc.applies({"notified_demining": "false", "team": "UN-3"})
