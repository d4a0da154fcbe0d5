"""The fast ingest path keeps its promises: precomputed leaf hashes give the very same log, prepared rows
cross processes intact, the submitting key is stored with the row, parser workers start without the CLI."""

from __future__ import annotations

import asyncio
import pickle
import sqlite3
import sys
import types
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from truceline.ledger.log import MerkleLog, ensure_schema
from truceline.ledger.merkle import leaf_hash
from truceline.service import batch_parser
from truceline.service.procs import orphan_free_pool, start_workers
from truceline.store.prepared import PreparedObservation
from truceline.store.sqlite import SqliteStore

RECEIVED = datetime(2023, 4, 2, 4, tzinfo=UTC)


def _doc(i: int, org: str = "UA") -> dict[str, object]:
    return {
        "id": f"obs-{i}",
        "time": "2023-04-02T03:15:00Z",
        "kind": "explosion",
        "location": {"lat": 48.1 + i / 1000, "lon": 37.7, "cep_m": 150},
        "source": {"id": "ua-acoustic-17", "type": "acoustic", "org": org},
        "reliability": "B",
        "credibility": 2,
    }


def _prepared(n: int) -> list[PreparedObservation]:
    parsed = batch_parser.parse_batch(orjson.dumps([_doc(i) for i in range(n)]), RECEIVED, 300.0, 10_000)
    assert parsed.status == 0, parsed.payload
    return parsed.items


def _log_state(conn: sqlite3.Connection) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    return (
        conn.execute("SELECT * FROM ledger_leaves ORDER BY first").fetchall(),
        conn.execute("SELECT * FROM ledger_nodes ORDER BY level, first").fetchall(),
    )


@pytest.mark.parametrize("batches", [[1], [3, 5], [256, 1, 300], [1000, 24]])
def test_precomputed_leaf_hashes_store_the_same_log(batches: list[int]) -> None:
    plain, given, log = sqlite3.connect(":memory:"), sqlite3.connect(":memory:"), MerkleLog()
    ensure_schema(plain)
    ensure_schema(given)
    done = 0
    for size in batches:
        datas = [f"leaf {i}".encode() * (1 + i % 5) for i in range(done, done + size)]
        assert log.append_many(plain, datas) == done
        assert log.append_many(given, datas, [leaf_hash(d) for d in datas]) == done
        done += size
    assert _log_state(plain) == _log_state(given)
    assert log.root(plain) == log.root(given)
    assert log.inclusion_proof(given, done // 2) == log.inclusion_proof(plain, done // 2)


def test_leaf_hashes_of_the_wrong_count_or_size_change_nothing() -> None:
    conn, log = sqlite3.connect(":memory:"), MerkleLog()
    ensure_schema(conn)
    datas = [b"a", b"b"]
    with pytest.raises(ValueError, match="one 32-byte hash per leaf"):
        log.append_many(conn, datas, [leaf_hash(b"a")])
    with pytest.raises(ValueError, match="one 32-byte hash per leaf"):
        log.append_many(conn, datas, [leaf_hash(b"a"), b"short"])
    assert log.size(conn) == 0


def test_prepared_observations_pickle_as_themselves_with_their_leaf_hash() -> None:
    items = _prepared(3)
    back = pickle.loads(pickle.dumps(items, protocol=4))
    assert back == items
    assert all(type(item) is PreparedObservation for item in back)
    assert all(item.leaf_hash == leaf_hash(item.leaf) for item in back)
    assert len({item.salt for item in back}) == 3  # one batch draw, still one fresh salt per observation


def test_store_writes_the_submitting_key_with_the_row_and_the_same_ledger(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    try:
        items = _prepared(5)
        result = store.add_prepared(items, posted_by="key-1")
        assert result.stored == [item.id for item in items]
        conn = store.reader()
        rows = conn.execute("SELECT posted_by, ledger_index FROM observations ORDER BY seq").fetchall()
        assert rows == [("key-1", i) for i in range(5)]
        log = MerkleLog()
        assert [log.leaf_hash(conn, i) for i in range(5)] == [leaf_hash(item.leaf) for item in items]
        assert store.add_prepared(_prepared(5), posted_by="key-2").duplicates == result.stored
        assert conn.execute("SELECT count(*) FROM observations WHERE posted_by = 'key-2'").fetchone()[0] == 0
    finally:
        store.close()


def _modules_loaded() -> tuple[bool, bool]:
    return "truceline.cli_export" in sys.modules, "truceline.store.prepared" in sys.modules  # the CLI's own imports


def test_parser_workers_start_warm_without_rerunning_the_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    import truceline.cli

    # As under `python -m truceline.cli serve`: multiprocessing would have each spawned child re-run it.
    main = types.ModuleType("__main__")
    main.__spec__ = truceline.cli.__spec__
    monkeypatch.setitem(sys.modules, "__main__", main)

    async def run() -> tuple[bool, bool]:
        pool = await batch_parser.start_pool(1)
        try:
            assert sys.modules["__main__"] is main  # hidden only while the workers were spawned
            return await asyncio.wrap_future(pool.submit(_modules_loaded))
        finally:
            pool.shutdown()

    cli_loaded, parser_loaded = asyncio.run(run())
    assert parser_loaded and not cli_loaded


def test_start_workers_starts_every_worker_now() -> None:
    pool = orphan_free_pool(2)
    try:
        futures = start_workers(pool, 2, batch_parser.warm_up)
        assert [f.result(timeout=120) for f in futures] == [1, 1]
        assert len(pool._processes) == 2  # spawned in submit, not on a later request
    finally:
        pool.shutdown()


def _same_rows(a: list[PreparedObservation], b: list[PreparedObservation]) -> None:
    """The same rows, documents and labels (salts, commitments and leaves are random per call)."""
    assert [(p.id, p.owner_org, p.labels, p.columns, p.doc_sha256) for p in a] == [(p.id, p.owner_org, p.labels, p.columns, p.doc_sha256) for p in b]


def test_a_plainly_valid_body_is_parsed_once_by_the_compiled_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    """A valid batch never reaches orjson's per-record path; the rows are those of that path."""
    body = orjson.dumps([_doc(i) for i in range(5)] + [{**_doc(9), "location": {"lat": 48, "lon": 37.5}, "time_uncertainty_s": 3}])
    ordinary = batch_parser._parsed(orjson.loads(body), RECEIVED, 300.0, 100)  # the same records as dicts
    monkeypatch.setattr(batch_parser.orjson, "loads", lambda _: pytest.fail("a valid body was parsed twice"))
    compiled = batch_parser.parse_batch(body, RECEIVED, 300.0, 100)
    assert compiled.status == 0 and ordinary.status == 0
    _same_rows(compiled.items, ordinary.items)


def test_refusals_of_the_compiled_path_are_the_ordinary_ones() -> None:
    """A record in the future, too many items, an empty batch: the same status and payload either way."""
    future = {**_doc(1), "time": "2023-04-02T04:06:00Z"}
    for body, max_items in (([_doc(0), future], 10), ([_doc(0), _doc(1)], 1), ([], 10), (future, 10)):
        data = orjson.dumps(body)
        compiled = batch_parser.parse_batch(data, RECEIVED, 300.0, max_items)
        ordinary = batch_parser._parsed(orjson.loads(data), RECEIVED, 300.0, max_items)
        assert compiled.status in (413, 422) and (compiled.status, compiled.payload) == (ordinary.status, ordinary.payload)
