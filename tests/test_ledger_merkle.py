"""RFC 6962 / 9162 hashing, proofs and verification against the reference vectors and an RFC-literal model."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.testdata import merkle_vectors, rfc6962_roots

from test_ledger_model import MemorySource, hashes_for, ref_mth, ref_path, ref_subproof
from truceline.ledger import merkle
from truceline.ledger.merkle import (
    EMPTY_ROOT,
    CompactRange,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_at,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

# transparency-dev/merkle's testdata/, bundled in tests/data/merkle (see its README)
VECTORS = merkle_vectors()
INCLUSION = sorted(name for name in VECTORS if name.startswith("inclusion/"))
CONSISTENCY = sorted(name for name in VECTORS if name.startswith("consistency/"))


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


# -- the reference vectors ---------------------------------------------------------------------------


def test_vector_files_are_all_there() -> None:
    assert len(INCLUSION) + len(CONSISTENCY) == 196


@pytest.mark.parametrize("name", INCLUSION)
def test_inclusion_vector(name: str) -> None:
    case = VECTORS[name]
    proof = [_b64(p) for p in case["proof"] or []]
    args = (_b64(case["leafHash"]), case["leafIdx"], case["treeSize"], proof, _b64(case["root"]))
    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("name", CONSISTENCY)
def test_consistency_vector(name: str) -> None:
    case = VECTORS[name]
    proof = [_b64(p) for p in case["proof"] or []]
    args = (case["size1"], case["size2"], proof, _b64(case["root1"]), _b64(case["root2"]))
    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def test_happy_vectors_are_reproduced_by_generation() -> None:
    """Our generator emits exactly the reference proofs for the reference tree of 8 leaves."""
    roots = rfc6962_roots()
    hashes = [leaf_hash(bytes.fromhex(h)) for h in roots["leaf_inputs_hex"]]
    source = MemorySource(hashes, batch=3)
    for path in INCLUSION:
        case = VECTORS[path]
        if not case["wantErr"] and case["treeSize"] <= len(hashes) and case["proof"]:
            got = inclusion_proof(source, case["leafIdx"], case["treeSize"])
            assert got == [_b64(p) for p in case["proof"]], path
    for path in CONSISTENCY:
        case = VECTORS[path]
        if not case["wantErr"] and case["proof"]:
            got = consistency_proof(source, case["size1"], case["size2"])
            assert got == [_b64(p) for p in case["proof"]], path


def test_rfc6962_roots_for_sizes_0_to_8() -> None:
    roots = rfc6962_roots()
    leaves = [bytes.fromhex(h) for h in roots["leaf_inputs_hex"]]
    wanted = [bytes.fromhex(h) for h in roots["root_hashes_hex_by_tree_size"]]
    assert len(wanted) == 9
    hashes = [leaf_hash(d) for d in leaves]
    source = MemorySource(hashes, batch=3)
    for size, want in enumerate(wanted):
        assert root_from_leaf_hashes(hashes[:size]) == want
        assert root_at(source, size) == want


# -- generation against the model, for every small size -----------------------------------------------------


def test_every_proof_up_to_40_leaves_matches_the_rfc_model() -> None:
    hashes = hashes_for(40)
    source = MemorySource(hashes, batch=7)
    for size in range(1, 41):
        assert root_at(source, size) == ref_mth(hashes[:size])
        for index in range(size):
            proof = inclusion_proof(source, index, size)
            assert proof == ref_path(index, hashes[:size])
            assert len(proof) == merkle.inclusion_proof_length(index, size)
            verify_inclusion(hashes[index], index, size, proof, ref_mth(hashes[:size]))
        for size1 in range(1, size + 1):
            proof = consistency_proof(source, size1, size)
            assert proof == ref_subproof(size1, hashes[:size], True)
            verify_consistency(size1, size, proof, ref_mth(hashes[:size1]), ref_mth(hashes[:size]))


def test_consistency_ranges_split_at_the_old_size() -> None:
    """The bundle verifier relies on each proof range lying on one side of size1, the left ones perfect."""
    for size2 in range(1, 70):
        for size1 in range(1, size2 + 1):
            left = set(merkle.perfect_subtrees(0, size1))
            for start, end in merkle.consistency_ranges(size1, size2):
                assert end <= size1 or start >= size1
                if end <= size1:
                    level = (end - start).bit_length() - 1
                    assert (level, start >> level) in left and end - start == 1 << level


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=12), st.data())
def test_compact_range_roots_match_for_any_batching(batches: list[int], data: st.DataObject) -> None:
    n = sum(batches)
    hashes = hashes_for(n)
    compact, pos = CompactRange(), 0
    for b in batches:
        compact.extend(hashes[pos : pos + b])
        pos += b
        assert compact.root() == ref_mth(hashes[:pos])
    size = data.draw(st.integers(1, n))
    assert root_from_leaf_hashes(hashes[:size]) == ref_mth(hashes[:size])


# -- tampering with a valid proof is always caught ----------------------------------------------------------


def _flip(blobs: list[bytes], which: int, bit: int) -> list[bytes]:
    out = list(blobs)
    b = bytearray(out[which])
    b[bit // 8] ^= 1 << (bit % 8)
    out[which] = bytes(b)
    return out


@settings(max_examples=150, deadline=None)
@given(st.integers(2, 300), st.data())
def test_any_single_bit_flip_in_an_inclusion_proof_is_rejected(size: int, data: st.DataObject) -> None:
    hashes = hashes_for(size)
    index = data.draw(st.integers(0, size - 1))
    root = root_from_leaf_hashes(hashes)
    proof = ref_path(index, hashes)
    verify_inclusion(hashes[index], index, size, proof, root)
    target = data.draw(st.integers(0, len(proof) + 1))  # a proof hash, the leaf hash or the root
    bit = data.draw(st.integers(0, 255))
    items = [*proof, hashes[index], root]
    flipped = _flip(items, target, bit)
    with pytest.raises(ProofError):
        verify_inclusion(flipped[-2], index, size, flipped[:-2], flipped[-1])


@settings(max_examples=150, deadline=None)
@given(st.integers(2, 300), st.data())
def test_any_single_bit_flip_in_a_consistency_proof_is_rejected(size2: int, data: st.DataObject) -> None:
    hashes = hashes_for(size2)
    size1 = data.draw(st.integers(1, size2 - 1))
    root1, root2 = ref_mth(hashes[:size1]), ref_mth(hashes)
    proof = ref_subproof(size1, hashes, True)
    verify_consistency(size1, size2, proof, root1, root2)
    target = data.draw(st.integers(0, len(proof) + 1))
    items = _flip([*proof, root1, root2], target, data.draw(st.integers(0, 255)))
    with pytest.raises(ProofError):
        verify_consistency(size1, size2, items[:-2], items[-2], items[-1])


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 200), st.data())
def test_wrong_index_or_proof_length_is_rejected(size: int, data: st.DataObject) -> None:
    hashes = hashes_for(size)
    index = data.draw(st.integers(0, size - 1))
    proof = ref_path(index, hashes)
    root = ref_mth(hashes)
    other = data.draw(st.integers(0, size).filter(lambda i: i != index))
    with pytest.raises(ProofError):
        verify_inclusion(hashes[index], other, size, proof, root)
    with pytest.raises(ProofError):
        verify_inclusion(hashes[index], index, size, [*proof, root], root)
    if proof:
        with pytest.raises(ProofError):
            verify_inclusion(hashes[index], index, size, proof[:-1], root)


# -- precise messages ----------------------------------------------------------------------------------------


def test_errors_say_what_is_wrong() -> None:
    hashes = hashes_for(8)
    root = ref_mth(hashes)
    proof = ref_path(3, hashes)
    with pytest.raises(ProofError, match="outside a tree of size 8"):
        verify_inclusion(hashes[3], 8, 8, proof, root)
    with pytest.raises(ProofError, match="proof has 2 hashes; a proof for leaf 3 in a tree of 8 has exactly 3"):
        verify_inclusion(hashes[3], 3, 8, proof[:2], root)
    with pytest.raises(ProofError, match=r"proof\[1\] has 31 bytes"):
        verify_inclusion(hashes[3], 3, 8, [proof[0], proof[1][:31], proof[2]], root)
    with pytest.raises(ProofError, match="not the given root"):
        verify_inclusion(hashes[4], 3, 8, proof, root)
    with pytest.raises(ProofError, match="a log never shrinks"):
        verify_consistency(5, 4, [], root, root)
    with pytest.raises(ProofError, match="nothing to prove"):
        verify_consistency(0, 4, [], EMPTY_ROOT, root)
    with pytest.raises(ProofError, match="not root1"):
        verify_consistency(3, 8, ref_subproof(3, hashes, True), ref_mth(hashes[:2]), root)
    with pytest.raises(ProofError, match="not root2"):
        verify_consistency(3, 8, ref_subproof(3, hashes, True), ref_mth(hashes[:3]), ref_mth(hashes[:7]))
