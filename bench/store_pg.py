"""PostgreSQL store throughput: PostgresStore.add_prepared and sequence_pending vs raw COPY, same rows, same run.

    truceline bench store_pg [--observations 100000] [--batch 1000] [--threads 4] [--admin-dsn postgresql://postgres@127.0.0.1:5432/postgres]
    python bench/store_pg.py [...]

Creates its own database (with PostGIS), drops it afterwards. The rows are prepared beforehand (canonical JSON,
hash, leaf: the API's parser pool does that in other processes), so the figures are the store's alone:

- the store: identity claim (ON CONFLICT), COPY of rows, labels and ledger-queue entries into the partitioned
  table with its GiST, time, id and seq indexes, one transaction per batch — 1 writer, then N writers at once;
- the sequencer: queued leaves appended to the Merkle log with their ledger indexes set, one transaction per batch;
- the floor: COPY of the very same observation rows into a plain table with no index, no partition, no
  identity check, one transaction per batch: what this PostgreSQL on this machine does with those bytes;
- for comparison, the embedded SqliteStore.add_prepared with the same rows (ledger appended inline).
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from truceline.ingest.validation import validate_batch, validation_context
from truceline.store.postgres import open_postgres
from truceline.store.prepared import PreparedObservation, prepare_batch
from truceline.store.sqlite import SqliteStore

SOURCES = (("ua-acoustic-1", "acoustic", "UA"), ("fr-radar-2", "radar", "FR"), ("us-uav-3", "uav", "US"))
COLUMNS = (
    "seq, id, t_us, time_unc_s, kind, loc_type, lat, lon, sigma_m, cell, source_id, source_type, org,"
    " reliability, credibility, doc_sha256, received_us, doc, ledger_index, ledger_salt"
)


def make_prepared(count: int, seed: int = 11) -> list[PreparedObservation]:
    """Valid observations over eastern Ukraine in one month, validated and prepared as the API would."""
    rng = random.Random(seed)
    start = datetime(2023, 4, 1, tzinfo=UTC)
    docs: list[dict[str, Any]] = []
    for i in range(count):
        sid, stype, org = SOURCES[i % len(SOURCES)]
        docs.append(
            {
                "id": f"pg-{seed}-{i:09d}",
                "time": (start + timedelta(seconds=rng.uniform(0, 29 * 86400))).isoformat().replace("+00:00", "Z"),
                "time_uncertainty_s": 2.0,
                "kind": "explosion",
                "location": {"lat": round(rng.uniform(46.5, 49.5), 6), "lon": round(rng.uniform(35.0, 39.5), 6), "cep_m": 150},
                "source": {"id": sid, "type": stype, "org": org},
                "reliability": "B",
                "credibility": 2,
                "releasable_to": ["COALITION"],
            }
        )
    good, errors = validate_batch(docs, validation_context())
    assert not errors, errors[:3]
    return prepare_batch(good, datetime.now(UTC))


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def bench_store(dsn: str, data_dir: Path, prepared: list[PreparedObservation], batch: int, threads: int) -> tuple[float, float, float]:
    """(1 writer obs/s, N writers obs/s, sequencer leaves/s) on a fresh schema in ``dsn``."""
    half = len(prepared) // 2
    store = open_postgres(dsn, data_dir, pool_size=threads + 2)
    try:
        t0 = time.perf_counter()
        for chunk in _chunks(prepared[:half], batch):
            store.add_prepared(chunk)
        one = half / (time.perf_counter() - t0)
        chunks = _chunks(prepared[half:], batch)
        lanes = [chunks[k::threads] for k in range(threads)]

        def lane(work: list[list[PreparedObservation]]) -> None:
            for chunk in work:
                store.add_prepared(chunk)

        workers = [threading.Thread(target=lane, args=(lanes[k],)) for k in range(threads)]
        t0 = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        many = (len(prepared) - half) / (time.perf_counter() - t0)
        assert store.count_observations() == len(prepared)
        t0 = time.perf_counter()
        total = 0
        while done := store.sequence_pending(5000, None):
            total += done
        sequenced = total / (time.perf_counter() - t0)
        assert store.ledger_size() == len(prepared)
    finally:
        store.close()
    return one, many, sequenced


def bench_floor(dsn: str, prepared: list[PreparedObservation], batch: int) -> float:
    """Raw COPY of the same observation rows into a plain, unindexed table, one transaction per batch."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE floor (seq BIGINT, id TEXT, t_us BIGINT, time_unc_s DOUBLE PRECISION, kind TEXT, loc_type TEXT,"
            " lat DOUBLE PRECISION, lon DOUBLE PRECISION, sigma_m DOUBLE PRECISION, cell BIGINT, source_id TEXT,"
            " source_type TEXT, org TEXT, reliability TEXT, credibility INTEGER, doc_sha256 BYTEA, received_us BIGINT,"
            " doc TEXT, ledger_index BIGINT, ledger_salt BYTEA)"
        )
        t0 = time.perf_counter()
        seq = 0
        for chunk in _chunks(prepared, batch):
            with conn.transaction(), conn.cursor() as cur, cur.copy(f"COPY floor ({COLUMNS}) FROM STDIN") as copy:
                for item in chunk:
                    seq += 1
                    copy.write_row(item.row(seq, None))  # type: ignore[arg-type]
        return len(prepared) / (time.perf_counter() - t0)


def bench_sqlite(prepared: list[PreparedObservation], batch: int, workdir: Path) -> float:
    """The embedded store with the same rows (ledger leaves appended in the same transaction)."""
    store = SqliteStore(workdir / "truceline.db")
    try:
        t0 = time.perf_counter()
        for chunk in _chunks(prepared, batch):
            store.add_prepared(chunk)
        return len(prepared) / (time.perf_counter() - t0)
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    """Run every measurement and print one line per figure."""
    parser = argparse.ArgumentParser(prog="truceline bench store_pg", description=__doc__.splitlines()[0])
    parser.add_argument("--observations", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--admin-dsn", default=os.environ.get("TRUCELINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args(argv)
    prepared = make_prepared(args.observations)
    name = f"truceline_bench_{uuid.uuid4().hex[:10]}"
    base = args.admin_dsn.rpartition("/")[0]
    with psycopg.connect(args.admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        dsn = f"{base}/{name}"
        with tempfile.TemporaryDirectory() as tmp:
            one, many, sequenced = bench_store(dsn, Path(tmp) / "data", prepared, args.batch, args.threads)
            floor = bench_floor(dsn, prepared, args.batch)
            embedded = bench_sqlite(prepared, args.batch, Path(tmp))
    finally:
        with psycopg.connect(args.admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"observations                               {args.observations:>10,d}  (batches of {args.batch:,}, {os.cpu_count()} cores)")
    print(f"raw COPY, plain table (floor)              {floor:>10,.0f} obs/s")
    print(f"PostgresStore.add_prepared, 1 writer       {one:>10,.0f} obs/s  ({one / floor:.2f} of floor)")
    print(f"PostgresStore.add_prepared, {args.threads} writers      {many:>10,.0f} obs/s  ({many / floor:.2f} of floor)")
    print(f"sequence_pending (ledger append)           {sequenced:>10,.0f} leaves/s  ({sequenced / floor:.2f} of floor)")
    print(f"SqliteStore.add_prepared, 1 writer         {embedded:>10,.0f} obs/s  ({embedded / floor:.2f} of floor)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
