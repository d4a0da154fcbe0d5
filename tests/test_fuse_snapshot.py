"""Snapshot.to_incident builds the Incident model_construct built, field for field (it skips the per-field loop)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tests.test_observation_fast import same_model

from truceline.domain.identity import local_id, split_ref
from truceline.domain.incident import Incident, Origin
from truceline.fuse import Fuser
from truceline.fuse.snapshot import Snapshot
from truceline.ingest.validation import validate_batch, validation_context
from truceline.sim import load_scenario, observation_records, simulate


def _constructed(s: Snapshot) -> Incident:
    """to_incident as it was (model_construct)."""
    origin = None if s.origin is None else Origin.model_construct(lat=s.origin[0], lon=s.origin[1], cov_m2=s.origin[2])
    return Incident.model_construct(
        id=s.id, time=datetime.fromtimestamp(s.time_s, UTC), time_uncertainty_s=s.time_sd_s, kind=s.kind, lat=s.lat, lon=s.lon,
        sigma_m=s.sigma_m, origin=origin, observation_ids=tuple(local_id(r) for r in s.observation_ids),
        observation_orgs=tuple(split_ref(r)[0] or "" for r in s.observation_ids), independent_sources=len(s.source_groups),
        corroboration=s.corroboration, status=s.status, attributes=dict(s.attributes), cov_m2=s.cov_m2,
        source_groups=s.source_groups, version=s.version,
    )  # fmt: skip


def test_models_have_nothing_model_construct_would_run() -> None:
    for model in (Incident, Origin):
        assert not model.__private_attributes__ and not model.__pydantic_post_init__


@pytest.mark.parametrize("scenario", ["sparse-day", "salvo-sector"])
def test_incidents_from_snapshots_equal_model_construct(scenario: str) -> None:
    observations, errors = validate_batch(observation_records(simulate(load_scenario(scenario))), validation_context())
    assert not errors
    fuser = Fuser()
    snapshots = [u.snapshot for u in fuser.add(observations) + fuser.flush() if u.snapshot is not None]
    assert snapshots
    for s in snapshots:
        got, want = s.to_incident(), _constructed(s)
        same_model(got, want)
        assert got.model_dump_json() == want.model_dump_json() and got == want
    if scenario == "salvo-sector":
        assert any(s.origin is not None for s in snapshots), "launch origins must be covered"


_IMMUTABLE_CHECK = """
from truceline.fuse import native
from truceline.fuse.snapshot import Snapshot
from truceline.domain.incident import IncidentStatus
from truceline.domain.observation import ObservationKind
s = Snapshot("i", 1.0, 2.0, ObservationKind.EXPLOSION, 48.0, 37.0, 50.0, ((1.0, 0.0), (0.0, 1.0)), None, ("UA/a",), ("UA",),
             0.5, IncidentStatus.DETECTED, 1, {})
refused = []
for name, value in (("lat", 0.0), ("version", 2), ("extra", 1)):
    try:
        setattr(s, name, value)
    except AttributeError:
        refused.append(name)
try:
    del s.lat
except AttributeError:
    refused.append("del")
print(not native.interpreted_because and bool(native.compiled()), refused, s.lat, s.version)
"""


@pytest.mark.parametrize("engine", ["this process's", "interpreted"])
def test_snapshot_fields_are_read_only_in_either_engine(engine: str) -> None:
    """The frozen dataclass refused assignments and deletions at run time; the plain class (compiled natively for
    speed) refuses them compiled and interpreted alike, and builds every field once."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = dict(os.environ)
    if engine == "interpreted":
        env["TRUCELINE_FUSION_ENGINE"] = "interpreted"
    done = subprocess.run([sys.executable, "-c", _IMMUTABLE_CHECK], env=env, capture_output=True, text=True, timeout=120, check=False,
                          cwd=Path(__file__).resolve().parents[1])  # fmt: skip
    assert done.returncode == 0, done.stderr
    compiled, _, rest = done.stdout.strip().partition(" ")
    assert rest == "['lat', 'version', 'extra', 'del'] 48.0 1", done.stdout
    if engine == "interpreted":
        assert compiled == "False", done.stdout


def test_unchanged_incidents_are_reissued_with_the_figures_a_fresh_summary_gives() -> None:
    """``summarise`` copies the last snapshot of an incident whose members have not changed (only the version
    moves); every copy must equal what computing it again gives, and a change of members must clear it."""
    from truceline.fuse.snapshot import summarise

    observations, errors = validate_batch(observation_records(simulate(load_scenario("salvo-sector"))), validation_context())
    assert not errors
    fuser = Fuser()
    reissued = 0
    for i in range(0, len(observations), 50):
        fuser.add(observations[i : i + 50])
        states = list(fuser._live.values())
        kept = [s.summary for s in states]
        assert all(isinstance(k, Snapshot) for k in kept), "every live incident was published, so summarised"
        for s in states:
            s.version += 1
        again = summarise(states, fuser._frame, fuser._epoch, fuser.config.corroboration_threshold)  # type: ignore[arg-type]
        reissued += len(states)
        for s in states:
            s.summary = None
        fresh = summarise(states, fuser._frame, fuser._epoch, fuser.config.corroboration_threshold)  # type: ignore[arg-type]
        for a, f, prev in zip(again, fresh, kept, strict=True):
            assert repr(a) == repr(f) and a == f
            assert a.version == prev.version + 1 and a.attributes is not prev.attributes  # type: ignore[attr-defined]
    assert reissued > 100
    state = next(iter(fuser._live.values()))
    member = next(iter(state.members.values()))
    state.remove(member)
    assert state.summary is None
    state.add(member)
    assert state.summary is None
