"""Offline evidence bundles, the format and its writer: the log's leaves with its signed checkpoints in one file.

A bundle is an uncompressed, deterministic POSIX (ustar) tar, so any auditor can unpack it with ``tar``::

    truceline-ledger/manifest.json            canonical JSON: format, origin, key, counts, SHA-256 of each member
    truceline-ledger/verifier.key             the log's verifier key string and a newline
    truceline-ledger/checkpoints/000000.note  signed checkpoint notes, by increasing tree size
    truceline-ledger/leaves.bin               per leaf: u64 index, u32 length, 32-byte leaf hash, the leaf bytes

Every byte of the file is a function of its content (fixed tar metadata), so the reader
(:mod:`truceline.ledger.bundle_verify`) can demand exactly what this writer produces.
"""

from __future__ import annotations

import hashlib
import io
import os
import sqlite3
import struct
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .canonical import canonical_json
from .checkpoint import CheckpointError, SignedCheckpoint, Verifier, verify_checkpoint
from .log import MerkleLog

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_VERSION",
    "BundleError",
    "ExportResult",
    "export_bundle",
]

BUNDLE_FORMAT = "truceline-ledger-bundle"
BUNDLE_VERSION = 1
_DIR = "truceline-ledger/"
_MANIFEST = _DIR + "manifest.json"
_KEY = _DIR + "verifier.key"
_LEAVES = _DIR + "leaves.bin"
_CHECKPOINTS = _DIR + "checkpoints/"
_RECORD = struct.Struct(">QI32s")

class BundleError(ValueError):
    """Export refused: the checkpoints given do not belong to this log or key. The message names which."""


@dataclass(frozen=True)
class ExportResult:
    """What ``export_bundle`` wrote."""

    path: Path
    origin: str
    verifier_key: str
    leaf_count: int
    checkpoint_sizes: tuple[int, ...]
    bytes: int


def _tarinfo(name: str, size: int) -> tarfile.TarInfo:
    """Member header with fixed metadata, so a bundle's bytes depend on its content only."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, 0, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info


def _checkpoint_member(k: int) -> str:
    return f"{_CHECKPOINTS}{k:06d}.note"


def _manifest(
    origin: str, vkey: str, leaf_count: int, leaves_sha: str, leaves_bytes: int, cps: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "checkpoints": cps,
        "format": BUNDLE_FORMAT,
        "hashing": "RFC 6962 SHA-256",
        "leaf_count": leaf_count,
        "leaves": {"bytes": leaves_bytes, "file": _LEAVES[len(_DIR) :], "sha256": leaves_sha},
        "origin": origin,
        "verifier_key": vkey,
        "version": BUNDLE_VERSION,
    }


def export_bundle(
    conn: sqlite3.Connection,
    out_path: Path | str,
    public_key: str | Verifier,
    checkpoints: Sequence[str | SignedCheckpoint],
) -> ExportResult:
    """Write a bundle of the log's first N leaves, N being the largest checkpoint's size, to ``out_path``.

    Every checkpoint must verify under ``public_key``, share one origin and match the log's root at its size,
    so an exporter can never hand out a bundle that contradicts its own database without noticing. The leaf
    hashes recorded in the bundle are the log's stored ones, so tampering with the database after signing is
    located at its leaf by the verifier. The file is written beside ``out_path`` and renamed into place.
    """
    verifier = Verifier.from_string(public_key) if isinstance(public_key, str) else public_key
    log = MerkleLog()
    if not checkpoints:
        raise BundleError("no checkpoint to export: sign one first, a bundle without one proves nothing")
    verified: dict[str, SignedCheckpoint] = {}
    for k, cp in enumerate(checkpoints):
        note = cp.note if isinstance(cp, SignedCheckpoint) else cp
        try:
            verified[note] = verify_checkpoint(note, verifier)
        except CheckpointError as exc:
            raise BundleError(f"checkpoint {k}: {exc}") from None
    ordered = sorted(verified.values(), key=lambda c: (c.size, c.note))
    origins = sorted({c.origin for c in ordered})
    if len(origins) != 1:
        raise BundleError(f"checkpoints come from several origins: {', '.join(origins)}")
    log_size = log.size(conn)
    for cp in ordered:
        if cp.size > log_size:
            raise BundleError(f"checkpoint at size {cp.size} is beyond the log's {log_size} leaves")
        root = log.root(conn, cp.size)
        if root != cp.root:
            raise BundleError(
                f"checkpoint at size {cp.size} signs root {cp.root.hex()} but the log's root there is "
                f"{root.hex()}: the database no longer matches what was signed"
            )
    count = ordered[-1].size
    out_path = Path(out_path)
    out_dir = out_path.resolve().parent
    with tempfile.TemporaryFile(dir=out_dir) as leaves_tmp:
        digest, written = hashlib.sha256(), 0
        for index, (data, leaf) in enumerate(zip(log.leaves(conn, 0, count), log.leaf_hashes(conn, 0, count), strict=False)):
            record = _RECORD.pack(index, len(data), leaf) + data
            digest.update(record)
            leaves_tmp.write(record)
            written += len(record)
        entries, notes = [], []
        for k, cp in enumerate(ordered):
            raw = cp.note.encode("utf-8")
            notes.append((_checkpoint_member(k), raw))
            entries.append(
                {"file": _checkpoint_member(k)[len(_DIR) :], "sha256": hashlib.sha256(raw).hexdigest(), "size": cp.size}
            )
        vkey = str(verifier)
        manifest = canonical_json(_manifest(origins[0], vkey, count, digest.hexdigest(), written, entries))
        fd, tmp_name = tempfile.mkstemp(dir=out_dir, prefix=f".{out_path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as raw_out, tarfile.open(
                fileobj=raw_out, mode="w", format=tarfile.USTAR_FORMAT
            ) as tar:
                for name, payload in [(_MANIFEST, manifest), (_KEY, (vkey + "\n").encode("ascii")), *notes]:
                    tar.addfile(_tarinfo(name, len(payload)), io.BytesIO(payload))
                leaves_tmp.seek(0)
                tar.addfile(_tarinfo(_LEAVES, written), leaves_tmp)
            os.chmod(tmp_name, 0o644)
            os.replace(tmp_name, out_path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
    return ExportResult(out_path, origins[0], vkey, count, tuple(c.size for c in ordered), out_path.stat().st_size)
