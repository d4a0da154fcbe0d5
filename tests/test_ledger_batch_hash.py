"""RFC 6962 run hashing: the C extension against its hashlib twin, the reference roots under both, and the
hashlib twin chosen when the extension is absent."""

from __future__ import annotations

import base64
import hashlib
import importlib
import random
import shutil
import sqlite3
import sys
import sysconfig
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import pytest
from tests.testdata import merkle_vectors, rfc6962_roots

import truceline.ledger as ledger_package
from truceline.ledger import batch_hash, merkle
from truceline.ledger.log import MerkleLog, ensure_schema

EXTENSION = "truceline.ledger._rfc6962"


def _can_build_extension() -> bool:
    """A C compiler and OpenSSL's headers: what ``pip install -e .`` needs to build the extension."""
    headers = [Path(sysconfig.get_paths()["include"]).parent, Path("/usr/include"), Path("/usr/local/include")]
    return bool(shutil.which("cc") or shutil.which("gcc")) and any((d / "openssl" / "sha.h").is_file() for d in headers)


def _c_module() -> ModuleType:
    """The extension; missing, it fails the test where this machine could have built it (a broken build
    must not pass as a skip) and skips it only where it cannot be built."""
    try:
        return importlib.import_module(EXTENSION)
    except ImportError:
        if _can_build_extension():
            pytest.fail("the C extension is not built, though this machine can build it: `pip install -e .` (or build_ext --inplace)")
        pytest.skip("no C compiler or OpenSSL headers here: the extension cannot be built, the hashlib twin is used")


def _leaves(rng: random.Random, n: int, longest: int = 300) -> list[bytes]:
    """Leaves of 0..longest bytes: empty ones, one-block ones, and ones spanning several SHA-256 blocks."""
    return [rng.randbytes(rng.randint(0, longest)) for _ in range(n)]


def _leaf_reference(leaves: list[bytes]) -> bytes:
    return b"".join(hashlib.sha256(b"\x00" + d).digest() for d in leaves)


def _node_reference(hashes: bytes) -> bytes:
    pairs = [hashes[i : i + 64] for i in range(0, len(hashes) - 63, 64)]
    return b"".join(hashlib.sha256(b"\x01" + p).digest() for p in pairs)


SIZES = [*range(71), 1000, 4097]


@pytest.mark.parametrize("n", SIZES)
def test_leaf_runs_are_the_same_bytes_in_c_and_hashlib(n: int) -> None:
    c = _c_module()
    leaves = _leaves(random.Random(n), n)
    data, ends = b"".join(leaves), batch_hash.ends_of(leaves)
    want = _leaf_reference(leaves)
    assert batch_hash.leaf_run_hashlib(data, ends) == want
    assert c.leaf_hashes(data, ends) == want
    assert c.leaf_hashes(bytearray(data), memoryview(ends)) == want  # any contiguous buffer


@pytest.mark.parametrize("n", SIZES)
def test_node_runs_are_the_same_bytes_in_c_and_hashlib(n: int) -> None:
    c = _c_module()
    hashes = random.Random(n).randbytes(32 * n)
    want = _node_reference(hashes)
    assert len(want) == 32 * (n // 2)
    assert batch_hash.node_run_hashlib(hashes) == want
    assert c.node_hashes(hashes) == want


def test_large_leaves_hash_alike() -> None:
    c = _c_module()
    leaves = [b"", b"x" * 70_000, random.Random(1).randbytes(1 << 20), b"y"]
    data, ends = b"".join(leaves), batch_hash.ends_of(leaves)
    assert c.leaf_hashes(data, ends) == batch_hash.leaf_run_hashlib(data, ends) == _leaf_reference(leaves)


BAD_RUNS: list[tuple[str, tuple[bytes, ...], str]] = [
    ("leaf", (b"abc", b"\x00\x00\x00\x03\x00"), "ends has 5 bytes, not a whole number of 4-byte offsets"),
    ("leaf", (b"abc", b"\x00\x00\x00\x02\x00\x00\x00\x01"), r"end offset 1 \(1\) is before the one preceding it \(2\)"),
    ("leaf", (b"abc", b"\x00\x00\x00\x02"), "the last end offset is 2 but data has 3 bytes"),
    ("leaf", (b"abc", b""), "the last end offset is 0 but data has 3 bytes"),
    ("node", (b"\x00" * 33,), "hashes has 33 bytes, not a whole number of 32-byte hashes"),
]


@pytest.mark.parametrize(("kind", "args", "message"), BAD_RUNS)
def test_bad_runs_are_refused_alike(kind: str, args: tuple[bytes, ...], message: str) -> None:
    c = _c_module()
    twins: list[Callable[..., bytes]] = (
        [c.leaf_hashes, batch_hash.leaf_run_hashlib] if kind == "leaf" else [c.node_hashes, batch_hash.node_run_hashlib]
    )
    for fn in twins:
        with pytest.raises(ValueError, match=message):
            fn(*args)


def test_non_buffers_are_refused_by_both() -> None:
    c = _c_module()
    for fn in (c.leaf_hashes, batch_hash.leaf_run_hashlib):
        with pytest.raises(TypeError):
            fn("abc", b"\x00\x00\x00\x03")  # type: ignore[arg-type]
    for fn in (c.node_hashes, batch_hash.node_run_hashlib):
        with pytest.raises(TypeError):
            fn(None)  # type: ignore[arg-type]


def _rows_reference(leaves: list[bytes], max_leaves: int, max_bytes: int) -> list[tuple[int, list[int]]]:
    """Rows as the log cut them before ``row_ends``: up to max_leaves, cut where the bytes pass max_bytes."""
    rows, i = [], 0
    while i < len(leaves):
        ends, total = [], 0
        for leaf in leaves[i : i + max_leaves]:
            if ends and total + len(leaf) > max_bytes:
                break
            total += len(leaf)
            ends.append(total)
        rows.append((i, ends))
        i += len(ends)
    return rows


@pytest.mark.parametrize("n", [*range(1, 71), 1000])
def test_row_ends_cut_rows_alike_in_c_and_python(n: int) -> None:
    c = _c_module()
    rng = random.Random(n)
    leaves = _leaves(rng, n, longest=rng.choice([0, 5, 300, 3000]))
    for max_leaves, max_bytes in [(256, 64 * 1024), (1, 0), (3, 0), (7, 100), (5, 1000), (n, 10**9)]:
        for first, ends in _rows_reference(leaves, max_leaves, max_bytes):
            want = (len(ends), b"".join(e.to_bytes(4, "big") for e in ends))
            assert c.row_ends(leaves, first, max_leaves, max_bytes) == want, (first, max_leaves, max_bytes)
            assert batch_hash.row_ends_python(leaves, first, max_leaves, max_bytes) == want


BAD_ROWS: list[tuple[tuple[object, ...], type[Exception], str]] = [
    (([b"a"], 1, 256, 10), ValueError, "0 <= first < 1 leaves"),
    (([b"a"], -1, 256, 10), ValueError, "got first -1"),
    (([b"a"], 0, 0, 10), ValueError, "max_leaves 0"),
    (([b"a"], 0, 1, -1), ValueError, "max_bytes -1"),
    (([b"a", "b"], 0, 2, 10), TypeError, "leaf 1 is str, not bytes"),
    (((b"a",), 0, 1, 10), TypeError, "list"),
]


@pytest.mark.parametrize(("args", "error", "message"), BAD_ROWS)
def test_bad_row_requests_are_refused_alike(args: tuple[object, ...], error: type[Exception], message: str) -> None:
    c = _c_module()
    for fn in (c.row_ends, batch_hash.row_ends_python):
        with pytest.raises(error, match=message):
            fn(*args)


@contextmanager
def _without_extension(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """``batch_hash`` re-imported as on a machine where the extension was never built, then restored."""
    monkeypatch.setitem(sys.modules, EXTENSION, None)  # makes `import` of it raise ImportError
    monkeypatch.delattr(ledger_package, "_rfc6962", raising=False)
    try:
        yield importlib.reload(batch_hash)
    finally:
        monkeypatch.undo()
        importlib.reload(batch_hash)


@pytest.fixture
def hashlib_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    with _without_extension(monkeypatch) as module:
        yield module


def test_the_hashlib_twin_is_used_when_the_extension_is_absent(hashlib_only: ModuleType) -> None:
    assert hashlib_only.BACKEND == "hashlib"
    assert hashlib_only.leaf_run is hashlib_only.leaf_run_hashlib
    assert hashlib_only.node_run is hashlib_only.node_run_hashlib
    assert hashlib_only.row_ends is hashlib_only.row_ends_python
    assert merkle.batch_hash is hashlib_only  # merkle and the log look the backend up per call


def _check_reference_roots() -> None:
    roots = rfc6962_roots()
    leaves = [bytes.fromhex(h) for h in roots["leaf_inputs_hex"]]
    wanted = [bytes.fromhex(h) for h in roots["root_hashes_hex_by_tree_size"]]
    hashes = merkle.leaf_hashes(leaves)
    conn = sqlite3.connect(":memory:")
    ensure_schema(conn)
    log = MerkleLog()
    for start in (0, 1, 3, 6):  # odd starts: each batch begins with a right child of a stored node
        log.append_many(conn, leaves[start : {0: 1, 1: 3, 3: 6, 6: 8}[start]])
    compact = merkle.CompactRange()
    for size, want in enumerate(wanted):
        assert merkle.root_from_leaf_hashes(hashes[:size]) == want
        assert log.root(conn, size) == want
        if size:
            compact.extend(hashes[size - 1 : size])
        assert compact.root() == want
    checked = 0  # the reference proofs over the same 8 leaves, generated from the nodes the log stored
    for name, case in merkle_vectors().items():
        if case["wantErr"] or not case["proof"]:
            continue
        want_proof = [base64.b64decode(p) for p in case["proof"]]
        if name.startswith("inclusion/") and case["treeSize"] <= len(leaves):
            assert log.inclusion_proof(conn, case["leafIdx"], case["treeSize"]) == want_proof, name
            checked += 1
        elif name.startswith("consistency/") and case["size2"] <= len(leaves):
            assert log.consistency_proof(conn, case["size1"], case["size2"]) == want_proof, name
            checked += 1
    assert checked == 8  # every happy reference proof within 8 leaves


def test_reference_roots_with_the_backend_in_use() -> None:
    _check_reference_roots()


def test_reference_roots_with_the_hashlib_twin(hashlib_only: ModuleType) -> None:
    assert merkle.batch_hash.BACKEND == "hashlib"
    _check_reference_roots()


@pytest.fixture(params=["in use", "hashlib"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Each test twice: with the backend this process chose, and with the hashlib twin forced."""
    if request.param == "hashlib":
        with _without_extension(monkeypatch) as module:
            yield module.BACKEND
    else:
        yield batch_hash.BACKEND


@pytest.mark.parametrize("start", [0, 1, 5, 255, 256, 257, 1023])
def test_a_log_grown_in_batches_has_the_roots_of_the_rfc(start: int, backend: str) -> None:
    """Run hashing inside the log, from any size: the roots equal RFC 6962's recursive definition."""
    rng = random.Random(start)
    leaves = _leaves(rng, start + 700, longest=90)
    hashes = [hashlib.sha256(b"\x00" + d).digest() for d in leaves]
    conn = sqlite3.connect(":memory:")
    ensure_schema(conn)
    log = MerkleLog()
    if start:
        log.append_many(conn, leaves[:start])
    at = start
    for size in (1, 2, 3, 64, 130, 500):
        log.append_many(conn, leaves[at : at + size])
        at += size
        assert log.root(conn, at) == _mth(hashes[:at])
        assert log.leaf_hash(conn, at - 1) == hashes[at - 1]


def _mth(hashes: list[bytes]) -> bytes:
    """RFC 6962's recursive MTH, literally (the split at the largest power of two below n)."""
    if len(hashes) == 1:
        return hashes[0]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + _mth(hashes[:k]) + _mth(hashes[k:])).digest()


def test_extend_refuses_a_hash_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="hash 1 has 31 bytes"):
        merkle.CompactRange().extend([b"a" * 32, b"b" * 31])
    with pytest.raises(ValueError, match="not a whole number of 32"):
        merkle.CompactRange().extend_run(b"a" * 33)
