"""What only the PostgreSQL store has: concurrent first starts, the sequencer's fence, lost connections,
time partitions, COPY, concurrent writers of the same identities, per-sector fusion writes.

Each test gets its own fresh PostGIS database (``pg_dsn``, tests/services.py), dropped afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from tests.conftest import native
from tests.services import free_port, terminate_connections

from truceline.cli_ledger_audit import audit_store
from truceline.domain.incident import Incident
from truceline.domain.observation import Observation
from truceline.ingest.validation import validate_all_or_nothing, validation_context
from truceline.ledger.checkpoint import generate_key, load_key
from truceline.store.open import open_store_url
from truceline.store.ports import BBox, IncidentQuery, StoreUnavailable
from truceline.store.postgres import LeaseLost, PostgresStore, open_postgres
from truceline.store.postgres_conn import SQLITE_REWRITES
from truceline.store.postgres_schema import MIGRATIONS
from truceline.store.sqlite import StoreError


def obs(**overrides: Any) -> Observation:
    good, errors = validate_all_or_nothing([native(**overrides)], validation_context())
    assert not errors, errors
    return good[0]


@pytest.fixture
def pg(pg_dsn: str, tmp_path: Path) -> Iterator[PostgresStore]:
    store = open_postgres(pg_dsn, tmp_path / "data")
    try:
        yield store
    finally:
        store.close()


def _sql(dsn: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else []


def test_four_processes_starting_at_once_on_an_empty_database_migrate_it_once(pg_dsn: str, tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from truceline.store.postgres import open_postgres;"
        "s = open_postgres(sys.argv[1], Path(sys.argv[2])); print(s.schema_version()); s.close()"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path("src").resolve()), os.environ.get("PYTHONPATH")]))}
    procs = [
        subprocess.Popen([sys.executable, "-c", code, pg_dsn, str(tmp_path / f"d{i}")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        for i in range(4)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [err.decode()[-2000:] for _, err in outs]
    newest = MIGRATIONS[-1][0]
    assert {out.strip() for out, _ in outs} == {str(newest).encode()}
    applied = _sql(pg_dsn, "SELECT version, count(*) FROM schema_migrations GROUP BY version ORDER BY 1")
    assert applied == [(v, 1) for v in range(1, newest + 1)]


def test_a_newer_schema_is_refused(pg: PostgresStore, pg_dsn: str, tmp_path: Path) -> None:
    _sql(pg_dsn, "INSERT INTO schema_migrations VALUES (99, 'from the future', 0)")
    with pytest.raises(StoreError, match="schema version 99"):
        open_postgres(pg_dsn, tmp_path / "other")


def test_an_unknown_store_url_is_refused_with_what_is_accepted(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="postgresql://"):
        open_store_url(tmp_path, "mysql://x@y/z")


def test_an_unreachable_server_is_store_unavailable(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="PostgreSQL unavailable"):
        open_postgres(f"postgresql://postgres@127.0.0.1:{free_port()}/none", tmp_path, timeout_s=2.0)


def test_terminated_connections_give_store_unavailable_and_the_pool_recovers(pg: PostgresStore, pg_dsn: str) -> None:
    pg.add_observations([obs(id="before")])
    with pytest.raises(StoreUnavailable), pg.transaction() as conn:
        conn.execute("SELECT 1")
        assert terminate_connections(pg_dsn) >= 1
        conn.execute("SELECT 1")
    # a write cut off mid-transaction changes nothing ...
    with pytest.raises(StoreUnavailable), pg.pg_transaction() as pconn:
        pconn.execute("SELECT 1")
        terminate_connections(pg_dsn)
        pconn.execute("INSERT INTO fusion_state VALUES ('x', 1)")
    assert pg.fusion_cursor("x") == 0
    terminate_connections(pg_dsn)  # ... and every idle pooled connection is cut too
    assert pg.count_observations() == 1  # the pool checks a connection before lending it
    assert pg.add_observations([obs(id="after")]).stored == ["after"]
    assert pg.count_observations() == 2


def test_partitions_are_created_per_month_on_demand(pg: PostgresStore, pg_dsn: str) -> None:
    assert pg.partitions() == ["observations_default"]
    pg.add_observations([obs(id="apr", time="2023-04-02T03:15:00Z"), obs(id="jan", time="2024-01-31T23:59:59Z")])
    assert pg.partitions() == ["observations_default", "observations_y2023m04", "observations_y2024m01"]
    placed = dict(_sql(pg_dsn, "SELECT id, tableoid::regclass::text FROM observations"))
    assert placed == {"apr": "observations_y2023m04", "jan": "observations_y2024m01"}


def test_batches_are_written_with_copy(pg: PostgresStore, monkeypatch: pytest.MonkeyPatch) -> None:
    statements: list[str] = []
    original = psycopg.Cursor.copy

    def spy(self: psycopg.Cursor[Any], statement: Any, *args: Any, **kwargs: Any) -> Any:
        statements.append(str(statement))
        return original(self, statement, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "copy", spy)
    pg.add_observations([obs(id=f"c{i}") for i in range(3)])
    assert [s.split(" (")[0] for s in statements] == ["COPY observations", "COPY observation_labels", "COPY ledger_queue"]
    assert pg.count_observations() == 3 and pg.pending_leaves() == 3


def test_a_batch_failing_midway_stores_nothing_not_even_identities(pg: PostgresStore, pg_dsn: str) -> None:
    _sql(
        pg_dsn,
        "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.label = 'BOOM' THEN"
        " RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$;"
        " CREATE TRIGGER boom BEFORE INSERT ON observation_labels FOR EACH ROW EXECUTE FUNCTION boom()",
    )
    with pytest.raises(psycopg.errors.RaiseException):
        pg.add_observations([obs(id="x1"), obs(id="x2", releasable_to=["BOOM"])])
    assert pg.count_observations() == 0 and pg.pending_leaves() == 0
    assert pg.add_observations([obs(id="x1"), obs(id="x2")]).stored == ["x1", "x2"]


def test_concurrent_writers_of_the_same_identities_store_each_once(pg: PostgresStore) -> None:
    batch = [obs(id=f"same-{i}") for i in range(200)]
    results: list[Any] = []
    errors: list[BaseException] = []

    def post(items: list[Observation]) -> None:
        try:
            results.append(pg.add_observations(items))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=post, args=(batch if k % 2 else list(reversed(batch)),)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert pg.count_observations() == 200
    assert sorted(i for r in results for i in r.stored) == sorted(o.id for o in batch)
    assert all(len(r.stored) + len(r.duplicates) == 200 and not r.conflicts for r in results)


def _lease(dsn: str, name: str, holder: str, term: int) -> None:
    _sql(
        dsn,
        "INSERT INTO cluster_leases (name, holder, term, expires_at) VALUES (%s, %s, %s, now() + interval '10 s')"
        " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, term = excluded.term, expires_at = excluded.expires_at",
        (name, holder, term),
    )


def test_the_sequencer_under_a_stale_fence_changes_nothing(pg: PostgresStore, pg_dsn: str) -> None:
    pg.add_observations([obs(id=f"s{i}") for i in range(4)])
    _lease(pg_dsn, "sequencer", "worker-b", 2)  # worker-b took over from worker-a (term 1)
    with pytest.raises(LeaseLost, match="no longer held"):
        pg.sequence_pending(100, ("sequencer", "worker-a", 1))
    assert pg.ledger_size() == 0 and pg.pending_leaves() == 4
    assert pg.get_observation("s0").ledger_index is None  # type: ignore[union-attr]
    assert pg.sequence_pending(3, ("sequencer", "worker-b", 2)) == 3
    assert pg.sequence_pending(100, ("sequencer", "worker-b", 2)) == 1
    assert pg.ledger_size() == 4 and pg.pending_leaves() == 0
    assert sorted(pg.get_observation(f"s{i}").ledger_index for i in range(4)) == [0, 1, 2, 3]  # type: ignore[union-attr]


def test_the_sequencer_signs_with_the_data_dir_key_and_publishes_it(pg: PostgresStore, pg_dsn: str, tmp_path: Path) -> None:
    pg.add_observations([obs(id="k1")])
    pg.sequence_pending(100, None)
    published = pg.ledger_verifier_key()
    assert published is not None and (tmp_path / "data" / "ledger.key").exists()
    latest = pg._log.latest_checkpoint(pg._reader())
    assert latest is not None and latest.size == 1
    with pytest.raises(StoreError, match="not the one"):
        pg.publish_ledger_key(generate_key("truceline/other"))


def _incident(iid: str, org: str, oid: str, lat: float, lon: float) -> Incident:
    return Incident(
        id=iid, time=datetime(2023, 4, 2, 3, 15, tzinfo=UTC), kind="explosion", lat=lat, lon=lon, sigma_m=100.0,
        observation_ids=(oid,), observation_orgs=(org,),
    )


def test_sector_workers_read_in_ledger_order_and_write_under_their_fence(pg: PostgresStore, pg_dsn: str) -> None:
    pg.add_observations([obs(id="w1", location={"lat": 48.5, "lon": 37.5, "cep_m": 50})])
    pg.add_observations([obs(id="e1", location={"lat": 48.5, "lon": 38.5, "cep_m": 50})])
    assert pg.observations_in_ledger_order(-1) == []  # nothing is read before the sequencer placed it
    pg.sequence_pending(100, None)
    everything = pg.observations_in_ledger_order(-1)
    assert [i for i, _ in everything] == [0, 1]
    west = pg.observations_in_ledger_order(-1, BBox(37.0, 48.0, 38.0, 49.0))
    assert [orjson.loads(doc)["id"] for _, doc in west] == ["w1"]
    assert pg.observations_in_ledger_order(0) == everything[1:]

    _lease(pg_dsn, "fusion:37_48", "worker-a", 1)
    fence = ("fusion:37_48", "worker-a", 1)
    pg.apply_incident_changes([(_incident("inc-w", "UA", "w1", 48.5, 37.5), False)], [], cursor=0, sector="37_48", fence=fence)
    pg.apply_incident_changes([(_incident("inc-e", "UA", "e1", 48.5, 38.5), False)], [], cursor=1, sector="38_48")
    assert pg.sector_cursors() == {"37_48": 0, "38_48": 1} and pg.fusion_cursor("37_48") == 0
    assert pg.member_documents(["inc-w"])["inc-w"][0]["id"] == "w1"

    _lease(pg_dsn, "fusion:37_48", "worker-b", 2)  # taken over
    with pytest.raises(LeaseLost):
        pg.apply_incident_changes([(_incident("inc-x", "UA", "w1", 48.5, 37.5), False)], ["inc-w"], cursor=5, sector="37_48", fence=fence)
    with pytest.raises(LeaseLost):
        pg.drop_open_incidents("37_48", fence=fence)
    assert pg.fusion_cursor("37_48") == 0
    assert sorted(i.id for i in pg.list_incidents(IncidentQuery())) == ["inc-e", "inc-w"]
    assert pg.drop_open_incidents("37_48", fence=("fusion:37_48", "worker-b", 2)) == 1
    assert [i.id for i in pg.list_incidents(IncidentQuery())] == ["inc-e"]


def test_a_database_behind_the_sequencer_s_witness_is_refused(pg: PostgresStore, pg_dsn: str, tmp_path: Path) -> None:
    pg.add_observations([obs(id=f"w{i}") for i in range(3)])
    pg.sequence_pending(100, None)
    assert (tmp_path / "data" / "ledger.witness").exists()
    again = open_postgres(pg_dsn, tmp_path / "data")  # in step with its witness: opens
    again.close()
    _sql(pg_dsn, "DELETE FROM ledger_checkpoints; DELETE FROM ledger_nodes; DELETE FROM ledger_leaves")  # "an old backup"
    with pytest.raises(StoreError, match="witness"):
        open_postgres(pg_dsn, tmp_path / "data")


def test_a_replica_with_another_key_serves_the_sequencer_s_checkpoint(pg: PostgresStore, tmp_path: Path) -> None:
    pg.add_observations([obs(id="r1")])
    pg.sequence_pending(100, None)  # drained: signs with the data dir's key and publishes it
    pg.add_observations([obs(id="r2"), obs(id="r3")])
    assert pg.sequence_pending(2, None) == 2  # not drained, and a checkpoint was signed < 5 s ago: none now
    assert pg.ledger_size() == 3
    served = pg.ledger_checkpoint(generate_key("truceline/elsewhere"))
    assert served.size == 1 and served.signatures[0].name != "truceline/elsewhere"
    own = load_key(tmp_path / "data")
    assert pg.ledger_checkpoint(own).size == 3


def test_writers_and_the_sequencer_at_once_give_one_gap_free_log_that_audits(pg: PostgresStore, pg_dsn: str, tmp_path: Path) -> None:
    batches = [[obs(id=f"c{w}-{b}-{i}") for i in range(50)] for w in range(3) for b in range(6)]
    stop = threading.Event()
    errors: list[BaseException] = []

    def write(mine: list[list[Observation]]) -> None:
        try:
            for batch in mine:
                pg.add_observations(batch)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def sequence() -> None:
        try:
            while not stop.is_set():
                pg.sequence_pending(70, None)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(batches[w::3],)) for w in range(3)]
    sequencer = threading.Thread(target=sequence)
    sequencer.start()
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    sequencer.join()
    assert errors == []
    while pg.sequence_pending(1000, None):
        pass
    total = 3 * 6 * 50
    assert pg.count_observations() == total == pg.ledger_size()
    indexes = sorted(r[0] for r in _sql(pg_dsn, "SELECT ledger_index FROM observations"))
    assert indexes == list(range(total))
    assert [r[0] for r in _sql(pg_dsn, "SELECT ledger_index FROM ledger_positions ORDER BY 1")] == indexes
    report = audit_store(pg.reader(), tmp_path / "data")
    assert report.ok and report.observations == total, report.first_mismatch


_WRITER = """
import sys
from pathlib import Path
from tests.conftest import native
from truceline.ingest.validation import validate_all_or_nothing, validation_context
from truceline.store.postgres import open_postgres
store = open_postgres(sys.argv[1], Path(sys.argv[2]))
for b in range(10_000):
    docs = [native(id=f"k-{b}-{i}") for i in range(100)]
    good, _ = validate_all_or_nothing(docs, validation_context())
    store.add_observations(good)
    print(b, flush=True)
"""


def test_acknowledged_batches_survive_kill_9_and_no_batch_is_partial(pg: PostgresStore, pg_dsn: str, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path("src").resolve()), str(Path(".").resolve())])}
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, pg_dsn, str(tmp_path / "w")], stdout=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    acknowledged = [int(proc.stdout.readline()) for _ in range(8)]
    proc.kill()  # SIGKILL, possibly in the middle of a batch
    proc.wait()
    acknowledged += [int(line) for line in proc.stdout.read().split()]
    per_batch = dict(_sql(pg_dsn, "SELECT split_part(id, '-', 2)::int, count(*) FROM observations GROUP BY 1"))
    assert all(per_batch.get(b) == 100 for b in acknowledged)  # every acknowledged batch, whole
    assert set(per_batch.values()) == {100}  # no batch partly stored
    assert pg.pending_leaves() == pg.count_observations()  # each with its queued leaf


def test_every_sqlite_spelling_the_adapter_rewrites_is_still_in_the_merkle_log() -> None:
    """If ledger/log.py changes a statement, the adapter's rewrite must change with it (else PostgreSQL breaks)."""
    source = (Path(__file__).resolve().parents[1] / "src" / "truceline" / "ledger" / "log.py").read_text()
    for sqlite_spelling, _ in SQLITE_REWRITES:
        assert sqlite_spelling in source, f"ledger/log.py no longer contains {sqlite_spelling!r}"


def test_a_head_left_unsigned_by_a_full_batch_is_signed_by_the_next_idle_call(pg: PostgresStore) -> None:
    pg.add_observations([obs(id="h0")])
    pg.sequence_pending(100, None)  # drained: signed at 1
    pg.add_observations([obs(id="h1"), obs(id="h2")])
    assert pg.sequence_pending(2, None) == 2  # a full batch right after a checkpoint: not signed yet
    assert pg._log.latest_checkpoint(pg._reader()).size == 1  # type: ignore[union-attr]
    assert pg.sequence_pending(2, None) == 0  # nothing left: the head gets signed now
    assert pg._log.latest_checkpoint(pg._reader()).size == 3  # type: ignore[union-attr]
