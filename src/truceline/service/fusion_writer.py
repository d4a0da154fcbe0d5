"""The fusion process's writer: a process of its own that stores each fused batch while the next is read and fused
(the server's fusion process and `truceline fuse` have one each).

Why: when the fusion process has a backlog to fuse (a server restarted on observations it had not fused,
`truceline ingest` storing history beside it, the tail of a burst) it is the one busy process, and a third
of its time went to SQL: upserting the batch's incidents, their members and the cursor, and committing
(docs/performance.md, "Eleventh round"). A thread cannot take that over: sqlite3 hands the interpreter lock
back for every row, and the fusing thread holds it (the ninth round measured a commit thread slower than
writing in line). In a process of its own the SQL runs on another core: a stored backlog is fused about 1.4
times as fast.

How: the fusion process builds a batch's rows (:func:`~truceline.store.incident_rows.incident_changes`),
sends them as one length-prefixed JSON frame over the writer's stdin, and goes on to the next batch. The
writer says ``ready`` once it has opened the store, then stores each frame in one transaction (rows, members
and cursor together, as before) and answers one line, ``ok`` or ``error: …``. Whoever starts it waits for
``ready`` before it says it can fuse (recovery ends with :meth:`IncidentWriter.wait`): a writer that cannot
open the store is then a failed start, and its start-up (an interpreter and the store's modules, ~0.4 s of CPU)
is over before the first batch comes. One batch is in flight at most: the next frame is sent only once the writer
has answered the last one, so batches commit in order and a failure is noticed at the next batch.

Failures: a writer that fails a transaction (rolled back) says why and exits; one that dies says nothing;
one that takes no frame or gives no answer for :data:`STUCK_AFTER_S` is killed. Either way the sender raises
:class:`WriterFailed`, the fusion loop counts a failed step and recovers from the committed cursor, as for any
failed step, with a new writer. The writer dies with the process that started it (``PR_SET_PDEATHSIG``) and
ends at EOF on its stdin, after the frame it has, whole: a frame cut short (its sender died mid-write) is not
stored.

The pipe carries only what one trusted process of this server sends another; it is JSON, not pickle, all
the same, so a wrong byte fails to parse instead of running anything.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, NoReturn

import orjson

if TYPE_CHECKING:  # only a type here: the fusion process starts its writer before it imports the store and the fuser
    from truceline.store.incident_rows import IncidentChanges

__all__ = ["IncidentWriter", "WriterFailed", "main"]

log = logging.getLogger(__name__)

_LENGTH = struct.Struct(">I")  # each frame's byte count, before its JSON
_CHUNK = 1 << 16  # bytes per write to, and read from, the pipes (a pipe's own buffer)
STOP_WAIT_S = 30.0  # a closing writer's last transaction; then it is killed (the batch is fused again)
#: A writer that has not answered for this long is stuck (a batch takes tens of milliseconds, and waits at most
#: 30 s for the write lock): it is killed and the step fails, instead of fusion stalling while the fusion
#: process's status still says all is well.
STUCK_AFTER_S = 120.0


class WriterFailed(RuntimeError):
    """The writer could not store a batch, or is gone; nothing after the committed cursor is stored."""


class IncidentWriter:
    """The fusion process's side: starts the writer (when told, or on first use), sends it batches, one in flight."""

    def __init__(self, db_path: Path, synchronous: str = "FULL", stuck_after_s: float = STUCK_AFTER_S) -> None:
        self._db_path = db_path
        self._synchronous = synchronous
        self._stuck_after_s = stuck_after_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._started = False  # the running writer said ``ready``
        self._given = False  # a batch was handed to the running writer
        self._unread = b""  # what was read from the writer past the last whole line
        self._in_flight = False
        self._failed = False  # a batch was not stored: none after it is taken until close() (recovery)

    @property
    def untouched(self) -> bool:
        """Started, and given no batch since: there is nothing in it to finish or drop."""
        return self._proc is not None and not self._given and not self._failed

    @property
    def pid(self) -> int | None:
        """The running writer's pid (None before it is started and after :meth:`close`)."""
        return None if self._proc is None else self._proc.pid

    def submit(self, changes: IncidentChanges) -> None:
        """Send one batch to be stored; first waits until the one before is (raises :class:`WriterFailed`). After
        a failure it takes nothing until :meth:`close`: a batch stored after a lost one would move the cursor past
        it."""
        self.wait()
        if self._failed:
            raise WriterFailed("a batch before this one was not stored; recover from the committed cursor first (close the writer)")
        proc = self._proc if self._proc is not None else self.start()
        frame = orjson.dumps(changes)
        self._given = True
        self._send(proc, _LENGTH.pack(len(frame)) + frame)
        self._in_flight = True

    def wait(self) -> None:
        """Until the writer started has said ``ready`` and the batch in flight is stored (raises
        :class:`WriterFailed` if either fails); no-op when there is nothing to wait for."""
        proc = self._proc
        if proc is not None and not self._started:
            greeting = self._line(proc)
            if greeting != b"ready\n":
                self._failed = True
                why = greeting.decode("utf-8", "replace").strip() or f"it ended first ({self._ended(proc)}; its error is in the log)"
                raise WriterFailed(f"the fusion writer did not start: {why}")
            self._started = True
        if not self._in_flight:
            return
        assert proc is not None
        self._in_flight = False
        answer = self._line(proc)
        if answer != b"ok\n":
            self._failed = True
            why = answer.decode("utf-8", "replace").strip() or f"it ended without an answer ({self._ended(proc)})"
            raise WriterFailed(f"the fusion writer did not store the batch: {why}")

    def _send(self, proc: subprocess.Popen[bytes], data: bytes) -> None:
        """All of ``data`` into the writer's pipe (non-blocking, so a writer that stopped reading cannot hang us)."""
        assert proc.stdin is not None
        fd, view, sent = proc.stdin.fileno(), memoryview(data), 0
        deadline = time.monotonic() + self._stuck_after_s
        try:
            while sent < len(view):
                if not select.select([], [fd], [], max(0.0, deadline - time.monotonic()))[1]:
                    self._kill_stuck(proc)
                with contextlib.suppress(BlockingIOError):
                    sent += os.write(fd, view[sent : sent + _CHUNK])
        except OSError as exc:  # BrokenPipeError among them: the writer ended
            self._failed = True
            raise WriterFailed(f"the fusion writer is gone ({self._ended(proc)}): {exc}") from None

    def _line(self, proc: subprocess.Popen[bytes]) -> bytes:
        """The writer's next line (what is left, without a newline, if it ended first)."""
        assert proc.stdout is not None
        fd, text = proc.stdout.fileno(), self._unread  # read from the pipe itself: only _unread is buffered beside it
        deadline = time.monotonic() + self._stuck_after_s
        while b"\n" not in text:
            if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
                self._kill_stuck(proc)
            chunk = os.read(fd, _CHUNK)
            if not chunk:
                break
            text += chunk
        line, newline, self._unread = text.partition(b"\n")
        return line + newline

    def _kill_stuck(self, proc: subprocess.Popen[bytes]) -> NoReturn:
        proc.kill()
        proc.wait()
        self._failed = True
        raise WriterFailed(f"the fusion writer answered nothing for {self._stuck_after_s:.0f} s and was killed")

    def close(self) -> None:
        """Let the writer finish its batch and exit (killed after :data:`STOP_WAIT_S`); what it stored stays.
        Never raises: after a failure, recovery reads what was committed."""
        proc, self._proc, self._in_flight, self._failed, self._started, self._given, self._unread = self._proc, None, False, False, False, False, b""
        if proc is None:
            return
        assert proc.stdin is not None and proc.stdout is not None
        with contextlib.suppress(OSError):
            proc.stdin.close()  # EOF: the writer's signal to stop
        try:
            proc.wait(STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            log.error("the fusion writer %d did not stop within %.0f s; killing it", proc.pid, STOP_WAIT_S)
            proc.kill()
            proc.wait()
        proc.stdout.close()

    def start(self) -> subprocess.Popen[bytes]:
        """Start the writer now if it is not running: its start-up (an interpreter and the store's modules,
        ~0.3–0.5 s) then overlaps what comes before the first batch instead of delaying it."""
        if self._proc is not None:
            return self._proc
        command = [sys.executable, "-m", "truceline.service.fusion_writer", str(self._db_path), str(os.getpid()), self._synchronous]
        proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True)
        assert proc.stdin is not None
        os.set_blocking(proc.stdin.fileno(), False)  # see _send
        self._proc = proc
        return proc

    @staticmethod
    def _ended(proc: subprocess.Popen[bytes]) -> str:
        code = proc.poll()
        return "still running" if code is None else f"exit status {code}"


def _frame(stdin: IO[bytes]) -> bytes | None:
    """The next whole frame, or None at EOF or a frame cut short."""
    head = stdin.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (length,) = _LENGTH.unpack(head)
    body = stdin.read(length)
    return body if len(body) == length else None


def main(argv: list[str] | None = None) -> int:
    """The writer: ``python -m truceline.service.fusion_writer DB_PATH PARENT_PID SYNCHRONOUS``."""
    from truceline.service.procs import die_with_parent, ignore_interrupts
    from truceline.store.sqlite import SqliteStore

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or not args[1].isdigit() or args[2] not in ("FULL", "NORMAL", "OFF"):
        print("usage: python -m truceline.service.fusion_writer DB_PATH PARENT_PID FULL|NORMAL|OFF (started by the fusion process)", file=sys.stderr)
        return 2
    die_with_parent(int(args[1]))
    ignore_interrupts()  # the process that started it ends it (EOF, after the batch it has) or takes it along
    logging.basicConfig(level=logging.WARNING, format=f"truceline fusion writer {os.getpid()}: %(levelname)s %(name)s: %(message)s")
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed goes to stderr, never into the answers
    sys.stdout = sys.stderr
    store = SqliteStore(Path(args[0]), synchronous=args[2])
    try:
        out.write(b"ready\n")
        out.flush()
        while (frame := _frame(sys.stdin.buffer)) is not None:
            try:
                store.write_incident_changes(orjson.loads(frame))  # a frame of another shape fails to unpack there
            except Exception as exc:  # rolled back: say why and stop; the fusion process recovers
                log.exception("storing a fused batch failed")
                out.write(f"error: {type(exc).__name__}: {exc}\n".encode())
                out.flush()
                return 1
            out.write(b"ok\n")
            out.flush()
        return 0
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main())
