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
