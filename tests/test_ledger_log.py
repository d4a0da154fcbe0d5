"""MerkleLog in SQLite: agreement with the RFC model, persistence, the caller's transaction, stored nodes."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from test_ledger_model import ref_mth, ref_path, ref_subproof
from truceline.ledger.checkpoint import Checkpoint, CheckpointError, generate_key
from truceline.ledger.log import LEDGER_SCHEMA_SQL, LogError, MerkleLog, ensure_schema
from truceline.ledger.merkle import EMPTY_ROOT, leaf_hash, verify_consistency, verify_inclusion

ORIGIN = "truceline.example/test"


def memory_db() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    ensure_schema(conn)
    return conn


def leaves(n: int, start: int = 0) -> list[bytes]:
    return [f"leaf-{i}".encode() * (1 + i % 3) for i in range(start, start + n)]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 60), min_size=1, max_size=10), st.data())
def test_proofs_from_the_log_match_the_rfc_model(batches: list[int], data: st.DataObject) -> None:
    conn, log = memory_db(), MerkleLog()
    stored: list[bytes] = []
    for b in batches:
        assert log.append_many(conn, leaves(b, len(stored))) == len(stored)
        stored += leaves(b, len(stored))
    hashes = [leaf_hash(d) for d in stored]
    n = len(stored)
    assert log.size(conn) == n
    for _ in range(5):
        size = data.draw(st.integers(1, n))
        index = data.draw(st.integers(0, size - 1))
        size1 = data.draw(st.integers(1, size))
        root = log.root(conn, size)
        assert root == ref_mth(hashes[:size])
        proof = log.inclusion_proof(conn, index, size)
        assert proof == ref_path(index, hashes[:size])
        verify_inclusion(log.leaf_hash(conn, index), index, size, proof, root)
        cproof = log.consistency_proof(conn, size1, size)
        assert cproof == ref_subproof(size1, hashes[:size], True)
        verify_consistency(size1, size, cproof, log.root(conn, size1), root)
        assert log.leaf(conn, index) == stored[index]


def test_empty_log() -> None:
    conn, log = memory_db(), MerkleLog()
    assert log.size(conn) == 0
    assert log.root(conn) == EMPTY_ROOT
    assert log.append_many(conn, []) == 0
    assert list(log.leaves(conn)) == []
    with pytest.raises(LogError, match="outside the log's 0 leaves"):
        log.leaf(conn, 0)


def test_persistence_across_connections(tmp_path: Path) -> None:
    """Append in uneven batches with commits, reopen the file: same size, roots, leaves and proofs."""
    db = tmp_path / "ledger.db"
    rng = random.Random(5)
    conn, log = sqlite3.connect(db), MerkleLog()
    ensure_schema(conn)
    stored: list[bytes] = []
    roots_seen: dict[int, bytes] = {}
    while len(stored) < 5000:
        batch = [rng.randbytes(rng.randint(0, 80)) for _ in range(rng.choice([1, 2, 17, 300, 999]))]
        log.append_many(conn, batch)
        conn.commit()
        stored += batch
        roots_seen[len(stored)] = log.root(conn)
    conn.close()
    again = sqlite3.connect(db)
    assert log.size(again) == len(stored)
    for size, root in roots_seen.items():
        assert log.root(again, size) == root
    hashes = [leaf_hash(d) for d in stored]
    assert log.root(again) == ref_mth(hashes)
    assert list(log.leaves(again)) == stored
    assert list(log.leaf_hashes(again, 123, 4567)) == hashes[123:4567]
    assert list(log.leaves(again, 4000, 4100)) == stored[4000:4100]
    for index in rng.sample(range(len(stored)), 20):
        assert log.leaf(again, index) == stored[index]
        assert log.inclusion_proof(again, index) == ref_path(index, hashes)


def test_the_log_never_commits_and_follows_the_callers_rollback(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    conn, other, log = sqlite3.connect(db), sqlite3.connect(db), MerkleLog()
    ensure_schema(conn)
    conn.execute("CREATE TABLE observations (id TEXT PRIMARY KEY)")
    conn.commit()
    log.append_many(conn, leaves(10))
    conn.commit()
    root10 = log.root(conn)

    conn.execute("INSERT INTO observations VALUES ('o-1')")  # the caller's write and the leaf share a transaction
    log.append_many(conn, leaves(5, 10))
    assert conn.in_transaction
    assert log.size(conn) == 15
    assert log.size(other) == 10  # nothing committed behind the caller's back
    conn.rollback()
    assert log.size(conn) == 10
    assert conn.execute("SELECT count(*) FROM observations").fetchone()[0] == 0
    assert log.root(conn) == root10

    # after the rollback the log carries on exactly as if the aborted batch never happened
    log.append_many(conn, leaves(7, 10))
    conn.commit()
    assert log.size(other) == 17
    assert log.root(other) == ref_mth([leaf_hash(d) for d in leaves(17)])


def test_schema_is_idempotent_and_does_not_commit() -> None:
    conn = sqlite3.connect(":memory:")
    conn.executescript(LEDGER_SCHEMA_SQL)
    conn.execute("CREATE TABLE t (x)")
    conn.execute("INSERT INTO t VALUES (1)")
    ensure_schema(conn)
    assert conn.in_transaction
    conn.rollback()
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 0
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"ledger_leaves", "ledger_nodes", "ledger_checkpoints"} <= tables
    assert all(name.startswith("ledger_") for name in tables - {"t"})


def test_proofs_read_only_stored_nodes_in_one_query() -> None:
    """At any size a proof is the size query plus one node query; leaf bytes are never read or rehashed."""
    conn, log = memory_db(), MerkleLog()
    for start in range(0, 20000, 1000):
        log.append_many(conn, leaves(1000, start))
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    proof = log.inclusion_proof(conn, 12345, 19999)
    assert len(proof) == 15
    assert len(statements) == 2
    assert not any("data" in s for s in statements)
    node_rows = conn.execute("SELECT count(*), sum(length(hashes)) / 32 FROM ledger_nodes").fetchone()
    assert node_rows[1] == 2 * 20000 - bin(20000).count("1")  # every perfect subtree stored exactly once
    assert node_rows[0] < 400  # stored in runs, not one row per node


def test_large_empty_and_many_small_leaves_round_trip() -> None:
    conn, log = memory_db(), MerkleLog()
    big = bytes(range(256)) * 1000  # 256 KB, larger than a leaf row
    batch = [b"", b"x", big, b"", *leaves(600)]
    log.append_many(conn, batch)
    assert [log.leaf(conn, i) for i in range(len(batch))] == batch
    assert list(log.leaves(conn)) == batch
    assert log.root(conn) == ref_mth([leaf_hash(d) for d in batch])


def test_bad_requests_raise_precise_errors() -> None:
    conn, log = memory_db(), MerkleLog()
    log.append_many(conn, leaves(8))
    with pytest.raises(LogError, match="tree size 9 is outside the log's 0..8"):
        log.root(conn, 9)
    with pytest.raises(LogError, match="leaf index 8 is outside a tree of size 8"):
        log.inclusion_proof(conn, 8, 8)
    with pytest.raises(LogError, match="0 < size1 <= size2"):
        log.consistency_proof(conn, 0, 8)
    with pytest.raises(LogError, match="0 < size1 <= size2"):
        log.consistency_proof(conn, 6, 5)
    with pytest.raises(TypeError, match="leaf 1 of the batch is str"):
        log.append_many(conn, [b"ok", "not bytes"])  # type: ignore[list-item]
    assert log.size(conn) == 8  # a refused batch writes nothing


def test_damaged_node_table_is_reported() -> None:
    conn, log = memory_db(), MerkleLog()
    log.append_many(conn, leaves(8))
    conn.execute("DELETE FROM ledger_nodes WHERE level = 3")
    with pytest.raises(LogError, match=r"lacks node \(level 3, index 0\)"):
        log.root(conn, 8)


def test_checkpoints_are_checked_against_the_log_and_stored_once() -> None:
    conn, log = memory_db(), MerkleLog()
    key = generate_key(ORIGIN)
    log.append_many(conn, leaves(5))
    first = log.sign_checkpoint(conn, key, ORIGIN)
    assert first.size == 5 and first.root == log.root(conn)
    log.save_checkpoint(conn, first.note)  # the same note again is kept once
    log.append_many(conn, leaves(3, 5))
    second = log.sign_checkpoint(conn, key, ORIGIN)
    assert [c.size for c in log.checkpoints(conn)] == [5, 8]
    latest = log.latest_checkpoint(conn)
    assert latest is not None and latest.note == second.note

    forged = key.sign(Checkpoint(ORIGIN, 5, log.root(conn, 4)))
    with pytest.raises(CheckpointError, match="is not the log's root .* at size 5"):
        log.save_checkpoint(conn, forged.note)
    ahead = key.sign(Checkpoint(ORIGIN, 9, log.root(conn)))
    with pytest.raises(CheckpointError, match="beyond the log's 8 leaves"):
        log.save_checkpoint(conn, ahead.note)
    assert len(log.checkpoints(conn)) == 2


def test_leaves_at_reads_scattered_leaves_across_rows_in_one_call(tmp_path: Path) -> None:
    """The read path's batch lookup returns exactly the leaves asked for, also across row boundaries."""
    conn = sqlite3.connect(tmp_path / "log.db")
    ensure_schema(conn)
    log = MerkleLog()
    datas = [f"leaf-{i}".encode() * (1 + i % 7) for i in range(700)]  # > 256 per row: several rows
    log.append_many(conn, datas)
    wanted = [0, 5, 255, 256, 257, 511, 699, 5]
    assert log.leaves_at(conn, wanted) == {i: datas[i] for i in wanted}
    assert log.leaves_at(conn, []) == {}
    with pytest.raises(LogError):
        log.leaves_at(conn, [700])
