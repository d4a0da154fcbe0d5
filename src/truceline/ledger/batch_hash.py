"""RFC 6962 hashes of whole runs: many leaves, or one tree level, per call.

A *run* is contiguous bytes: leaves concatenated and cut at big-endian uint32 end offsets (the very layout
``ledger_leaves`` stores), or 32-byte hashes back to back (the layout of ``ledger_nodes``). Hashing a run in
one call lets the C extension ``_rfc6962`` (OpenSSL's SHA-256, SHA-NI where the CPU has it) do the loop
without a Python call per hash, which is most of the cost of a hashlib append. When the extension is not
built (no compiler, no OpenSSL headers), the hashlib functions below are used instead: same bytes, same
errors, slower. ``BACKEND`` says which one this process uses. ``row_ends`` (the end offsets of one stored
leaf row) comes from the same extension: in Python it costs a ``len`` and an addition per leaf, more than
the leaf's hash costs in C.
"""

from __future__ import annotations

import hashlib
import importlib
import struct
from bisect import bisect_right
from collections.abc import Callable, Sequence
from itertools import accumulate

__all__ = [
    "BACKEND",
    "ends_of",
    "leaf_run",
    "leaf_run_hashlib",
    "node_run",
    "node_run_hashlib",
    "row_ends",
    "row_ends_python",
    "split",
]

_H = 32
_MAX_OFFSET = 2**32 - 1


def leaf_run_hashlib(data: bytes, ends: bytes) -> bytes:
    """SHA-256(0x00 || leaf) of each leaf of ``data`` cut at ``ends``, concatenated (the hashlib twin)."""
    if len(ends) % 4:
        raise ValueError(f"ends has {len(ends)} bytes, not a whole number of 4-byte offsets")
    offsets = struct.unpack(f">{len(ends) // 4}I", ends)
    previous = 0
    for i, end in enumerate(offsets):
        if end < previous:
            raise ValueError(f"end offset {i} ({end}) is before the one preceding it ({previous})")
        previous = end
    if previous != len(data):
        raise ValueError(f"the last end offset is {previous} but data has {len(data)} bytes")
    sha256, view = hashlib.sha256, memoryview(data)
    out = []
    begin = 0
    for end in offsets:
        h = sha256(b"\x00")
        h.update(view[begin:end])
        out.append(h.digest())
        begin = end
    return b"".join(out)


def node_run_hashlib(hashes: bytes) -> bytes:
    """SHA-256(0x01 || left || right) of each consecutive pair of hashes, concatenated; an odd last hash is
    left out for the caller (the hashlib twin)."""
    if len(hashes) % _H:
        raise ValueError(f"hashes has {len(hashes)} bytes, not a whole number of 32-byte hashes")
    sha256 = hashlib.sha256
    return b"".join([sha256(b"\x01" + hashes[i : i + 2 * _H]).digest() for i in range(0, len(hashes) - 2 * _H + 1, 2 * _H)])


def row_ends_python(leaves: list[bytes], first: int, max_leaves: int, max_bytes: int) -> tuple[int, bytes]:
    """How many leaves from ``leaves[first]`` make one stored row (at most ``max_leaves``, at most
    ``max_bytes`` in total unless the first alone is larger) and their big-endian uint32 end offsets within
    the row (the Python twin)."""
    if not isinstance(leaves, list):
        raise TypeError(f"row_ends needs a list of leaves, not {type(leaves).__name__}")
    if not (0 <= first < len(leaves) and max_leaves >= 1 and max_bytes >= 0):
        raise ValueError(
            f"row_ends needs 0 <= first < {len(leaves)} leaves, max_leaves >= 1, max_bytes >= 0; "
            f"got first {first}, max_leaves {max_leaves}, max_bytes {max_bytes}"
        )
    group = leaves[first : first + max_leaves]
    for i, leaf in enumerate(group):
        if type(leaf) is not bytes:
            raise TypeError(f"leaf {first + i} is {type(leaf).__name__}, not bytes")
    ends = list(accumulate(map(len, group)))
    if ends[-1] > max_bytes:
        ends = ends[: max(1, bisect_right(ends, max_bytes))]
    if ends[-1] > _MAX_OFFSET:
        raise ValueError(f"leaf {first + len(ends) - 1} ends at byte {ends[-1]}, past a row's 4 GiB of offsets")
    return len(ends), struct.pack(f">{len(ends)}I", *ends)


leaf_run: Callable[[bytes, bytes], bytes]
node_run: Callable[[bytes], bytes]
row_ends: Callable[[list[bytes], int, int, int], tuple[int, bytes]]
try:
    _rfc6962 = importlib.import_module("truceline.ledger._rfc6962")  # built from _rfc6962.c; no type stub
    leaf_run, node_run, row_ends, BACKEND = _rfc6962.leaf_hashes, _rfc6962.node_hashes, _rfc6962.row_ends, "c"
except ImportError:  # not built here: the same results from hashlib and plain Python
    leaf_run, node_run, row_ends, BACKEND = leaf_run_hashlib, node_run_hashlib, row_ends_python, "hashlib"


def ends_of(leaves: Sequence[bytes]) -> bytes:
    """The big-endian uint32 end offsets of ``leaves`` concatenated; ValueError past 4 GiB in total."""
    ends = list(accumulate(map(len, leaves)))
    if ends and ends[-1] > _MAX_OFFSET:
        raise ValueError(f"{len(leaves)} leaves hold {ends[-1]} bytes, more than a run's 4 GiB of offsets")
    return struct.pack(f">{len(ends)}I", *ends)


def split(run: bytes) -> list[bytes]:
    """A run of 32-byte hashes as a list of hashes."""
    if len(run) % _H:
        raise ValueError(f"a run of hashes has {len(run)} bytes, not a whole number of 32-byte hashes")
    return [run[i : i + _H] for i in range(0, len(run), _H)]
