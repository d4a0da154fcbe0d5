"""One fuser per data dir: real processes contend for DIR/fuser.lock, and a killed holder frees it.

A second ``truceline fuse`` (or ``serve --fusion``) exits 3 naming the holder and changes nothing; plain
``serve`` beside a running ``fuse`` serves without fusing and says so in /api/v1/status; ``kill -9`` of the
holder lets the next fuser start. Nothing here measures time: waits poll up to a generous deadline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from conftest import LiveServer, eventually, free_port, native, start_server
from truceline.api.app import create_app
from truceline.api.auth import ensure_admin_key, read_admin_key
from truceline.domain.observation import Observation
from truceline.ingest.validation import validation_context
from truceline.service.fuser_lock import LOCK_FILENAME, FuserBusy, FuserLock, fuser_holder
from truceline.service.settings import Settings
from truceline.store.ports import IncidentQuery
from truceline.store.sqlite import open_store

EXIT_FUSER_BUSY = 3


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "truceline.cli", *args]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli(*args), capture_output=True, text=True, timeout=180, env={**os.environ, "COLUMNS": "200"})


def add_observations(data_dir: Path, *ids: str) -> None:
    store = open_store(data_dir)
    try:
        docs = [native(id=i, location={"lat": 48.1 + 0.5 * n, "lon": 37.7, "cep_m": 50}) for n, i in enumerate(ids)]
        store.add_observations([Observation.model_validate(d, context=validation_context()) for d in docs])
    finally:
        store.close()


def fusion_state(data_dir: Path) -> tuple[int, list[tuple[str, tuple[str, ...]]]]:
    """The fusion cursor and the stored incidents (id, members): what a second fuser must not touch."""
    store = open_store(data_dir)
    try:
        return store.fusion_cursor(), [(i.id, i.observation_ids) for i in store.list_incidents(IncidentQuery())]
    finally:
        store.close()


def holder_pid(data_dir: Path) -> int | None:
    holder = fuser_holder(data_dir)
    return None if holder is None else holder.pid


@pytest.fixture
def follower(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`truceline fuse --follow` on tmp_path/data with three observations, once it has fused them."""
    data_dir = tmp_path / "data"
    add_observations(data_dir, "a", "b", "c")
    process = subprocess.Popen(cli("fuse", "--data-dir", str(data_dir), "--follow"), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        eventually("the first fuser holds the lock", lambda: holder_pid(data_dir) == process.pid)
        eventually("the first fuser fused everything", lambda: fusion_state(data_dir)[0] == 3)
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def test_a_second_fuse_fails_naming_the_first_and_kill_9_of_the_first_frees_the_data_dir(
    tmp_path: Path, follower: subprocess.Popen[bytes]
) -> None:
    data_dir = tmp_path / "data"
    add_observations(data_dir, "d")  # waiting for the first fuser; the refused second must not take it
    eventually("the first fuser took d in", lambda: fusion_state(data_dir)[0] == 4)
    before, record = fusion_state(data_dir), (data_dir / LOCK_FILENAME).read_bytes()

    second = run_cli("fuse", "--data-dir", str(data_dir))
    assert second.returncode == EXIT_FUSER_BUSY, second.stderr
    message = second.stderr
    assert f"another fuser already works on {data_dir}: pid {follower.pid}" in message
    assert f"`truceline fuse --data-dir {data_dir} --follow`" in message and "fusing since 20" in message
    assert fusion_state(data_dir) == before and (data_dir / LOCK_FILENAME).read_bytes() == record

    follower.send_signal(signal.SIGKILL)
    follower.wait(timeout=30)
    assert fuser_holder(data_dir) is None  # the record of the dead holder is left, but nobody holds the lock
    add_observations(data_dir, "e")
    third = run_cli("fuse", "--data-dir", str(data_dir))
    assert third.returncode == 0, third.stderr
    assert "fused 1 observation; cursor at 5" in third.stderr
    assert fuser_holder(data_dir) is None  # released on a clean exit


def test_serve_beside_a_running_fuse_serves_without_fusing_and_serve_fusion_refuses(
    tmp_path: Path, follower: subprocess.Popen[bytes]
) -> None:
    data_dir = tmp_path / "data"
    refused = run_cli("serve", "--data-dir", str(data_dir), "--port", str(free_port()), "--fusion")
    assert refused.returncode == EXIT_FUSER_BUSY, refused.stderr
    assert f"pid {follower.pid} (`truceline fuse --data-dir {data_dir} --follow`)" in refused.stderr
    assert "--no-fusion" in refused.stderr
    assert not (data_dir / "admin.key").exists()  # refused before anything was created

    server = start_server(data_dir)
    try:
        health = status_of(server)
        assert health["fusion"]["mode"] == "external"
        assert health["fusion"]["holder"]["pid"] == follower.pid
        assert health["fusion"]["holder"]["command"] == f"truceline fuse --data-dir {data_dir} --follow"
        # The external fuser fuses what the server stores.
        response = httpx.post(server.url + "/api/v1/observations", json=native(id="via-http"),
                              headers={"Authorization": f"Bearer {server.key}"}, timeout=30)  # fmt: skip
        assert response.status_code == 201, response.text
        eventually("the external fuser fused the posted observation", lambda: fusion_state(data_dir)[0] == 4)

        follower.kill()
        follower.wait(timeout=30)
        assert status_of(server)["fusion"] == {"mode": "off"}
    finally:
        output = stop(server)
    assert f"pid {follower.pid}" in output and "Serving without fusion of its own" in output


def status_of(server: LiveServer) -> dict[str, object]:
    """The authenticated status (``/healthz`` no longer names the fusion holder)."""
    response = httpx.get(server.url + "/api/v1/status", headers={"Authorization": f"Bearer {server.key}"}, timeout=10)
    assert response.status_code == 200, response.text
    return dict(response.json())


def admin_auth(data_dir: Path) -> dict[str, str]:
    return {"Authorization": f"Bearer {read_admin_key(data_dir)}"}


def stop(server: LiveServer) -> str:
    server.process.terminate()
    server.process.wait(timeout=30)
    return server.process.stdout.read().decode() if server.process.stdout else ""


def test_fuse_refuses_while_a_server_fuses_in_process(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = start_server(data_dir)
    try:
        health = status_of(server)
        assert health["fusion"]["mode"] == "child-process" and health["fusion"]["holder"]["pid"] == server.process.pid
        refused = run_cli("fuse", "--data-dir", str(data_dir))
        assert refused.returncode == EXIT_FUSER_BUSY, refused.stderr
        assert f"pid {server.process.pid} (`truceline serve --data-dir {data_dir}" in refused.stderr
    finally:
        stop(server)
    assert fuser_holder(data_dir) is None  # a server that stops gives the lock up


def test_the_lock_is_exclusive_within_a_process_too_and_release_clears_the_record(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with FuserLock.acquire(data_dir, "first holder") as lock:
        with pytest.raises(FuserBusy) as busy:
            FuserLock.acquire(data_dir, "second holder")
        assert busy.value.holder == lock.holder and busy.value.holder.pid == os.getpid()
        assert "first holder" in str(busy.value)
        assert fuser_holder(data_dir) == lock.holder
    assert (data_dir / LOCK_FILENAME).read_bytes() == b"" and fuser_holder(data_dir) is None
    lock.release()  # idempotent
    FuserLock.acquire(data_dir).release()


def test_an_app_that_would_fuse_does_not_start_while_another_fuser_holds_the_lock(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    store = open_store(data_dir)
    ensure_admin_key(store, data_dir)
    try:
        with FuserLock.acquire(data_dir, "truceline fuse --follow"):
            with pytest.raises(FuserBusy, match="truceline fuse --follow"), TestClient(create_app(Settings(data_dir=data_dir), store)):
                pass
            with TestClient(create_app(Settings(data_dir=data_dir, fusion=False), store)) as client:
                assert client.get("/api/v1/status", headers=admin_auth(data_dir)).json()["fusion"]["mode"] == "external"
        with TestClient(create_app(Settings(data_dir=data_dir), store)) as client:
            assert client.get("/api/v1/status", headers=admin_auth(data_dir)).json()["fusion"]["mode"] == "in-process"
        assert fuser_holder(data_dir) is None
    finally:
        store.close()
