"""``bench fusion --only speed``: fuser and DBSCAN alternated over rounds, each side's best, every round's ratio
printed (docs/performance.md, "Streaming fusion"): the figure a noisy machine gives must show its spread."""

from __future__ import annotations

import gc
import re
import sys
from functools import cache
from types import ModuleType, SimpleNamespace

import pytest
from tests.conftest import native
from tests.script_modules import REPO, load_script

from truceline.domain.observation import Observation
from truceline.ingest.validation import validate_batch, validation_context


@cache
def _bench() -> ModuleType:
    return load_script(REPO / "bench" / "fusion.py", "bench_fusion_speed")


class _Clustering:
    """Stands in for scikit-learn's DBSCAN (a bench extra, not a test one): what is checked here is the bench's
    schedule and conditions, not the clustering."""

    fitted: list[int] = []

    def __init__(self, eps: float, min_samples: int) -> None:
        pass

    def fit(self, xyz: object) -> _Clustering:
        self.fitted.append(len(xyz))  # type: ignore[arg-type]
        return self


@pytest.fixture(autouse=True)
def _no_scikit_learn_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    _Clustering.fitted = []
    monkeypatch.setitem(sys.modules, "sklearn", SimpleNamespace())
    monkeypatch.setitem(sys.modules, "sklearn.cluster", SimpleNamespace(DBSCAN=_Clustering))


def _observations() -> list[Observation]:
    records = [
        native(id=f"o{i}", time=f"2023-04-02T03:{i % 60:02d}:00Z", location={"lat": 48.1 + 0.01 * (i % 7), "lon": 37.7, "cep_m": 50})
        for i in range(40)
    ]
    observations, errors = validate_batch(records, validation_context())
    assert not errors
    return observations


def test_rounds_alternate_and_each_round_is_shown(capsys: pytest.CaptureFixture[str]) -> None:
    _bench().bench_speed(_observations(), 1000, 3)
    out = capsys.readouterr().out
    assert out.count("median of 3 rounds") == 2  # the fuser's line and DBSCAN's
    ratio_line = next(line for line in out.splitlines() if "streaming fusion / DBSCAN batch" in line)
    rounds = re.search(r"round by round: ([0-9., ]+)\)", ratio_line)
    assert rounds is not None and len(rounds.group(1).split(", ")) == 3
    best = float(ratio_line.split()[6])
    assert best > 0
    assert _Clustering.fitted == [1000, 1000, 1000]  # the baseline ran once per round, on every point replayed


def test_the_baseline_runs_with_the_collector_paused_and_restores_it(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    bench = _bench()
    original = getattr(bench, "measure")  # noqa: B009 - a script module: its names are not known to mypy

    def spying(*args: object, **kwargs: object) -> object:
        seen.append(gc.isenabled())
        return original(*args, **kwargs)

    monkeypatch.setattr(bench, "measure", spying)
    spent, in_measure, points = bench._dbscan_seconds(_observations())
    assert seen == [False] and gc.isenabled()
    assert points == 40 and 0 <= in_measure <= spent
