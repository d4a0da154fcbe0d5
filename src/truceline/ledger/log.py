"""``MerkleLog``: the append-only RFC 6962 log, persisted in the caller's SQLite connection.

Why it works the way it does:

* **The caller owns the transaction.** The store appends an observation's row and its leaf in one transaction
  so both land or neither does; this module only executes statements on the connection it is given and never
  calls BEGIN, COMMIT or ROLLBACK. (Under ``sqlite3``'s default isolation level the first INSERT here opens the
  caller's implicit transaction, which the caller then commits or rolls back.) It also keeps no state between
  calls, so a rollback can never leave it out of step with the database.
* **Interior nodes are stored, never recomputed.** Each append stores the hash of every perfect subtree it
  completes. A root or proof for any size is then a handful of indexed lookups (at most about 2·log2 n nodes)
  combined with at most log2 n hashes; leaves are never re-read or re-hashed.
* **Rows hold runs, not single items.** A batch's leaves go into rows of up to 256 leaves (or ~64 KiB), and
  each level's new nodes into rows of up to 256 hashes, so a bulk append costs a few rows per thousand leaves
  while a single-leaf append is still one small row. Rows are only ever inserted, never updated: the tables
  themselves are append-only.
"""

from __future__ import annotations

import sqlite3
import struct
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from . import batch_hash, merkle
from .checkpoint import Checkpoint, CheckpointError, LedgerKey, SignedCheckpoint, parse_checkpoint

__all__ = ["LEDGER_SCHEMA_SQL", "LogError", "MerkleLog", "ensure_schema"]

LEDGER_SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS ledger_leaves (
    first INTEGER PRIMARY KEY,  -- index of the first leaf stored in this row
    ends  BLOB NOT NULL,        -- big-endian uint32 end offset of each leaf within data
    data  BLOB NOT NULL         -- the leaves' bytes, concatenated
);
CREATE TABLE IF NOT EXISTS ledger_nodes (
    level  INTEGER NOT NULL,    -- 0 = leaf hashes, L = roots of perfect subtrees of 2^L leaves
    first  INTEGER NOT NULL,    -- index, within its level, of the first hash in this row
    hashes BLOB NOT NULL,       -- consecutive 32-byte SHA-256 hashes
    PRIMARY KEY (level, first)
);
CREATE TABLE IF NOT EXISTS ledger_checkpoints (
    id         INTEGER PRIMARY KEY,
    size       INTEGER NOT NULL,
    root       BLOB NOT NULL,
    note       TEXT NOT NULL UNIQUE,  -- the signed note exactly as issued
    created_at TEXT NOT NULL          -- UTC, ISO 8601
);
CREATE INDEX IF NOT EXISTS ledger_checkpoints_size ON ledger_checkpoints (size);
"""
"""DDL for the ledger's tables; idempotent, for the store's migration to execute."""

_ROW_LEAVES = 256
_ROW_BYTES = 64 * 1024
_ROW_NODES = 256
_H = merkle.HASH_SIZE


class LogError(ValueError):
    """A request the log cannot answer (index or size beyond the log) or a log whose tables are damaged."""


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create the ledger tables if missing, statement by statement (``executescript`` would COMMIT)."""
    pending = ""
    for line in LEDGER_SCHEMA_SQL.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            conn.execute(pending)
            pending = ""


class _Nodes:
    """``merkle.NodeSource`` over ``ledger_nodes``: one query for a whole set of perfect subtrees."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def perfect_nodes(self, coords: Sequence[tuple[int, int]]) -> list[bytes]:
        if not coords:
            return []
        values = ",".join("(?,?,?)" for _ in coords)
        params = [x for k, (level, index) in enumerate(coords) for x in (k, level, index)]
        rows = self._conn.execute(
            f"WITH want(k, lvl, idx) AS (VALUES {values}) "
            "SELECT k, (SELECT substr(n.hashes, (want.idx - n.first) * 32 + 1, 32) FROM ledger_nodes AS n "
            "WHERE n.level = want.lvl AND n.first <= want.idx ORDER BY n.first DESC LIMIT 1) FROM want",
            params,
        ).fetchall()
        out: list[bytes] = [b""] * len(coords)
        for k, value in rows:
            if value is None or len(value) != _H:
                level, index = coords[k]
                raise LogError(f"ledger_nodes lacks node (level {level}, index {index}); the log is damaged")
            out[k] = bytes(value)
        return out


class MerkleLog:
    """An append-only Merkle log stored in the ``ledger_*`` tables of whatever connection each call receives."""

    def size(self, conn: sqlite3.Connection) -> int:
        """Number of leaves appended (and visible to ``conn``'s transaction)."""
        row = conn.execute("SELECT first, length(ends) FROM ledger_leaves ORDER BY first DESC LIMIT 1").fetchone()
        return 0 if row is None else row[0] + row[1] // 4

    def append(self, conn: sqlite3.Connection, leaf_data: bytes) -> int:
        """Append one leaf; return its index."""
        return self.append_many(conn, [leaf_data])

    def append_many(
        self, conn: sqlite3.Connection, leaf_datas: Sequence[bytes], leaf_hashes: Sequence[bytes] | None = None
    ) -> int:
        """Append leaves in order; return the index of the first one. Does not commit.

        Reads the current compact range (≤ log2 n node lookups), hashes the batch level by level, and inserts
        the leaves and every newly completed perfect subtree with two ``executemany`` calls. If it raises, the
        caller must roll back. Two writers that raced on the same size cannot both succeed: the second one's
        rows collide with the first one's primary keys (``sqlite3.IntegrityError``); ``BEGIN IMMEDIATE`` in the
        caller avoids the race altogether.

        ``leaf_hashes``, when given, are the leaves' RFC 6962 hashes computed beforehand (by the store's
        preparation, outside the write lock, possibly in another process): one per leaf, each 32 bytes. They
        are trusted as given here; every audit and bundle verification recomputes them from the leaf bytes.
        """
        datas = leaf_datas if type(leaf_datas) is list else list(leaf_datas)
        if not set(map(type, datas)) <= {bytes}:  # C-level passes: this runs on every ingested batch
            i, bad = next((i, d) for i, d in enumerate(datas) if type(d) is not bytes)
            raise TypeError(f"leaf {i} of the batch is {type(bad).__name__}, not bytes")
        if leaf_hashes is not None:
            hashes = list(leaf_hashes)
            if len(hashes) != len(datas) or not (set(map(type, hashes)) <= {bytes} and set(map(len, hashes)) <= {_H}):
                raise ValueError(f"leaf_hashes must hold one {_H}-byte hash per leaf ({len(datas)} leaves)")
        start = self.size(conn)
        if not datas:
            return start
        frontier = merkle.perfect_subtrees(0, start)
        compact = merkle.CompactRange(start, _Nodes(conn).perfect_nodes(frontier))
        leaf_rows = list(_leaf_rows(start, datas))
        # Leaf hashes are computed from the very rows stored (one call per row, no per-leaf objects).
        given = leaf_hashes is not None
        run = b"".join(hashes) if given else b"".join([batch_hash.leaf_run(data, ends) for _, ends, data in leaf_rows])
        levels = compact.extend_run(run)
        conn.executemany("INSERT INTO ledger_leaves (first, ends, data) VALUES (?, ?, ?)", leaf_rows)
        conn.executemany("INSERT INTO ledger_nodes (level, first, hashes) VALUES (?, ?, ?)", _node_rows(start, levels))
        return start

    def _check_size(self, conn: sqlite3.Connection, size: int | None) -> int:
        current = self.size(conn)
        if size is None:
            return current
        if not 0 <= size <= current:
            raise LogError(f"tree size {size} is outside the log's 0..{current}")
        return size

    def root(self, conn: sqlite3.Connection, size: int | None = None) -> bytes:
        """Root hash of the first ``size`` leaves (default: all)."""
        return merkle.root_at(_Nodes(conn), self._check_size(conn, size))

    def leaf(self, conn: sqlite3.Connection, index: int) -> bytes:
        """The bytes of leaf ``index``, exactly as appended."""
        size = self.size(conn)
        if not 0 <= index < size:
            raise LogError(f"leaf index {index} is outside the log's {size} leaves")
        row = conn.execute(
            "SELECT first, ends, data FROM ledger_leaves WHERE first <= ? ORDER BY first DESC LIMIT 1", (index,)
        ).fetchone()
        first, ends, data = row
        k = index - first
        begin = 0 if k == 0 else struct.unpack_from(">I", ends, 4 * (k - 1))[0]
        (end,) = struct.unpack_from(">I", ends, 4 * k)
        return bytes(data[begin:end])

    def leaves_at(self, conn: sqlite3.Connection, indexes: Sequence[int]) -> dict[int, bytes]:
        """The bytes of each leaf in ``indexes`` (any order), reading each stored row once: one query for a
        whole page of reads instead of one per leaf."""
        wanted = sorted(set(indexes))
        if not wanted:
            return {}
        size = self.size(conn)
        if wanted[0] < 0 or wanted[-1] >= size:
            raise LogError(f"leaf indexes {wanted[0]}..{wanted[-1]} are outside the log's {size} leaves")
        rows = conn.execute(
            "SELECT first, ends, data FROM ledger_leaves WHERE first IN (SELECT (SELECT max(l.first) FROM"
            " ledger_leaves AS l WHERE l.first <= j.value) FROM json_each(?) AS j) ORDER BY first",
            ("[" + ",".join(map(str, wanted)) + "]",),
        ).fetchall()
        out: dict[int, bytes] = {}
        for first, ends, data in rows:
            offsets = struct.unpack(f">{len(ends) // 4}I", ends)
            for index in wanted[bisect_left(wanted, first) : bisect_left(wanted, first + len(offsets))]:
                k = index - first
                out[index] = bytes(data[0 if k == 0 else offsets[k - 1] : offsets[k]])
        return out

    def leaf_hash(self, conn: sqlite3.Connection, index: int) -> bytes:
        """The stored RFC 6962 hash of leaf ``index``."""
        size = self.size(conn)
        if not 0 <= index < size:
            raise LogError(f"leaf index {index} is outside the log's {size} leaves")
        return _Nodes(conn).perfect_nodes([(0, index)])[0]

    def _check_range(self, conn: sqlite3.Connection, start: int, end: int | None) -> int:
        """The checked end of the leaf range ``[start, end)`` (None: the whole log)."""
        end = self._check_size(conn, end)
        if not 0 <= start <= end:
            raise LogError(f"leaf range [{start}, {end}) is not within the log")
        return end

    def leaves(self, conn: sqlite3.Connection, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Leaf bytes for indexes ``[start, end)`` in order, streamed row by row (for exports)."""
        end = self._check_range(conn, start, end)
        if start == end:
            return
        first_row = conn.execute(
            "SELECT first FROM ledger_leaves WHERE first <= ? ORDER BY first DESC LIMIT 1", (start,)
        ).fetchone()[0]
        cursor = conn.execute(
            "SELECT first, ends, data FROM ledger_leaves WHERE first >= ? AND first < ? ORDER BY first",
            (first_row, end),
        )
        for first, ends, data in cursor:
            offsets = struct.unpack(f">{len(ends) // 4}I", ends)
            begin = 0
            for k, stop in enumerate(offsets):
                index = first + k
                if start <= index < end:
                    yield bytes(data[begin:stop])
                begin = stop

    def leaf_hashes(self, conn: sqlite3.Connection, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Stored leaf hashes for indexes ``[start, end)`` in order (level 0 of the tree)."""
        end = self._check_range(conn, start, end)
        if start == end:
            return
        first_row = conn.execute(
            "SELECT first FROM ledger_nodes WHERE level = 0 AND first <= ? ORDER BY first DESC LIMIT 1", (start,)
        ).fetchone()[0]
        cursor = conn.execute(
            "SELECT first, hashes FROM ledger_nodes WHERE level = 0 AND first >= ? AND first < ? ORDER BY first",
            (first_row, end),
        )
        for first, hashes in cursor:
            for k in range(len(hashes) // _H):
                if start <= first + k < end:
                    yield bytes(hashes[k * _H : (k + 1) * _H])

    def inclusion_proof(self, conn: sqlite3.Connection, index: int, size: int | None = None) -> list[bytes]:
        """Audit path of leaf ``index`` in the tree of ``size`` leaves (default: all)."""
        size = self._check_size(conn, size)
        if not 0 <= index < size:
            raise LogError(f"leaf index {index} is outside a tree of size {size}")
        return merkle.inclusion_proof(_Nodes(conn), index, size)

    def consistency_proof(self, conn: sqlite3.Connection, size1: int, size2: int | None = None) -> list[bytes]:
        """Proof that the tree of ``size2`` leaves (default: all) extends the tree of ``size1`` (0 < size1)."""
        size2 = self._check_size(conn, size2)
        if not 0 < size1 <= size2:
            raise LogError(f"a consistency proof needs 0 < size1 <= size2, got {size1} and {size2}")
        return merkle.consistency_proof(_Nodes(conn), size1, size2)

    def save_checkpoint(self, conn: sqlite3.Connection, note: str) -> SignedCheckpoint:
        """Store a signed checkpoint note after checking that its root is this log's root at its size.

        Storing the same note twice keeps one copy. Signatures are not checked here; the note is expected to
        come from ``LedgerKey.sign``. Does not commit.
        """
        signed = parse_checkpoint(note)
        current = self.size(conn)
        if signed.size > current:
            raise CheckpointError(f"checkpoint size {signed.size} is beyond the log's {current} leaves")
        root = self.root(conn, signed.size)
        if signed.root != root:
            raise CheckpointError(
                f"checkpoint root {signed.root.hex()} is not the log's root {root.hex()} at size {signed.size}"
            )
        conn.execute(
            "INSERT INTO ledger_checkpoints (size, root, note, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (note) DO NOTHING",
            (signed.size, signed.root, note, datetime.now(UTC).isoformat(timespec="seconds")),
        )
        return signed

    def sign_checkpoint(self, conn: sqlite3.Connection, key: LedgerKey, origin: str) -> SignedCheckpoint:
        """Sign the current tree head as ``origin`` with ``key`` and store it. Does not commit."""
        size = self.size(conn)
        signed = key.sign(Checkpoint(origin, size, self.root(conn, size)))
        return self.save_checkpoint(conn, signed.note)

    def checkpoints(self, conn: sqlite3.Connection) -> list[SignedCheckpoint]:
        """All stored checkpoints, oldest tree size first."""
        rows = conn.execute("SELECT note FROM ledger_checkpoints ORDER BY size, id").fetchall()
        return [parse_checkpoint(note) for (note,) in rows]

    def latest_checkpoint(self, conn: sqlite3.Connection) -> SignedCheckpoint | None:
        """The stored checkpoint with the largest tree size (the most recent one among equals), if any."""
        row = conn.execute("SELECT note FROM ledger_checkpoints ORDER BY size DESC, id DESC LIMIT 1").fetchone()
        return None if row is None else parse_checkpoint(row[0])


def _node_rows(start: int, levels: Sequence[bytes]) -> list[tuple[int, int, bytes]]:
    """Each level's run of new hashes as rows of at most ``_ROW_NODES`` hashes; level L starts at ``start >> L``."""
    step = _ROW_NODES * _H
    return [
        (level, (start >> level) + off // _H, run[off : off + step] if len(run) > step else run)
        for level, run in enumerate(levels)
        for off in range(0, len(run), step)
    ]


def _leaf_rows(start: int, datas: list[bytes]) -> Iterator[tuple[int, bytes, bytes]]:
    """Group leaves into rows of at most ``_ROW_LEAVES`` leaves and ``_ROW_BYTES`` bytes (or one larger leaf)."""
    i, n = 0, len(datas)
    while i < n:
        count, ends = batch_hash.row_ends(datas, i, _ROW_LEAVES, _ROW_BYTES)
        yield start + i, ends, b"".join(datas[i : i + count])
        i += count
