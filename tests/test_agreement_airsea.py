"""Agreement zones for aircraft and vessels: applies_to defaults, maritime exclusion zones, corridors with a
width, and the demo agreement's illustrative Black Sea zones located on the geometry."""

from __future__ import annotations

import pydantic
import pytest
import shapely

from truceline.domain.agreement import Agreement, Territory, Zone, ZoneKind, wkb_hex
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


def test_versions_written_before_air_and_sea_zones_keep_their_digest() -> None:
    """A stored version read back must hash as it was written: a published report names that digest, and an
    auditor matches it against the agreement's ledger leaf. So defaults of the new zone keys stay out of the
    canonical document, and stating a default explicitly changes nothing."""
    agreement = load_demo_agreement()
    document = agreement.canonical_document()
    for zone in document["zones"]:
        if not zone.get("illustrative"):
            assert "illustrative" not in zone and "width" not in zone
            assert "applies_to" not in zone, zone["id"]  # every negotiated zone of the demo binds its default subject
    old_style = dict(document, zones=[{k: v for k, v in z.items() if k not in ("applies_to", "illustrative", "width")}
                                      for z in document["zones"] if not z.get("illustrative")])
    subjects = {z.id: list(z.applies_to) for z in agreement.zones}
    explicit = dict(old_style, zones=[dict(z, applies_to=subjects[z["id"]], illustrative=False, width=None) for z in old_style["zones"]])
    kept = {z["id"] for z in old_style["zones"]}
    rules = [r for r in document["rules"] if r["where"] == "anywhere" or set(r["where"]) <= kept]
    a = Agreement.from_canonical_document(dict(old_style, rules=rules))
    b = Agreement.from_canonical_document(dict(explicit, rules=rules))
    assert a.digest() == b.digest()
    assert a.canonical_document()["zones"] == old_style["zones"]
