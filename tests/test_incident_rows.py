"""Incident rows written from the fuser's snapshots are the rows of the incidents built from them.

The fusion runner hands the store :class:`Snapshot`\\ s, not pydantic ``Incident``\\ s
(store/incident_rows.py); the stored document must be byte for byte ``Incident.model_dump_json()`` and the
row and members the same, or every reader of the incidents table would see something else.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from truceline.domain.identity import split_ref
from truceline.domain.incident import Incident, IncidentStatus
from truceline.domain.observation import ObservationKind
from truceline.fuse import Fuser
from truceline.fuse.snapshot import Snapshot
from truceline.ingest.validation import validate_batch, validation_context
from truceline.service.fusion import FusionWorker, incident_feature, snapshot_feature
from truceline.sim import load_scenario, observation_records, simulate
from truceline.store.grid import grid_cell
from truceline.store.incident_rows import incident_refs, incident_row, incident_rows, snapshot_json
from truceline.store.sqlite import SqliteStore
from truceline.store.timecodes import _us


def _fused(scenario: str) -> tuple[list[Snapshot], list[object]]:
    observations, errors = validate_batch(observation_records(simulate(load_scenario(scenario))), validation_context())
    assert not errors
    fuser = Fuser()
    updates = fuser.add(observations) + fuser.flush()
    return [u.snapshot for u in updates if u.snapshot is not None], list(observations)


def _same_row(snapshot: Snapshot) -> None:
    incident = snapshot.to_incident()
    assert snapshot_json(snapshot) == incident.model_dump_json()
    # The feature fusion announces to /stream readers: the same JSON as the incident's, and a dict of its own.
    feature = snapshot_feature(snapshot)
    assert orjson.dumps(feature) == orjson.dumps(incident_feature(incident))
    assert feature["properties"]["attributes"] == snapshot.attributes
    assert feature["properties"]["attributes"] is not snapshot.attributes
    assert incident_row(snapshot, True, 5) == incident_row(incident, True, 5)
    assert incident_refs(snapshot) == incident.observation_refs()
    # The stores' one pass over a batch (each snapshot's references split once) gives the same rows and members.
    rows, members = incident_rows([(snapshot, True), (incident, False)], 5)
    assert rows == [incident_row(incident, True, 5), incident_row(incident, False, 5)]
    assert members == [(incident.id, org, oid) for org, oid in incident.observation_refs()] * 2


@pytest.mark.parametrize("scenario", ["sparse-day", "salvo-sector"])
def test_rows_from_fused_snapshots_are_the_incidents_rows(scenario: str) -> None:
    snapshots, _ = _fused(scenario)
    assert snapshots
    for snapshot in snapshots:
        _same_row(snapshot)
    if scenario == "salvo-sector":
        assert any(s.origin is not None for s in snapshots), "launch origins must be covered"


_FLOATS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.sampled_from([0.0, -0.0, 1.0, 1e-7, 5e-324, 1e15, 1e16, 1e22, 1.5e300, 0.1, 123456789.123, 12345678901234567.0]),
)
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    time_s=st.one_of(st.floats(-2e9, 4e9), st.sampled_from([0.0, 0.5, 1.000001, 1767225600.25, -0.000001])),
    figures=st.tuples(_FLOATS, _FLOATS, _FLOATS, _FLOATS, _FLOATS),
    lat=st.floats(-90, 90),
    lon=st.floats(-180, 180),
    origin=st.none() | st.tuples(st.floats(-90, 90), st.floats(-180, 180), _FLOATS),
    refs=st.lists(st.sampled_from(["UA/a-1", "plain", "RU/ü/x", "x/", "/y", "OSCE/obs 9"]), min_size=1, max_size=4),
    groups=st.lists(_TEXT, max_size=3),
    attributes=st.dictionaries(_TEXT, _TEXT, max_size=3),
    kind=st.sampled_from(list(ObservationKind)),
    status=st.sampled_from(list(IncidentStatus)),
    version=st.integers(0, 2**40),
)
def test_rows_match_on_edge_values(
    time_s: float, figures: tuple[float, ...], lat: float, lon: float, origin: tuple[float, float, float] | None,
    refs: list[str], groups: list[str], attributes: dict[str, str], kind: ObservationKind, status: IncidentStatus,
    version: int,
) -> None:  # fmt: skip
    sd, sigma, corroboration, cxx, cxy = figures
    snapshot = Snapshot(
        id="inc-\u00e9\"\\\n", time_s=time_s, time_sd_s=sd, kind=kind, lat=lat, lon=lon, sigma_m=sigma, cov_m2=((cxx, cxy), (cxy, sd)),
        origin=None if origin is None else (origin[0], origin[1], ((origin[2], 0.0), (0.0, origin[2]))),
        observation_ids=tuple(refs), source_groups=tuple(groups), corroboration=corroboration, status=status,
        version=version, attributes=attributes,
    )  # fmt: skip
    _same_row(snapshot)


def test_the_store_writes_the_same_rows_and_members_from_snapshots(tmp_path: Path) -> None:
    fused, observations = _fused("salvo-sector")
    snapshots = list({s.id: s for s in fused}.values())  # the last state of each, as one batch of the runner
    tables = []
    for name, items in (("snap", snapshots), ("model", [s.to_incident() for s in snapshots])):
        store = SqliteStore(tmp_path / f"{name}.db")
        store.add_observations(observations)  # type: ignore[arg-type]
        store.apply_incident_changes([(item, i % 2 == 0) for i, item in enumerate(items)], [], cursor=7)
        reader = store.reader()
        tables.append(
            (
                reader.execute("SELECT id, t_us, kind, status, lat, lon, cell, finalised, doc FROM incidents ORDER BY id").fetchall(),
                reader.execute("SELECT incident_id, obs_seq FROM incident_members ORDER BY 1, 2").fetchall(),
                store.fusion_cursor(),
            )
        )
        store.close()
    assert tables[0] == tables[1]
    assert len(tables[0][0]) == len(snapshots) and tables[0][1]


def test_the_rows_are_built_before_the_write_transaction_begins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fusion's transaction holds off every other writer (the server's ingest): the rows and their JSON are
    built before it begins, so it only writes."""
    import truceline.store.incident_rows as rows_module

    fused, observations = _fused("salvo-sector")
    snapshots = list({s.id: s for s in fused}.values())
    store = SqliteStore(tmp_path / "t.db")
    store.add_observations(observations)  # type: ignore[arg-type]
    seen: list[bool] = []

    def watched(*args: object, **kwargs: object) -> object:
        seen.append(store._writer.in_transaction or store._write_lock.locked())
        return incident_rows(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(rows_module, "incident_rows", watched)
    store.apply_incident_changes([(s, False) for s in snapshots], [], cursor=3)
    assert seen == [False]
    assert store.reader().execute("SELECT count(*) FROM incidents").fetchone()[0] == len(snapshots)
    store.close()


def test_the_runner_stores_snapshots_without_building_incidents_when_no_one_listens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, observations = _fused("sparse-day")
    expected = Fuser()
    want = {}
    for update in expected.add(observations):  # type: ignore[arg-type]
        if update.incident is not None:
            want[update.incident_id] = update.incident
        else:
            want.pop(update.incident_id, None)
    store = SqliteStore(tmp_path / "t.db")
    store.add_observations(observations)  # type: ignore[arg-type]

    def refuse(self: Snapshot) -> Incident:
        raise AssertionError("an Incident was built to be stored")

    monkeypatch.setattr(Snapshot, "to_incident", refuse)
    worker = FusionWorker(store)
    assert worker.run_until_idle() == len(observations)
    docs = dict(store.reader().execute("SELECT id, doc FROM incidents").fetchall())
    monkeypatch.undo()
    assert docs.keys() == want.keys()
    for incident_id, doc in docs.items():
        assert doc == want[incident_id].model_dump_json()
        assert Incident.model_validate_json(doc) == want[incident_id]
    assert orjson.loads(next(iter(docs.values())))["observation_orgs"]
    store.close()


@pytest.mark.parametrize("ref", ["UA/a-1", "UA/a/b", "OSCE/obs 9", "plain", "x/", "/y", "U/1", "ua/1", "UA\n/1", "UA-_9/1", "A" * 33 + "/1"])
def test_split_ref_remembers_only_what_the_pattern_matched(ref: str) -> None:
    """split_ref remembers organisation codes it has matched; asked twice (the second from memory) it
    gives what the pattern alone gives."""
    org, sep, rest = ref.partition("/")
    want = (org, rest) if sep and rest and re.match(r"^[A-Z][A-Z0-9_-]{1,31}$", org) else (None, ref)
    assert split_ref(ref) == want
    assert split_ref(ref) == want


@pytest.mark.parametrize(
    ("time_s", "lat", "lon"),
    [
        (0.0, -90.0, -180.0), (-0.0000005, 90.0, 180.0), (0.0000005, -0.0, -0.0), (0.0000015, 89.99999999, 179.99999999),
        (1767225599.9999995, 0.05, 0.1), (1767225599.9999996, -89.95, 37.0), (-1.9999995, 48.5, -0.05), (1e-7, 45.0, 90.0),
        (4102444799.9999995, 89.975, 179.975), (-2208988800.0000005, -89.975, -179.975), (12.5, 91.0, 181.0),
    ],
)  # fmt: skip
def test_inlined_time_cell_and_split_are_the_functions(time_s: float, lat: float, lon: float) -> None:
    """incident_rows writes fromtimestamp/_us, grid_cell and split_ref out for snapshots: on the rounding edges
    (half a microsecond, a second's carry) and the grid's closed last row and column, they agree; an
    organisation seen for the first time takes split_ref's path and is known the second time."""
    refs = ("ZZQ/first-" + str(time_s), "ZZQ/again", "plain", "x/", "UA/a/b")
    snapshot = Snapshot(
        id="inc-edge", time_s=time_s, time_sd_s=1.0, kind=ObservationKind.LAUNCH, lat=lat, lon=lon, sigma_m=5.0,
        cov_m2=((1.0, 0.0), (0.0, 1.0)), origin=None, observation_ids=refs, source_groups=("UA/acoustic",),
        corroboration=0.5, status=IncidentStatus.DETECTED, version=3, attributes={},
    )  # fmt: skip
    rows, members = incident_rows([(snapshot, False)], 7)
    time = datetime.fromtimestamp(time_s, UTC)
    assert rows[0][1] == _us(time) and rows[0][6] == grid_cell(lat, lon)
    assert members == [("inc-edge", *split_ref(ref)) for ref in refs]
    _same_row(snapshot)


@settings(max_examples=500, deadline=None)
@given(time_s=st.floats(-2e9, 4e9) | st.integers(-2_000_000_000_000_000, 4_000_000_000_000_000).map(lambda us: us / 1e6 + 5e-7))
def test_row_times_are_fromtimestamp_in_microseconds(time_s: float) -> None:
    """The row's t_us is the document's time in whole microseconds, rounded as fromtimestamp rounds."""
    snapshot = Snapshot(
        id="t", time_s=time_s, time_sd_s=0.0, kind=ObservationKind.LAUNCH, lat=1.0, lon=2.0, sigma_m=1.0,
        cov_m2=((1.0, 0.0), (0.0, 1.0)), origin=None, observation_ids=("UA/x",), source_groups=(), corroboration=0.0,
        status=IncidentStatus.DETECTED, version=1, attributes={},
    )  # fmt: skip
    row = incident_rows([(snapshot, True)], 0)[0][0]
    time = datetime.fromtimestamp(time_s, UTC)
    assert row[1] == _us(time)
    assert orjson.loads(row[9])["time"] == time.isoformat(timespec="microseconds" if time.microsecond else "seconds").replace("+00:00", "Z")
