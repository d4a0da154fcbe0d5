"""Arrival order within one ``Fuser.add`` call: the same observations in any order give the same incidents
(docs/fusion.md, "Arrival order"). Across calls the order still matters at the margins; ``bench fusion --only
order`` measures how much."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from truceline.domain.incident import Incident
from truceline.domain.observation import Observation
from truceline.fuse import fuse_all
from truceline.ingest.validation import validate_batch, validation_context
from truceline.service.fusion import FusionWorker
from truceline.sim import load_scenario, observation_records, simulate
from truceline.store.ports import IncidentQuery
from truceline.store.sqlite import SqliteStore


@pytest.fixture(scope="module", params=["sparse-day", "salvo-sector"])
def scenario(request: pytest.FixtureRequest) -> list[Observation]:
    observations, errors = validate_batch(observation_records(simulate(load_scenario(request.param))), validation_context())
    assert not errors
    return observations


def _orders(observations: list[Observation]) -> dict[str, list[Observation]]:
    shuffled = list(observations)
    random.Random(7).shuffle(shuffled)
    return {
        "time order": sorted(observations, key=lambda o: (o.time, str(o.id))),
        "reversed": observations[::-1],
        "shuffled": shuffled,
    }


def test_one_batch_in_any_order_gives_the_same_incidents(scenario: list[Observation]) -> None:
    """Ids, members, positions and times alike: a party that posted the same day in another order cannot
    be shown other incidents. (In arrival order against time order the code before differed in 4 of 220
    sparse-day observations' incidents and 17 % of salvo-sector's pairs.)"""
    whole = len(scenario)
    arrival = fuse_all(scenario, batch_size=whole)
    for name, order in _orders(scenario).items():
        assert fuse_all(order, batch_size=whole) == arrival, name


def test_the_frame_does_not_depend_on_which_observation_came_first(scenario: list[Observation]) -> None:
    """The local frame's origin is the earliest located observation, not the first to arrive: positions are
    computed in it, so another origin would move every estimate by rounding."""
    whole = len(scenario)
    arrival = fuse_all(scenario, batch_size=whole)
    moved = fuse_all([scenario[-1], *scenario[:-1]], batch_size=whole)
    assert [(i.id, i.lat, i.lon) for i in moved] == [(i.id, i.lat, i.lon) for i in arrival]


def _report(i: int, minutes: float, lat: float, lon: float, source_type: str) -> Observation:
    when = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    return Observation.model_validate(
        {
            "id": f"r{i}",
            "time": when.isoformat(),
            "time_uncertainty_s": 5.0,
            "kind": "explosion",
            "location": {"lat": lat, "lon": lon, "cep_m": 100.0},
            "source": {"id": f"{source_type}-{i % 7}", "type": source_type, "org": "UA" if source_type == "acoustic" else "OSCE"},
        }
    )


def _backlog() -> list[Observation]:
    """One explosion heard by an acoustic sensor (r0) and seen by a monitor (r5000), after 1,100 acoustic
    reports of the next 12 hours."""
    first = _report(0, 0.0, 48.0, 37.8, "acoustic")
    later = [_report(i, 0.6 * i + 30.0, 48.0 + 0.05 * (i % 20), 37.0 + 0.05 * (i // 20 % 20), "acoustic") for i in range(1, 1101)]
    return [first, *later, _report(5000, 0.2, 48.0005, 37.8, "monitor")]


def _holding_the_explosion(incidents: list[Incident]) -> list[list[tuple[str, str]]]:
    """The (org, id) members of each incident that holds r0 or r5000."""
    return [
        sorted(zip(i.observation_orgs, i.observation_ids, strict=True))
        for i in incidents
        if "r0" in i.observation_ids or "r5000" in i.observation_ids
    ]


def test_a_batch_does_not_finalise_what_its_own_later_reports_still_need() -> None:
    """A call associates sensors' reports first, then the others (``canonical``). A call of more than 1,024
    reports spanning more than the window (a fuser catching up on a backlog) used to finalise, part way
    through its sensors' reports, incidents that its own later reports belonged to: the monitor's report of
    the first explosion came after 1,100 acoustic reports of the next 12 hours and founded a second incident
    for the same event (contact-line-week: duplicate rate 1.2 % in calls of 1,000, 3.0 % in calls of 2,000,
    7.3 % in calls of 10,000). The reports a call still holds keep their incidents live until they are placed."""
    batch = _backlog()
    for size in (len(batch), 2000, 1500):
        assert _holding_the_explosion(fuse_all(batch, batch_size=size)) == [[("OSCE", "r5000"), ("UA", "r0")]], size


def test_a_server_catching_up_on_a_backlog_gives_the_explosion_one_incident(tmp_path: Path) -> None:
    """The same backlog stored, then fused by the server's fusion worker in its own steps."""
    store = SqliteStore(tmp_path / "t.db")
    try:
        store.add_observations(_backlog())
        FusionWorker(store).run_until_idle()
        incidents = store.list_incidents(IncidentQuery(limit=10_000))
        assert _holding_the_explosion(incidents) == [[("OSCE", "r5000"), ("UA", "r0")]]
    finally:
        store.close()
