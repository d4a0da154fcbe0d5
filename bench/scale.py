"""Cluster throughput: API replicas and workers on PostgreSQL + NATS vs a raw PostgreSQL COPY of the same rows.

    truceline bench scale [--observations 20000] [--batch 500] [--connections 4] [--runs 1x1,2x2] [--sector-deg 1] [--halo-km 50]

Each run (REPLICASxWORKERS) gets a fresh database (with PostGIS) on the machine's PostgreSQL and its own
``nats-server -js``; the replicas (``serve --store --bus``) and workers (``worker``) are real processes.
Clients post batches over ``--connections`` connections spread across the replicas; a batch counts when it is
acknowledged (201: committed in PostgreSQL, announced on JetStream). Figures:

- acknowledged obs/s (first post to last 201), and per core of this machine;
- fusion lag: from the last acknowledgement until every observation is sequenced into the ledger and every
  sector has fused it (the workers run during ingest);
- end to end obs/s: first post until everything is fused.

The floor is a raw ``COPY`` of the same rows (ids, time, position, canonical JSON) into a plain table of the
same database, one transaction per batch, from one connection: no validation, hashing, ledger, HTTP or bus.
The synthetic load is a day on a 300 km front: events seen by 2–4 sensors each (CEP 100–600 m), so the
fusion has real associations to make.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg

from truceline.cluster.sectors import SectorGrid
from truceline.domain.documents import parse_documents
from truceline.service.procs import die_with_parent

PG_ADMIN = os.environ.get("TRUCELINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
SOURCES = (("ua-acoustic", "acoustic", "UA"), ("fr-radar", "radar", "FR"), ("us-uav", "uav", "US"), ("mon", "monitor", "MON"))


def make_observations(count: int, seed: int = 11) -> list[dict[str, Any]]:
    """Events on a 300 km line (48.2°N 37.6°E, azimuth 35°) over one day, each seen by 2–4 sources."""
    rng = random.Random(seed)
    start = datetime(2023, 4, 10, tzinfo=UTC)
    out: list[dict[str, Any]] = []
    event = 0
    while len(out) < count:
        event += 1
        along, across = rng.uniform(-150, 150), rng.uniform(-10, 10)
        az = math.radians(35)
        east, north = along * math.sin(az) + across * math.cos(az), along * math.cos(az) - across * math.sin(az)
        lat = 48.2 + north / 111.32
        lon = 37.6 + east / (111.32 * math.cos(math.radians(lat)))
        t = start + timedelta(seconds=rng.uniform(0, 86_400))
        for k in rng.sample(range(len(SOURCES)), rng.randint(2, 4)):
            sid, stype, org = SOURCES[k]
            cep = rng.uniform(100, 600)
            out.append({
                "id": f"scale-{seed}-{len(out):08d}",
                "time": (t + timedelta(seconds=rng.gauss(0, 2))).isoformat().replace("+00:00", "Z"),
                "time_uncertainty_s": 5.0,
                "kind": "explosion",
                "location": {"lat": round(lat + rng.gauss(0, cep / 1.18 / 111_320), 6),
                             "lon": round(lon + rng.gauss(0, cep / 1.18 / 75_000), 6), "cep_m": round(cep)},
                "source": {"id": f"{sid}-{int(along // 20)}", "type": stype, "org": org},
                "reliability": "B", "credibility": 2, "releasable_to": ["COALITION"],
            })  # fmt: skip
    return out[:count]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _child() -> None:
    die_with_parent(os.getppid())


class Cluster:
    """A fresh database, a private nats-server, R replicas and W workers; everything removed on exit."""

    def __init__(self, workdir: Path, replicas: int, workers: int, sector_deg: float, halo_km: float = 50.0) -> None:
        self.workdir = workdir
        self.db = f"truceline_bench_{uuid.uuid4().hex[:10]}"
        self.dsn = PG_ADMIN.rpartition("/")[0] + "/" + self.db
        self.data = workdir / "data"
        self.processes: list[subprocess.Popen[bytes]] = []
        self.urls: list[str] = []
        self.n_replicas, self.n_workers, self.sector_deg, self.halo_km = replicas, workers, sector_deg, halo_km

    def __enter__(self) -> Cluster:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.db}"')
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        nats_port = _free_port()
        exe = shutil.which("nats-server")
        if exe is None:
            raise SystemExit("nats-server is not installed (.ci/services installs it)")
        self._spawn([exe, "-js", "-a", "127.0.0.1", "-p", str(nats_port), "-sd", str(self.workdir / "nats")])
        self.bus = f"nats://127.0.0.1:{nats_port}"
        time.sleep(0.5)
        for _ in range(self.n_replicas):
            port = _free_port()
            self._spawn([sys.executable, "-m", "truceline.cli", "serve", "--data-dir", str(self.data), "--port", str(port),
                         "--store", self.dsn, "--bus", self.bus])  # fmt: skip
            self.urls.append(f"http://127.0.0.1:{port}")
            self._wait(self.urls[-1])  # one at a time: the first writes the admin key
        for _ in range(self.n_workers):
            self._spawn([sys.executable, "-m", "truceline.cli", "worker", "--data-dir", str(self.data), "--store", self.dsn,
                         "--bus", self.bus, "--sector-deg", f"{self.sector_deg:g}", "--halo-km", f"{self.halo_km:g}"])  # fmt: skip
        self.key = (self.data / "admin.key").read_text().strip()
        return self

    def _spawn(self, argv: list[str]) -> None:
        log = (self.workdir / f"proc-{len(self.processes)}.log").open("wb")
        self.processes.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_child))

    def _wait(self, url: str, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError(f"replica {url} did not start (logs in {self.workdir})")

    def __exit__(self, *exc: object) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')


def post_all(cluster: Cluster, docs: list[dict[str, Any]], batch: int, connections: int) -> float:
    """Post every batch over ``connections`` connections, round-robin over the replicas; returns seconds."""
    bodies = iter(orjson.dumps(docs[i : i + batch]) for i in range(0, len(docs), batch))
    guard = threading.Lock()
    headers = {"Authorization": f"Bearer {cluster.key}", "Content-Type": "application/json"}

    def sender(n: int) -> None:
        url = cluster.urls[n % len(cluster.urls)]
        with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
            while True:
                with guard:
                    body = next(bodies, None)
                if body is None:
                    return
                response = client.post("/api/v1/observations", content=body)
                if response.status_code != 201:
                    raise RuntimeError(f"{url} answered {response.status_code}: {response.text[:300]}")

    started = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        for future in [pool.submit(sender, n) for n in range(connections)]:
            future.result()
    return time.perf_counter() - started


def wait_fused(cluster: Cluster, docs: list[dict[str, Any]], timeout_s: float = 1800) -> None:
    """Until the ledger holds every observation and every sector with data has fused to its end."""
    grid = SectorGrid(cluster.sector_deg)
    owners = {grid.owner(o).name for o in parse_documents([orjson.dumps(d).decode() for d in docs])}  # type: ignore[union-attr]
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(cluster.dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            size = conn.execute("SELECT count(*) FROM observations WHERE ledger_index IS NOT NULL").fetchone()
            cursors = dict(conn.execute("SELECT key, value FROM fusion_state WHERE key LIKE 'cursor:%'").fetchall())
            end = conn.execute("SELECT coalesce(max(ledger_index) + 1, 0) FROM observations").fetchone()
            if size and end and size[0] == len(docs) and all(int(cursors.get(f"cursor:{n}", -1)) >= end[0] for n in owners):
                return
            time.sleep(0.2)
    raise RuntimeError("fusion did not catch up in time")


def copy_floor(dsn: str, docs: list[dict[str, Any]], batch: int) -> float:
    """Observations per second of a bare COPY of the same rows into a plain table, one transaction per batch."""
    rows = [(d["source"]["org"], d["id"], d["time"], d["location"]["lat"], d["location"]["lon"], orjson.dumps(d).decode()) for d in docs]
    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE TABLE floor_rows (org TEXT, id TEXT, t TIMESTAMPTZ, lat DOUBLE PRECISION, lon DOUBLE PRECISION,"
                     " doc TEXT, PRIMARY KEY (org, id))")  # fmt: skip
        conn.commit()
        started = time.perf_counter()
        for i in range(0, len(rows), batch):
            with conn.cursor() as cur, cur.copy("COPY floor_rows FROM STDIN") as copy:
                for row in rows[i : i + batch]:
                    copy.write_row(row)
            conn.commit()
        return len(rows) / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    """Run each REPLICASxWORKERS configuration and the floor; print one line per figure."""
    parser = argparse.ArgumentParser(prog="truceline bench scale", description=__doc__.splitlines()[0])
    parser.add_argument("--observations", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--runs", default="1x1,2x2", help="comma-separated REPLICASxWORKERS")
    parser.add_argument("--sector-deg", type=float, default=1.0)
    parser.add_argument("--halo-km", type=float, default=50.0)
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    print(f"observations {args.observations:,} (batches of {args.batch}, {args.connections} connections, {cores} cores,"
          f" sectors {args.sector_deg:g}° + {args.halo_km:g} km halo)")  # fmt: skip
    for run in args.runs.split(","):
        replicas, workers = (int(x) for x in run.lower().split("x"))
        docs = make_observations(args.observations + args.batch * replicas)
        with tempfile.TemporaryDirectory(prefix="truceline-bench-scale-") as tmp, Cluster(Path(tmp), replicas, workers, args.sector_deg, args.halo_km) as cluster:
            warm, timed = docs[: args.batch * replicas], docs[args.batch * replicas :]
            post_all(cluster, warm, args.batch, replicas)  # untimed: each replica's first batch starts its parser pool
            posted = post_all(cluster, timed, args.batch, args.connections)
            acked_at = time.perf_counter()
            wait_fused(cluster, docs)
            lag = time.perf_counter() - acked_at
            floor = copy_floor(cluster.dsn, docs, args.batch)
        rate = len(timed) / posted
        print(f"{replicas} replica(s), {workers} worker(s): acknowledged {rate:>8,.0f} obs/s ({rate / cores:,.0f} per core),"
              f" {rate / floor:.3f} of raw COPY {floor:,.0f} obs/s; fusion lag after the last ack {lag:.1f} s;"
              f" end to end {len(timed) / (posted + lag):,.0f} obs/s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
