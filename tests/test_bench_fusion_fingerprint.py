"""``bench fusion --only fingerprint``: the digest over every update the fuser publishes, the check that a speed
change left fusion's decisions alone (docs/performance.md, "Streaming fusion")."""

from __future__ import annotations

from functools import cache
from types import ModuleType

import pytest
from tests.conftest import native
from tests.script_modules import REPO, load_script

from truceline.domain.observation import Observation
from truceline.ingest.validation import validate_batch, validation_context


@cache
def _bench() -> ModuleType:
    return load_script(REPO / "bench" / "fusion.py", "bench_fusion_fingerprint")


def _observations(east_of_second: float) -> list[Observation]:
    records = [
        native(id="a", time="2023-04-02T03:15:00Z", location={"lat": 48.1, "lon": 37.7, "cep_m": 50}),
        native(
            id="b",
            time="2023-04-02T03:15:20Z",
            location={"lat": 48.1, "lon": 37.7 + east_of_second, "cep_m": 50},
            source={"id": "ua-acoustic-18", "type": "acoustic", "org": "UA"},  # another sensor: it may join "a"
        ),
        native(id="c", time="2023-04-02T09:00:00Z", location={"lat": 48.3, "lon": 37.9, "cep_m": 50}),
    ]
    observations, errors = validate_batch(records, validation_context())
    assert not errors
    return observations


def test_the_same_stream_gives_the_same_fingerprint(capsys: pytest.CaptureFixture[str]) -> None:
    first = _bench().bench_fingerprint(_observations(0.0001), 300)
    assert first == _bench().bench_fingerprint(_observations(0.0001), 300)
    assert len(first) == 16 and int(first, 16) >= 0
    assert f"fingerprint  {first}" in capsys.readouterr().out


def test_other_updates_change_the_fingerprint() -> None:
    together = _bench().bench_fingerprint(_observations(0.0001), 300)  # 7 m apart: one incident of a and b
    apart = _bench().bench_fingerprint(_observations(0.05), 300)  # 3.7 km apart: two incidents
    assert together != apart
