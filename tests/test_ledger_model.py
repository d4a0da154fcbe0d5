"""A deliberately naive, RFC-literal Merkle model that the ledger tests compare against, and its own check."""

from __future__ import annotations

from collections.abc import Sequence

from tests.testdata import rfc6962_roots

from truceline.ledger.merkle import EMPTY_ROOT, CompactRange, leaf_hash, node_hash


def ref_mth(hashes: list[bytes]) -> bytes:
    if not hashes:
        return EMPTY_ROOT
    if len(hashes) == 1:
        return hashes[0]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return node_hash(ref_mth(hashes[:k]), ref_mth(hashes[k:]))


def ref_path(m: int, hashes: list[bytes]) -> list[bytes]:
    if len(hashes) == 1:
        return []
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    if m < k:
        return ref_path(m, hashes[:k]) + [ref_mth(hashes[k:])]
    return ref_path(m - k, hashes[k:]) + [ref_mth(hashes[:k])]


def ref_subproof(m: int, hashes: list[bytes], whole: bool) -> list[bytes]:
    n = len(hashes)
    if m == n:
        return [] if whole else [ref_mth(hashes)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return ref_subproof(m, hashes[:k], whole) + [ref_mth(hashes[k:])]
    return ref_subproof(m - k, hashes[k:], False) + [ref_mth(hashes[:k])]


class MemorySource:
    """Perfect subtrees kept in lists, filled from CompactRange.extend as a log would store them."""

    def __init__(self, hashes: list[bytes], batch: int = 5) -> None:
        self.levels: list[list[bytes]] = []
        compact = CompactRange()
        for start in range(0, len(hashes), batch):
            for level, nodes in enumerate(compact.extend(hashes[start : start + batch])):
                while len(self.levels) <= level:
                    self.levels.append([])
                self.levels[level].extend(nodes)
        self.compact = compact

    def perfect_nodes(self, coords: Sequence[tuple[int, int]]) -> list[bytes]:
        return [self.levels[level][index] for level, index in coords]


def hashes_for(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def test_model_reproduces_the_rfc6962_roots() -> None:
    roots = rfc6962_roots()
    hashes = [leaf_hash(bytes.fromhex(h)) for h in roots["leaf_inputs_hex"]]
    for size, want in enumerate(roots["root_hashes_hex_by_tree_size"]):
        assert ref_mth(hashes[:size]).hex() == want
