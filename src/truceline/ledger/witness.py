"""A witness copy of the latest signed checkpoint, kept outside the database.

Why: a store restored from an old backup, or whose WAL was lost, opens cleanly with fewer leaves than its own
signed checkpoints once covered, and every checkpoint *inside* it is just as old, so nothing inside the
database can notice. A copy of the newest checkpoint in a separate file (``DATA_DIR/ledger.witness``), like a
transparency-log witness keeps, lets every writer refuse a store that is behind what it already signed.

Order matters: the witness is written only *after* the checkpoint's leaves are committed, so it may lag the
database (a crash between the two loses nothing: the next write catches up) but never lead it. It is written
to a temporary file, fsync'd, renamed into place and the directory fsync'd, so a crash leaves the old copy or
the new one, never half of one. It only ever grows: an older checkpoint never replaces a newer one.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from .checkpoint import CheckpointError, SignedCheckpoint, Verifier, parse_checkpoint, verify_checkpoint
from .log import LogError, MerkleLog

__all__ = ["WITNESS_FILE", "WitnessError", "WitnessWriter", "check_against_witness", "read_witness", "write_witness"]

WITNESS_FILE = "ledger.witness"
BEHIND = "restored from an old backup or damaged; run `truceline ledger audit --data-dir {dir}`"
_log = logging.getLogger(__name__)
_lock = threading.Lock()  # one writer of the file per process (the rename itself is atomic across processes)


class WitnessError(RuntimeError):
    """The store is behind (or off) the checkpoint its witness holds; the message says why and what to do."""


def read_witness(data_dir: Path, verifier: Verifier | None = None) -> SignedCheckpoint | None:
    """The witnessed checkpoint, if any; with ``verifier``, its signature must verify."""
    path = Path(data_dir) / WITNESS_FILE
    try:
        note = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise WitnessError(f"cannot read the witness checkpoint {path}: {exc}") from None
    try:
        return verify_checkpoint(note, verifier) if verifier is not None else parse_checkpoint(note)
    except CheckpointError as exc:
        raise WitnessError(f"the witness checkpoint {path} is damaged: {exc}") from None


def write_witness(data_dir: Path, signed: SignedCheckpoint) -> bool:
    """Replace the witness with ``signed`` if it covers more leaves; True when written. Call after the commit."""
    data_dir = Path(data_dir)
    with _lock:
        current = read_witness(data_dir)
        if current is not None and current.size >= signed.size:
            return False
        fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=f".{WITNESS_FILE}.", suffix=".tmp")  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(signed.note)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, data_dir / WITNESS_FILE)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(data_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself is durable
        finally:
            os.close(dir_fd)
        return True


def check_against_witness(conn: sqlite3.Connection, data_dir: Path, verifier: Verifier | None = None) -> None:
    """Raise :class:`WitnessError` if the log in ``conn`` is shorter than the witness or disagrees with it.

    A log *longer* than the witness is fine (the witness lags by design); its first ``witness.size`` leaves
    must still have the witnessed root, or the log was rewritten.
    """
    witness = read_witness(data_dir, verifier)
    if witness is None:
        return
    log = MerkleLog()
    try:
        size = log.size(conn)
        if size < witness.size:
            raise WitnessError(
                f"the store holds {size} ledger leaves but its witness checkpoint ({data_dir / WITNESS_FILE}) "
                f"covers {witness.size}: {BEHIND.format(dir=data_dir)}"
            )
        if log.root(conn, witness.size) != witness.root:
            raise WitnessError(
                f"the store's first {witness.size} ledger leaves do not have the root its witness checkpoint "
                f"signed: {BEHIND.format(dir=data_dir)}"
            )
    except (LogError, sqlite3.Error) as exc:
        raise WitnessError(f"cannot compare the store with its witness checkpoint ({exc}): {BEHIND.format(dir=data_dir)}") from None


class WitnessWriter:
    """Every ``every_s`` seconds (and on stop), sign the log's head if it grew and witness it.

    ``sign_latest`` must commit the checkpoint to the database before returning it (the store's
    ``ledger_checkpoint`` does), so the witness is written strictly after the commit.
    """

    def __init__(self, sign_latest: Callable[[], SignedCheckpoint], data_dir: Path, every_s: float = 1.0) -> None:
        self._sign = sign_latest
        self._dir = Path(data_dir)
        self._every = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ledger-witness", daemon=True)

    def start(self) -> None:
        self.witness_now()
        self._thread.start()

    def witness_now(self) -> None:
        """Sign the current head (if it grew) and write the witness; errors are logged, never raised."""
        try:
            write_witness(self._dir, self._sign())
        except Exception:  # a full disk must not stop the server from storing; the next round retries
            _log.exception("could not write the ledger witness in %s", self._dir)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self.witness_now()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self.witness_now()
