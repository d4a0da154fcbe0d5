"""Ingest throughput: POST /api/v1/observations over real HTTP vs raw SQLite executemany, same rows, same run.

    truceline bench ingest [--observations 200000] [--batch 1000] [--stages]
    python bench/ingest.py [...]

The server is a real ``truceline serve`` subprocess on loopback with the production settings
(WAL, synchronous=FULL, validation, idempotency check, time, grid and label indexes, evidence-ledger
leaves appended in the same transaction). The baseline inserts the
very same rows (ledger rows included) into a fresh database with the same schema and pragmas, one
transaction per batch, with no validation, hashing or HTTP: the ceiling for this store.
``--stages`` also times each stage of the request path in this process (parse, validate, prepare,
the parser pool's pickling, store, ledger) on the same rows, in µs per observation.
"""

from __future__ import annotations

import argparse
import gc
import os
import pickle
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

from truceline.domain.observation import DEFAULT_CLOCK_SKEW
from truceline.ingest.validated_json import validated_batch
from truceline.ingest.validation import validate_batch, validation_context
from truceline.ledger.log import MerkleLog, ensure_schema
from truceline.service import batch_parser
from truceline.store.prepared import INSERT_POSTED_SQL, prepare_validated_columns
from truceline.store.sqlite import INSERT_LABEL_SQL, SqliteStore, prepare_observation
from truceline.store.sqlite_incidents import UPSERT_INCIDENT_SQL

GOAL_OBS_PER_S = 20_000
GOAL_RATIO = 0.5
GOAL_RATIO_FUSED = 0.3  # issue 19: HTTP ingest with fusion in the server, until every observation is fused
KINDS = ("explosion", "impact", "launch", "thermal", "flight", "muzzle-flash")
SOURCES = (("ua-acoustic-1", "acoustic", "UA"), ("fr-radar-2", "radar", "FR"), ("us-uav-3", "uav", "US"), ("osce-4", "monitor", "OSCE"))


def make_observations(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Synthetic but valid observations spread over eastern Ukraine and the year 2023."""
    rng = random.Random(seed)
    start = datetime(2023, 1, 1, tzinfo=UTC)
    out = []
    for i in range(count):
        sid, stype, org = SOURCES[i % len(SOURCES)]
        out.append(
            {
                "id": f"bench-{seed}-{i:09d}",
                "time": (start + timedelta(seconds=rng.uniform(0, 364 * 86400))).isoformat().replace("+00:00", "Z"),
                "time_uncertainty_s": 2.0,
                "kind": KINDS[i % len(KINDS)],
                "location": {"lat": round(rng.uniform(46.5, 49.5), 6), "lon": round(rng.uniform(35.0, 39.5), 6), "cep_m": 150},
                "source": {"id": sid, "type": stype, "org": org},
                "reliability": "B",
                "credibility": 2,
                "releasable_to": ["COALITION"],
            }
        )
    return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=1.0) as client:  # one client: a new one per poll builds a TLS context each time
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}")
            try:
                if client.get(url + "/healthz").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
    raise RuntimeError("server did not become healthy in time")


def _tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` and its live descendants (Linux /proc).

    Beside wall-clock throughput, which other load on the machine moves, this says what the server itself
    spends per observation."""
    total, todo, tick = 0.0, [pid], os.sysconf("SC_CLK_TCK")
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


#: A fusing run's final ``incidents`` rows (the columns of :data:`UPSERT_INCIDENT_SQL`) and ``incident_members`` rows.
FusedRows = tuple[list[tuple[Any, ...]], list[tuple[str, int]]]

CPU_US: dict[str, float] = {}
"""Server CPU µs per observation of each HTTP run (filled by :func:`bench_http`)."""
FUSED: dict[int, float] = {}
"""Observations per second of a fusing run counted until the last one is fused, by connections."""
FUSED_BESIDE: dict[int, float] = {}
"""The same with `truceline fuse --follow` fusing in a process of its own beside an ingest-only server."""
FUSED_ROWS: dict[int, FusedRows] = {}
"""What each fusing run's fusion stored (incident and membership rows), by connections: the fused floor replays it."""


def _wait_fused(db: Path, count: int, process: subprocess.Popen[bytes], timeout_s: float = 600.0) -> None:
    """Until the server's fusion cursor (``fusion_state``) has passed all ``count`` observations of a fresh store."""
    deadline = time.monotonic() + timeout_s
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}")
            row = conn.execute("SELECT value FROM fusion_state WHERE key = 'cursor'").fetchone()
            if row is not None and int(row[0]) >= count:
                return
            time.sleep(0.02)
    finally:
        conn.close()
    raise RuntimeError("fusion did not catch up in time")


def _wait_following(fuser: subprocess.Popen[bytes]) -> None:
    """Until `truceline fuse --follow` has fused what was stored (nothing yet) and says so: it then polls, so
    the timed run does not include its start."""
    assert fuser.stderr is not None
    for line in fuser.stderr:
        if b"cursor at" in line:
            threading.Thread(target=fuser.stderr.read, daemon=True).start()  # keep the pipe drained (a logged retry)
            return
    raise RuntimeError(f"truceline fuse exited with {fuser.wait()}")


def bench_http(
    docs: list[dict[str, Any]], batch: int, workdir: Path, connections: int, fusion: bool, beside: bool = False
) -> float:
    """Observations per second through a real server; ``connections`` clients send batches concurrently.

    With ``fusion`` the server also fuses what it accepts (the default); without, it only ingests (as when
    `truceline fuse` runs in a process of its own). Also records the server's CPU time per observation
    in :data:`CPU_US`; a fusing run also waits until fusion has caught up and records that rate in
    :data:`FUSED` (fusion runs behind the answered POSTs, so the POST rate alone hides its backlog).
    With ``beside`` (and ``fusion``), the server only ingests and `truceline fuse --follow` fuses in a
    process of its own on the same data dir (both cores, two SQLite writers): rate in :data:`FUSED_BESIDE`."""
    data_dir = workdir / f"http-{connections}-{fusion}{'-beside' if beside else ''}"
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "truceline.cli", "serve", "--data-dir", str(data_dir), "--port", str(port)]
        + ([] if fusion and not beside else ["--no-fusion"]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    fuser: subprocess.Popen[bytes] | None = None
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, process)
        if fusion and beside:
            fuser = subprocess.Popen(
                [sys.executable, "-m", "truceline.cli", "fuse", "--data-dir", str(data_dir), "--follow", "--poll", "0.05"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,  # its messages: read until its first pass is done; it says nothing more while following
                env={**os.environ, "PYTHONUNBUFFERED": "1"},  # its lines as printed, not when a pipe buffer fills
            )
            _wait_following(fuser)
        key = (data_dir / "admin.key").read_text().strip()
        bodies = [orjson.dumps(docs[i : i + batch]) for i in range(0, len(docs), batch)]
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        queue = iter(bodies)
        lock = threading.Lock()

        def sender() -> None:
            with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
                while True:
                    with lock:
                        body = next(queue, None)
                    if body is None:
                        return
                    response = client.post("/api/v1/observations", content=body)
                    if response.status_code != 201:
                        raise RuntimeError(f"server answered {response.status_code}: {response.text[:300]}")

        pids = [process.pid] + ([fuser.pid] if fuser is not None else [])
        cpu_before = sum(_tree_cpu_s(pid) for pid in pids)
        started = time.perf_counter()
        with ThreadPoolExecutor(connections) as pool:
            for future in [pool.submit(sender) for _ in range(connections)]:
                future.result()
        elapsed = time.perf_counter() - started

        def cpu_us() -> float:
            return (sum(_tree_cpu_s(pid) for pid in pids) - cpu_before) / len(docs) * 1e6

        CPU_US[f"{connections}-{'beside' if beside else fusion}"] = cpu_us()
        if fusion:  # the POSTs are answered before fusion is done: also time until every observation is fused
            _wait_fused(data_dir / "truceline.db", len(docs), fuser or process)
            (FUSED_BESIDE if beside else FUSED)[connections] = len(docs) / (time.perf_counter() - started)
            CPU_US[f"{connections}-{'beside-' if beside else ''}fused"] = cpu_us()
            if not beside:
                FUSED_ROWS[connections] = _fused_rows(data_dir / "truceline.db")
        return len(docs) / elapsed
    finally:
        for child in [fuser, process]:
            if child is not None:
                child.terminate()
                child.wait(timeout=30)


def bench_raw(docs: list[dict[str, Any]], batch: int, workdir: Path, fused: FusedRows | None = None) -> float:
    """Observations per second of bare executemany of the same rows (observations, labels, ledger leaves and
    interior nodes) into the same schema, everything computed beforehand.

    With ``fused`` (what a fusing run left in the server's database), each batch's transaction also writes its
    share of those incident and membership rows: the floor of a fusing server's storage, which stores these rows
    besides the observations (in transactions of its own, so it also pays commits this floor does not)."""
    observations, errors = validate_batch(docs, validation_context())
    if errors:
        raise RuntimeError(f"benchmark data invalid: {errors[0]}")
    prepared = [prepare_observation(obs, 0, "1970-01-01T00:00:00Z") for obs in observations]
    # The server's rows carry the submitting key (posted_by) too.
    rows = [(*item.row(seq, seq - 1), "bench-key") for seq, item in enumerate(prepared, start=1)]
    labels = [[(label, seq) for label in obs.releasable_to] for seq, obs in enumerate(observations, start=1)]
    # The ledger's own rows, produced once in a scratch database and replayed as plain inserts.
    scratch = sqlite3.connect(":memory:", isolation_level=None)
    ensure_schema(scratch)
    log = MerkleLog()
    ledger_rows: list[tuple[list[tuple[object, ...]], list[tuple[object, ...]]]] = []
    for i in range(0, len(prepared), batch):
        leaf_mark = scratch.execute("SELECT coalesce(max(first), -1) FROM ledger_leaves").fetchone()[0]
        node_mark = scratch.execute("SELECT count(*) FROM ledger_nodes").fetchone()[0]
        log.append_many(scratch, [item.leaf for item in prepared[i : i + batch]])
        leaves = scratch.execute("SELECT * FROM ledger_leaves WHERE first > ?", (leaf_mark,)).fetchall()
        nodes = scratch.execute("SELECT level, first, hashes FROM ledger_nodes LIMIT -1 OFFSET ?", (node_mark,)).fetchall()
        ledger_rows.append((leaves, nodes))
    shares = _fused_shares(fused, len(rows), batch) if fused is not None else None
    store = SqliteStore(workdir / ("raw-fused.db" if fused is not None else "raw.db"))  # same schema and pragmas as the server
    conn = store._writer
    cpu_started = time.process_time()
    started = time.perf_counter()
    for chunk, i in enumerate(range(0, len(rows), batch)):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(INSERT_POSTED_SQL, rows[i : i + batch])
        conn.executemany(INSERT_LABEL_SQL, [pair for group in labels[i : i + batch] for pair in group])
        leaves, nodes = ledger_rows[chunk]
        conn.executemany("INSERT INTO ledger_leaves VALUES (?,?,?)", leaves)
        conn.executemany("INSERT INTO ledger_nodes (level, first, hashes) VALUES (?,?,?)", nodes)
        if shares is not None:
            incidents, members = shares[chunk]
            conn.executemany(UPSERT_INCIDENT_SQL, incidents)
            conn.executemany("INSERT INTO incident_members (incident_id, obs_seq) VALUES (?, ?)", members)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    CPU_US["raw-fused" if fused is not None else "raw"] = (time.process_time() - cpu_started) / len(rows) * 1e6
    store.close()
    return len(rows) / elapsed


def _fused_rows(db: Path) -> FusedRows:
    """What fusion stored in a server's database, each incident with the sequence number of its first member."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        incidents = conn.execute(
            "SELECT id, t_us, kind, status, lat, lon, cell, finalised, updated_us, doc FROM incidents"
            " ORDER BY (SELECT min(obs_seq) FROM incident_members m WHERE m.incident_id = incidents.id), id"
        ).fetchall()
        members = conn.execute("SELECT incident_id, obs_seq FROM incident_members ORDER BY obs_seq").fetchall()
    finally:
        conn.close()
    return incidents, members


def _fused_shares(fused: FusedRows, count: int, batch: int) -> list[FusedRows]:
    """Each batch's share of the fused rows: a membership goes with its observation's batch, an incident with
    its first member's (the batch whose fusion step first wrote it)."""
    incidents, members = fused
    chunks = (count + batch - 1) // batch
    shares: list[FusedRows] = [([], []) for _ in range(chunks)]
    first: dict[str, int] = {}
    for incident_id, seq in members:
        chunk = min((seq - 1) // batch, chunks - 1)
        first.setdefault(incident_id, chunk)
        shares[chunk][1].append((incident_id, seq))
    for row in incidents:
        shares[first.get(row[0], chunks - 1)][0].append(tuple(row))
    return shares


def bench_stages(docs: list[dict[str, Any]], batch: int, workdir: Path) -> dict[str, float]:
    """Seconds per observation of each stage of ``POST /observations`` run in this process, same rows.

    The request path runs parse, check and prepare in a parser process (``pickle`` is what crossing to it and
    back costs), then store and ledger under the write lock in the server process. A plain batch of point records
    is checked into the values the store keeps, its canonical documents written on the way
    (:func:`~truceline.ingest.validated_json.validated_batch`), then prepared as columns.
    """
    bodies = [orjson.dumps(docs[i : i + batch]) for i in range(0, len(docs), batch)]
    gc.collect()
    gc.freeze()  # the benchmark's own documents are not the server's: keep them out of every collection
    store = SqliteStore(workdir / "stages.db")  # the server's schema and pragmas (synchronous=FULL)
    log = store._log
    ledger_time = 0.0
    append_many = log.append_many

    def timed_append(conn: Any, leaves: Any, hashes: Any = None) -> int:
        nonlocal ledger_time
        t0 = time.perf_counter()
        try:
            return append_many(conn, leaves, hashes)
        finally:
            ledger_time += time.perf_counter() - t0

    log.append_many = timed_append  # type: ignore[method-assign]
    totals = dict.fromkeys(
        ("parse and check (msgspec, canonical documents)", "prepare (hashes, commitment, leaf)", "pickle to and from a worker", "store without ledger", "ledger append"),
        0.0,
    )
    clock = time.perf_counter
    received = batch_parser.now()
    latest = received + DEFAULT_CLOCK_SKEW
    for body in bodies:
        t0 = clock()
        items = validated_batch(body, latest)  # what batch_parser.parse_batch does first
        if not items:
            raise RuntimeError("benchmark data not plainly valid")
        t1 = clock()
        prepared = prepare_validated_columns(items, received)  # what batch_parser.parse_batch returns
        t2 = clock()
        prepared = pickle.loads(pickle.dumps(batch_parser.ParsedBatch(items=prepared), protocol=4)).items
        t3 = clock()
        before = ledger_time
        store.add_prepared(prepared, posted_by="bench-key")
        t4 = clock()
        for name, seconds in zip(totals, (t1 - t0, t2 - t1, t3 - t2, t4 - t3 - (ledger_time - before), ledger_time - before), strict=True):
            totals[name] += seconds
    store.close()
    return {name: seconds / len(docs) for name, seconds in totals.items()}


def main(argv: list[str] | None = None) -> int:
    """Run both measurements and print one line per figure."""
    parser = argparse.ArgumentParser(prog="truceline bench ingest", description=__doc__.splitlines()[0])
    parser.add_argument("--observations", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=4, help="concurrent client connections")
    parser.add_argument("--stages", action="store_true", help="also time each stage of the request path in-process")
    parser.add_argument(
        "--ingest-only", action="store_true", help="only the raw floor and the ingest-only run over --connections (no 1-connection or fusing run)"
    )
    args = parser.parse_args(argv)
    docs = make_observations(args.observations)
    with tempfile.TemporaryDirectory(prefix="truceline-bench-") as tmp:
        workdir = Path(tmp)
        raw = bench_raw(docs, args.batch, workdir)
        ingest_one = None if args.ingest_only else bench_http(docs, args.batch, workdir, 1, fusion=False)
        ingest_many = bench_http(docs, args.batch, workdir, args.connections, fusion=False)
        with_fusion = None if args.ingest_only else bench_http(docs, args.batch, workdir, args.connections, fusion=True)
        beside = None if args.ingest_only else bench_http(docs, args.batch, workdir, args.connections, fusion=True, beside=True)
        raw_fused = None if with_fusion is None else bench_raw(docs, args.batch, workdir, FUSED_ROWS[args.connections])
        stages = bench_stages(docs, args.batch, workdir) if args.stages else {}
    print(f"observations                              {args.observations:>10,d}  (batches of {args.batch:,}, {os.cpu_count()} cores)")
    print(f"raw sqlite executemany                    {raw:>10,.0f} obs/s  (baseline: same rows, schema, pragmas)")
    if ingest_one is not None:
        print(f"HTTP POST, ingest only, 1 connection      {ingest_one:>10,.0f} obs/s  ({ingest_one / raw:.2f} of raw)")
    print(
        f"HTTP POST, ingest only, {args.connections} connections     {ingest_many:>10,.0f} obs/s  ({ingest_many / raw:.2f} of raw;"
        f" goal >= {GOAL_OBS_PER_S:,} obs/s and >= {GOAL_RATIO:.2f} of raw)"
    )
    if with_fusion is None:
        print(f"CPU per observation: raw {CPU_US['raw']:.1f} µs; server (all its processes), ingest only {args.connections} conns {CPU_US[f'{args.connections}-False']:.1f} µs")
    else:
        print(f"HTTP POST, fusing in-process, {args.connections} conns   {with_fusion:>10,.0f} obs/s  ({with_fusion / raw:.2f} of raw)")
        fused = FUSED[args.connections]
        print(f"  same run, until all are fused           {fused:>10,.0f} obs/s  ({fused / raw:.2f} of raw; goal >= {GOAL_RATIO_FUSED:.2f} of raw)")
        assert raw_fused is not None
        incidents, members = FUSED_ROWS[args.connections]
        print(
            f"raw sqlite, with fusion's rows too          {raw_fused:>10,.0f} obs/s  ({raw_fused / raw:.2f} of raw: the same batches, each with its share"
            f" of the {len(incidents):,} incident and {len(members):,} membership rows the fusing run stored, same commits)"
        )
        print(f"  until all are fused / that floor        {fused / raw_fused:>10.2f}")
        assert beside is not None
        fused_beside = FUSED_BESIDE[args.connections]
        print(
            f"HTTP POST, `truceline fuse` beside, {args.connections} conns {beside:>10,.0f} obs/s  ({beside / raw:.2f} of raw; the server only ingests,"
            " a `fuse --follow` process fuses: two processes, two SQLite writers)"
        )
        print(f"  same run, until all are fused           {fused_beside:>10,.0f} obs/s  ({fused_beside / raw:.2f} of raw)")
        print(
            f"CPU per observation: raw {CPU_US['raw']:.1f} µs; server (all its processes), ingest only 1 conn "
            f"{CPU_US['1-False']:.1f} µs, {args.connections} conns {CPU_US[f'{args.connections}-False']:.1f} µs,"
            f" fusing {CPU_US[f'{args.connections}-True']:.1f} µs (until all are fused {CPU_US[f'{args.connections}-fused']:.1f} µs);"
            f" with `fuse` beside (both processes) until all are fused {CPU_US[f'{args.connections}-beside-fused']:.1f} µs;"
            f" raw with fusion's rows {CPU_US['raw-fused']:.1f} µs"
        )
    if stages:
        print(f"stages in-process, µs per observation (raw sqlite: {1e6 / raw:.1f}; HTTP, {args.connections} connections: {1e6 / ingest_many:.1f})")
        for name, seconds in stages.items():
            print(f"  {name:<48} {seconds * 1e6:>8.1f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
