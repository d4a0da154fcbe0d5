"""A 201 means the observation survives kill -9 of a real server, and a batch lands whole or not at all."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import orjson
from tests.conftest import native, start_server

from truceline.store.sqlite import open_store


def test_acknowledged_batches_survive_kill_9_and_no_batch_is_partial(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = start_server(data_dir)
    headers = {"Authorization": f"Bearer {server.key}", "Content-Type": "application/json"}
    acknowledged: list[list[str]] = []
    attempted: list[list[str]] = []
    stop = threading.Event()

    def sender() -> None:
        with httpx.Client(base_url=server.url, headers=headers, timeout=10) as client:
            for b in range(10_000):
                if stop.is_set():
                    return
                ids = [f"k{b:05d}-{i:03d}" for i in range(200)]
                attempted.append(ids)
                body = orjson.dumps([native(id=i, location={"lat": 48 + int(i[1:6]) * 1e-4, "lon": 37.7}) for i in ids])
                try:
                    response = client.post("/api/v1/observations", content=body, headers={"Content-Type": "application/json"})
                except httpx.HTTPError:
                    return  # the server died mid-request: this batch was not acknowledged
                assert response.status_code == 201, response.text
                acknowledged.append(ids)

    thread = threading.Thread(target=sender)
    thread.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 15 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=10)
    stop.set()
    thread.join(timeout=30)
    assert len(acknowledged) >= 15, "the server did not acknowledge enough batches before the kill"

    store = open_store(data_dir)
    try:
        for ids in acknowledged:
            assert all(store.get_observation(i) is not None for i in (ids[0], ids[-1]))
        stored = {row[0] for row in store._reader().execute("SELECT id FROM observations")}
        for ids in attempted:
            present = sum(i in stored for i in ids)
            assert present in (0, len(ids)), f"batch {ids[0]} is partial: {present} of {len(ids)}"
        assert len(stored) >= 200 * len(acknowledged)
    finally:
        store.close()

    # The restarted server serves what was acknowledged before the kill, with the same admin key.
    again = start_server(data_dir)
    try:
        last = acknowledged[-1][-1]
        response = httpx.get(f"{again.url}/api/v1/observations/{last}", headers={"Authorization": f"Bearer {again.key}"})
        assert response.status_code == 200 and response.json()["id"] == last
    finally:
        again.process.terminate()
        again.process.wait(timeout=30)
