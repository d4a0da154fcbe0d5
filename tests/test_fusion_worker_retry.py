"""A fusion step that fails is fused again from a fuser rebuilt from the store, not from the one that failed.

The failed fuser may hold part of the batch (its ids then count as already fused and are skipped) or state the
failure left half changed (a grid that raised KeyError in the middle of a removal once stalled fusion for
good, docs/performance.md). The embedded server's loop now does what the cluster's sector workers do: a fresh
fuser that recovers from the committed cursor, after a wait that doubles per failure in a row.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from truceline.domain.observation import Observation
from truceline.fuse import Fuser
from truceline.fuse.updates import IncidentUpdate
from truceline.ingest.validation import validate_batch, validation_context
from truceline.service.fusion import FusionWorker
from truceline.sim import load_scenario, observation_records, simulate
from truceline.store.sqlite import SqliteStore


class FailsOnce:
    """A fuser whose first ``add`` takes in half the batch and then raises, as a failure in the middle would."""

    def __init__(self) -> None:
        self.inner = Fuser()
        self.failed = False

    def add(self, observations: Iterable[Observation]) -> list[IncidentUpdate]:
        batch = list(observations)
        if not self.failed:
            self.failed = True
            self.inner.add(batch[: len(batch) // 2])
            raise RuntimeError("injected in the middle of a batch")
        return self.inner.add(batch)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _stored(path: Path, observations: list[Observation]) -> SqliteStore:
    store = SqliteStore(path)
    store.add_observations(observations)
    return store


def _incidents(store: SqliteStore) -> dict[str, tuple[int, str]]:
    rows = store.reader().execute("SELECT id, finalised, doc FROM incidents").fetchall()
    return {iid: (finalised, doc) for iid, finalised, doc in rows}


def _failing_once(tmp_path: Path) -> tuple[list[Observation], SqliteStore, SqliteStore, FusionWorker]:
    """A day's observations, a store fused cleanly from them, and a second store whose worker's fuser fails once."""
    observations, errors = validate_batch(observation_records(simulate(load_scenario("sparse-day"))), validation_context())
    assert not errors and len(observations) > 100
    reference = _stored(tmp_path / "reference.db", observations)
    FusionWorker(reference).run_until_idle()
    store = _stored(tmp_path / "t.db", observations)
    worker = FusionWorker(store)
    worker.retry_s = 0.05
    worker._fuser = FailsOnce()  # type: ignore[assignment]
    return observations, reference, store, worker


def test_a_failed_step_is_fused_again_from_the_committed_cursor(tmp_path: Path) -> None:
    observations, reference, store, worker = _failing_once(tmp_path)
    last = store.reader().execute("SELECT max(seq) FROM observations").fetchone()[0]
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while store.fusion_cursor() < last and time.monotonic() < deadline:
            time.sleep(0.05)
            worker.notify()
    finally:
        worker.stop()
    assert worker.errors == 1
    assert worker.last_error == "RuntimeError: injected in the middle of a batch"
    assert store.fusion_cursor() == last
    assert _incidents(store) == _incidents(reference)
    assert isinstance(worker._fuser, Fuser)  # the failed one was dropped
    assert worker._fuser.stats.observations == len(observations) and worker._fuser.stats.duplicates == 0
    store.close()
    reference.close()


def test_fuse_follow_retries_a_failed_step_instead_of_exiting(tmp_path: Path) -> None:
    """``truceline fuse --follow`` (:meth:`FusionWorker.follow`) used to end on the first failed step."""
    observations, reference, store, worker = _failing_once(tmp_path)
    last = store.reader().execute("SELECT max(seq) FROM observations").fetchone()[0]
    follower = threading.Thread(target=worker.follow, args=(0.02,))
    follower.start()
    try:
        deadline = time.monotonic() + 60
        while store.fusion_cursor() < last and time.monotonic() < deadline and follower.is_alive():
            time.sleep(0.05)
    finally:
        worker.stop()
        follower.join(timeout=30)
    assert not follower.is_alive()
    assert worker.errors == 1 and store.fusion_cursor() == last
    assert worker.read == len(observations)  # a failed step counts nothing: each observation is counted once, when fused
    assert _incidents(store) == _incidents(reference)
    store.close()
    reference.close()


def test_a_step_runs_without_the_collector_and_gives_it_back_even_when_it_fails(tmp_path: Path) -> None:
    """A step pauses the cyclic collector for the whole batch (service/fusion.py) and turns it back on
    afterwards, after a failure too."""
    observations, errors = validate_batch(observation_records(simulate(load_scenario("sparse-day"))), validation_context())
    assert not errors
    worker = FusionWorker(_stored(tmp_path / "t.db", observations))
    seen: list[bool] = []

    class Watching(FailsOnce):
        def add(self, observations: Iterable[Observation]) -> list[IncidentUpdate]:
            seen.append(gc.isenabled())
            return super().add(observations)

    worker._fuser = Watching()  # type: ignore[assignment]
    assert gc.isenabled()
    with pytest.raises(RuntimeError, match="injected"):
        worker.step()
    assert gc.isenabled()
    assert worker.step() > 0
    assert gc.isenabled() and seen == [False, False]
