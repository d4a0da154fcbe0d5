"""`serve` fuses in a child process it supervises (service/fusion_process.py): events reach /stream, a killed
child is replaced and nothing stored is lost, a killed server takes the child with it.

Real processes throughout, found through /proc as an operator would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from conftest import LiveServer, eventually, native, start_server
from test_no_orphans import alive, cmdline, descendants
from test_stream_merges import Reader
from truceline.service.fuser_lock import FuserLock, fuser_holder

CHILD_MODULE = "truceline.service.fusion_process"
WRITER_MODULE = "truceline.service.fusion_writer"


def _auth(server: LiveServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.key}"}


def _fusion_status(server: LiveServer) -> dict[str, Any]:
    response = httpx.get(server.url + "/api/v1/status", headers=_auth(server), timeout=30)
    assert response.status_code == 200, response.text
    return dict(response.json()["fusion"])


def _post(server: LiveServer, docs: list[dict[str, Any]]) -> None:
    response = httpx.post(server.url + "/api/v1/observations", json=docs, headers=_auth(server), timeout=60)
    assert response.status_code == 201, response.text


def _incidents(server: LiveServer) -> list[dict[str, Any]]:
    response = httpx.get(server.url + "/api/v1/incidents", headers=_auth(server), timeout=30)
    assert response.status_code == 200, response.text
    return list(response.json()["features"])


def _members(server: LiveServer) -> set[str]:
    """The ids of every observation some incident rests on."""
    return {oid for feature in _incidents(server) for oid in feature["properties"]["observation_ids"]}


def _event(i: int, lat: float, minute: int) -> list[dict[str, Any]]:
    """Two sensors' reports of one explosion: fusion makes one incident of them."""
    time_ = f"2023-04-02T03:{minute:02d}:00Z"
    return [
        native(id=f"ev{i}-a", time=time_, location={"lat": lat, "lon": 37.712, "cep_m": 150}),
        native(id=f"ev{i}-b", time=time_, location={"lat": lat + 0.0005, "lon": 37.712, "cep_m": 150},
               source={"id": "ua-acoustic-18", "type": "acoustic", "org": "UA"}),
    ]  # fmt: skip


def _child_of(server: LiveServer) -> int:
    """The pid of the server's fusion process, checked against /proc: a child of the server, running our module."""
    pid = _fusion_status(server)["process"]["pid"]
    assert isinstance(pid, int) and pid in descendants(server.process.pid)
    assert CHILD_MODULE in cmdline(pid)
    return pid


def _writer_of(child: int) -> tuple[int, str]:
    """The fusion process's writer (service/fusion_writer.py), its only child, and its start time."""

    def found() -> list[tuple[int, str]]:
        return [(pid, started) for pid, started in descendants(child).items() if WRITER_MODULE in cmdline(pid)]

    writers = eventually("the fusion process's writer", found)
    assert len(writers) == 1, writers
    return writers[0]



def _stat_start(pid: int) -> str:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()[19]


def test_a_killed_fusion_process_is_replaced_and_a_killed_server_takes_it_along(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = start_server(data_dir)
    try:
        status = _fusion_status(server)
        assert status["mode"] == "child-process" and status["holder"]["pid"] == server.process.pid  # the server holds the lock
        first = _child_of(server)
        reader = Reader(server.url, server.key)
        _post(server, _event(1, 48.105, 15))
        announced = reader.wait_for("incident", lambda data: set(data["properties"]["observation_ids"]) == {"ev1-a", "ev1-b"})
        assert announced["properties"]["action"] in {"created", "updated"}
        reader.close()
        assert _members(server) == {"ev1-a", "ev1-b"}

        writer, writer_started = _writer_of(first)
        os.kill(first, signal.SIGKILL)
        eventually("the writer gone with its fusion process", lambda: not alive(writer, writer_started), deadline_s=10)
        status = eventually("a new fusion process", lambda: (s := _fusion_status(server))["process"]["restarts"] == 1 and s["process"]["pid"] and s)
        assert status["process"]["pid"] != first and status["errors"] >= 1
        assert "ended unexpectedly" in status["last_error"] and "-9" in status["last_error"]
        second = _child_of(server)
        _post(server, _event(2, 48.300, 40))  # stored while the new child runs: fused by it
        eventually("the second event fused", lambda: _members(server) == {"ev1-a", "ev1-b", "ev2-a", "ev2-b"})
        assert len(_incidents(server)) == 2

        started = _stat_start(second)
        writer, writer_started = _writer_of(second)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=30)
        eventually("the fusion process gone with its server", lambda: not alive(second, started), deadline_s=10)
        eventually("its writer gone too", lambda: not alive(writer, writer_started), deadline_s=10)
        assert fuser_holder(data_dir) is None  # the lock died with its holder
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait(timeout=30)


def test_a_new_reader_gets_the_events_of_what_is_fused_without_a_post(tmp_path: Path) -> None:
    """Observations stored by `truceline ingest` (no post wakes the child; it finds them on its own look) are
    announced to a reader that connected before: the server tells its child of the reader when it connects."""
    server = start_server(tmp_path / "data")
    try:
        reader = Reader(server.url, server.key)
        batch = tmp_path / "batch.json"
        batch.write_bytes(orjson.dumps(_event(3, 48.2, 30)))
        stored = subprocess.run(
            [sys.executable, "-m", "truceline.cli", "ingest", "--data-dir", str(server.data_dir), str(batch)], capture_output=True, timeout=120
        )
        assert stored.returncode == 0, stored.stderr.decode()
        reader.wait_for("incident", lambda data: set(data["properties"]["observation_ids"]) == {"ev3-a", "ev3-b"})
        reader.close()
    finally:
        server.process.terminate()
        server.process.wait(timeout=60)


def test_the_server_stops_its_fusion_process_and_fused_work_survives_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = start_server(data_dir)
    try:
        _post(server, _event(1, 48.105, 15))
        eventually("fused", lambda: len(_members(server)) == 2)
        child = _child_of(server)
        started = _stat_start(child)
        writer, writer_started = _writer_of(child)
        server.process.terminate()
        assert server.process.wait(timeout=60) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after its shutdown
        output = server.process.stdout.read().decode() if server.process.stdout else ""
        assert "fusion process" not in output, output  # it ended when told, without an error or a kill
        assert not alive(child, started) and fuser_holder(data_dir) is None
        assert not alive(writer, writer_started)  # the child closed its writer before it ended
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait(timeout=30)
    again = start_server(data_dir)  # the new child rebuilds the open incident from the committed cursor
    try:
        assert _members(again) == {"ev1-a", "ev1-b"} and len(_incidents(again)) == 1
        _post(again, [native(id="ev1-c", time="2023-04-02T03:15:00Z", location={"lat": 48.1052, "lon": 37.712, "cep_m": 150},
                             source={"id": "ua-acoustic-19", "type": "acoustic", "org": "UA"})])  # fmt: skip
        eventually("the third report joins the rebuilt incident", lambda: _members(again) == {"ev1-a", "ev1-b", "ev1-c"})
        assert len(_incidents(again)) == 1
    finally:
        again.process.terminate()
        again.process.wait(timeout=60)


def test_ctrl_c_stops_the_server_and_every_process_it_started_without_a_traceback(tmp_path: Path) -> None:
    """Ctrl-C in a terminal signals the whole process group. The server shuts down in order (it stops its fusion
    process, which closes its writer, and its parser pool); its children leave that to it instead of dying
    mid-work with a traceback each."""
    server = start_server(tmp_path / "data", new_session=True)
    try:
        _post(server, _event(1, 48.105, 15))
        eventually("fused", lambda: len(_members(server)) == 2)
        started = descendants(server.process.pid)
        commands = [cmdline(pid) for pid in started]
        assert any(CHILD_MODULE in c for c in commands) and any(WRITER_MODULE in c for c in commands), commands
        os.killpg(server.process.pid, signal.SIGINT)
        assert server.process.wait(timeout=60) in (0, 130, -signal.SIGINT)  # 130: uvicorn re-raises the interrupt
        output = server.process.stdout.read().decode() if server.process.stdout else ""
        assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
        eventually("every process it started gone", lambda: not any(alive(pid, at) for pid, at in started.items()), deadline_s=10)
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait(timeout=30)


def test_thread_fusion_is_still_there_on_request(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", ["--fusion-in", "thread"])
    try:
        status = _fusion_status(server)
        assert status["mode"] == "in-process" and "process" not in status
        assert not any(CHILD_MODULE in cmdline(pid) for pid in descendants(server.process.pid))
        _post(server, _event(1, 48.105, 15))
        eventually("fused in the server's thread", lambda: len(_members(server)) == 2)
    finally:
        server.process.terminate()
        server.process.wait(timeout=60)


def _run_child(data_dir: Path) -> subprocess.CompletedProcess[bytes]:
    """The child started by hand, naming this test process as its server."""
    return subprocess.run(
        [sys.executable, "-m", CHILD_MODULE, str(data_dir), str(os.getpid())], stdin=subprocess.DEVNULL, capture_output=True, timeout=120
    )


def test_the_child_refuses_to_fuse_unless_its_server_holds_the_lock(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    refused = _run_child(data_dir)  # nobody holds the lock
    assert refused.returncode == 2
    assert "does not hold the fuser lock" in orjson.loads(refused.stdout.splitlines()[0])["failed"]
    assert not (data_dir / "truceline.db").exists()  # nothing was opened or changed
    with FuserLock.acquire(data_dir, "test"):  # held by this process: the child runs, rebuilds nothing, stops at EOF
        ran = _run_child(data_dir)
    assert ran.returncode == 0, ran.stderr.decode()
    lines = [orjson.loads(line) for line in ran.stdout.splitlines()]
    assert lines[0] == {"ready": 0} and lines[-1]["status"] == {"errors": 0, "last_error": None, "read": 0}


@pytest.mark.parametrize("usage", [[], ["only-one"], ["dir", "not-a-pid"]])
def test_the_child_names_its_usage(usage: list[str]) -> None:
    result = subprocess.run([sys.executable, "-m", CHILD_MODULE, *usage], capture_output=True, timeout=120)
    assert result.returncode == 2 and b"started by `truceline serve`" in result.stderr


def test_a_server_whose_fusion_process_cannot_start_does_not_serve(tmp_path: Path) -> None:
    """A child that fails before it is ready stops the start, as a failed recovery does in the thread."""
    from truceline.bus.inproc import InProcessBus
    from truceline.service.fusion_process import FusionProcess, FusionProcessFailed
    from truceline.store.sqlite import open_store

    data_dir = tmp_path / "data"
    store = open_store(data_dir)
    try:  # nobody holds the lock, so the child refuses, and start says why
        process = FusionProcess(data_dir, store, InProcessBus())
        with pytest.raises(FusionProcessFailed, match="does not hold the fuser lock"):
            process.start()
        assert process.pid is None
    finally:
        store.close()


def test_a_stuck_fusion_process_is_killed_and_replaced(tmp_path: Path) -> None:
    """A child that stops speaking (here: SIGSTOP) is killed after the silent limit and another takes over."""
    from truceline.bus.inproc import InProcessBus
    from truceline.service.fusion_process import FusionProcess
    from truceline.store.sqlite import open_store

    data_dir = tmp_path / "data"
    store = open_store(data_dir)
    lock = FuserLock.acquire(data_dir, "this test, as the server")
    process = FusionProcess(data_dir, store, InProcessBus(), silent_limit_s=2.0)
    try:
        process.start()
        stuck = process.pid
        assert stuck is not None
        writer, writer_started = _writer_of(stuck)
        os.kill(stuck, signal.SIGSTOP)
        eventually("a new fusion process", lambda: process.restarts == 1 and process.pid not in (None, stuck))
        assert process.errors >= 1 and process.last_error is not None and "silent for 2 s and was killed" in process.last_error
        assert not Path(f"/proc/{stuck}").exists()  # killed and reaped before the next one started
        eventually("the stuck process's writer gone with it", lambda: not alive(writer, writer_started), deadline_s=10)
    finally:
        process.stop()
        lock.release()
        store.close()
    assert process.pid is None
