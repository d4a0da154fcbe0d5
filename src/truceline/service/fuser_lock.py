"""One fuser per data dir: an exclusive ``flock`` on ``DIR/fuser.lock`` that names its holder.

Two fusers on one store would race on the cursor and rebuild each other's open incidents. The operating
system releases the lock when its holder dies, even by ``kill -9``, so a killed fuser never leaves the data
dir locked; the holder writes its pid, command line and start time into the file for error messages.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

LOCK_FILENAME = "fuser.lock"
_LOCK_TRIES = 10  # a fuser_holder() probe holds the lock for microseconds: retry before calling it busy
_LOCK_PAUSE_S = 0.05


@dataclass(frozen=True)
class FuserHolder:
    """Who holds a data dir's fusion lock, as it recorded itself on taking it."""

    pid: int | None
    command: str
    since: str  # UTC, ISO 8601

    def describe(self) -> str:
        """One line for error messages and logs."""
        pid = "an unknown pid" if self.pid is None else f"pid {self.pid}"
        return f"{pid} (`{self.command}`), fusing since {self.since}"

    def as_dict(self) -> dict[str, Any]:
        """The holder for JSON answers (``GET /api/v1/status``)."""
        return asdict(self)


class FuserBusy(RuntimeError):
    """Another process already fuses this data dir; nothing was changed."""

    def __init__(self, data_dir: Path, holder: FuserHolder) -> None:
        self.data_dir = data_dir
        self.holder = holder
        super().__init__(f"another fuser already works on {data_dir}: {holder.describe()}; one fuser per data dir")


def current_command() -> str:
    """This process's command line, as a holder names itself."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    if name in {"cli.py", "__main__.py"}:  # python -m truceline.cli / python -m truceline
        name = "truceline"
    return shlex.join([name, *sys.argv[1:]])


class FuserLock:
    """The exclusive right to fuse one data dir, held until :meth:`release` or the process ends."""

    def __init__(self, path: Path, fd: int, holder: FuserHolder) -> None:
        self.path = path
        self.holder = holder
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, data_dir: Path, command: str | None = None) -> FuserLock:
        """Take the lock of ``data_dir`` (created if missing) or raise :class:`FuserBusy` naming the holder."""
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / LOCK_FILENAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            for attempt in range(_LOCK_TRIES):
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if attempt == _LOCK_TRIES - 1:
                        raise FuserBusy(data_dir, _read_holder(fd)) from None
                    time.sleep(_LOCK_PAUSE_S)
            holder = FuserHolder(os.getpid(), command or current_command(), datetime.now(UTC).isoformat(timespec="seconds"))
            os.ftruncate(fd, 0)
            os.pwrite(fd, orjson.dumps(holder.as_dict()) + b"\n", 0)
        except BaseException:
            os.close(fd)  # closing drops the lock too, if it was taken
            raise
        return cls(path, fd, holder)

    def release(self) -> None:
        """Give the lock up (idempotent); the file stays, emptied, so no other process locks a stale inode."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)

    def __enter__(self) -> FuserLock:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


def fuser_holder(data_dir: Path) -> FuserHolder | None:
    """Who fuses ``data_dir`` now, or None when nobody does (a dead holder's leftover record is ignored)."""
    try:
        fd = os.open(data_dir / LOCK_FILENAME, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_holder(fd: int) -> FuserHolder:
    """The holder's record; it writes it right after locking, so an empty file is read again a few times."""
    for _ in range(_LOCK_TRIES):
        raw = os.pread(fd, 4096, 0)
        if raw.strip():
            try:
                record = orjson.loads(raw)
                pid = record.get("pid")
                return FuserHolder(pid if isinstance(pid, int) else None, str(record.get("command", "?")), str(record.get("since", "?")))
            except (orjson.JSONDecodeError, AttributeError):
                break
        time.sleep(_LOCK_PAUSE_S)
    return FuserHolder(None, "unknown (its record is missing or unreadable)", "unknown")
