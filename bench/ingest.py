"""Ingest throughput: POST /api/v1/observations over real HTTP vs raw SQLite executemany, same rows, same run.

    truceline bench ingest [--observations 200000] [--batch 1000] [--rounds 3] [--stages] [--unstated] [--stream-reader]
    python bench/ingest.py [...]

The server is a real ``truceline serve`` subprocess on loopback with the production settings
(WAL, synchronous=FULL, validation, idempotency check, time, grid and label indexes, evidence-ledger
leaves appended in the same transaction). The baseline inserts the
very same rows (ledger rows included) into a fresh database with the same schema and pragmas, one
transaction per batch, with no validation, hashing or HTTP: the ceiling for this store.
``--stages`` also times each stage of the request path in this process (parse, validate, prepare,
the parser pool's pickling, store, ledger) on the same rows, in µs per observation. ``--stream-reader`` keeps
one ``/api/v1/stream`` reader connected through each fusing run, as an analyst's open page is: the server then
announces every incident fusion changes. The raw floor, the ingest-only run and the fusing run (the figures
the goals are set on) are alternated ``--rounds`` times, each in a fresh directory; the round whose ratio is the
median is reported (the one-off runs are set against its floor), and every round's ratios are printed beside it.
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
from typing import Any, NamedTuple

import httpx
import orjson

from truceline.domain.observation import DEFAULT_CLOCK_SKEW
from truceline.domain.observation_fast import collector_paused
from truceline.fuse.batch import FUSION_BATCH
from truceline.fuse.fuser import Fuser
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


def make_observations(count: int, seed: int = 7, unstated: bool = False) -> list[dict[str, Any]]:
    """Synthetic but valid observations spread over eastern Ukraine and the year 2023; ``unstated``: as many real
    senders post them, with no ``time_uncertainty_s`` and no ``cep_m`` (truceline assumes and stores its defaults)."""
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
        if unstated:
            del out[-1]["time_uncertainty_s"], out[-1]["location"]["cep_m"]
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
FUSED: dict[str, float] = {}
"""Observations per second of a fusing run counted until the last one is fused, by where the server fuses
(``process``: the child process `serve` supervises, its default; ``thread``: ``--fusion-in thread``)."""
FUSED_ROWS: dict[int, FusedRows] = {}
"""What each fusing run's fusion stored (incident and membership rows), by connections: the fused floor replays it."""
STREAMED: dict[str, tuple[int, int]] = {}
"""(events, bytes) the ``/stream`` reader received in each fusing run (``--stream-reader``), by where the server fuses."""


class StreamReader:
    """One ``/api/v1/stream`` reader on a plain socket, as cheap as a reader gets (an analyst's open page reads
    the same stream): it counts the events and bytes it receives until :meth:`stop`."""

    def __init__(self, port: int, key: str) -> None:
        self.events = 0
        self.bytes = 0
        self._stopping = threading.Event()
        self._sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self._sock.sendall(f"GET /api/v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n\r\n".encode())
        head = b""
        while b": connected" not in head:  # subscribed (and the fusion process told) before the first POST
            chunk = self._sock.recv(4096)
            if not chunk:
                raise RuntimeError(f"the stream closed before it connected: {head[:300]!r}")
            head += chunk
        self._sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._read, name="bench-stream-reader", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        marker = b"\nevent: "
        tail = b""
        while not self._stopping.is_set():
            try:
                chunk = self._sock.recv(1 << 16)
            except TimeoutError:
                continue
            if not chunk:
                return
            self.bytes += len(chunk)
            joined = tail + chunk  # a marker split between two reads is counted once
            self.events += joined.count(marker) - tail.count(marker)
            tail = joined[-(len(marker) - 1) :]

    def stop(self, quiet_s: float = 0.5, limit_s: float = 10.0) -> tuple[int, int]:
        """Once nothing has arrived for ``quiet_s`` (the last batch's events follow its commit), disconnect; (events,
        bytes) received. Called after the clock has stopped."""
        deadline = time.monotonic() + limit_s
        seen = -1
        while seen != self.bytes and time.monotonic() < deadline:
            seen = self.bytes
            time.sleep(quiet_s)
        self._stopping.set()
        self._thread.join()
        self._sock.close()
        return self.events, self.bytes


def _wait_fused(db: Path, count: int, process: subprocess.Popen[bytes], timeout_s: float = 600.0) -> tuple[float, int]:
    """Until the server's fusion cursor (``fusion_state``) has passed all ``count`` observations of a fresh store;
    returns when (``perf_counter``) the cursor was first seen moved, and where it then was."""
    deadline = time.monotonic() + timeout_s
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    first: tuple[float, int] | None = None
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}")
            row = conn.execute("SELECT value FROM fusion_state WHERE key = 'cursor'").fetchone()
            cursor = 0 if row is None else int(row[0])
            if first is None and cursor > 0:
                first = (time.perf_counter(), cursor)
            if first is not None and cursor >= count:
                return first
            time.sleep(0.005)
    finally:
        conn.close()
    raise RuntimeError("fusion did not catch up in time")


def bench_http(docs: list[dict[str, Any]], batch: int, workdir: Path, connections: int, fusion: str | None, reader: bool = False) -> float:
    """Observations per second through a real server; ``connections`` clients send batches concurrently.

    ``fusion`` says where the server fuses what it accepts: ``"process"`` (its default, a child process it
    supervises), ``"thread"`` (``--fusion-in thread``), or None: it only ingests (``--no-fusion``, as when
    `truceline fuse` runs beside it). Also records the server's CPU time per observation (all its processes)
    in :data:`CPU_US`; a fusing run also waits until fusion has caught up and records that rate in
    :data:`FUSED` (fusion runs behind the answered POSTs, so the POST rate alone hides its backlog). With
    ``reader`` one :class:`StreamReader` is connected before the first POST and until everything is fused."""
    data_dir = workdir / f"http-{connections}-{fusion or 'ingest'}"
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "truceline.cli", "serve", "--data-dir", str(data_dir), "--port", str(port)]
        + (["--no-fusion"] if fusion is None else ["--fusion-in", fusion]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, process)
        key = (data_dir / "admin.key").read_text().strip()
        bodies = [orjson.dumps(docs[i : i + batch]) for i in range(0, len(docs), batch)]
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        queue = iter(bodies)
        lock = threading.Lock()
        # Each sender's client is made before the clock starts, as a sender keeps its client: making one builds
        # a TLS context (~30 ms of CPU each), which took 0.13 s of the two cores from the server in the timed run.
        clients = [httpx.Client(base_url=url, headers=headers, timeout=60) for _ in range(connections)]
        stream = StreamReader(port, key) if reader else None

        def sender(client: httpx.Client) -> None:
            while True:
                with lock:
                    body = next(queue, None)
                if body is None:
                    return
                response = client.post("/api/v1/observations", content=body)
                if response.status_code != 201:
                    raise RuntimeError(f"server answered {response.status_code}: {response.text[:300]}")

        cpu_before = _tree_cpu_s(process.pid)
        started = time.perf_counter()
        try:
            with ThreadPoolExecutor(connections) as pool:
                for future in [pool.submit(sender, client) for client in clients]:
                    future.result()
        finally:
            for client in clients:
                client.close()
        elapsed = time.perf_counter() - started

        def cpu_us() -> float:
            return (_tree_cpu_s(process.pid) - cpu_before) / len(docs) * 1e6

        CPU_US[f"{connections}-{fusion or 'ingest'}"] = cpu_us()
        if fusion is not None:  # the POSTs are answered before fusion is done: also time until every observation is fused
            _wait_fused(data_dir / "truceline.db", len(docs), process)
            FUSED[fusion] = len(docs) / (time.perf_counter() - started)
            CPU_US[f"{connections}-{fusion}-fused"] = cpu_us()
            if stream is not None:
                STREAMED[fusion] = stream.stop()
            if fusion == "process":
                FUSED_ROWS[connections] = _fused_rows(data_dir / "truceline.db")
        return len(docs) / elapsed
    finally:
        process.terminate()
        process.wait(timeout=30)


def bench_backlog(data_dir: Path, count: int) -> float:
    """Observations per second a server's fusion process fuses when it starts on ``count`` stored observations
    it has not fused (a server restarted after an ingest-only spell, or after `truceline ingest` stored a year of
    history): from the cursor's first move until it has passed them all, with no ingest beside it."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "truceline.cli", "serve", "--data-dir", str(data_dir), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", process)
        first_at, first_cursor = _wait_fused(data_dir / "truceline.db", count, process)
        return (count - first_cursor) / (time.perf_counter() - first_at)
    finally:
        process.terminate()
        process.wait(timeout=30)


def bench_bare_fuser(docs: list[dict[str, Any]]) -> float:
    """Observations per second of the fuser alone on the same observations, parsed beforehand, in the server's
    calls (:data:`~truceline.fuse.batch.FUSION_BATCH`): the floor of fusing a backlog, which also reads the
    stored documents back and stores the incidents."""
    observations, _ = validate_batch(docs, validation_context())
    fuser = Fuser()
    gc.collect()
    started = time.perf_counter()
    with collector_paused():
        for i in range(0, len(observations), FUSION_BATCH):
            fuser.add(observations[i : i + FUSION_BATCH])
    return len(observations) / (time.perf_counter() - started)


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


class Round(NamedTuple):
    """One alternation of the figures the goals are set on: the raw floor, the ingest-only run and the fusing run
    (a named tuple, not a dataclass: the bench is loaded as a script, outside ``sys.modules``, in its tests)."""

    raw: float
    ingest_many: float
    fusing: float | None  # POSTs answered while the server's fusion process fused (None: --ingest-only)
    fused: float | None  # the same run until every observation was fused
    fused_rows: FusedRows | None
    cpu_us: dict[str, float]

    def describe(self) -> str:
        """``raw 56,370 obs/s, ingest 0.67, until all fused 0.27``: this round's ratios against its own floor."""
        text = f"raw {self.raw:,.0f} obs/s, ingest {self.ingest_many / self.raw:.2f}"
        return text if self.fused is None else f"{text}, until all fused {self.fused / self.raw:.2f}"


def run_round(docs: list[dict[str, Any]], batch: int, workdir: Path, connections: int, fusing: bool, reader: bool) -> Round:
    """The raw floor, then the ingest-only run, then (``fusing``) the run with the server's fusion process, in a
    directory of their own. A machine's load moves between minutes, so :func:`main` alternates rounds and reports
    the round whose ratio is the median: a ratio pairs figures measured in the same minutes."""
    workdir.mkdir(parents=True)
    raw = bench_raw(docs, batch, workdir)
    ingest_many = bench_http(docs, batch, workdir, connections, fusion=None)
    fused_at = fused = None
    if fusing:
        fused_at = bench_http(docs, batch, workdir, connections, fusion="process", reader=reader)
        fused = FUSED["process"]
    rows = FUSED_ROWS.get(connections) if fusing else None
    return Round(raw, ingest_many, fused_at, fused, rows, dict(CPU_US))


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
    parser.add_argument(
        "--unstated", action="store_true", help="observations as many real senders post them: no time_uncertainty_s, no cep_m (defaults assumed)"
    )
    parser.add_argument(
        "--stream-reader", action="store_true", help="one /api/v1/stream reader connected through each fusing run (an analyst's open page)"
    )
    parser.add_argument(
        "--rounds", type=int, default=3,
        help="the raw floor, the ingest-only run and the fusing run alternated this often; the median round is reported (default 3)",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    docs = make_observations(args.observations, unstated=args.unstated)
    c = args.connections
    with tempfile.TemporaryDirectory(prefix="truceline-bench-") as tmp:
        workdir = Path(tmp)
        rounds = [
            run_round(docs, args.batch, workdir / f"round-{k}", c, fusing=not args.ingest_only, reader=args.stream_reader)
            for k in range(args.rounds)
        ]
        # The round whose ratio is the median (the upper one of an even count; a round's figures are measured in the
        # same minutes) stands for all.
        middle = sorted(rounds, key=lambda r: (r.fused if r.fused is not None else r.ingest_many) / r.raw)[len(rounds) // 2]
        raw, ingest_many = middle.raw, middle.ingest_many
        CPU_US.update(middle.cpu_us)
        first = workdir / "round-0"
        ingest_one = None if args.ingest_only else bench_http(docs, args.batch, first, 1, fusion=None)
        backlog = None if args.ingest_only else bench_backlog(first / f"http-{c}-ingest", len(docs))
        bare_fuser = None if args.ingest_only else bench_bare_fuser(docs)
        fusing: dict[str, float] = {}
        if not args.ingest_only:
            fusing["thread"] = bench_http(docs, args.batch, first, c, fusion="thread", reader=args.stream_reader)
            fusing["process"] = middle.fusing or 0.0
            FUSED["process"] = middle.fused or 0.0
        raw_fused = None if not fusing else bench_raw(docs, args.batch, first, middle.fused_rows)
        stages = bench_stages(docs, args.batch, workdir) if args.stages else {}
    shape = (", uncertainties unstated" if args.unstated else "") + (", one /stream reader while fusing" if args.stream_reader else "")
    print(f"observations                              {args.observations:>10,d}  (batches of {args.batch:,}, {os.cpu_count()} cores{shape})")
    print(
        f"raw sqlite executemany                    {raw:>10,.0f} obs/s  (baseline: same rows, schema, pragmas;"
        f" the median round of {len(rounds)}, whose figures follow)"
    )
    print(f"  round by round (each against its own raw): {'; '.join(r.describe() for r in rounds)}")
    if ingest_one is not None:
        print(f"HTTP POST, ingest only, 1 connection      {ingest_one:>10,.0f} obs/s  ({ingest_one / raw:.2f} of raw)")
    print(
        f"HTTP POST, ingest only, {c} connections     {ingest_many:>10,.0f} obs/s  ({ingest_many / raw:.2f} of raw;"
        f" goal >= {GOAL_OBS_PER_S:,} obs/s and >= {GOAL_RATIO:.2f} of raw)"
    )
    cpu = f"CPU per observation: raw {CPU_US['raw']:.1f} µs; server (all its processes), ingest only"
    if not fusing:
        print(f"{cpu} {c} conns {CPU_US[f'{c}-ingest']:.1f} µs")
    else:
        for where, label in (("process", "fusing (its fusion process)"), ("thread", "fusing in a thread (--fusion-in thread)")):
            print(f"HTTP POST, {label}, {c} conns".ljust(42) + f"{fusing[where]:>10,.0f} obs/s  ({fusing[where] / raw:.2f} of raw)")
            goal = f"; goal >= {GOAL_RATIO_FUSED:.2f} of raw" if where == "process" else ""
            print(f"  same run, until all are fused           {FUSED[where]:>10,.0f} obs/s  ({FUSED[where] / raw:.2f} of raw{goal})")
            if where in STREAMED:
                events, size = STREAMED[where]
                print(f"  the /stream reader received             {events:>10,d} events  ({size / 1e6:,.1f} MB)")
        assert raw_fused is not None and middle.fused_rows is not None
        incidents, members = middle.fused_rows
        print(
            f"raw sqlite, with fusion's rows too          {raw_fused:>10,.0f} obs/s  ({raw_fused / raw:.2f} of raw: the same batches, each with its share"
            f" of the {len(incidents):,} incident and {len(members):,} membership rows the fusing run stored, same commits)"
        )
        print(f"  until all are fused (process) / that floor {FUSED['process'] / raw_fused:>7.2f}")
        assert backlog is not None and bare_fuser is not None
        print(
            f"fusing a stored backlog (server restarted)  {backlog:>10,.0f} obs/s  ({backlog / bare_fuser:.2f} of the bare fuser on the same"
            f" observations, {bare_fuser:,.0f} obs/s in this process: no store, parsed beforehand)"
        )
        print(
            f"{cpu} 1 conn {CPU_US['1-ingest']:.1f} µs, {c} conns {CPU_US[f'{c}-ingest']:.1f} µs;"
            f" fusing in its process {CPU_US[f'{c}-process']:.1f} µs (until all are fused {CPU_US[f'{c}-process-fused']:.1f} µs),"
            f" in a thread {CPU_US[f'{c}-thread']:.1f} µs (until all are fused {CPU_US[f'{c}-thread-fused']:.1f} µs);"
            f" raw with fusion's rows {CPU_US['raw-fused']:.1f} µs"
        )
    if stages:
        print(f"stages in-process, µs per observation (raw sqlite: {1e6 / raw:.1f}; HTTP, {args.connections} connections: {1e6 / ingest_many:.1f})")
        for name, seconds in stages.items():
            print(f"  {name:<48} {seconds * 1e6:>8.1f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
