"""RFC 6962 / RFC 9162 Merkle tree hashing, proof generation and proof verification.

Everything here is pure computation on hashes; storage lives in ``log.py``. Two facts drive the design:

* Every subtree the RFC's recursive definitions ever hash is a *range* ``[i*2^L, min((i+1)*2^L, n))``. A full
  one is a *perfect* subtree, addressed as the node ``(level L, index i)``; a truncated one (the tree's right
  border) is the right fold of the perfect subtrees that tile it, largest first. So a log that stores every
  perfect subtree hash once, as it completes, answers any root or proof with O(log n) lookups and no rehashing
  of leaves.
* Verification follows RFC 9162 §2.1.3.2 and §2.1.4.2 step by step, but checks sizes, lengths and proof length
  first so that a bad proof is rejected with the reason (``ProofError``), not a bare "mismatch".
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Protocol

from . import batch_hash

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "NodeSource",
    "ProofError",
    "consistency_proof",
    "consistency_proof_length",
    "consistency_ranges",
    "inclusion_proof",
    "inclusion_proof_length",
    "inclusion_ranges",
    "leaf_hash",
    "leaf_hashes",
    "node_hash",
    "perfect_subtrees",
    "root_at",
    "root_from_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Bytes in a SHA-256 digest, the size of every leaf, node and root hash."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}) = SHA-256 of the empty string (RFC 9162 §2.1.1): the only valid root of a tree of size 0."""

_sha256 = hashlib.sha256
_MAX_RUN_BYTES = 2**32 - 1  # leaf end offsets in a run are uint32


class ProofError(ValueError):
    """A proof, size or hash that does not verify; the message says what is wrong."""


class NodeSource(Protocol):
    """Where generation reads perfect-subtree hashes: ``(level, index)`` -> hash, in the order asked.

    Level 0 holds leaf hashes; node ``(L, i)`` is the root of the perfect subtree over leaves
    ``[i*2^L, (i+1)*2^L)``. A source must raise (not invent a value) for a node it does not have.
    """

    def perfect_nodes(self, coords: Sequence[tuple[int, int]]) -> Sequence[bytes]: ...


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the prefix keeps a leaf from ever colliding with an interior node."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right), the interior node of RFC 6962."""
    return _sha256(b"\x01" + left + right).digest()


def leaf_hashes(datas: Iterable[bytes]) -> list[bytes]:
    """Leaf hashes of many leaves: one C call over the joined leaves when the extension is built, else a
    hashlib comprehension (measurably faster than ``map`` chains or the run twin here)."""
    datas = datas if isinstance(datas, list) else list(datas)
    if batch_hash.BACKEND == "c" and sum(map(len, datas)) <= _MAX_RUN_BYTES:
        return batch_hash.split(batch_hash.leaf_run(b"".join(datas), batch_hash.ends_of(datas)))
    sha256 = _sha256
    return [sha256(b"\x00" + d).digest() for d in datas]


def _parent_run(run: bytes) -> bytes:
    """The next level of a run of hashes: its pairs hashed, an odd last hash promoted unchanged."""
    parents = batch_hash.node_run(run)
    return parents + run[-HASH_SIZE:] if len(run) // HASH_SIZE & 1 else parents


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH of a whole list of leaf hashes (RFC 9162 §2.1.1), computed level by level.

    Promoting the odd last node of a level unchanged gives the same tree as the RFC's split at the largest
    power of two smaller than n.
    """
    if not hashes:
        return EMPTY_ROOT
    _check_run_items(hashes)
    level = b"".join(hashes)
    while len(level) > HASH_SIZE:
        level = _parent_run(level)
    return level


def _fold(hashes: Sequence[bytes]) -> bytes:
    """Right fold of perfect-subtree hashes listed left to right, largest first: the MTH of their union."""
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def perfect_subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """The perfect subtrees ``(level, index)`` that tile leaves ``[start, end)``, left to right, greedily largest.

    For ``[0, n)`` these are the nodes of n's binary decomposition: the whole state needed to extend or root
    a tree of size n (its compact range).
    """
    if not 0 <= start <= end:
        raise ValueError(f"bad leaf range [{start}, {end})")
    out: list[tuple[int, int]] = []
    while start < end:
        level = (start & -start).bit_length() - 1 if start else (end - start).bit_length() - 1
        while start + (1 << level) > end:
            level -= 1
        out.append((level, start >> level))
        start += 1 << level
    return out


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Leaf ranges whose MTH form the inclusion proof of leaf ``index`` in a tree of ``size``, bottom up.

    Walks the RFC 9162 §2.1.3.1 path from the leaf: at each level the sibling's range, skipped where the
    sibling lies wholly beyond the tree (the node was promoted).
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    out: list[tuple[int, int]] = []
    level = 0
    while (1 << level) < size:
        sibling = (index >> level) ^ 1
        first = sibling << level
        if first < size:
            out.append((first, min(first + (1 << level), size)))
        level += 1
    return out


def consistency_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    """Leaf ranges whose MTH form the consistency proof from ``size1`` to ``size2`` (RFC 9162 §2.1.4.1).

    Each range lies wholly inside ``[0, size1)`` (then it is one of size1's perfect subtrees) or wholly inside
    ``[size1, size2)``; the bundle verifier relies on this to rebuild proofs while streaming leaves.
    """
    if not 0 < size1 <= size2:
        raise ValueError(f"a consistency proof needs 0 < size1 <= size2, got {size1} and {size2}")
    out: list[tuple[int, int]] = []

    def subproof(m: int, start: int, end: int, whole: bool) -> None:
        n = end - start
        if m == n:
            if not whole:
                out.append((start, end))
            return
        k = 1 << ((n - 1).bit_length() - 1)
        if m <= k:
            subproof(m, start, start + k, whole)
            out.append((start + k, end))
        else:
            subproof(m - k, start + k, end, False)
            out.append((start, start + k))

    subproof(size1, 0, size2, True)
    return out


def inclusion_proof_length(index: int, size: int) -> int:
    """Number of hashes in the inclusion proof of ``index`` in a tree of ``size`` (0 <= index < size)."""
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def consistency_proof_length(size1: int, size2: int) -> int:
    """Number of hashes in the consistency proof from ``size1`` to ``size2`` (0 < size1 < size2)."""
    level = (size1 & -size1).bit_length() - 1
    node = (size1 - 1) >> level
    inner = (node ^ ((size2 - 1) >> level)).bit_length()
    return inner + (node >> inner).bit_count() + (1 if node else 0)


def _range_hashes(source: NodeSource, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
    """MTH of each range, fetching all perfect subtrees in one call to the source."""
    tilings = [perfect_subtrees(start, end) for start, end in ranges]
    wanted = sorted({coord for tiling in tilings for coord in tiling})
    got = source.perfect_nodes(wanted)
    if len(got) != len(wanted):
        raise LookupError(f"node source returned {len(got)} hashes for {len(wanted)} nodes")
    by_coord = dict(zip(wanted, got, strict=True))
    return [_fold([by_coord[c] for c in tiling]) for tiling in tilings]


def root_at(source: NodeSource, size: int) -> bytes:
    """Root of the tree of the first ``size`` leaves, from at most log2(size)+1 stored perfect subtrees."""
    if size < 0:
        raise ValueError(f"tree size {size} is negative")
    if size == 0:
        return EMPTY_ROOT
    return _range_hashes(source, [(0, size)])[0]


def inclusion_proof(source: NodeSource, index: int, size: int) -> list[bytes]:
    """Inclusion proof (audit path) of leaf ``index`` in the tree of the first ``size`` leaves."""
    return _range_hashes(source, inclusion_ranges(index, size))


def consistency_proof(source: NodeSource, size1: int, size2: int) -> list[bytes]:
    """Consistency proof that the tree of ``size2`` leaves extends the tree of ``size1`` (0 < size1 <= size2)."""
    return _range_hashes(source, consistency_ranges(size1, size2))


class CompactRange:
    """The perfect subtrees tiling leaves ``[0, size)``: all the state needed to extend a tree and root it.

    ``extend`` hashes a batch level by level (one call per level over a contiguous run, not one Python carry
    loop per leaf) and returns every perfect subtree the batch completed, so a log can store them as they appear.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        expected = len(perfect_subtrees(0, size))
        if len(hashes) != expected:
            raise ValueError(f"a compact range of size {size} has {expected} hashes, got {len(hashes)}")
        self._size = size
        self._hashes = list(hashes)

    @property
    def size(self) -> int:
        """Number of leaves covered."""
        return self._size

    def coords(self) -> list[tuple[int, int]]:
        """``(level, index)`` of each hash in ``hashes()``, left to right."""
        return perfect_subtrees(0, self._size)

    def hashes(self) -> list[bytes]:
        """The perfect subtree hashes, left (largest) to right."""
        return list(self._hashes)

    def root(self) -> bytes:
        """MTH of the leaves covered so far."""
        return _fold(self._hashes) if self._hashes else EMPTY_ROOT

    def extend(self, leaf_hashes: Sequence[bytes]) -> list[list[bytes]]:
        """Append leaf hashes; return the newly completed nodes per level (``[0]`` is the leaves themselves).

        Node ``j`` of the returned level ``L`` has index ``(old_size >> L) + j`` at that level.
        """
        _check_run_items(leaf_hashes)
        return [batch_hash.split(run) for run in self.extend_run(b"".join(leaf_hashes))]

    def extend_run(self, leaf_hashes: bytes) -> list[bytes]:
        """``extend`` on a run: leaf hashes back to back in, each level's new nodes as one run out.

        The log stores node rows as runs, so nothing is split into 32-byte objects on the way (each level is
        one C call when the extension is built).
        """
        if len(leaf_hashes) % HASH_SIZE:
            raise ValueError(f"a run of leaf hashes has {len(leaf_hashes)} bytes, not a whole number of {HASH_SIZE}")
        old = self._size
        frontier = dict(zip((level for level, _ in perfect_subtrees(0, old)), self._hashes, strict=False))
        levels: list[bytes] = [bytes(leaf_hashes)]
        starts = [old]
        current, start = levels[0], old
        while current:
            if start & 1:  # the first new node is a right child whose left sibling was already complete
                current = frontier[len(levels) - 1] + current
                start -= 1
            parents = batch_hash.node_run(current)
            if not parents:
                break
            levels.append(parents)
            start >>= 1
            starts.append(start)
            current = parents
        new = old + len(leaf_hashes) // HASH_SIZE
        hashes = []
        for level, index in perfect_subtrees(0, new):
            if level < len(levels) and index >= starts[level]:
                at = (index - starts[level]) * HASH_SIZE
                hashes.append(levels[level][at : at + HASH_SIZE])
            else:
                hashes.append(frontier[level])
        self._size = new
        self._hashes = hashes
        return levels


def _check_run_items(hashes: Sequence[bytes]) -> None:
    """Refuse a list of hashes that would not join into an aligned run (one wrong length shifts all after it)."""
    if not set(map(len, hashes)) <= {HASH_SIZE}:
        i, bad = next((i, h) for i, h in enumerate(hashes) if len(h) != HASH_SIZE)
        raise ValueError(f"hash {i} has {len(bad)} bytes, a SHA-256 hash has {HASH_SIZE}")


def _check_hash(name: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{name} has {len(value)} bytes, a SHA-256 hash has {HASH_SIZE}")


def _check_proof(proof: Sequence[bytes], expected: int, what: str) -> None:
    if len(proof) != expected:
        raise ProofError(f"proof has {len(proof)} hashes; {what} has exactly {expected}")
    for i, p in enumerate(proof):
        _check_hash(f"proof[{i}]", p)


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that ``leaf`` (a leaf *hash*) is at ``index`` in the tree of ``size`` whose root is ``root``.

    RFC 9162 §2.1.3.2. Returns ``None`` on success, raises ``ProofError`` saying what is wrong otherwise.
    """
    if size <= 0:
        raise ProofError(f"tree size {size} has no leaves, so no leaf can be included")
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    _check_hash("leaf hash", leaf)
    _check_hash("root hash", root)
    _check_proof(proof, inclusion_proof_length(index, size), f"a proof for leaf {index} in a tree of {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:  # unreachable after the length check; kept as the RFC's own guard
            raise ProofError("proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("proof is shorter than the path to the root")
    if r != root:
        raise ProofError(f"proof leads to root {r.hex()}, not the given root {root.hex()}")


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """Check that the tree of ``size2`` (root ``root2``) extends the tree of ``size1`` (root ``root1``).

    RFC 9162 §2.1.4.2 for ``0 < size1 < size2``. Equal sizes need an empty proof and equal roots. A proof from
    size 0 is refused: every tree extends the empty one, so it would prove nothing. Raises ``ProofError``.
    """
    if size1 < 0 or size2 < 0:
        raise ProofError(f"tree sizes must not be negative, got {size1} and {size2}")
    if size1 > size2:
        raise ProofError(f"size1 {size1} is larger than size2 {size2}: a log never shrinks")
    if size1 == size2:
        if proof:
            raise ProofError(f"both sizes are {size1}, so the proof must be empty, not {len(proof)} hashes")
        if size1 == 0 and (root1 != EMPTY_ROOT or root2 != EMPTY_ROOT):
            raise ProofError(f"the root of the empty tree is {EMPTY_ROOT.hex()}; a different one was given")
        if root1 != root2:
            raise ProofError(f"both sizes are {size1} but the roots differ: {root1.hex()} != {root2.hex()}")
        return
    if size1 == 0:
        raise ProofError("size1 is 0: every tree extends the empty tree, so there is nothing to prove")
    _check_hash("root1", root1)
    _check_hash("root2", root2)
    _check_proof(proof, consistency_proof_length(size1, size2), f"a proof from size {size1} to {size2}")
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # size1 is a power of two: its root is itself the first node
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:  # unreachable after the length check; kept as the RFC's own guard
            raise ProofError("proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("proof is shorter than the path to the new root")
    if fr != root1:
        raise ProofError(f"proof leads to old root {fr.hex()}, not root1 {root1.hex()} (size {size1})")
    if sr != root2:
        raise ProofError(f"proof leads to new root {sr.hex()}, not root2 {root2.hex()} (size {size2})")
