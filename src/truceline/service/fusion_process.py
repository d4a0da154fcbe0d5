"""The server's fusion in a process of its own: the same fusion loop, beside the request path instead of
under its interpreter lock.

Why: in one process the fusion thread and the request path take turns under one interpreter lock, so a
fusing server used about one core however many it had (docs/performance.md, "Seventh round" and "Eighth
round" of the HTTP part). In a child process fusion gets a core of its own, and the server still sends every
incident event to its ``/stream`` readers, which `truceline fuse` beside a server cannot.

How: the server holds the data dir's fuser lock (:mod:`truceline.service.fuser_lock`) and starts
``python -m truceline.service.fusion_process DATA_DIR SERVER_PID`` from a supervising thread that lives as
long as the child (``PR_SET_PDEATHSIG`` fires when the creating *thread* ends, :mod:`truceline.service.procs`).
The child refuses to run unless that server holds the lock, rebuilds the open incidents from the committed
cursor (as the thread does on start), says ``ready`` and then runs :class:`~truceline.service.fusion.FusionWorker`'s
loop on its own connection to the store. It stores each fused batch through a writer process of its own
(:mod:`truceline.service.fusion_writer`) while it reads and fuses the next; a writer that fails or dies is a
failed step like any other (recovery from the committed cursor, with a new writer). Over the child's stdin
the server sends ``w`` (observations were stored: fuse now) and ``s0``/``s1`` (whether anyone reads ``/stream``: events are computed only then, as in
the thread); EOF means stop. Over its stdout the child sends one JSON object per line: every event it would
have published (all its releasability fields, :mod:`truceline.bus.codec`), which the server publishes on its
own bus unchanged, and its status (failed steps, the last error, observations read) once a second.

Life cycle: the server stops the child by closing its stdin (the child finishes and commits its batch, then
exits); a server killed with ``kill -9`` takes the child with it; a child that dies (``kill -9``, a crash) is
counted as an error, named in ``GET /api/v1/status``, and started again after 1 s, doubling to 60 s while it
keeps dying, from the committed cursor, so no stored observation is lost or fused twice. A child that is
alive but says nothing for two minutes (its status comes every second from a thread of its own) is stuck:
it is killed and replaced the same way.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from truceline.bus.codec import EVENT_LINE_PREFIX, decode_event_line, encode_event_line
from truceline.bus.ports import Bus, Event
from truceline.service.fuser_lock import fuser_holder
from truceline.service.fusion_writer import IncidentWriter
from truceline.store.private import DATABASE_FILENAME

# The fuser and the store are imported where they are used: the child starts its writer first, so that the
# writer's start-up runs beside the child's own imports (~0.7 s) instead of after them or into the first batches.
if TYPE_CHECKING:
    from truceline.service.fusion import FusionWorker
    from truceline.store.sqlite import SqliteStore

__all__ = ["FusionProcess", "FusionProcessFailed", "main"]

log = logging.getLogger(__name__)

STATUS_EVERY_S = 1.0  # the child's status line, also its heartbeat (see SILENT_LIMIT_S)
CHILD_POLL_S = 1.0  # the child's look for new observations when no wake came (every store sends one)
STOP_WAIT_S = 30.0  # a stopping child's last batch; then it is killed (the batch is fused again next start)
RETRY_FIRST_S = 1.0
RETRY_MAX_S = 60.0
HEALTHY_AFTER_S = 60.0  # a child that lived this long resets the doubling of the restart wait
READ_BYTES = 1 << 20  # the most of the child's output the server takes at once (about a thousand events)
SILENT_LIMIT_S = 120.0  # a ready child that sends nothing (not even its status) this long is stuck: killed, restarted


class FusionProcessFailed(RuntimeError):
    """The fusion process could not start: it ended before it was ready (the reason is its last message)."""


class FusionProcess:
    """The server side: starts, feeds, supervises and stops the fusion child; the same face as
    :class:`~truceline.service.fusion.FusionWorker` to the app (``start``, ``stop``, ``notify``,
    ``announce_review``, ``errors``, ``last_error``)."""

    def __init__(self, data_dir: Path, store: SqliteStore, bus: Bus, silent_limit_s: float = SILENT_LIMIT_S) -> None:
        self._data_dir = data_dir
        self._silent_limit_s = silent_limit_s
        self._store = store
        self._bus = bus
        self.errors = 0  # failed steps reported by the child, plus children that died
        self.last_error: str | None = None
        self.restarts = 0
        self._child_errors = 0  # the current child's own count, already added to ``errors``
        self._proc: subprocess.Popen[bytes] | None = None
        self._send_lock = threading.Lock()
        self._told_subscribed: bool | None = None  # the readers' flag as last sent to this child
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._start_error: str | None = None
        self._thread: threading.Thread | None = None
        self._heard = 0.0  # monotonic time of the current child's last line
        self._child_ready = False  # the current child has rebuilt its incidents (only then must it speak every second)
        self._killed_silent = False

    @property
    def pid(self) -> int | None:
        """The running child's pid (None between children)."""
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    # -- life cycle --------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the child and wait until it has rebuilt the open incidents (or raise :class:`FusionProcessFailed`)."""
        self._thread = threading.Thread(target=self._supervise, name="truceline-fusion-supervisor", daemon=True)
        self._thread.start()
        threading.Thread(target=self._watch, name="truceline-fusion-watchdog", daemon=True).start()
        self._ready.wait()
        if self._start_error is not None:
            self.stop()
            raise FusionProcessFailed(f"the fusion process ended before it was ready: {self._start_error}")

    def stop(self) -> None:
        """Let the child finish its batch and exit (killed after :data:`STOP_WAIT_S`); idempotent."""
        self._stopping.set()
        with self._send_lock:
            proc = self._proc
            if proc is not None and proc.stdin is not None and not proc.stdin.closed:
                with contextlib.suppress(OSError):
                    proc.stdin.close()  # EOF: the child's signal to stop
        if self._thread is not None:
            self._thread.join(STOP_WAIT_S)
            if self._thread.is_alive() and proc is not None:
                log.error("the fusion process %d did not stop within %.0f s; killing it", proc.pid, STOP_WAIT_S)
                proc.kill()
                self._thread.join(STOP_WAIT_S)

    def notify(self) -> None:
        """New observations were stored: wake the child (a full pipe means it has wakes pending anyway)."""
        self._send(b"w\n", droppable=True)

    def readers_changed(self) -> None:
        """A ``/stream`` reader came or went: tell the child now (what it fuses next is announced to a new reader;
        with none left it stops computing events). Every wake carries the flag too."""
        self._send(b"")

    def announce_review(self, incident_id: str, feature: dict[str, Any]) -> None:
        """A review changed an incident: the server announces it itself (it has the store and the readers)."""
        from truceline.service.fusion import announce_review  # loaded already: the server imported it to fuse

        announce_review(self._store, self._bus, incident_id, feature)

    # -- talking to the child ----------------------------------------------------------------------
    def _send(self, message: bytes, droppable: bool = False) -> None:
        with self._send_lock:
            proc = self._proc
            if proc is None or proc.stdin is None or proc.stdin.closed:
                return
            fd = proc.stdin.fileno()
            subscribed = self._bus.has_subscribers
            try:
                if subscribed != self._told_subscribed:
                    os.write(fd, b"s1\n" if subscribed else b"s0\n")  # before the wake: events for what it fuses now
                    self._told_subscribed = subscribed
                if message:
                    os.write(fd, message)
            except BlockingIOError:
                if not droppable:
                    log.warning("the fusion process's input is full; %r not sent", message)
            except (BrokenPipeError, ValueError, OSError):
                pass  # the child is gone: the supervisor sees it end and starts another

    def _read_child(self, stdout: IO[bytes]) -> None:
        """Until the child's end: whatever lines have arrived, taken together, their events handed to the readers
        in one piece (a fusing batch announces thousands; one hand-over per event woke the loop for each)."""
        fd = stdout.fileno()  # read unbuffered: what has arrived, without waiting for more
        partial = b""
        while chunk := os.read(fd, READ_BYTES):
            lines = (partial + chunk).split(b"\n")
            partial = lines.pop()  # an unfinished line waits for the rest
            events: list[Event] = []
            for line in lines:
                if line.startswith(EVENT_LINE_PREFIX):
                    self._heard = time.monotonic()
                    try:
                        events.append(decode_event_line(line))
                    except ValueError as exc:
                        log.error("unreadable event from the fusion process (%s): %r", exc, line[:200])
                elif line.strip():
                    self._receive(line)
            self._bus.publish_many(events)
        if partial.strip():
            log.error("the fusion process ended in the middle of a message: %r", partial[:200])

    def _receive(self, line: bytes) -> None:
        self._heard = time.monotonic()
        try:
            message = orjson.loads(line)
            if "status" in message:
                status = message["status"]
                errors = int(status["errors"])
                self.errors += errors - self._child_errors
                self._child_errors = errors
                if status.get("last_error"):
                    self.last_error = str(status["last_error"])
            elif "ready" in message:
                self._child_ready = True
                self._ready.set()
            elif "failed" in message:
                self.last_error = str(message["failed"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            log.error("unreadable message from the fusion process (%s): %r", exc, line[:200])

    # -- supervision -------------------------------------------------------------------------------
    def _supervise(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            started = time.monotonic()
            code = self._run_child()
            if self._stopping.is_set():
                break
            if not self._ready.is_set():  # it never got ready: the server does not start (as with the thread)
                self._start_error = self.last_error or f"exit status {code}"
                break
            self.errors += 1
            why = f"was silent for {self._silent_limit_s:.0f} s and was killed" if self._killed_silent else f"ended unexpectedly (exit status {code})"
            self.last_error = f"the fusion process {why}; restarting it from the committed cursor"
            log.error("%s", self.last_error)
            failures = 1 if time.monotonic() - started >= HEALTHY_AFTER_S else failures + 1
            if self._stopping.wait(min(RETRY_MAX_S, RETRY_FIRST_S * 2.0 ** (failures - 1))):
                break
            self.restarts += 1
        self._ready.set()

    def _watch(self) -> None:
        """Kill a ready child that has said nothing for :data:`SILENT_LIMIT_S` (its status comes every second, from
        a thread of its own): it is stuck, and the supervisor starts another from the committed cursor."""
        while not self._stopping.wait(min(5.0, self._silent_limit_s / 4)):
            proc, silent = self._proc, time.monotonic() - self._heard
            if proc is not None and proc.returncode is None and self._child_ready and silent > self._silent_limit_s:
                log.error("the fusion process %d has been silent for %.0f s; killing it", proc.pid, silent)
                self._killed_silent = True
                proc.kill()

    def _run_child(self) -> int:
        """One child from start to end, in this (the supervising) thread; returns its exit status."""
        command = [sys.executable, "-m", "truceline.service.fusion_process", str(self._data_dir), str(os.getpid())]
        proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True)
        assert proc.stdin is not None and proc.stdout is not None
        os.set_blocking(proc.stdin.fileno(), False)  # a wake never blocks a request
        with self._send_lock:
            self._proc, self._told_subscribed, self._child_errors = proc, None, 0
            self._heard, self._child_ready, self._killed_silent = time.monotonic(), False, False
        if self._stopping.is_set():  # stop() ran before the child was known: end it at once
            proc.stdin.close()
        self._send(b"")
        self._read_child(proc.stdout)
        code = proc.wait()
        with self._send_lock:
            if proc.stdin is not None and not proc.stdin.closed:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
            proc.stdout.close()
        return code


# -- the child ---------------------------------------------------------------------------------------
class _ParentLink:
    """The child's side of the pipes: one JSON object per line to the server, and the readers' flag."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        self._lock = threading.Lock()
        self.has_subscribers = False  # whether the server has ``/stream`` readers, as it last said

    def publish(self, event: Event) -> None:
        """Send an event to the server, which publishes it to its readers."""
        self._write(encode_event_line(event))

    def publish_many(self, events: Sequence[Event]) -> None:
        """Send events in one write (a batch's announcements): the server reads what has arrived and hands it
        to its readers together."""
        if events:
            self._write(b"".join([encode_event_line(event) for event in events]))

    def send(self, message: dict[str, Any]) -> None:
        """One line; a server that is gone ends this process (BrokenPipeError)."""
        self._write(orjson.dumps(message) + b"\n")

    def _write(self, lines: bytes) -> None:
        with self._lock:
            self._out.write(lines)
            self._out.flush()


def _read_server(stdin: IO[bytes], link: _ParentLink, worker: FusionWorker) -> None:
    for line in stdin:
        command = line.strip()
        if command == b"w":
            worker.notify()
        elif command in (b"s0", b"s1"):
            link.has_subscribers = command == b"s1"
    worker.stop()  # EOF: the server stops us, or died


def _report(link: _ParentLink, worker: FusionWorker, done: threading.Event) -> None:
    while not done.wait(STATUS_EVERY_S):
        link.send({"status": {"errors": worker.errors, "last_error": worker.last_error, "read": worker.read}})


def main(argv: list[str] | None = None) -> int:
    """The child: ``python -m truceline.service.fusion_process DATA_DIR SERVER_PID``."""
    from truceline.service.procs import die_with_parent, ignore_interrupts

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or not args[1].isdigit():
        print("usage: python -m truceline.service.fusion_process DATA_DIR SERVER_PID (started by `truceline serve`)", file=sys.stderr)
        return 2
    data_dir, server = Path(args[0]), int(args[1])
    die_with_parent(server)
    ignore_interrupts()  # the server stops it (EOF on its input) after Ctrl-C, or takes it along when it dies
    logging.basicConfig(level=logging.WARNING, format=f"truceline fusion process {os.getpid()}: %(levelname)s %(name)s: %(message)s")
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed goes to stderr, never into the messages to the server
    sys.stdout = sys.stderr
    link = _ParentLink(out)
    holder = fuser_holder(data_dir)
    if holder is None or holder.pid != server:
        link.send({"failed": f"process {server} does not hold the fuser lock of {data_dir}; only the server that holds it starts its fusion process"})
        return 2
    # Batches are stored by a writer process while the next is fused (service/fusion_writer.py). It opens the store
    # the server has opened (and brought up to date) as open_store does, with synchronous=FULL, and is started
    # before the imports below; recovery waits until it says it is ready.
    writer = IncidentWriter(data_dir / DATABASE_FILENAME)
    writer.start()
    store: SqliteStore | None = None
    try:
        from truceline.service.fusion import FusionWorker, WholeStore, settled_collector
        from truceline.store.sqlite import open_store

        store = open_store(data_dir)
        worker = FusionWorker(store, link, scope=WholeStore(store, writer))
        try:
            worker.recover()
        except Exception as exc:
            log.exception("rebuilding the open incidents failed")
            link.send({"failed": f"rebuilding the open incidents failed: {type(exc).__name__}: {exc}"})
            return 1
        link.send({"ready": store.fusion_cursor()})
        done = threading.Event()
        threading.Thread(target=_read_server, args=(sys.stdin.buffer, link, worker), name="server-link", daemon=True).start()
        reporter = threading.Thread(target=_report, args=(link, worker, done), name="status", daemon=True)
        reporter.start()
        with settled_collector():
            worker.follow(CHILD_POLL_S)
        writer.close()  # the last batch stored before this process says it is done
        done.set()
        reporter.join()
        link.send({"status": {"errors": worker.errors, "last_error": worker.last_error, "read": worker.read}})
        return 0
    finally:
        writer.close()  # the writer ends with this process, also when it fails
        if store is not None:
            store.close()


if __name__ == "__main__":
    sys.exit(main())
