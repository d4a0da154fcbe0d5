"""Launch-phase attribution and launch-to-impact linking on the real line of the demo agreement."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from truceline.domain.agreement import Agreement
from truceline.domain.observation import Observation
from truceline.domain.violation import UNDETERMINED, UNLINKED, AttributionMethod, JudgedEvent
from truceline.fuse import Fuser, FuserConfig
from truceline.ingest.validation import validation_context
from truceline.verify.agreement_loader import load_demo_agreement
from truceline.verify.engagement import WEAPON_CLASSES, flight_time_window, link_impacts
from truceline.verify.geometry import AgreementGeometry, geometry_for
from truceline.verify.rules import judge

T0 = datetime(2023, 5, 2, 3, 0, tzinfo=timezone.utc)
RU_GUN = (48.0, 37.95)  # 16.5 km inside RU-controlled ground
UA_GUN = (48.0, 37.30)  # 17.2 km inside UA-controlled ground
TARGET = (48.0, 37.55)  # near the line: 29.8 km from RU_GUN, 18.6 km from UA_GUN


@pytest.fixture(scope="module")
def agreement() -> Agreement:
    return load_demo_agreement()


@pytest.fixture(scope="module")
def geometry(agreement: Agreement) -> AgreementGeometry:
    return geometry_for(agreement)


def _event(eid: str, kind: str, at: tuple[float, float], dt_s: float, *, sigma: float = 150.0, tsd: float = 2.0,
           **attributes: str) -> JudgedEvent:
    return JudgedEvent(id=eid, time=T0 + timedelta(seconds=dt_s), kind=kind, lat=at[0], lon=at[1], sigma_m=sigma,
                       time_uncertainty_s=tsd, observation_ids=(f"{eid}-obs-a", f"{eid}-obs-b"), independent_sources=2,
                       attributes=attributes)


def _observation(oid: str, kind: str, at: tuple[float, float], dt_s: float, source: str, stype: str, org: str, cep: float) -> Observation:
    doc = {"id": oid, "time": (T0 + timedelta(seconds=dt_s)).isoformat(), "time_uncertainty_s": 2.0, "kind": kind,
           "location": {"lat": at[0], "lon": at[1], "cep_m": cep}, "source": {"id": source, "type": stype, "org": org},
           "reliability": "B", "credibility": 2}
    return Observation.model_validate(doc, context=validation_context())


def test_launch_and_flash_fused_into_one_incident_are_attributed_to_the_side_they_fired_from(
        agreement: Agreement, geometry: AgreementGeometry) -> None:
    fuser = Fuser(FuserConfig(origin=RU_GUN))
    fuser.add([_observation("ac-1", "launch", RU_GUN, 0.0, "gb-array-3", "acoustic", "GB", 120.0),
               _observation("uav-1", "muzzle-flash", (RU_GUN[0] + 0.0004, RU_GUN[1]), 0.8, "us-uav-7", "uav", "US", 40.0)])
    (incident,) = fuser.incidents()
    assert incident.kind.value in ("launch", "muzzle-flash") and incident.origin is None
    (violation,) = judge(agreement, geometry, [incident])
    assert violation.party == "RU" and violation.confidence > 0.99
    assert violation.attribution_method is AttributionMethod.FIRING_POINT
    assert "Firing point" in violation.basis and "2 independent sources" in violation.basis
    assert "ground controlled by RU" in violation.basis


def test_an_explosion_narrowed_to_the_launch_phase_is_a_firing_point(agreement: Agreement, geometry: AgreementGeometry) -> None:
    """A bang an array heard, joined by the flash a drone saw at the same spot: fusion names it after the
    flash, so it is attributed by its position; the bang alone stays an explosion of either end, unnamed."""
    fuser = Fuser(FuserConfig(origin=UA_GUN))
    fuser.add([_observation("bang-1", "explosion", UA_GUN, 0.0, "ua-array-2", "acoustic", "UA", 200.0),
               _observation("flash-1", "muzzle-flash", UA_GUN, 0.5, "de-uav-3", "uav", "DE", 30.0)])
    (incident,) = fuser.incidents()
    assert incident.kind.value == "muzzle-flash"
    (violation,) = judge(agreement, geometry, [incident])
    assert violation.party == "UA" and violation.attribution_method is AttributionMethod.FIRING_POINT
    alone = Fuser(FuserConfig(origin=UA_GUN))
    alone.add([_observation("bang-2", "explosion", UA_GUN, 0.0, "ua-array-2", "acoustic", "UA", 200.0)])
    (bang,) = judge(agreement, geometry, alone.incidents())
    assert bang.party == UNDETERMINED and bang.attribution_method is AttributionMethod.NO_ORIGIN


def test_firing_point_near_the_line_is_sampled_and_a_vague_one_stays_undetermined(
        agreement: Agreement, geometry: AgreementGeometry) -> None:
    near = (48.0, 37.6)  # RU, 1.3 km from the line
    (sharp,) = judge(agreement, geometry, [_event("flash-1", "muzzle-flash", near, 0.0, sigma=600.0)])
    assert sharp.party == "RU" and 0.9 <= sharp.confidence < 1.0 and sharp.probabilities["UA"] > 0.0
    (vague,) = judge(agreement, geometry, [_event("flash-2", "muzzle-flash", near, 0.0, sigma=3_000.0)])
    assert vague.party == UNDETERMINED and vague.probabilities["UA"] > 0.1


def test_impact_linked_to_its_launch_names_the_party_that_fired_with_combined_confidence(
        agreement: Agreement, geometry: AgreementGeometry) -> None:
    launch = _event("lnch-ru", "launch", RU_GUN, 0.0)
    impact = _event("imp-1", "impact", TARGET, 62.0, sigma=300.0)
    violations = {v.incident_id: v for v in judge(agreement, geometry, [launch, impact])}
    hit, fired = violations["imp-1"], violations["lnch-ru"]
    assert hit.attribution_method is AttributionMethod.LAUNCH_LINK
    assert hit.party == "RU"
    (link,) = hit.engagements
    assert link.launch_incident_id == "lnch-ru" and link.impact_incident_id == "imp-1"
    assert 0.9 < link.probability < 1.0 and link.time_of_flight_s == pytest.approx(62.0)
    assert link.range_m == pytest.approx(29_800, rel=0.02) and "artillery" in link.weapon_classes
    assert hit.confidence == pytest.approx(link.probability * fired.confidence, abs=1e-9)
    assert hit.probabilities[UNLINKED] == pytest.approx(1.0 - link.probability, abs=1e-9)
    assert "lnch-ru" in hit.basis and "lnch-ru-obs-a" in hit.basis and "link" in hit.basis
    assert [e.impact_incident_id for e in fired.engagements] == ["imp-1"]  # the launch lists its impact too


def test_impact_only_evidence_never_names_a_party(agreement: Agreement, geometry: AgreementGeometry) -> None:
    events = [
        _event("imp-alone", "impact", TARGET, 0.0),
        _event("bang-alone", "explosion", RU_GUN, 30.0),  # an explosion is either end of a shot: not a firing point
        _event("imp-late", "impact", TARGET, 3_000.0),
        _event("lnch-after", "launch", RU_GUN, 3_100.0),  # fired after the impact: cannot have caused it
        _event("imp-far", "impact", (50.45, 30.52), 3_160.0),  # Kyiv, 560 km away: beyond every class's reach
    ]
    by_id = {v.incident_id: v for v in judge(agreement, geometry, events)}
    for eid in ("imp-alone", "bang-alone", "imp-late", "imp-far"):
        assert by_id[eid].party == UNDETERMINED and by_id[eid].confidence == 0.0, eid
        assert by_id[eid].attribution_method is AttributionMethod.NO_ORIGIN
        assert not by_id[eid].engagements


def test_two_launches_that_both_fit_split_the_link_and_name_no_party(geometry: AgreementGeometry) -> None:
    """Where the impact's side says nothing (no controller given), two fitting launches share the link."""
    events = [_event("lnch-ru", "launch", RU_GUN, 0.0), _event("lnch-ua", "launch", UA_GUN, 15.0),
              _event("imp-x", "impact", TARGET, 70.0)]
    found = link_impacts(events)[2]
    shares = {events[c.launch].id: c.probability for c in found.candidates}
    assert set(shares) == {"lnch-ru", "lnch-ua"} and all(0.25 < p < 0.75 for p in shares.values())


def test_ambiguous_launches_from_both_sides_do_not_name_a_wrong_party(agreement: Agreement, geometry: AgreementGeometry) -> None:
    """An impact on UA ground; a RU gun and a UA gun both fired at a fitting time. The UA gun firing onto its
    own ground is the unlikely reading (the other side's reply landing near a gun is the common one), so UA
    is never named; the verdict states the UA launch as a candidate."""
    assert geometry.locate(*TARGET)["controlled_by"] == "UA"
    events = [_event("lnch-ru", "launch", RU_GUN, 0.0), _event("lnch-ua", "launch", UA_GUN, 15.0),
              _event("imp-x", "impact", TARGET, 70.0)]
    hit = next(v for v in judge(agreement, geometry, events) if v.incident_id == "imp-x")
    assert hit.party != "UA" and hit.attribution_method is AttributionMethod.LAUNCH_LINK
    assert 0.0 < hit.probabilities["UA"] < 0.1
    assert {e.launch_incident_id for e in hit.engagements} == {"lnch-ru", "lnch-ua"}
    assert "both on UA ground" in hit.basis
    # a 25 s flight over 29.8 km is at the very edge of a gun's fastest flight and fits heavy rockets (rare):
    # the RU link weakens and no side is named
    late = [_event("lnch-ru", "launch", RU_GUN, 45.0), _event("lnch-ua", "launch", UA_GUN, 15.0),
            _event("imp-x", "impact", TARGET, 70.0)]
    hit = next(v for v in judge(agreement, geometry, late) if v.incident_id == "imp-x")
    assert hit.party == UNDETERMINED
    ru = next(e for e in hit.engagements if e.launch_incident_id == "lnch-ru")
    assert "heavy-mlrs" in ru.weapon_classes and "mlrs" not in ru.weapon_classes


def test_a_reported_direction_of_fire_decides_between_launches(agreement: Agreement, geometry: AgreementGeometry) -> None:
    # RU gun fires west (towards the target, 270°); the UA gun is reported firing west too, away from the target
    events = [_event("lnch-ru", "launch", RU_GUN, 0.0, fire_azimuth_deg="270", fire_azimuth_sd_deg="5"),
              _event("lnch-ua", "launch", UA_GUN, 15.0, fire_azimuth_deg="270", fire_azimuth_sd_deg="5"),
              _event("imp-x", "impact", TARGET, 70.0)]
    hit = next(v for v in judge(agreement, geometry, events) if v.incident_id == "imp-x")
    assert hit.party == "RU" and hit.engagements[0].launch_incident_id == "lnch-ru"
    assert "direction of fire" in hit.basis


def test_wider_stated_time_uncertainty_widens_the_link(geometry: AgreementGeometry) -> None:
    """A time of flight just too short for the range links only when the clocks are known to be loose."""
    shortest = min(w[0] for c in WEAPON_CLASSES if (w := flight_time_window(29_800.0, c)) is not None)
    tight = [_event("l", "launch", RU_GUN, 0.0, tsd=1.0), _event("i", "impact", TARGET, shortest - 15.0, tsd=1.0)]
    loose = [_event("l", "launch", RU_GUN, 0.0, tsd=20.0), _event("i", "impact", TARGET, shortest - 15.0, tsd=20.0)]
    assert 1 not in link_impacts(tight)
    assert link_impacts(loose)[1].candidates[0].probability > 0.5


def _unstated(oid: str, kind: str, at: tuple[float, float], dt_s: float, stype: str, org: str, cep: float) -> Observation:
    """An observation as real senders post it: no ``time_uncertainty_s`` (the source type's default is assumed)."""
    doc = {"id": oid, "time": (T0 + timedelta(seconds=dt_s)).isoformat(), "kind": kind,
           "location": {"lat": at[0], "lon": at[1], "cep_m": cep}, "source": {"id": f"{oid}-src", "type": stype, "org": org},
           "reliability": "B", "credibility": 2}
    return Observation.model_validate(doc, context=validation_context())


def test_a_patrol_note_joining_an_impact_does_not_loosen_its_link(agreement: Agreement, geometry: AgreementGeometry) -> None:
    """The time-of-flight gate uses the fused incident's time σ, not its widest member's.

    A patrol's note ("03:01", assumed good to ten minutes) fused with an array's report of the same impact
    leaves the impact's time as good as the array's, so the link is as firm as without the note. An impact
    known only from the note links loosely — honestly: any launch of those minutes could have fired it.
    """
    launch = _observation("gun", "launch", RU_GUN, 0.0, "gb-array-3", "acoustic", "GB", 150.0)
    array = _unstated("bang", "explosion", TARGET, 62.0, "acoustic", "PL", 250.0)
    note = _unstated("note", "impact", (TARGET[0] + 0.003, TARGET[1] - 0.004), 60.0, "monitor", "OSCE", 900.0)

    def impact_of(*obs: Observation) -> tuple[float, float, str]:
        fuser = Fuser(FuserConfig(origin=TARGET))
        fuser.add([launch, *obs])
        incidents = fuser.incidents()
        (hit,) = [v for v in judge(agreement, geometry, incidents) if v.kind.value != "launch"]
        (inc,) = [i for i in incidents if i.id == hit.incident_id]
        assert len(inc.observation_ids) == len(obs)  # the note fused with the array's report
        return hit.engagements[0].probability, inc.time_uncertainty_s, hit.party

    alone, alone_sd, alone_party = impact_of(array)
    joined, joined_sd, joined_party = impact_of(array, note)
    only_note, note_sd, note_party = impact_of(note)
    assert note_sd >= 600.0 and joined_sd < 30.0 and joined_sd <= alone_sd
    assert alone_party == joined_party == "RU" and joined == pytest.approx(alone, abs=0.01) and joined > 0.9
    assert note_party == UNDETERMINED and only_note < 0.9


def test_context_launches_link_but_are_not_judged(agreement: Agreement, geometry: AgreementGeometry) -> None:
    launch = _event("lnch-ru", "launch", RU_GUN, 0.0)
    impact = _event("imp-1", "impact", TARGET, 62.0)
    (alone,) = judge(agreement, geometry, [impact])
    assert alone.party == UNDETERMINED
    (hit,) = judge(agreement, geometry, [impact], context=[launch, impact])
    assert hit.incident_id == "imp-1" and hit.party == "RU"


@pytest.mark.parametrize("weapon", WEAPON_CLASSES, ids=lambda w: w.name)
def test_flight_time_windows_hold_the_drag_free_flight_at_every_allowed_elevation(weapon: object) -> None:
    import math

    from truceline.verify.engagement import G, WeaponClass

    assert isinstance(weapon, WeaponClass)
    for fraction in (0.1, 0.5, 0.9):
        r = weapon.min_range_m + fraction * (weapon.max_range_m - weapon.min_range_m)
        window = flight_time_window(r, weapon)
        assert window is not None
        lo, hi = window
        theta = 0.5 * math.asin(G * r / weapon.max_speed_mps**2)  # top speed, flattest fire
        assert math.sqrt(2 * r * math.tan(theta) / G) == pytest.approx(lo)
        assert hi > lo
