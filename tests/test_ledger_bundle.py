"""Offline bundles: round trip, and every kind of tampering rejected at the right place."""

from __future__ import annotations

import hashlib
import io
import sqlite3
import struct
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from truceline.ledger import bundle as bundle_module
from truceline.ledger import bundle_verify as bundle_verify_module
from truceline.ledger.bundle import BundleError, export_bundle
from truceline.ledger.bundle_verify import BundleReport, verify_bundle
from truceline.ledger.canonical import canonical_json, leaf_bytes, parse_canonical
from truceline.ledger.checkpoint import Checkpoint, LedgerKey, generate_key
from truceline.ledger.log import MerkleLog, ensure_schema
from truceline.ledger.merkle import leaf_hash

ORIGIN = "truceline.example/bundle-test"
SIZES = (0, 4, 11, 16, 23)  # checkpoint sizes; 0 is a head signed before the first leaf
RECORD = struct.Struct(">QI32s")
LEAVES = "truceline-ledger/leaves.bin"
MANIFEST = "truceline-ledger/manifest.json"
KEY = "truceline-ledger/verifier.key"


def observation(i: int) -> bytes:
    body = {"id": f"ua-ac17-{i:06d}", "kind": "explosion", "location": {"lat": 48.1 + i / 1000, "lon": 37.7}}
    return leaf_bytes("observation", body)


class Ledger:
    """A log with checkpoints at SIZES, as a server would have built it."""

    def __init__(self) -> None:
        self.conn = sqlite3.connect(":memory:")
        ensure_schema(self.conn)
        self.log = MerkleLog()
        self.key = generate_key(ORIGIN)
        for size in SIZES:
            current = self.log.size(self.conn)
            self.log.append_many(self.conn, [observation(i) for i in range(current, size)])
            self.log.sign_checkpoint(self.conn, self.key, ORIGIN)

    def export(self, path: Path) -> Path:
        export_bundle(self.conn, path, self.key.verifier_key(), self.log.checkpoints(self.conn))
        return path


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    return Ledger()


@pytest.fixture
def good(ledger: Ledger, tmp_path: Path) -> Path:
    return ledger.export(tmp_path / "good.tar")


def members(path: Path) -> list[tuple[str, bytes]]:
    with tarfile.open(path, "r:") as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar.getmembers()]  # type: ignore[union-attr]


def write_members(path: Path, items: list[tuple[str, bytes]]) -> Path:
    """Rebuild a bundle with exactly the exporter's tar layout, as a careful forger would."""
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in items:
            tar.addfile(bundle_module._tarinfo(name, len(data)), io.BytesIO(data))
    return path


def records(data: bytes) -> list[tuple[int, bytes, bytes]]:
    out, pos = [], 0
    while pos < len(data):
        index, length, recorded = RECORD.unpack_from(data, pos)
        pos += RECORD.size
        out.append((index, recorded, data[pos : pos + length]))
        pos += length
    return out


def pack(recs: list[tuple[int, bytes, bytes]]) -> bytes:
    return b"".join(RECORD.pack(i, len(d), h) + d for i, h, d in recs)


def edit(path: Path, out: Path, change: Callable[[dict[str, bytes]], None], *, fix_manifest: bool = False) -> Path:
    items = members(path)
    content = dict(items)
    change(content)
    if fix_manifest:
        manifest = parse_canonical(content[MANIFEST])
        leaves = content[LEAVES]
        manifest["leaves"]["sha256"] = hashlib.sha256(leaves).hexdigest()
        manifest["leaves"]["bytes"] = len(leaves)
        manifest["leaf_count"] = len(records(leaves))
        content[MANIFEST] = canonical_json(manifest)
    return write_members(out, [(name, content[name]) for name, _ in items if name in content])


def record_offset(path: Path, index: int) -> int:
    """Byte offset, within the bundle file, of leaf ``index``'s record."""
    with tarfile.open(path, "r:") as tar:
        info = tar.getmember(LEAVES)
        data = tar.extractfile(info).read()  # type: ignore[union-attr]
    pos = 0
    for _ in range(index):
        pos += RECORD.size + RECORD.unpack_from(data, pos)[1]
    return info.offset_data + pos


def flip(path: Path, out: Path, offset: int, mask: int = 0x01) -> Path:
    raw = bytearray(path.read_bytes())
    raw[offset] ^= mask
    out.write_bytes(raw)
    return out


def first(report: BundleReport) -> tuple[str, int | None]:
    assert not report.ok
    problem = report.first_problem
    assert problem is not None
    return problem.place, problem.index


# -- the good case ---------------------------------------------------------------------------------------------


def test_round_trip(good: Path, ledger: Ledger) -> None:
    report = verify_bundle(good, trusted_key=ledger.key.verifier_key())
    assert report.ok, report.problems
    assert report.leaf_count == 23 and report.verified_size == 23
    assert report.origin == ORIGIN and report.key_trusted
    assert [c.size for c in report.checkpoints] == list(SIZES)
    assert all(c.signature_ok and c.root_ok for c in report.checkpoints)
    # explicit consistency proofs were checked between every pair of consecutive non-empty checkpoints
    assert [c.consistency_ok for c in report.checkpoints] == [None, True, True, True, True]
    with tarfile.open(good, "r:") as tar:
        assert tar.getnames()[0] == MANIFEST and tar.getnames()[-1] == LEAVES
    assert report.to_dict()["first_problem"] is None


def test_export_is_deterministic(ledger: Ledger, tmp_path: Path) -> None:
    assert ledger.export(tmp_path / "a.tar").read_bytes() == ledger.export(tmp_path / "b.tar").read_bytes()


def test_bundle_holds_exactly_the_signed_prefix(ledger: Ledger, tmp_path: Path) -> None:
    partial = [c for c in ledger.log.checkpoints(ledger.conn) if c.size <= 11]
    path = tmp_path / "partial.tar"
    result = export_bundle(ledger.conn, path, ledger.key.verifier, partial)
    assert result.leaf_count == 11 and result.checkpoint_sizes == (0, 4, 11)
    report = verify_bundle(path)
    assert report.ok and report.leaf_count == 11


# -- single flipped bytes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("index", "field_offset"), [(0, 50), (7, 60), (22, 44), (5, 20), (9, 10), (17, 11), (13, 2)])
def test_flipped_byte_in_a_leaf_record_names_that_leaf(
    good: Path, tmp_path: Path, index: int, field_offset: int
) -> None:
    """Data (>=44), recorded hash (12..43), length (8..11) or index (0..7): the report names the leaf."""
    bad = flip(good, tmp_path / "bad.tar", record_offset(good, index) + field_offset)
    assert first(verify_bundle(bad)) == ("leaf", index)


def test_flipped_byte_in_a_checkpoint_names_that_checkpoint(good: Path, tmp_path: Path) -> None:
    with tarfile.open(good, "r:") as tar:
        info = tar.getmember("truceline-ledger/checkpoints/000003.note")
    note = dict(members(good))[info.name]
    root_line_end = note.index(b"\n", note.index(b"\n") + 1)  # flip inside the size/root lines
    report = verify_bundle(flip(good, tmp_path / "bad.tar", info.offset_data + root_line_end + 5))
    place, index = first(report)
    assert place == "checkpoint" and index == 16
    assert "does not verify" in report.first_problem.reason  # type: ignore[union-attr]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_any_flipped_bit_anywhere_is_rejected(good: Path, tmp_path: Path, data: st.DataObject) -> None:
    size = good.stat().st_size
    offset = data.draw(st.integers(0, size - 1))
    mask = 1 << data.draw(st.integers(0, 7))
    report = verify_bundle(flip(good, tmp_path / "bad.tar", offset, mask))
    assert not report.ok, f"flip at byte {offset} went unnoticed"


# -- reordered, dropped, added leaves ------------------------------------------------------------------------


def test_swapped_records_name_the_first_displaced_leaf(good: Path, tmp_path: Path) -> None:
    def swap(content: dict[str, bytes]) -> None:
        recs = records(content[LEAVES])
        recs[6], recs[9] = recs[9], recs[6]
        content[LEAVES] = pack(recs)

    assert first(verify_bundle(edit(good, tmp_path / "bad.tar", swap))) == ("leaf", 6)


def test_reordered_and_renumbered_leaves_are_caught_by_the_covering_checkpoint(good: Path, tmp_path: Path) -> None:
    def reorder(content: dict[str, bytes]) -> None:
        recs = records(content[LEAVES])
        recs[6], recs[9] = recs[9], recs[6]
        content[LEAVES] = pack([(i, h, d) for i, (_, h, d) in enumerate(recs)])

    report = verify_bundle(edit(good, tmp_path / "bad.tar", reorder, fix_manifest=True))
    assert first(report) == ("checkpoint", 11)  # first checkpoint whose tree contains leaf 6
    assert "[4, 11)" in report.first_problem.reason  # type: ignore[union-attr]


def test_dropped_record_names_the_missing_leaf(good: Path, tmp_path: Path) -> None:
    def drop(content: dict[str, bytes]) -> None:
        recs = records(content[LEAVES])
        del recs[14]
        content[LEAVES] = pack(recs)

    report = verify_bundle(edit(good, tmp_path / "bad.tar", drop, fix_manifest=True))
    assert first(report) == ("leaf", 14)
    assert "claims index 15" in report.first_problem.reason  # type: ignore[union-attr]


def test_dropped_and_renumbered_leaf_is_caught_by_the_covering_checkpoint(good: Path, tmp_path: Path) -> None:
    def drop(content: dict[str, bytes]) -> None:
        recs = records(content[LEAVES])
        del recs[14]
        content[LEAVES] = pack([(i, h, d) for i, (_, h, d) in enumerate(recs)])

    report = verify_bundle(edit(good, tmp_path / "bad.tar", drop, fix_manifest=True))
    assert first(report) == ("checkpoint", 16)
    assert any(p.place == "checkpoint" and p.index == 23 and "holds only 22" in p.reason for p in report.problems)


def test_rewritten_leaf_with_recomputed_hash_is_caught_by_the_covering_checkpoint(good: Path, tmp_path: Path) -> None:
    def rewrite(content: dict[str, bytes]) -> None:
        recs = records(content[LEAVES])
        forged = leaf_bytes("observation", {"id": "ua-ac17-000002", "kind": "nothing happened"})
        recs[2] = (2, leaf_hash(forged), forged)
        content[LEAVES] = pack(recs)

    assert first(verify_bundle(edit(good, tmp_path / "bad.tar", rewrite, fix_manifest=True))) == ("checkpoint", 4)


def test_leaves_beyond_the_last_checkpoint_are_flagged(good: Path, tmp_path: Path) -> None:
    def append(content: dict[str, bytes]) -> None:
        extra = observation(23)
        content[LEAVES] += RECORD.pack(23, len(extra), leaf_hash(extra)) + extra

    report = verify_bundle(edit(good, tmp_path / "bad.tar", append, fix_manifest=True))
    assert first(report) == ("leaf", 23)
    assert "not covered by any signed checkpoint" in report.first_problem.reason  # type: ignore[union-attr]


def test_truncated_leaves_name_the_cut_leaf(good: Path, tmp_path: Path) -> None:
    def cut(content: dict[str, bytes]) -> None:
        content[LEAVES] = content[LEAVES][:-10]

    assert first(verify_bundle(edit(good, tmp_path / "bad.tar", cut))) == ("leaf", 22)


# -- forged checkpoints and keys ---------------------------------------------------------------------------------


def test_checkpoint_signed_by_a_forger_under_our_name_is_rejected(good: Path, ledger: Ledger, tmp_path: Path) -> None:
    forger = generate_key(ORIGIN)
    forged_note = forger.sign(Checkpoint(ORIGIN, 16, ledger.log.root(ledger.conn, 16))).note

    def replace(content: dict[str, bytes]) -> None:
        content["truceline-ledger/checkpoints/000003.note"] = forged_note.encode()

    report = verify_bundle(edit(good, tmp_path / "bad.tar", replace))
    assert first(report) == ("checkpoint", 16)
    assert "no signature by key" in report.first_problem.reason  # type: ignore[union-attr]


def test_fully_re_signed_bundle_passes_alone_but_fails_against_the_published_key(
    good: Path, ledger: Ledger, tmp_path: Path
) -> None:
    """A forger who rewrites a leaf and re-signs everything with their own key under our name."""
    forger = generate_key(ORIGIN)
    conn = sqlite3.connect(":memory:")
    ensure_schema(conn)
    log = MerkleLog()
    for size in SIZES:
        current = log.size(conn)
        log.append_many(conn, [observation(i) if i != 2 else observation(999) for i in range(current, size)])
        log.sign_checkpoint(conn, forger, ORIGIN)
    path = export_bundle(conn, tmp_path / "forged.tar", forger.verifier, log.checkpoints(conn)).path
    assert verify_bundle(path).ok  # self-consistent: only the published key can tell
    report = verify_bundle(path, trusted_key=ledger.key.verifier_key())
    assert first(report) == ("key", None)
    assert [p.index for p in report.problems if p.place == "checkpoint"] == [0, 4, 11, 16, 23]


def test_checkpoints_out_of_order_are_flagged(good: Path, tmp_path: Path) -> None:
    def shuffle(content: dict[str, bytes]) -> None:
        a, b = "truceline-ledger/checkpoints/000001.note", "truceline-ledger/checkpoints/000002.note"
        content[a], content[b] = content[b], content[a]

    report = verify_bundle(edit(good, tmp_path / "bad.tar", shuffle))
    assert any(p.place == "checkpoint" and "comes after a checkpoint at size 11" in p.reason for p in report.problems)


# -- leaves that are not truceline leaves, broken files ----------------------------------------------------------


def test_non_canonical_leaf_is_named_unless_format_checks_are_off(tmp_path: Path) -> None:
    conn = sqlite3.connect(":memory:")
    ensure_schema(conn)
    log, key = MerkleLog(), generate_key(ORIGIN)
    log.append_many(conn, [observation(0), b'{"type": "observation"}', observation(2)])
    signed = log.sign_checkpoint(conn, key, ORIGIN)
    path = export_bundle(conn, tmp_path / "b.tar", key.verifier_key(), [signed]).path
    report = verify_bundle(path)
    assert first(report) == ("leaf", 1)
    assert "not a canonical truceline leaf" in report.first_problem.reason  # type: ignore[union-attr]
    assert verify_bundle(path, check_leaf_format=False).ok


def test_unreadable_files_are_reported_not_raised(good: Path, tmp_path: Path) -> None:
    assert first(verify_bundle(tmp_path / "missing.tar")) == ("bundle", None)
    (tmp_path / "junk.tar").write_bytes(b"not a tar at all" * 100)
    assert first(verify_bundle(tmp_path / "junk.tar")) == ("bundle", None)
    missing_key = edit(good, tmp_path / "nokey.tar", lambda c: c.pop(KEY))
    report = verify_bundle(missing_key)
    assert first(report) == ("bundle", None)
    assert "verifier.key is missing" in report.first_problem.reason  # type: ignore[union-attr]


# -- export refuses what would not verify --------------------------------------------------------------------------


def test_export_refuses_checkpoints_that_do_not_match(ledger: Ledger, tmp_path: Path) -> None:
    checkpoints = ledger.log.checkpoints(ledger.conn)
    with pytest.raises(BundleError, match="no checkpoint to export"):
        export_bundle(ledger.conn, tmp_path / "x.tar", ledger.key.verifier, [])
    other: LedgerKey = generate_key(ORIGIN)
    with pytest.raises(BundleError, match="checkpoint 0: checkpoint has no signature by key"):
        export_bundle(ledger.conn, tmp_path / "x.tar", other.verifier, checkpoints)
    wrong_root = ledger.key.sign(Checkpoint(ORIGIN, 5, ledger.log.root(ledger.conn, 4)))
    with pytest.raises(BundleError, match="database no longer matches what was signed"):
        export_bundle(ledger.conn, tmp_path / "x.tar", ledger.key.verifier, [*checkpoints, wrong_root])
    elsewhere = ledger.key.sign(Checkpoint("other.example/log", 4, ledger.log.root(ledger.conn, 4)))
    with pytest.raises(BundleError, match="several origins"):
        export_bundle(ledger.conn, tmp_path / "x.tar", ledger.key.verifier, [*checkpoints, elsewhere])
    assert not (tmp_path / "x.tar").exists()


def test_tampered_database_is_located_at_its_leaf(tmp_path: Path) -> None:
    """Someone edits a stored leaf after it was signed: the export still goes out and names the leaf."""
    conn = sqlite3.connect(":memory:")
    ensure_schema(conn)
    log, key = MerkleLog(), generate_key(ORIGIN)
    log.append_many(conn, [observation(i) for i in range(9)])
    signed = log.sign_checkpoint(conn, key, ORIGIN)
    data = conn.execute("SELECT data FROM ledger_leaves").fetchone()[0]
    conn.execute("UPDATE ledger_leaves SET data = ?", (data.replace(b"000005", b"000055"),))
    path = export_bundle(conn, tmp_path / "b.tar", key.verifier, [signed]).path
    assert first(verify_bundle(path)) == ("leaf", 5)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(0, 200), min_size=1, max_size=8), batch=st.integers(1, 50))
def test_any_checkpoint_schedule_verifies_with_consistency_proofs(
    sizes: list[int], batch: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Random checkpoint sizes (repeats included) and leaf batch lengths exercise the streaming proof rebuild."""
    monkeypatch.setattr(bundle_verify_module, "_BATCH", batch)
    conn = sqlite3.connect(":memory:")
    ensure_schema(conn)
    log, key = MerkleLog(), generate_key(ORIGIN)
    for size in sorted(sizes):
        log.append_many(conn, [observation(i) for i in range(log.size(conn), size)])
        log.sign_checkpoint(conn, key, ORIGIN)
    path = export_bundle(conn, tmp_path / "b.tar", key.verifier, log.checkpoints(conn)).path
    report = verify_bundle(path)
    assert report.ok, report.problems
    distinct = sorted(set(sizes))
    checked = [c for c in report.checkpoints if c.consistency_ok]
    # every distinct size after the first non-zero one got an explicit consistency proof
    assert {c.size for c in checked} == set(distinct[1:]) - {0}
