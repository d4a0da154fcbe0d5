"""API replicas of a scale-out deployment, as real processes on one PostgreSQL database and one nats-server.

What users rely on (docs/cluster-api.md): any replica serves what another acknowledged, live events reach
every replica's readers, a 2xx means committed *and* announced, and while PostgreSQL or NATS is unreachable
a write gets 503 with Retry-After, never a 2xx, and a re-post afterwards is idempotent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.replicas import Replica, auth, launch, wait_ready
from tests.services import terminate_connections

from conftest import eventually, native


@pytest.fixture
def replicas(tmp_path: Path, pg_dsn: str, nats: Any) -> Iterator[tuple[Replica, Replica]]:
    """Two replicas started at the same moment on an empty store, sharing one data dir."""
    data_dir = tmp_path / "data"
    started = [launch(data_dir, pg_dsn, nats.url), launch(data_dir, pg_dsn, nats.url)]
    try:
        yield wait_ready(started[0]), wait_ready(started[1])
    finally:
        for replica in started:
            if replica.process.poll() is None:
                replica.process.terminate()
                try:
                    replica.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    replica.kill()
        terminate_connections(pg_dsn)  # the fixture drops the database; nothing may hold it


def batch(prefix: str, n: int, start: int = 0) -> list[dict[str, Any]]:
    return [native(id=f"{prefix}-{i:05d}", location={"lat": 48.0 + i * 1e-4, "lon": 37.7, "cep_m": 150}) for i in range(start, start + n)]


def test_two_replicas_starting_at_once_make_one_admin_key_and_both_serve_it(replicas: tuple[Replica, Replica], pg_dsn: str) -> None:
    a, b = replicas
    assert a.get("/whoami").status_code == 200
    assert b.get("/whoami").status_code == 200
    status = b.get("/status").json()
    assert status["bus"]["connected"] is True and status["fusion"]["mode"] == "cluster"
    listed = subprocess.run(
        [sys.executable, "-m", "truceline.cli", "keys", "list", "--data-dir", str(a.data_dir), "--store", pg_dsn, "--json"],
        capture_output=True, check=True,
    )
    admins = [k for k in json.loads(listed.stdout) if k["role"] == "admin"]
    assert len(admins) == 1, admins


def test_an_observation_posted_to_one_replica_is_read_and_streamed_from_the_other(replicas: tuple[Replica, Replica]) -> None:
    a, b = replicas
    seen: list[dict[str, Any]] = []
    connected = threading.Event()

    def listen() -> None:
        with httpx.stream("GET", b.url + "/api/v1/stream", headers=auth(b.key), timeout=60) as response:
            event = None
            for line in response.iter_lines():
                if line.startswith(": connected"):
                    connected.set()
                elif line.startswith("event: "):
                    event = line[len("event: ") :]
                elif line.startswith("data: ") and event == "observation":
                    seen.append(json.loads(line[len("data: ") :]))
                    return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert connected.wait(30)
    time.sleep(0.3)  # the subscription is open before the post
    response = a.post(native(id="cross-1"))
    assert response.status_code == 201, response.text
    got = b.get("/observations/cross-1")
    assert got.status_code == 200, got.text
    assert got.json()["id"] == "cross-1" and got.json()["source"]["org"] == "UA"
    listener.join(30)
    assert [e["id"] for e in seen] == ["cross-1"]


def test_nats_down_means_503_with_retry_after_and_the_re_post_is_idempotent(replicas: tuple[Replica, Replica], nats: Any) -> None:
    a, b = replicas
    assert a.post(batch("before", 3)).status_code == 201
    nats.kill()
    failed = batch("during", 5)
    response = a.post(failed)
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) > 0
    assert "NATS" in response.json()["detail"]
    nats.start()
    retried = eventually("a POST accepted after NATS restarted", lambda: (r := a.post(failed)).status_code == 201 and r)
    body = retried.json()
    assert body["accepted"] == [o["id"] for o in failed]
    assert body["stored"] + len(body["duplicates"]) == 5 and body["conflicts"] == []
    again = b.post(failed).json()  # a second re-post, on the other replica: nothing new, nothing lost
    assert again["stored"] == 0 and len(again["duplicates"]) == 5
    for observation in failed:
        assert b.get(f"/observations/{observation['id']}").status_code == 200


def _post_until(replica: Replica, stop: threading.Event, prefix: str, acked: list[str], statuses: list[int]) -> None:
    """Post batches of 20 until told to stop; remember what was acknowledged and every status seen."""
    n = 0
    while not stop.is_set():
        body = batch(prefix, 20, n)
        n += 20
        try:
            response = replica.post(body, timeout=15)
        except httpx.HTTPError:
            statuses.append(-1)  # connection refused or cut: not acknowledged
            continue
        statuses.append(response.status_code)
        if response.status_code == 201:
            acked.extend(response.json()["accepted"])


def test_terminated_database_connections_give_503_or_success_and_lose_nothing_acknowledged(
    replicas: tuple[Replica, Replica], pg_dsn: str
) -> None:
    a, b = replicas
    stop, acked, statuses = threading.Event(), [], []
    poster = threading.Thread(target=_post_until, args=(a, stop, "pgterm", acked, statuses))
    poster.start()
    try:
        eventually("some acknowledged batches", lambda: len(acked) >= 60)
        for _ in range(5):
            terminate_connections(pg_dsn)
            time.sleep(0.4)
        eventually("more acknowledged batches after the terminations", lambda: len(acked) >= 300)
    finally:
        stop.set()
        poster.join(60)
    assert set(statuses) <= {201, 503}, sorted(set(statuses))
    for observation_id in acked:
        response = b.get(f"/observations/{observation_id}")
        assert response.status_code == 200, (observation_id, response.status_code, response.text)


def test_kill_9_of_a_replica_mid_ingest_loses_no_acknowledged_observation(replicas: tuple[Replica, Replica]) -> None:
    a, b = replicas
    stop, acked, statuses = threading.Event(), [], []
    poster = threading.Thread(target=_post_until, args=(a, stop, "killed", acked, statuses))
    poster.start()
    try:
        eventually("some acknowledged batches", lambda: len(acked) >= 100)
        a.kill()
        time.sleep(1)
    finally:
        stop.set()
        poster.join(60)
    assert acked
    for observation_id in acked:
        response = b.get(f"/observations/{observation_id}")
        assert response.status_code == 200, (observation_id, response.status_code, response.text)


def test_serve_needs_both_store_and_bus(tmp_path: Path, pg_dsn: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "truceline.cli", "serve", "--data-dir", str(tmp_path / "d"), "--store", pg_dsn],
        capture_output=True, env={**os.environ, "COLUMNS": "200"}, timeout=60,
    )
    assert result.returncode == 2
    assert b"needs both --store" in result.stderr
    assert not (tmp_path / "d").exists()  # refused before anything was made


def _cli(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "truceline.cli", *args], capture_output=True, env={**os.environ, "COLUMNS": "200"}, timeout=300)


def test_after_sequencing_replicas_serve_proofs_and_the_ledger_exports_from_the_shared_store(
    replicas: tuple[Replica, Replica], pg_dsn: str, nats: Any, tmp_path: Path
) -> None:
    from truceline.store.open import open_store_url

    a, b = replicas
    assert a.post(batch("seq", 30)).status_code == 201
    assert b.get("/observations/seq-00000").json()["ledger"] is None  # acknowledged, not yet sequenced
    store: Any = open_store_url(a.data_dir, pg_dsn)  # what the sequencer (a worker) does, here by hand
    try:
        assert store.sequence_pending() == 30
    finally:
        store.close()
    got = b.get("/observations/seq-00007").json()
    assert got["ledger"] is not None and 0 <= got["ledger"]["index"] < 30  # served after the integrity check
    checkpoint = b.get("/ledger/checkpoint")
    assert checkpoint.status_code == 200 and checkpoint.json()["size"] == 30
    proof = a.get(f"/ledger/inclusion?index={got['ledger']['index']}&size=30")
    assert proof.status_code == 200
    bundle = tmp_path / "bundle.tar"
    exported = _cli("ledger", "export", "--data-dir", str(a.data_dir), "--store", pg_dsn, "--bus", nats.url, "--out", str(bundle))
    assert exported.returncode == 0, exported.stderr.decode() + exported.stdout.decode()
    verified = _cli("ledger", "verify", str(bundle), "--json")
    assert verified.returncode == 0, verified.stdout.decode()
    assert json.loads(verified.stdout)["leaf_count"] == 30
    audited = _cli("ledger", "audit", "--data-dir", str(a.data_dir), "--store", pg_dsn, "--json")
    assert audited.returncode == 0, audited.stdout.decode()
    assert json.loads(audited.stdout)["observations_checked"] == 30
    published = _cli("ledger", "key", "--data-dir", str(tmp_path / "elsewhere"), "--store", pg_dsn)
    assert published.stdout.decode().strip() == checkpoint.json()["verifier_key"]


def test_verbs_that_must_not_touch_a_shared_store_refuse(tmp_path: Path, pg_dsn: str) -> None:
    for verb in (["fuse"], ["demo", "--load-only"]):
        result = _cli(*verb, "--data-dir", str(tmp_path / "d"), "--store", pg_dsn)
        assert result.returncode == 2, (verb, result.stderr)
        assert b"does not work with --store" in result.stderr
    lonely_bus = _cli("keys", "list", "--data-dir", str(tmp_path / "d"), "--bus", "nats://127.0.0.1:4222")
    assert lonely_bus.returncode == 2 and b"--bus needs --store" in lonely_bus.stderr


def _events(replica: Replica, key: str, wanted: int, ready: threading.Event, out: list[tuple[str, dict[str, Any]]]) -> None:
    """Read ``wanted`` events from a replica's /stream (heartbeats and comments skipped)."""
    with httpx.stream("GET", replica.url + "/api/v1/stream", headers=auth(key), timeout=60) as response:
        topic = None
        for line in response.iter_lines():
            if line.startswith(": connected"):
                ready.set()
            elif line.startswith("event: "):
                topic = line[len("event: ") :]
            elif line.startswith("data: ") and topic is not None:
                out.append((topic, json.loads(line[len("data: ") :])))
                if len(out) >= wanted:
                    return


def test_an_incident_event_from_another_process_reaches_each_replica_s_readers_as_releasability_allows(
    replicas: tuple[Replica, Replica], pg_dsn: str, nats: Any
) -> None:
    """What a fusion worker publishes: the full event to a reader of all its evidence, the partial notice to a
    reader of part of it, nothing to anyone else; here published from the test process's own NatsBus."""
    from truceline.bus.nats import NatsBus
    from truceline.bus.ports import Event

    _a, b = replicas
    keys = {}
    for org in ("FR", "RU"):
        made = subprocess.run(
            [sys.executable, "-m", "truceline.cli", "keys", "create", "--data-dir", str(b.data_dir), "--store", pg_dsn,
             "--org", org, "--role", "analyst", "--json"], capture_output=True, check=True,
        )  # fmt: skip
        keys[org] = json.loads(made.stdout)["key"]
    subprocess.run([sys.executable, "-m", "truceline.cli", "orgs", "set", "--data-dir", str(b.data_dir), "--store", pg_dsn,
                    "FR", "--group", "COALITION"], capture_output=True, check=True)  # fmt: skip
    full = Event("incident", {"id": "inc-9", "sources": ["ua-1", "fr-1"]}, "UA", ("UA",),
                 evidence=(("UA", ("UA",)), ("FR", ("COALITION",))),
                 partial=Event("incident.changed", {"id": "inc-9"}, "FR", ("COALITION",),
                               evidence=(("FR", ("COALITION",)),), any_evidence=True))  # fmt: skip
    marker = Event("observation", {"id": "public-1"}, "UA", ("PUBLIC",))  # every reader gets it: ends the wait
    got: dict[str, list[tuple[str, dict[str, Any]]]] = {"admin": [], "FR": [], "RU": []}
    readers = []
    for who, key, wanted in (("admin", b.key, 2), ("FR", keys["FR"], 2), ("RU", keys["RU"], 1)):
        ready = threading.Event()
        thread = threading.Thread(target=_events, args=(b, key, wanted, ready, got[who]), daemon=True)
        thread.start()
        assert ready.wait(30)
        readers.append(thread)
    time.sleep(0.3)
    worker_bus = NatsBus(nats.url)
    try:
        assert worker_bus.start(10)
        worker_bus.publish(full)
        worker_bus.publish(marker)
        for thread in readers:
            thread.join(30)
    finally:
        worker_bus.close()
    assert got["admin"] == [("incident", full.data), ("observation", marker.data)]
    assert got["FR"] == [("incident.changed", {"id": "inc-9"}), ("observation", marker.data)]
    assert got["RU"] == [("observation", marker.data)]


def test_a_replica_starts_while_nats_is_down_and_refuses_writes_until_it_is_up(tmp_path: Path, pg_dsn: str, nats: Any) -> None:
    nats.kill()
    replica = launch(tmp_path / "data", pg_dsn, nats.url)
    try:
        wait_ready(replica)
        response = replica.post(native(id="early-1"))
        assert response.status_code == 503 and response.headers["Retry-After"] == "2", response.text
        assert replica.get("/status").json()["bus"]["connected"] is False
        nats.start()
        eventually("a write accepted once NATS is up", lambda: replica.post(native(id="early-1")).status_code == 201)
        assert replica.get("/observations/early-1").status_code == 200
    finally:
        replica.process.terminate()
        replica.process.wait(timeout=30)
        terminate_connections(pg_dsn)


def test_cursor_on_target_on_one_replica_takes_the_same_intake_path(tmp_path: Path, pg_dsn: str, nats: Any) -> None:
    """A TAK client's event to a replica's CoT listener is stored in the shared store and announced, like a POST."""
    import asyncio

    from tests.services import free_port
    from tests.test_listeners_cot import cot, send_with_pytak

    from truceline.bus.nats import NatsBus

    tcp = free_port()
    replica = launch(tmp_path / "data", pg_dsn, nats.url, ["--cot-tcp", str(tcp), "--cot-org", "UA", "--cot-releasable-to", "COALITION"])
    listener = NatsBus(nats.url)
    heard: list[list[tuple[str, str]]] = []
    try:
        wait_ready(replica)
        assert listener.start(10)
        listener.on_stored(heard.append)
        asyncio.run(send_with_pytak(f"tcp://127.0.0.1:{tcp}", [cot("cot-uid-1")]))
        found = eventually("the CoT event stored", lambda: (r := replica.get("/observations?limit=10")).status_code == 200 and r.json()["items"])
        assert found[0]["source"]["org"] == "UA"
        eventually("its announcement", lambda: any(pair[0] == "UA" for pairs in heard for pair in pairs))
    finally:
        listener.close()
        replica.process.terminate()
        replica.process.wait(timeout=30)
        terminate_connections(pg_dsn)
