"""Streaming behaviour: the update protocol, idempotence, out-of-order and late arrival, bounded memory."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from tests.test_fuse_association import CONFIG, point

from truceline.domain.incident import Incident
from truceline.eval import evaluate, fused, parse_truth
from truceline.fuse import Fuser, FuserConfig, UpdateAction, fuse_all
from truceline.ingest.validation import validate_batch, validation_context
from truceline.sim import load_scenario, observation_records, simulate, truth_records


@pytest.fixture(scope="module")
def sparse():
    sim = simulate(load_scenario("sparse-day"))
    observations, errors = validate_batch(observation_records(sim), validation_context())
    assert not errors
    return observations, parse_truth(("truth", r) for r in truth_records(sim))


def test_update_protocol_created_updated_finalised() -> None:
    fuser = Fuser(CONFIG)
    (created,) = fuser.add([point("a", 0.0, 0.0)])
    assert created.action is UpdateAction.CREATED and created.incident is not None
    (updated,) = fuser.add([point("b", 10.0, 0.0, 0.5, source="us-uav-1", stype="uav", org="US")])
    assert updated.action is UpdateAction.UPDATED and updated.incident_id == created.incident_id
    assert updated.incident.version > created.incident.version
    (finalised,) = fuser.flush()
    assert finalised.action is UpdateAction.FINALISED and set(finalised.incident.observation_ids) == {"a", "b"}
    assert fuser.incidents() == [] and fuser.stats.live_measurements == 0


def test_adding_an_observation_again_changes_nothing() -> None:
    fuser = Fuser(CONFIG)
    obs = point("a", 0.0, 0.0)
    fuser.add([obs])
    before = fuser.incidents()
    assert fuser.add([obs, obs]) == []
    assert fuser.incidents() == before and fuser.stats.duplicates == 2


def test_incident_snapshots_are_valid_domain_objects(sparse) -> None:
    observations, _ = sparse
    for incident in fuse_all(observations):
        assert Incident.model_validate(incident.model_dump()) == incident


def test_window_finalises_old_incidents_and_counts_late_arrivals() -> None:
    fuser = Fuser(FuserConfig(origin=(48.0, 37.8), window_s=3600.0))
    fuser.add([point("old", 0.0, 0.0, 0.0)])
    updates = fuser.add([point("new", 0.0, 5000.0, 7200.0)])
    assert [u.action for u in updates] == [UpdateAction.CREATED, UpdateAction.FINALISED]
    assert updates[1].incident.observation_ids == ("old",)
    fuser.add([point("late", 0.0, 0.0, 10.0, source="us-uav-1", stype="uav", org="US")])
    assert fuser.stats.late == 1
    assert {i.observation_ids for i in fuser.incidents()} == {("new",)}  # the late one was finalised alone


def test_memory_is_bounded_by_the_window() -> None:
    """Five days of one event every minute: live state stays at what one window holds."""
    fuser = Fuser(FuserConfig(origin=(48.0, 37.8), window_s=3600.0))
    rng = random.Random(5)
    peak = 0
    for minute in range(5 * 24 * 60):
        x, y = rng.uniform(-20000, 20000), rng.uniform(-20000, 20000)
        batch = [
            point(f"a{minute}", x, y, minute * 60.0),
            point(f"u{minute}", x + 5, y, minute * 60.0 + 1, sigma=10.0, source="us-uav-1", stype="uav", org="US"),
        ]
        fuser.add(batch)
        peak = max(peak, fuser.stats.live_incidents)
    stats = fuser.stats
    assert stats.incidents_finalised > 7000
    assert peak <= 62 and stats.live_measurements <= 2 * 62


def test_order_of_arrival_barely_matters(sparse) -> None:
    """Shuffled or reversed within 3-hour blocks (all inside the window), the result stays as good."""
    observations, truth = sparse
    in_order = evaluate(truth, [fused(i) for i in fuse_all(observations)])
    shuffled = list(observations)
    random.Random(1).shuffle(shuffled)
    shuffled.sort(key=lambda o: o.time.timestamp() // 10800)  # stable: random order inside each block
    mixed = evaluate(truth, [fused(i) for i in fuse_all(shuffled)])
    reversed_blocks = sorted(observations, key=lambda o: (o.time.timestamp() // 10800, -o.time.timestamp()))
    backwards = evaluate(truth, [fused(i) for i in fuse_all(reversed_blocks)])
    assert in_order.pairwise.f1 >= 0.98
    # Order can still decide a genuinely ambiguous case (two reports near both a false alarm and an event).
    assert mixed.pairwise.f1 >= in_order.pairwise.f1 - 0.03
    assert backwards.pairwise.f1 >= in_order.pairwise.f1 - 0.03


def test_same_input_gives_the_same_incidents(sparse) -> None:
    observations, _ = sparse
    assert fuse_all(observations) == fuse_all(observations)


def test_batching_does_not_change_the_result(sparse) -> None:
    observations, truth = sparse
    one_by_one = evaluate(truth, [fused(i) for i in fuse_all(observations, batch_size=1)])
    all_at_once = evaluate(truth, [fused(i) for i in fuse_all(observations, batch_size=len(observations))])
    assert one_by_one.pairwise.f1 == pytest.approx(all_at_once.pairwise.f1)


def test_observations_older_than_the_window_are_still_kept() -> None:
    fuser = Fuser(FuserConfig(origin=(48.0, 37.8), window_s=600.0))
    fuser.add([point("now", 0.0, 0.0, 86400.0)])
    updates = fuser.add([point("yesterday", 0.0, 0.0, 0.0, source="us-uav-1", stype="uav", org="US")])
    assert any(u.action is UpdateAction.FINALISED and u.incident.observation_ids == ("yesterday",) for u in updates)
    assert fuser.stats.late == 1


@pytest.mark.parametrize("apart_s", [2**16 * 120.0, 2**16 * 120.0 + 60.0], ids=["91-days", "91-days-and-a-minute"])
def test_a_report_91_days_from_a_live_incident_at_the_same_place_is_fused(apart_s: float) -> None:
    """The grid keyed time buckets modulo 2**16 (91 days): a report that far from a live incident's time at the same
    place shared its cell key, and removing both raised KeyError in every later ``add`` (fusion stalled)."""
    fuser = Fuser(FuserConfig(origin=(48.0, 37.8)))
    updates = fuser.add([point("then", 0.0, 0.0, 30.0), point("now", 0.0, 0.0, 30.0 + apart_s)])
    updates += fuser.add([point("later", 5_000.0, 0.0, 30.0 + apart_s + 10.0)])
    updates += fuser.flush()
    finalised = sorted(u.incident.observation_ids for u in updates if u.action is UpdateAction.FINALISED)
    assert finalised == [("later",), ("now",), ("then",)]


def test_time_shift_of_the_whole_stream_changes_nothing_but_times(sparse) -> None:
    observations, _ = sparse
    shifted = [o.model_copy(update={"time": o.time + timedelta(days=30)}) for o in observations]
    a, b = fuse_all(observations), fuse_all(shifted)
    assert [i.observation_ids for i in a] == [i.observation_ids for i in b]


def test_fusing_leaves_no_reference_cycles_and_restores_the_collector() -> None:
    """``Fuser.add`` pauses the cyclic collector, which is sound only if the fuser leaves no cycles behind: with
    the collector off, a stream with moves, bearings and clock re-associations, fused and dropped, must leave
    nothing for a collection to find."""
    import gc

    from tests.test_fuse_differential import _nations

    observations = _nations(posted=False)
    gc.collect()
    gc.disable()
    try:
        fuser = Fuser()
        updates = []
        for i in range(0, len(observations), 25):
            updates += fuser.add(observations[i : i + 25])
            assert not gc.isenabled()  # paused by the caller: left as it was
        updates += fuser.flush()
        assert fuser.stats.moves and fuser.stats.reassociations and any(u.action is UpdateAction.FINALISED for u in updates)
        for update in updates:
            assert update.incident is None or update.incident.observation_ids
        del fuser, updates
        assert gc.collect() == 0
    finally:
        gc.enable()
    Fuser().add(observations[:10])
    assert gc.isenabled()


def test_updates_are_built_as_the_dataclass_builds_them() -> None:
    """The fuser builds ``IncidentUpdate``s through their slots (fuse/fuser.py: ``new_update``), not ``__init__``:
    every field set as ``__init__`` sets it (a field added to the dataclass and not set there fails here)."""
    from dataclasses import fields

    from truceline.fuse.fuser import new_update
    from truceline.fuse.updates import IncidentUpdate

    fuser = Fuser(CONFIG)
    (created,) = fuser.add([point("a", 0.0, 0.0)])
    snap = created.snapshot
    for args in ((UpdateAction.CREATED, "x", snap), (UpdateAction.REMOVED, "y", None, "x"), (UpdateAction.FINALISED, "x", snap, None)):
        fast, slow = new_update(*args), IncidentUpdate(*args)
        assert type(fast) is IncidentUpdate and fast == slow and repr(fast) == repr(slow)
        assert [getattr(fast, f.name) for f in fields(IncidentUpdate)] == [getattr(slow, f.name) for f in fields(IncidentUpdate)]
        assert fast._incident is None and (fast.incident is None) == (snap is None or args[2] is None)
        with pytest.raises(AttributeError):
            fast.action = UpdateAction.UPDATED  # type: ignore[misc]  # frozen, as the dataclass is
    assert created.incident == IncidentUpdate(UpdateAction.CREATED, created.incident_id, snap).incident
