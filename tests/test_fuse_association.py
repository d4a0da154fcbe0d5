"""Association on hand-made scenes: merge, split, time and kind gates, exclusive sensors, bearings, origins."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from truceline.domain.incident import Incident, IncidentStatus
from truceline.domain.observation import Observation
from truceline.fuse import Fuser, FuserConfig, UpdateAction
from truceline.ingest.validation import validation_context
from truceline.locate import LocalFrame

T0 = datetime(2023, 4, 2, 3, 0, tzinfo=UTC)
FRAME = LocalFrame(48.0, 37.8)
CONFIG = FuserConfig(origin=(48.0, 37.8))


def point(oid: str, x: float, y: float, t: float = 0.0, *, sigma: float = 50.0, kind: str = "impact", source: str = "ua-ac-1",
          stype: str = "acoustic", org: str = "UA", grade: tuple[str, int] = ("B", 2), tsd: float = 1.0, **extra: Any) -> Observation:  # fmt: skip
    lat, lon = FRAME.to_geodetic(x, y)
    doc = {
        "id": oid,
        "time": (T0 + timedelta(seconds=t)).isoformat(),
        "time_uncertainty_s": tsd,
        "kind": kind,
        "location": {"lat": float(lat), "lon": float(lon), "cep_m": sigma * 1.1774},
        "source": {"id": source, "type": stype, "org": org},
        "reliability": grade[0],
        "credibility": grade[1],
        **extra,
    }
    return Observation.model_validate(doc, context=validation_context())


def bearing(oid: str, sx: float, sy: float, tx: float, ty: float, t: float = 0.0, *, source: str, sd: float = 1.0) -> Observation:
    lat, lon = FRAME.to_geodetic(sx, sy)
    angle = math.degrees(math.atan2(tx - sx, ty - sy)) % 360.0
    doc = {
        "id": oid,
        "time": (T0 + timedelta(seconds=t)).isoformat(),
        "time_uncertainty_s": 5.0,
        "kind": "launch",
        "location": {"sensor_lat": float(lat), "sensor_lon": float(lon), "bearing_deg": angle, "bearing_sd_deg": sd, "max_range_m": 20000},
        "source": {"id": source, "type": "acoustic", "org": "UA"},
        "reliability": "B",
        "credibility": 2,
    }
    return Observation.model_validate(doc, context=validation_context())


def final(fuser: Fuser, *batches: list[Observation]) -> list[Incident]:
    for batch in batches:
        fuser.add(batch)
    return sorted(fuser.incidents(), key=lambda i: i.observation_ids)


def groups(incidents: list[Incident]) -> set[frozenset[str]]:
    return {frozenset(i.observation_ids) for i in incidents}


def enu(incident: Incident) -> tuple[float, float]:
    e, n = FRAME.to_enu(incident.lat, incident.lon)
    return float(e), float(n)


def test_independent_sources_of_one_event_corroborate_and_weigh_by_uncertainty() -> None:
    acoustic = point("a", 40.0, 0.0, sigma=80.0)
    uav = point("u", 0.0, 0.0, 0.5, sigma=10.0, source="us-uav-1", stype="uav", org="US", grade=("A", 2))
    (incident,) = final(Fuser(CONFIG), [acoustic], [uav])
    assert set(incident.observation_ids) == {"a", "u"}
    assert incident.independent_sources == 2 and incident.source_groups == ("UA/acoustic", "US/uav")
    assert incident.status is IncidentStatus.CORROBORATED
    x, _ = enu(incident)
    assert x == pytest.approx(40.0 * 10.0**2 / (10.0**2 + 80.0**2), abs=0.5)  # inverse-variance weighted
    assert incident.sigma_m < 10.0


def test_one_organisation_repeating_itself_is_not_corroboration() -> None:
    first = point("a", 0.0, 0.0, source="ua-ac-1")
    second = point("b", 20.0, 0.0, 0.3, source="ua-ac-2")
    (incident,) = final(Fuser(CONFIG), [first, second])
    assert incident.independent_sources == 1
    assert incident.corroboration == 0.0 and incident.status is IncidentStatus.DETECTED


def test_poorly_graded_confirmation_does_not_corroborate() -> None:
    sensor = point("a", 0.0, 0.0, grade=("B", 2))
    rumour = point("r", 30.0, 0.0, 1.0, sigma=500.0, kind="explosion", source="tg-1", stype="osint", org="OSINT", grade=("E", 5), tsd=60)
    (incident,) = final(Fuser(CONFIG), [sensor, rumour])
    assert incident.independent_sources == 2
    assert incident.corroboration == pytest.approx(0.2 * 0.2)
    assert incident.status is IncidentStatus.DETECTED


@pytest.mark.parametrize(("dx", "dt"), [(400.0, 0.0), (20.0, 60.0)])
def test_events_apart_in_space_or_time_stay_apart(dx: float, dt: float) -> None:
    one = point("a", 0.0, 0.0, sigma=30.0)
    two = point("b", dx, 0.0, dt, sigma=30.0, source="us-uav-1", stype="uav", org="US")
    assert groups(final(Fuser(CONFIG), [one, two])) == {frozenset("a"), frozenset("b")}


def test_launch_and_impact_at_one_place_stay_apart_but_an_explosion_may_join_either() -> None:
    launch = point("l", 0.0, 0.0, kind="launch")
    impact = point("i", 10.0, 0.0, 0.2, kind="impact", source="us-uav-1", stype="uav", org="US")
    bang = point("x", 5.0, 0.0, 0.1, kind="explosion", source="mon-1", stype="monitor", org="MON")
    incidents = final(Fuser(CONFIG), [launch, impact, bang])
    assert len(incidents) == 2
    assert {frozenset("l"), frozenset("i")} <= {frozenset(set(g) - {"x"}) for g in groups(incidents)}


def test_one_sensor_never_reports_the_same_event_twice() -> None:
    """A UAV that saw two impacts 40 m apart at once saw two events, however close."""
    first = point("u1", 0.0, 0.0, sigma=30.0, source="us-uav-1", stype="uav", org="US")
    second = point("u2", 40.0, 0.0, 0.5, sigma=30.0, source="us-uav-1", stype="uav", org="US")
    assert len(final(Fuser(CONFIG), [first, second])) == 2
    # A monitor repeating its report is a duplicate, not a second event.
    again = [point(f"m{i}", 10.0 * i, 0.0, i, sigma=300, kind="explosion", source="mon-1", stype="monitor", org="MON") for i in range(2)]
    assert len(final(Fuser(CONFIG), again)) == 1


@pytest.mark.parametrize("separation", [300.0, 700.0])
def test_uav_fixes_split_what_acoustics_merged(separation: float) -> None:
    """Two coarse acoustic fixes of two impacts merge; sharp UAV fixes arriving later pull them apart."""
    a1 = point("a1", 0.0, 0.0, 0.0, sigma=150.0, source="ua-acn-1")
    b1 = point("b1", separation, 0.0, 0.3, sigma=150.0, source="fr-acn-1", org="FR")
    fuser = Fuser(CONFIG)
    assert groups(final(fuser, [a1, b1])) == {frozenset({"a1", "b1"})}
    u1 = point("u1", 0.0, 0.0, 0.1, sigma=10.0, source="us-uav-1", stype="uav", org="US")
    u2 = point("u2", separation, 0.0, 0.2, sigma=10.0, source="us-uav-2", stype="uav", org="US")
    assert groups(final(fuser, [u1], [u2])) == {frozenset({"a1", "u1"}), frozenset({"b1", "u2"})}
    assert fuser.stats.moves >= 1


def test_incidents_that_turn_out_to_be_one_merge_and_the_loser_is_removed() -> None:
    fuser = Fuser(CONFIG)
    x = point("x", 0.0, 0.0, sigma=100.0, source="ua-acn-1")
    y = point("y", 600.0, 0.0, 0.5, sigma=100.0, source="fr-acn-1", org="FR")
    first = fuser.add([x, y])
    assert [u.action for u in first] == [UpdateAction.CREATED, UpdateAction.CREATED]
    z = point("z", 300.0, 0.0, 0.2, sigma=20.0, source="us-uav-1", stype="uav", org="US")
    updates = fuser.add([z])
    removed = [u for u in updates if u.action is UpdateAction.REMOVED]
    (survivor,) = fuser.incidents()
    assert set(survivor.observation_ids) == {"x", "y", "z"}
    assert len(removed) == 1 and removed[0].merged_into == survivor.id and removed[0].incident is None


def test_crossing_bearings_locate_a_launch_and_points_join_it() -> None:
    target = (3000.0, 9000.0)
    fuser = Fuser(CONFIG)
    b1 = bearing("b1", 0.0, 0.0, *target, source="ua-df-1")
    assert fuser.add([b1]) == [] and fuser.stats.pending_bearings == 1
    b2 = bearing("b2", 6000.0, 0.0, *target, 2.0, source="ua-df-2")
    b3 = bearing("b3", 3000.0, -1000.0, *target, 1.0, source="ua-df-3")
    (incident,) = final(fuser, [b2], [b3])
    assert set(incident.observation_ids) == {"b1", "b2", "b3"}
    assert math.dist(enu(incident), target) < 3 * incident.sigma_m
    flash = point("f", *target, 0.5, sigma=20.0, kind="muzzle-flash", source="us-uav-1", stype="uav", org="US")
    (incident,) = final(fuser, [flash])
    assert set(incident.observation_ids) == {"b1", "b2", "b3", "f"} and incident.kind.value == "launch"  # best supported


def test_a_lone_bearing_makes_no_incident_and_is_dropped_with_the_window() -> None:
    fuser = Fuser(CONFIG)
    fuser.add([bearing("b1", 0.0, 0.0, 1000.0, 9000.0, source="ua-df-1")])
    assert fuser.flush() == [] and fuser.stats.bearings_dropped == 1


def test_radar_origins_fuse_into_the_incident_origin() -> None:
    lat, lon = FRAME.to_geodetic(500.0, 12000.0)
    origin = {"origin": {"lat": float(lat), "lon": float(lon), "cep_m": 60.0}}
    radar = point("r", 0.0, 0.0, sigma=40.0, source="fr-cbr", stype="radar", org="FR", attributes=origin)
    uav = point("u", 5.0, 0.0, 0.4, sigma=10.0, source="us-uav-1", stype="uav", org="US")
    (incident,) = final(Fuser(CONFIG), [radar, uav])
    assert incident.origin is not None
    assert math.dist(FRAME.to_enu(incident.origin.lat, incident.origin.lon), (500.0, 12000.0)) < 1.0
    assert incident.origin.cov_m2[0][0] == pytest.approx((60.0 / 1.1774) ** 2, rel=0.01)


def test_place_without_coordinates_is_counted_not_fused() -> None:
    doc = {
        "id": "p",
        "time": T0.isoformat(),
        "kind": "explosion",
        "location": {"name": "Bakhmut", "precision": 1},
        "source": {"id": "tg-1", "type": "osint", "org": "OSINT"},
    }
    fuser = Fuser(CONFIG)
    assert fuser.add([Observation.model_validate(doc, context=validation_context())]) == []
    assert fuser.stats.unlocated == 1
