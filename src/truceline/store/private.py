"""File modes of a data dir: the store, its WAL and keys are readable by their owner only.

Why: observations carry releasability limits that the API enforces, and the keys sign the evidence log and
grant admin rights; a database readable by every local user (0644, as SQLite creates it under the usual
umask) bypasses all of that. The data dir becomes 0700 and every file directly in it 0600, also for data
dirs created by older versions (tightened on open, with a log line saying so). The database file is
created 0600 before SQLite opens it, because SQLite gives its ``-wal`` and ``-shm`` files the database
file's mode.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

__all__ = ["DATABASE_FILENAME", "DIR_MODE", "FILE_MODE", "create_private_file", "tighten_data_dir"]

DATABASE_FILENAME = "truceline.db"  # the store's file in a data dir (here, where it is named without importing the store)
DIR_MODE = 0o700
FILE_MODE = 0o600
_log = logging.getLogger(__name__)


def _ours(name: str) -> bool:
    """Whether ``name`` is one of the files truceline keeps in a data dir."""
    return name.startswith(("truceline.db", ".ledger.")) or name.endswith(".key") or name in {"ledger.witness", "fuser.lock", "coalition-picture.json"}


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (so SQLite's WAL and SHM inherit 0600)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE))


def tighten_data_dir(data_dir: Path) -> list[str]:
    """Make ``data_dir`` 0700 and each regular file in it 0600; return (and log) what was tightened.

    Only truceline's own files directly in the data dir (database, WAL, SHM, keys, witness, lock): a data dir
    pointed at a directory that holds other things must not have those changed. Files owned by someone else
    are left alone (chmod would fail anyway).
    """
    changed: list[str] = []
    mode = stat.S_IMODE(data_dir.stat().st_mode)
    if mode & 0o077:
        os.chmod(data_dir, DIR_MODE)
        changed.append(f"{data_dir} {mode:o}→{DIR_MODE:o}")
    uid = os.getuid()
    for entry in os.scandir(data_dir):
        try:
            info = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        if not stat.S_ISREG(info.st_mode) or info.st_uid != uid or not _ours(entry.name):
            continue
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            os.chmod(entry.path, mode & ~0o077 & 0o700 | FILE_MODE)
            changed.append(f"{entry.name} {mode:o}→{FILE_MODE:o}")
    if changed:
        _log.warning("tightened file modes in %s so only their owner can read them: %s", data_dir, ", ".join(changed))
    return changed
