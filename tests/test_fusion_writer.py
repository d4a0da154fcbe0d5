"""The fusion process's writer (service/fusion_writer.py): batches stored in a process of their own while the next
is fused store exactly what storing them in line does, and a writer that fails or dies loses nothing.

Real writer processes throughout; the stores are compared row for row.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import eventually
from test_no_orphans import alive, cmdline, descendants
from truceline.ingest.validation import validate_batch, validation_context
from truceline.service.fusion import FusionWorker, WholeStore
from truceline.service.fusion_writer import IncidentWriter, WriterFailed
from truceline.sim import load_scenario, observation_records, simulate
from truceline.store.incident_rows import incident_changes
from truceline.store.sqlite import SqliteStore, open_store

WRITER_MODULE = "truceline.service.fusion_writer"
STEP = 300  # small steps: many batches, each stored while the next is fused


def _observations(scenario: str = "salvo-sector") -> list[object]:
    observations, errors = validate_batch(observation_records(simulate(load_scenario(scenario))), validation_context())
    assert not errors
    return list(observations)


def _stored(path: Path, observations: list[object]) -> SqliteStore:
    store = SqliteStore(path)
    store.add_observations(observations)  # type: ignore[arg-type]
    return store


def _tables(store: SqliteStore) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]], int]:
    """Incidents (all but the time they were written), members and the cursor, in a fixed order."""
    conn = store.reader()
    incidents = conn.execute("SELECT id, t_us, kind, status, lat, lon, cell, finalised, doc FROM incidents ORDER BY id").fetchall()
    members = conn.execute("SELECT incident_id, obs_seq FROM incident_members ORDER BY 1, 2").fetchall()
    return incidents, members, store.fusion_cursor()


def _fused_in_line(
    path: Path, observations: list[object], restart_at: int | None = None
) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]], int]:
    """Stored in line, in steps of :data:`STEP`; with ``restart_at``, fusion fails once the cursor is there and
    recovers from it, as the loop does after a failed step."""
    store = _stored(path, observations)
    try:
        worker = FusionWorker(store)
        while worker.step(STEP):
            if store.fusion_cursor() == restart_at:
                worker._restart()
        return _tables(store)
    finally:
        store.close()


def test_batches_stored_by_the_writer_equal_those_stored_in_line(tmp_path: Path) -> None:
    observations = _observations()
    expected = _fused_in_line(tmp_path / "inline.db", observations)
    assert expected[0] and expected[2] == len(observations)
    store = _stored(tmp_path / "writer.db", observations)
    writer = IncidentWriter(store.path, store.synchronous)
    try:
        worker = FusionWorker(store, scope=WholeStore(store, writer))
        worker.recover()
        pid = writer.pid
        assert pid is not None  # started by recovery, before the first batch
        eventually("the writer running its module", lambda: WRITER_MODULE in cmdline(pid))
        steps = 0
        while worker.step(STEP):
            steps += 1
        assert steps == -(-len(observations) // STEP)
        worker.run_until_idle()  # nothing new: only waits until the last batch is stored
        assert _tables(store) == expected
        assert writer.pid == pid  # one writer did it all
    finally:
        writer.close()
        store.close()
    assert not Path(f"/proc/{pid}").exists() or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


def _open_files(pid: int) -> set[str]:
    fds = Path(f"/proc/{pid}/fd")
    return {os.readlink(fds / fd) for fd in os.listdir(fds)}


def test_recovery_returns_once_the_writer_it_started_has_the_store_open_and_keeps_one_started_before(tmp_path: Path) -> None:
    """The fusion process says it is ready when recovery returns: its writer's start-up (an interpreter and the store's
    modules) is then over, not spent beside the first batches. A writer started before the first recovery (the
    fusion process starts it before its own imports) is kept, as it holds no batch to finish or drop."""
    store = _stored(tmp_path / "t.db", _observations("sparse-day"))
    writer = IncidentWriter(store.path, store.synchronous)
    try:
        early = writer.start().pid
        assert writer.untouched
        worker = FusionWorker(store, scope=WholeStore(store, writer))
        worker.recover()
        assert writer.pid == early
        assert str(store.path) in _open_files(early)  # no waiting here: recovery waited for the writer's "ready"
        assert worker.step(STEP)
        assert not writer.untouched
        worker._restart()  # a later recovery ends a writer that was given batches and starts a new one
        worker.recover()
        assert writer.pid not in (None, early)
        assert str(store.path) in _open_files(writer.pid)  # type: ignore[arg-type]
    finally:
        writer.close()
        store.close()


def test_a_writer_that_cannot_open_the_store_fails_the_recovery_that_waits_for_it(tmp_path: Path) -> None:
    store = _stored(tmp_path / "t.db", _observations("sparse-day"))
    writer = IncidentWriter(tmp_path / "no such dir" / "t.db", store.synchronous)
    try:
        worker = FusionWorker(store, scope=WholeStore(store, writer))
        with pytest.raises(WriterFailed, match="the fusion writer did not start: it ended first"):
            worker.recover()
        assert store.fusion_cursor() == 0 and not store.reader().execute("SELECT count(*) FROM incidents").fetchone()[0]
    finally:
        writer.close()
        store.close()


def test_a_writer_killed_mid_stream_loses_nothing_and_stores_nothing_twice(tmp_path: Path) -> None:
    """Whether the killed writer had stored the batch in flight or not, fusion goes on from what it had committed
    and ends where fusion in line that recovered from the same cursor ends."""
    observations = _observations()
    store = _stored(tmp_path / "writer.db", observations)
    writer = IncidentWriter(store.path, store.synchronous)
    try:
        worker = FusionWorker(store, scope=WholeStore(store, writer))
        assert worker.step(STEP) and worker.step(STEP)  # the second batch is in flight
        first = writer.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        with pytest.raises(WriterFailed, match="fusion writer"):
            worker.step(STEP)  # waits for the batch in flight: the writer is gone
        committed = store.fusion_cursor()
        assert committed in (STEP, 2 * STEP)
        worker._restart()  # what the loop does after a failed step (tests/test_fusion_worker_retry.py)
        while worker.step(STEP):
            pass
        worker.run_until_idle()  # nothing new: waits until the last batch is stored
        assert writer.pid not in (None, first)
        assert _tables(store) == _fused_in_line(tmp_path / "inline.db", observations, restart_at=committed)
    finally:
        writer.close()
        store.close()


def test_a_stuck_writer_is_killed_and_fusion_goes_on_from_what_was_committed(tmp_path: Path) -> None:
    """A writer that stops answering (here: SIGSTOP) fails the step after its limit instead of stalling fusion
    for good while the fusion process's status still reports all is well."""
    observations = _observations()
    store = _stored(tmp_path / "writer.db", observations)
    writer = IncidentWriter(store.path, store.synchronous, stuck_after_s=2.0)
    try:
        worker = FusionWorker(store, scope=WholeStore(store, writer))
        assert worker.step(STEP)
        writer.wait()  # the first batch stored
        stuck = writer.pid
        assert stuck is not None
        os.kill(stuck, signal.SIGSTOP)
        with pytest.raises(WriterFailed, match="answered nothing for 2 s and was killed"):
            worker.step(STEP)  # its frame does not fit the pipe the stopped writer no longer reads
            worker.step(STEP)  # (one that fits is handed over, and the next step waits for its answer)
        assert not Path(f"/proc/{stuck}").exists()  # killed and reaped
        committed = store.fusion_cursor()
        assert committed == STEP
        worker._restart()
        while worker.step(STEP):
            pass
        worker.run_until_idle()
        assert _tables(store) == _fused_in_line(tmp_path / "inline.db", observations, restart_at=committed)
    finally:
        writer.close()
        store.close()


def test_a_transaction_the_store_refuses_is_named_and_nothing_of_it_is_stored(tmp_path: Path) -> None:
    observations = _observations("sparse-day")
    store = _stored(tmp_path / "t.db", observations)
    writer = IncidentWriter(store.path, store.synchronous)
    try:
        worker = FusionWorker(store)
        snapshots = [u.snapshot for u in worker._fuser.add(observations) if u.snapshot is not None]  # type: ignore[arg-type]
        rows, ids_json, members_json, by_id, removed, _ = incident_changes([(s, True) for s in snapshots], [], 7)
        broken = [(*row[:9], None) for row in rows]  # a document of NULL: the table refuses it
        writer.submit((broken, ids_json, members_json, by_id, removed, 7))
        with pytest.raises(WriterFailed, match="IntegrityError.*NOT NULL"):
            writer.wait()
        assert _tables(store) == ([], [], 0)  # rolled back whole: no incident, no member, no cursor
        with pytest.raises(WriterFailed, match="recover from the committed cursor"):
            writer.submit(incident_changes([(s, True) for s in snapshots], [], 7))  # nothing after a lost batch
        writer.close()  # what recovery does (WholeStore.reset): then a new writer takes the batches
        writer.submit(incident_changes([(s, True) for s in snapshots], [], 7))
        writer.wait()
        assert len(_tables(store)[0]) == len({s.id for s in snapshots}) and store.fusion_cursor() == 7
    finally:
        writer.close()
        store.close()


def _run_writer(db: Path, stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    command = [sys.executable, "-m", WRITER_MODULE, str(db), str(os.getpid()), "FULL"]
    return subprocess.run(command, input=stdin, capture_output=True, timeout=60, check=False)


def test_a_frame_cut_short_is_not_stored(tmp_path: Path) -> None:
    """The sender died mid-write: the writer stores nothing of the frame and ends."""
    store = SqliteStore(tmp_path / "t.db")
    store.close()
    whole = b'[[],"[]","[]",[],[],5]'
    done = _run_writer(tmp_path / "t.db", struct.pack(">I", len(whole)) + whole + struct.pack(">I", 400) + b"[[],")
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"ready\nok\n"  # the whole frame, and nothing for the cut one
    conn = sqlite3.connect(tmp_path / "t.db")
    assert conn.execute("SELECT value FROM fusion_state").fetchall() == [(5,)]
    conn.close()


@pytest.mark.parametrize("frame", [b"not json", b'{"a": 1}', b"[1, 2]"])
def test_a_frame_that_is_not_a_batch_is_named_and_ends_the_writer(tmp_path: Path, frame: bytes) -> None:
    SqliteStore(tmp_path / "t.db").close()
    done = _run_writer(tmp_path / "t.db", struct.pack(">I", len(frame)) + frame)
    assert done.returncode == 1
    greeting, _, answer = done.stdout.partition(b"\n")
    assert greeting == b"ready"
    assert answer.startswith(b"error: ") and answer.endswith(b"\n") and answer.count(b"\n") == 1


@pytest.mark.parametrize("args", [[], ["db"], ["db", "12x", "FULL"], ["db", "1", "SOMETIMES"]])
def test_the_writer_names_its_usage(args: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", WRITER_MODULE, *args], capture_output=True, timeout=60, check=False)
    assert done.returncode == 2 and b"usage: python -m truceline.service.fusion_writer" in done.stderr


def test_a_following_worker_fuses_what_was_stored_before_it_began_without_waiting_for_its_poll(tmp_path: Path) -> None:
    observations = _observations("sparse-day")
    store = _stored(tmp_path / "t.db", observations)
    worker = FusionWorker(store)
    thread = threading.Thread(target=worker.follow, args=(3600.0,), daemon=True)
    try:
        thread.start()
        eventually("the stored observations fused", lambda: store.fusion_cursor() == len(observations), deadline_s=60)
    finally:
        worker.stop()
        thread.join(60)
        store.close()
    assert not thread.is_alive()


def _follow_until(data_dir: Path, observations: list[object], sent: signal.Signals) -> tuple[int, str, dict[int, str]]:
    """Store ``observations``, run `truceline fuse --follow` in a session of its own until it has fused them all,
    send ``sent`` to its process group; its exit status, its output, and its writer (pid: start time)."""
    store = open_store(data_dir)
    store.add_observations(observations)  # type: ignore[arg-type]  # a second round's are known already: skipped
    store.close()
    command = [sys.executable, "-m", "truceline.cli", "fuse", "--data-dir", str(data_dir), "--follow", "--poll", "0.1"]
    follower = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        reader = SqliteStore(data_dir / "truceline.db")
        eventually("everything fused", lambda: reader.fusion_cursor() == len(observations))
        reader.close()
        writers = eventually("its writer", lambda: {p: at for p, at in descendants(follower.pid).items() if WRITER_MODULE in cmdline(p)})
        os.killpg(follower.pid, sent)
        code = follower.wait(timeout=60)
        return code, follower.stdout.read().decode() if follower.stdout else "", writers
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait(timeout=30)


def test_fuse_follow_stores_through_a_writer_that_ends_with_it_on_ctrl_c_and_on_kill_9(tmp_path: Path) -> None:
    """`truceline fuse` stores through a writer too: Ctrl-C (to the whole process group, as a terminal sends it)
    stops it in order with the last batch stored, and ``kill -9`` takes the writer along."""
    observations = _observations("sparse-day")
    code, output, writers = _follow_until(tmp_path / "data", observations, signal.SIGINT)
    assert code == 0 and "stopped after" in output and "Traceback" not in output, output
    eventually("the writer gone", lambda: not any(alive(p, at) for p, at in writers.items()), deadline_s=10)
    code, output, writers = _follow_until(tmp_path / "data", observations, signal.SIGKILL)
    assert code == -signal.SIGKILL
    eventually("the writer gone with it", lambda: not any(alive(p, at) for p, at in writers.items()), deadline_s=10)

