"""Integrity of what is stored, not only of the log: documents against their leaves, the tree against its heads.

Why this exists: the Merkle log proves that its *leaves* were never rewritten, but a leaf holds only a salted
commitment. A document edited in the database (a latitude changed from 48.105 to 48.905) left the log intact,
so the server served the edit and an exported bundle verified. These checks close that gap:

* :func:`check_commitment` recomputes one document's commitment and compares it with its leaf: cheap (one
  SHA-256 over one document), so every read can afford it;
* :class:`TreeAudit` re-hashes every leaf in order, compares each hash with the stored level-0 node, and the
  recomputed root with every signed checkpoint (and its signature) and with the root that proofs are served
  from.

Pure functions over bytes: this module reads no database (the ledger layer must not import the store); the
CLI walks the store and feeds it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from . import merkle
from .canonical import LEAF_VERSION, CanonicalError, parse_leaf
from .checkpoint import CheckpointError, SignedCheckpoint, Verifier, verify_checkpoint
from .commitment import SALT_BYTES, commit_canonical

__all__ = ["IntegrityError", "Mismatch", "TreeAudit", "check_commitment"]


@dataclass(frozen=True)
class Mismatch:
    """The first thing that does not match: which record (or leaf or checkpoint), and why."""

    where: str
    reason: str
    leaf_index: int | None = None

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"

    def to_dict(self) -> dict[str, object]:
        return {"where": self.where, "reason": self.reason, "leaf_index": self.leaf_index}


class IntegrityError(ValueError):
    """A stored record no longer matches the evidence log: it must be reported, never served."""

    def __init__(self, mismatch: Mismatch) -> None:
        super().__init__(str(mismatch))
        self.mismatch = mismatch


def check_commitment(leaf: bytes, leaf_type: str, salt: bytes, canonical: bytes, where: str, index: int) -> Mismatch | None:
    """None when ``sha256(salt || canonical)`` is the commitment that leaf ``index`` recorded, else why not.

    ``canonical`` is the document's RFC 8785 bytes as stored (for observations: the stored text itself, so
    even a change that canonicalises back to the same value would be caught).
    """
    if salt and len(salt) == SALT_BYTES:
        # Fast path (every read takes it): a canonical envelope whose body's commitment is ``actual`` begins and
        # ends with exactly these bytes (keys sorted: body.commitment first, then type and v), so a match needs
        # no JSON parsing. Anything else goes the strict way below, which names the problem.
        expected = commit_canonical(bytes(salt), canonical).encode()
        if leaf.startswith(b'{"body":{"commitment":"' + expected + b'",') and leaf.endswith(
            b'},"type":"' + leaf_type.encode() + b'","v":' + str(LEAF_VERSION).encode() + b"}"
        ):
            return None
    try:
        parsed = parse_leaf(leaf)
    except CanonicalError as exc:
        return Mismatch(where, f"its ledger leaf {index} is not a valid leaf envelope ({exc})", index)
    if parsed.type != leaf_type:
        return Mismatch(where, f"its ledger leaf {index} records a {parsed.type}, not a {leaf_type}", index)
    if salt is None or len(salt) == 0:
        return Mismatch(where, "its commitment salt is missing from the store", index)
    recorded = parsed.body.get("commitment")
    try:
        actual = commit_canonical(bytes(salt), canonical)
    except ValueError as exc:
        return Mismatch(where, f"its commitment cannot be recomputed ({exc})", index)
    if actual != recorded:
        return Mismatch(
            where,
            f"the stored document does not match the commitment in ledger leaf {index} "
            f"(recomputed {actual}, logged {recorded}): it was changed after it was accepted",
            index,
        )
    return None


class TreeAudit:
    """Feed every leaf in order (with its stored hash); mismatches are collected, the first one named.

    Roots are recomputed with a compact range, so memory stays at O(log n) whatever the log's size.
    """

    def __init__(self, size: int, checkpoints: Sequence[SignedCheckpoint], verifier: Verifier | None) -> None:
        self.size = size
        self.checkpoints_checked = 0
        self.problems: list[Mismatch] = []
        self._compact = merkle.CompactRange()
        self._by_size: dict[int, list[SignedCheckpoint]] = {}
        for signed in checkpoints:
            where = f"checkpoint at size {signed.size}"
            if verifier is not None:
                try:
                    verify_checkpoint(signed.note, verifier)
                except CheckpointError as exc:
                    self.problems.append(Mismatch(where, f"its signature does not verify ({exc})"))
                    continue
            if signed.size > size:
                self.problems.append(
                    Mismatch(where, f"it covers {signed.size} leaves but the log holds only {size}: the store lost leaves")
                )
                continue
            self._by_size.setdefault(signed.size, []).append(signed)
        self._check_heads()  # size-0 checkpoints

    @property
    def position(self) -> int:
        """Leaves fed so far."""
        return self._compact.size

    def next_stop(self) -> int:
        """The next size at which a checkpoint must be compared (or the log's size): feed at most up to it."""
        later = [s for s in self._by_size if s > self.position]
        return min([*later, self.size])

    def feed(self, leaves: Sequence[bytes], stored_hashes: Sequence[bytes]) -> None:
        """Add the next leaves (not past :meth:`next_stop`) and their stored level-0 hashes."""
        if self.position + len(leaves) > self.next_stop() or len(leaves) != len(stored_hashes):
            raise ValueError("feed leaves up to next_stop(), each with its stored hash")
        hashes = merkle.leaf_hashes(leaves)
        for k, (computed, stored) in enumerate(zip(hashes, stored_hashes, strict=True)):
            if computed != stored:
                index = self.position + k
                self.problems.append(
                    Mismatch(f"leaf {index}", "its bytes do not hash to the stored leaf hash: the leaf was changed", index)
                )
        self._compact.extend(hashes)
        self._check_heads()

    def finish(self, stored_root: bytes) -> None:
        """After the last leaf: the recomputed root must be the root that proofs are served from."""
        if self.position != self.size:
            raise ValueError(f"fed {self.position} of {self.size} leaves")
        if self._compact.root() != stored_root:
            self.problems.append(
                Mismatch(f"tree of size {self.size}", "the stored interior nodes give another root than the leaves")
            )

    def _check_heads(self) -> None:
        for signed in self._by_size.pop(self.position, []):
            self.checkpoints_checked += 1
            if signed.root != self._compact.root():
                self.problems.append(
                    Mismatch(
                        f"checkpoint at size {signed.size}",
                        "its signed root is not the root of the stored leaves: the log was rewritten",
                    )
                )


def first(problems: Iterable[Mismatch]) -> Mismatch | None:
    """The mismatch with the lowest leaf index (records without one come last), if any."""
    ordered = sorted(problems, key=lambda m: (m.leaf_index is None, m.leaf_index or 0))
    return ordered[0] if ordered else None
