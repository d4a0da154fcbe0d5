"""Agreement zones for aircraft and vessels: applies_to defaults, maritime exclusion zones, corridors with a
width, and the demo agreement's illustrative Black Sea zones located on the geometry."""

from __future__ import annotations

import pydantic
import pytest
import shapely

from truceline.domain.agreement import Territory, Zone, ZoneKind, wkb_hex
from truceline.verify.agreement_loader import load_demo_agreement
from truceline.verify.geometry import geometry_for

LINE = Territory(source="c.geojson", wkb=wkb_hex(shapely.LineString([(30.0, 46.0), (30.0, 45.0)])))
BOX = Territory(source="b.geojson", wkb=wkb_hex(shapely.box(31, 45, 32, 46)))


def test_applies_to_defaults_by_kind_and_can_be_given() -> None:
    assert Zone.model_validate({"id": "nf", "kind": "no-fly", "area": BOX}).applies_to == ("aircraft",)
    assert Zone.model_validate({"id": "mx", "kind": "maritime-exclusion", "area": BOX}).applies_to == ("vessel",)
    assert Zone.model_validate({"id": "s", "kind": "security-strip", "distance": "15 km"}).applies_to == ("ground",)
    both = Zone.model_validate({"id": "c", "kind": "custom", "area": BOX, "applies_to": ["aircraft", "vessel"]})
    assert both.applies("vessel") and both.applies("aircraft") and not both.applies("ground")


@pytest.mark.parametrize(("fields", "message"), [
    ({"kind": "corridor", "area": LINE}, "'width' is required for corridors"),
    ({"kind": "maritime-exclusion", "area": BOX, "width": "5 km"}, "only for them"),
    ({"kind": "corridor", "area": LINE, "width": "20"}, "has no unit"),
    ({"kind": "no-fly", "area": BOX, "applies_to": ["aircraft", "aircraft"]}, "lists a subject twice"),
    ({"kind": "no-fly", "area": BOX, "applies_to": ["ships"]}, "aircraft"),
])
def test_zone_fields_are_checked(fields: dict[str, object], message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        Zone.model_validate({"id": "z", **fields})


def test_demo_sea_zones_are_illustrative_and_located() -> None:
    demo = load_demo_agreement()
    corridor, exclusion = demo.zone("black-sea-corridor"), demo.zone("black-sea-exclusion")
    assert corridor.kind is ZoneKind.CORRIDOR and corridor.width_m == 20_000 and corridor.illustrative
    assert exclusion.kind is ZoneKind.MARITIME_EXCLUSION and exclusion.illustrative and "ILLUSTRATIVE" in exclusion.description
    assert demo.zone("no-fly-znpp").applies_to == ("aircraft",)
    geometry = geometry_for(demo)
    # on the corridor's centreline off Sulina, 9 km east of it (inside the 10 km half width), 15 km east (outside)
    located = geometry.locate_many([45.10, 45.10, 45.10, 45.5], [29.95, 30.065, 30.14, 31.5], exact=True)
    assert [("black-sea-corridor" in located.zones_of(i)) for i in range(3)] == [True, True, False]
    assert located.zones_of(3) == ["black-sea-exclusion"]
    assert any(r.id == "maritime-exclusion" and r.where == ("black-sea-exclusion",) for r in demo.rules)
