"""Violation engine on the demo agreement: effective date, exceptions, withdrawal zones, no-fly altitude."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from truceline.domain.agreement import Agreement
from truceline.domain.incident import Incident, Origin
from truceline.domain.violation import UNDETERMINED, AttributionMethod, JudgedEvent, OriginPoint
from truceline.verify.agreement_loader import load_demo_agreement
from truceline.verify.geometry import AgreementGeometry, geometry_for
from truceline.verify.rules import judge

AFTER = "2023-04-02T03:15:00Z"
MELITOPOL = (46.8489, 35.3675)  # RU side, ~67 km from the line
LUHANSK = (48.5740, 39.3078)  # RU side, ~78 km from the line
ZNPP = (47.5119, 34.5857)


@pytest.fixture(scope="module")
def agreement() -> Agreement:
    return load_demo_agreement()


@pytest.fixture(scope="module")
def geometry(agreement: Agreement) -> AgreementGeometry:
    return geometry_for(agreement)


def _event(event_id: str, kind: str, lat: float, lon: float, time: str = AFTER, **attributes: str) -> JudgedEvent:
    return JudgedEvent(id=event_id, time=time, kind=kind, lat=lat, lon=lon, attributes=attributes)


def _rules_broken(agreement: Agreement, geometry: AgreementGeometry, event: JudgedEvent) -> list[str]:
    return [v.rule_id for v in judge(agreement, geometry, [event])]


def test_preconditions_on_distances(geometry: AgreementGeometry) -> None:
    assert 50e3 < geometry.locate(*MELITOPOL)["distance_to_contact_line_m"] < 70e3
    assert 70e3 < geometry.locate(*LUHANSK)["distance_to_contact_line_m"] < 140e3


def test_nothing_before_effective_from_is_a_violation(agreement: Agreement, geometry: AgreementGeometry) -> None:
    assert _rules_broken(agreement, geometry, _event("e1", "explosion", 48.6, 37.9, time="2023-03-31T23:59:59Z")) == []
    assert _rules_broken(agreement, geometry, _event("e2", "explosion", 48.6, 37.9, time="2023-04-01T00:00:00Z")) == ["no-fire"]
    assert _rules_broken(agreement, geometry, _event("e3", "explosion", 48.6, 37.9, time="2023-04-01T03:00:00+03:00")) == ["no-fire"]


def test_notified_demining_is_excepted(agreement: Agreement, geometry: AgreementGeometry) -> None:
    assert _rules_broken(agreement, geometry, _event("d1", "explosion", 48.6, 37.9, notified_demining="true")) == []
    assert _rules_broken(agreement, geometry, _event("d2", "explosion", 48.6, 37.9, notified_demining="false")) == ["no-fire"]


def test_kinds_outside_the_rules_are_not_violations(agreement: Agreement, geometry: AgreementGeometry) -> None:
    assert _rules_broken(agreement, geometry, _event("t1", "thermal", 48.6, 37.9)) == []
    assert _rules_broken(agreement, geometry, _event("t2", "casualty-report", 48.6, 37.9)) == []


@pytest.mark.parametrize(("place", "weapon", "broken"), [
    (MELITOPOL, "mlrs", True),  # 67 km < 70 km
    (MELITOPOL, "artillery-100mm", False),  # 67 km > 50 km
    (LUHANSK, "mlrs", False),  # 78 km > 70 km
    (LUHANSK, "heavy-mlrs", True),  # 78 km < 140 km
    (MELITOPOL, "tank", False),  # not a withdrawn class
    (MELITOPOL, "", False),  # class not reported
])
def test_equipment_inside_its_withdrawal_zone(agreement: Agreement, geometry: AgreementGeometry, place: tuple[float, float], weapon: str, broken: bool) -> None:
    attrs = {"weapon_class": weapon} if weapon else {}
    violations = judge(agreement, geometry, [_event(f"eq-{weapon}", "equipment-sighting", *place, **attrs)])
    assert [v.rule_id for v in violations] == (["heavy-weapons-withdrawal"] if broken else [])
    if broken:
        v = violations[0]
        assert v.party == "RU" and v.confidence > 0.99 and v.attribution_method is AttributionMethod.LOCATION
        assert f"{weapon} equipment inside its" in v.basis


def test_flight_in_the_no_fly_zone_depends_on_altitude(agreement: Agreement, geometry: AgreementGeometry) -> None:
    assert _rules_broken(agreement, geometry, _event("f1", "flight", *ZNPP, alt_m="300")) == ["no-fly-znpp"]
    assert _rules_broken(agreement, geometry, _event("f2", "flight", *ZNPP, alt_m="12000")) == []
    unknown = judge(agreement, geometry, [_event("f3", "flight", *ZNPP)])
    assert [v.rule_id for v in unknown] == ["no-fly-znpp"] and "altitude not reported" in unknown[0].basis
    assert _rules_broken(agreement, geometry, _event("f4", "flight", 49.0, 31.0, alt_m="300")) == []


def test_troop_movement_only_in_the_security_strip(agreement: Agreement, geometry: AgreementGeometry) -> None:
    assert _rules_broken(agreement, geometry, _event("m1", "troop-movement", 48.0, 37.8)) == ["security-strip-movement"]  # Donetsk, 10 km
    assert _rules_broken(agreement, geometry, _event("m2", "troop-movement", *MELITOPOL)) == []


def test_violation_records_version_attribution_and_is_deterministic(agreement: Agreement, geometry: AgreementGeometry) -> None:
    events = [
        _event("imp-1", "impact", 48.6, 37.9),
        JudgedEvent(id="lnch-1", time=AFTER, kind="launch", lat=48.0, lon=37.8,
                    origin=OriginPoint(lat=48.0, lon=37.8, cov_m2=((2.5e5, 0.0), (0.0, 2.5e5)))),
    ]
    first = judge(agreement, geometry, events)
    assert first == judge(agreement, geometry, events)
    impact, launch = first
    assert impact.id == "isw-2023-03-04/v1/no-fire/imp-1"
    assert (impact.agreement_id, impact.agreement_version) == ("isw-2023-03-04", 1)
    assert impact.party == UNDETERMINED and impact.confidence == 0.0
    assert launch.party == "RU" and launch.confidence == 1.0 and launch.controlled_by == "RU"
    assert "security-strip" in launch.zones
    feature = launch.to_feature()
    assert feature["geometry"]["coordinates"] == [37.8, 48.0] and feature["properties"]["party"] == "RU"


def test_fused_incidents_are_accepted(agreement: Agreement, geometry: AgreementGeometry) -> None:
    incident = Incident(id="inc-9", time=datetime(2023, 4, 5, 2, 0, tzinfo=UTC), kind="launch", lat=48.0, lon=37.8,
                        sigma_m=200.0, origin=Origin(lat=48.02, lon=37.85, cov_m2=((1e6, 0.0), (0.0, 1e6))),
                        observation_ids=("o1", "o2"))
    (violation,) = judge(agreement, geometry, [incident])
    assert violation.incident_id == "inc-9" and violation.party == "RU"
    assert violation.attribution_method is AttributionMethod.ORIGIN_POINT


def test_geometry_of_another_agreement_is_refused(agreement: Agreement, geometry: AgreementGeometry) -> None:
    other = agreement.model_copy(update={"version": 2})
    with pytest.raises(ValueError, match="different agreement version"):
        judge(other, geometry, [_event("x", "explosion", 48.6, 37.9)])


def test_judging_a_batch_equals_judging_each_incident_alone(agreement: Agreement, geometry: AgreementGeometry) -> None:
    """The batch path (one locate, one attribution batch) must not mix events up or let them influence each other.

    All events share one time, so no launch can have fired another event's impact (no time of flight).
    """
    rng = np.random.default_rng(8)
    kinds = ("explosion", "launch", "equipment-sighting", "troop-movement", "flight", "thermal")
    events = []
    for k in range(60):
        lat, lon = 47.6 + rng.uniform(0, 1.2), 36.8 + rng.uniform(0, 1.6)  # astride the line from Zaporizhzhia to Bakhmut
        kind = kinds[k % len(kinds)]
        attrs = {"weapon_class": "mlrs"} if kind == "equipment-sighting" else {}
        origin = None
        if k % 3 == 0:
            o_lat, o_lon = lat + rng.normal(0, 0.05), lon + rng.normal(0, 0.05)
            origin = OriginPoint(lat=o_lat, lon=o_lon, cov_m2=((4e5, 5e4), (5e4, 2e5)))
        events.append(JudgedEvent(id=f"mix-{k}", time=AFTER, kind=kind, lat=lat, lon=lon, sigma_m=float(rng.uniform(50, 3_000)),
                                  origin=origin, attributes=attrs))
    together = judge(agreement, geometry, events)
    alone = [v for event in events for v in judge(agreement, geometry, [event])]
    assert together == alone
    methods = {v.attribution_method for v in together}
    assert methods >= {AttributionMethod.ORIGIN_POINT, AttributionMethod.LOCATION, AttributionMethod.FIRING_POINT}
    assert all(not v.engagements for v in together)
    assert any(0 < max(v.probabilities.values(), default=1.0) < 1 for v in together), "some attribution was sampled"
