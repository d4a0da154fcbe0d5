"""Facts an incident inherits from its members: weapon class, altitude, and whether it is simulated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from truceline.domain.observation import Observation
from truceline.fuse import FuserConfig, fuse_all
from truceline.ingest.validation import validation_context
from truceline.locate import LocalFrame

T0 = datetime(2023, 5, 18, 3, 0, tzinfo=UTC)
FRAME = LocalFrame(47.5, 35.8)
CONFIG = FuserConfig(origin=(47.5, 35.8))


def obs(oid: str, x: float, *, kind: str = "impact", org: str = "UA", stype: str = "acoustic", t: float = 0.0,
        attributes: dict[str, Any] | None = None, alt_m: float | None = None) -> Observation:  # fmt: skip
    lat, lon = FRAME.to_geodetic(x, 0.0)
    location: dict[str, Any] = {"lat": float(lat), "lon": float(lon), "cep_m": 60.0}
    if alt_m is not None:
        location["alt_m"] = alt_m
    doc: dict[str, Any] = {
        "id": oid, "time": (T0 + timedelta(seconds=t)).isoformat(), "time_uncertainty_s": 2.0, "kind": kind,
        "location": location, "source": {"id": f"{org.lower()}-{stype}", "type": stype, "org": org},
        "reliability": "B", "credibility": 2,
    }
    if attributes:
        doc["attributes"] = attributes
    return Observation.model_validate(doc, context=validation_context())


def test_real_evidence_gives_an_incident_without_facts() -> None:
    [incident] = fuse_all([obs("a", 0.0), obs("b", 20.0, org="FR", stype="radar")], CONFIG)
    assert incident.attributes == {}


def test_an_incident_of_simulated_evidence_says_so_and_a_mixed_one_says_partly() -> None:
    sim = {"simulated": True}
    [all_sim] = fuse_all([obs("a", 0.0, attributes=sim), obs("b", 20.0, org="FR", stype="radar", attributes=sim)], CONFIG)
    assert all_sim.attributes == {"simulated": "true"}
    [mixed] = fuse_all([obs("a", 0.0, attributes=sim), obs("b", 20.0, org="FR", stype="radar")], CONFIG)
    assert mixed.attributes == {"simulated": "partly"}
    # "simulated": false, or a string, is not a claim of simulation
    [other] = fuse_all([obs("a", 0.0, attributes={"simulated": "yes"}), obs("b", 20.0, org="FR", stype="radar", attributes={"simulated": False})], CONFIG)
    assert other.attributes == {}


def test_weapon_class_and_altitude_reach_the_incident_for_the_rules() -> None:
    sighting = {"weapon_class": " Artillery-100mm "}
    [seen] = fuse_all(
        [obs("a", 0.0, kind="equipment-sighting", stype="uav", attributes=sighting),
         obs("b", 30.0, kind="equipment-sighting", org="MON", stype="monitor", attributes={"weapon_class": "mlrs"}),
         obs("e", 10.0, kind="equipment-sighting", org="US", stype="uav", attributes={"weapon_class": "artillery-100mm"})],
        CONFIG,
    )
    assert seen.attributes == {"weapon_class": "artillery-100mm"}  # the best-supported class
    [flight] = fuse_all([obs("c", 0.0, kind="flight", stype="radar", alt_m=600.0), obs("d", 10.0, kind="flight", org="FR", stype="radar", alt_m=800.0)], CONFIG)
    assert flight.attributes == {"alt_m": "700"}
