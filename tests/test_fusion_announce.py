"""When fusion's news goes out: a batch's events once the store holds exactly what they announce, the last
batch's when fusion is idle, and every change announced, while the next batch is fused beside the store."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import orjson
from tests.test_stream_merges import obs

from truceline.bus.ports import Event
from truceline.ingest.validation import validate_batch, validation_context
from truceline.service.fusion import FusionWorker
from truceline.sim import load_scenario, observation_records, simulate
from truceline.store.sqlite import SqliteStore


class _CheckingBus:
    """A listening bus that checks, as each batch of events arrives, that the store shows what they say."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.has_subscribers = True
        self.batches: list[list[Event]] = []
        self.stale: list[str] = []

    def _stored(self) -> dict[str, int]:
        rows = self.store.reader().execute("SELECT id, doc FROM incidents").fetchall()
        return {iid: orjson.loads(doc)["version"] for iid, doc in rows}

    def publish(self, event: Event) -> None:
        self.publish_many([event])

    def publish_many(self, events: Sequence[Event]) -> None:
        stored = self._stored()
        for event in events:
            if event.topic == "incident":
                version = event.data["properties"]["version"]
                if stored.get(event.data["id"]) != version:
                    self.stale.append(f"{event.data['id']} v{version} announced, v{stored.get(event.data['id'])} stored")
            elif event.data["id"] in stored:
                self.stale.append(f"{event.data['id']} announced {event.topic} while still stored")
        self.batches.append(list(events))


def test_each_batch_is_announced_when_stored_and_the_last_when_fusion_is_idle(tmp_path: Path) -> None:
    observations, errors = validate_batch(observation_records(simulate(load_scenario("salvo-sector"))), validation_context())
    assert not errors
    # Two reports 600 m apart, then a sharp fix between them that merges their incidents (tests/test_stream_merges.py).
    scene = [
        obs("x", 0.0, 0.0, 100.0, "UA", "ua-acn-1", "acoustic", ["PL"]),
        obs("y", 600.0, 0.5, 100.0, "FR", "fr-acn-1", "acoustic", ["FR"]),
        obs("z", 320.0, 0.2, 20.0, "US", "us-uav-1", "uav", ["COALITION"]),
    ]
    merging, errors = validate_batch(scene, validation_context())
    assert not errors
    store = SqliteStore(tmp_path / "t.db")
    store.add_observations(observations)
    bus = _CheckingBus(store)
    worker = FusionWorker(store, bus=bus)
    steps = 0
    while worker.step(limit=40):
        steps += 1
        # A batch's news waits for the next batch (or for idleness), never longer.
        assert len([b for b in bus.batches if b]) >= steps - 1
    assert steps > 3
    assert not bus.stale, bus.stale[:5]
    # Every incident stored was announced, last as it is stored; nothing announced is left unexplained.
    last: dict[str, Event] = {}
    for event in (e for batch in bus.batches for e in batch):
        last[event.data["id"]] = event
    stored = bus._stored()
    assert {iid for iid, e in last.items() if e.topic == "incident"} == set(stored)
    assert all(last[iid].data["properties"]["version"] == version for iid, version in stored.items())
    store.close()
    # A merge, one report per batch: the loser's removal goes out once it is gone from the store.
    small = SqliteStore(tmp_path / "merge.db")
    bus = _CheckingBus(small)
    worker = FusionWorker(small, bus=bus)
    for observation in merging:
        small.add_observations([observation])
        while worker.step():
            pass
    assert not bus.stale, bus.stale
    assert [e.topic for e in bus.batches[-1]] == ["incident", "incident.merged"]
    small.close()
