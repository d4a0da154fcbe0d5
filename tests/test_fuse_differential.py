"""The speed work on fusion (issue 19) changed how the fuser computes, not what it decides.

Each case streams a simulated scenario through the fuser in small batches and fingerprints every update it
publishes: action, incident id, merge target, members in order, and the figures (7 significant digits, so a
last-bit difference in a projection library does not count, a different decision does). The expected
fingerprints are those of the fuser before the speed work (commit 0d5f6da; two re-pinned since, see
EXPECTED), run on the same scenarios; the cases cover moves between incidents, merges, bearings paired and
waiting, and re-association after sensors' clock offsets were learned.

The two preset scenarios are fused from records kept in ``tests/vectors/fuse_differential`` rather than
simulated afresh: the simulator rounds figures that numpy's BLAS computed, and its records differ in the last
digit between CPUs (see ``make_inputs.py`` there), while the fuser gives the same updates on every CPU.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest

from truceline.domain.observation import Observation
from truceline.fuse import Fuser, FuserStats, IncidentUpdate
from truceline.fuse.native import ENGINE_ENV
from truceline.ingest.validation import validate_batch, validation_context
from truceline.sim.senders import NATIONS_PRESETS, as_posted, nations_scenario


def _validated(records: list[dict]) -> list[Observation]:
    observations, errors = validate_batch(records, validation_context())
    assert not errors
    return observations


PRESET_RECORDS = Path(__file__).parent / "vectors" / "fuse_differential" / "preset_records.json.gz"


@cache
def _preset_records() -> dict[str, list[dict]]:
    with gzip.open(PRESET_RECORDS, "rt", encoding="utf-8") as f:
        return json.load(f)


def _preset(name: str) -> list[Observation]:
    return _validated(_preset_records()[name])


def _nations(posted: bool, full: bool = False) -> list[Observation]:
    spec = NATIONS_PRESETS["nations-salvos"] if full else replace(NATIONS_PRESETS["nations-salvos"], events=40, hours=12.0)
    records, _ = nations_scenario(spec, honest=True)
    return _validated(as_posted(records) if posted else records)


def _g(x: float) -> str:
    return f"{x:.7g}"


def _line(u: IncidentUpdate) -> str:
    s = u.snapshot
    head = f"{u.action.value} {u.incident_id} {u.merged_into}"
    if s is None:
        return head
    cov = " ".join(_g(v) for row in s.cov_m2 for v in row)
    origin = "" if s.origin is None else f"{_g(s.origin[0])},{_g(s.origin[1])}"
    return (
        f"{head} {_g(s.time_s)} {_g(s.time_sd_s)} {s.kind.value} {_g(s.lat)} {_g(s.lon)} {_g(s.sigma_m)} {cov} {origin} "
        f"{','.join(s.observation_ids)} {','.join(s.source_groups)} {_g(s.corroboration)} {s.status.value} {s.version} "
        f"{sorted(s.attributes.items())}"
    )


def fingerprint(observations: list[Observation], batch: int) -> tuple[str, int, FuserStats]:
    """SHA-256 (16 hex) of every update's line, the number of updates, and the fuser's counters."""
    fuser = Fuser()
    digest = hashlib.sha256()
    count = 0
    for i in range(0, len(observations) + 1, batch):
        updates = fuser.add(observations[i : i + batch]) if i < len(observations) else fuser.flush()
        for u in updates:
            digest.update(_line(u).encode())
            digest.update(b"\n")
            count += 1
    return digest.hexdigest()[:16], count, fuser.stats


CASES = {
    "sparse-day": (lambda: _preset("sparse-day"), 20),
    "salvo-sector": (lambda: _preset("salvo-sector"), 50),
    "nations-salvos": (lambda: _nations(posted=False), 25),
    "nations-salvos-posted": (lambda: _nations(posted=True), 25),
    "nations-salvos-full": (lambda: _nations(posted=False, full=True), 40),  # a merge
}
#: (fingerprint, updates, moves, merges, re-associations) of the fuser before the speed work; salvo-sector and
#: sparse-day re-pinned when each ``add`` call began to associate in canonical order instead of arrival order
#: (docs/fusion.md, "Arrival order": a decision change by design; the nations streams arrive in that order).
EXPECTED: dict[str, tuple[str, int, int, int, int]] = {
    "nations-salvos": ("1f0a57d801041b49", 505, 332, 0, 6),
    "nations-salvos-full": ("76364f9c2daf88b5", 660, 311, 1, 5),
    "nations-salvos-posted": ("f96bf1e57204e86f", 444, 338, 0, 7),
    "salvo-sector": ("175dcb39cd10d443", 579, 15, 0, 0),  # before: c67c295050b6c496, 8 moves
    "sparse-day": ("10134b298f9fc99a", 211, 1, 0, 0),  # before: 053ebb52dd9896de
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_updates_are_those_of_the_fuser_before_the_speed_work(name: str) -> None:
    make, batch = CASES[name]
    digest, count, stats = fingerprint(make(), batch)
    assert (digest, count, stats.moves, stats.merges, stats.reassociations) == EXPECTED[name]


def test_the_interpreted_sources_decide_as_the_compiled_core() -> None:
    """The same cases from the sources in a fresh interpreter, whatever this process runs: where the core runs
    compiled (an install with a compiler), the test above checks the compiled code and this one the sources,
    so CI checks both engines."""
    root = Path(__file__).resolve().parent.parent
    script = (
        "import json, tests.test_fuse_differential as t\n"
        "out = {}\n"
        "for name, (make, batch) in sorted(t.CASES.items()):\n"
        "    digest, count, stats = t.fingerprint(make(), batch)\n"
        "    out[name] = [digest, count, stats.moves, stats.merges, stats.reassociations]\n"
        "import truceline.fuse.native as n\n"
        "print(json.dumps({'compiled': n.compiled(), 'cases': out}))\n"
    )
    env = {**os.environ, ENGINE_ENV: "interpreted"}
    done = subprocess.run([sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["compiled"] == []
    assert {name: tuple(v) for name, v in result["cases"].items()} == EXPECTED
