"""Signed-note checkpoints: interoperability with Go's note package, keys on disk, tampering."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from truceline.ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    KeyFileError,
    LedgerKey,
    Verifier,
    ensure_ledger_key,
    existing_ledger_key,
    generate_key,
    key_hash,
    load_key,
    load_or_create_key,
    parse_checkpoint,
    parse_note,
    verify_checkpoint,
)
from truceline.ledger.merkle import EMPTY_ROOT, leaf_hash

# The example key pair and note from golang.org/x/mod/sumdb/note's documentation (ExampleSign / ExampleOpen).
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_SIG = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"

ORIGIN = "truceline.example/instance-1"


def test_go_reference_key_and_signature_byte_for_byte() -> None:
    key = LedgerKey.from_string(GO_SKEY)
    assert key.verifier_key() == GO_VKEY
    assert key.to_string() == GO_SKEY
    assert key.sign_note(GO_TEXT) == GO_TEXT + "\n" + GO_SIG  # Ed25519 is deterministic
    verifier = Verifier.from_string(GO_VKEY)
    body, sigs = parse_note(GO_TEXT + "\n" + GO_SIG)
    assert body == GO_TEXT
    assert sigs[0].key_hash.hex() == "c74f20a3"
    assert verifier.verifies(body.encode(), sigs[0].signature)


def test_key_hash_is_sha256_of_name_newline_alg_key() -> None:
    verifier = Verifier.from_string(GO_VKEY)
    assert key_hash("PeterNeumann", verifier.public_key).hex() == "c74f20a3"


def test_sign_parse_verify_round_trip() -> None:
    key = generate_key(ORIGIN)
    root = leaf_hash(b"x")
    signed = key.sign(Checkpoint(ORIGIN, 1, root))
    assert signed.note == f"{ORIGIN}\n1\n{base64.b64encode(root).decode()}\n\n" + signed.signatures[0].line()
    assert signed.note.splitlines()[-1].startswith(f"— {ORIGIN} ")
    got = verify_checkpoint(signed.note, key.verifier_key(), origin=ORIGIN)
    assert (got.origin, got.size, got.root) == (ORIGIN, 1, root)
    assert parse_checkpoint(signed.note).checkpoint == got.checkpoint


def test_extension_lines_and_foreign_cosignatures_are_accepted() -> None:
    key, witness = generate_key(ORIGIN), generate_key("witness.example")
    note = key.sign_note(f"{ORIGIN}\n3\n{base64.b64encode(EMPTY_ROOT).decode()}\nextra line\n")
    body, _ = parse_note(note)
    cosigned = witness.sign_note(body)  # a second, unrelated signature line
    both = note + cosigned.splitlines(keepends=True)[-1]
    got = verify_checkpoint(both, key.verifier)
    assert got.checkpoint.extensions == ("extra line",)
    assert len(got.signatures) == 2
    verify_checkpoint(both, witness.verifier)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda n: n.replace("\n5\n", "\n6\n", 1), "does not verify"),
        (lambda n: n.replace("instance-1\n", "instance-2\n", 1), "not the expected"),
        (lambda n: n.replace("\n\n", "\n", 1), "no blank line"),
        (lambda n: n.replace("— ", "- ", 1), "em dash"),
        (lambda n: n[:-1], "end with a newline"),
        (lambda n: n.replace("\n5\n", "\n05\n", 1), "leading zeros"),
        (lambda n: n.replace("\n5\n", "\n5\x01\n", 1), "control character"),
    ],
)
def test_tampered_notes_are_rejected_with_the_reason(mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    key = generate_key(ORIGIN)
    note = key.sign(Checkpoint(ORIGIN, 5, leaf_hash(b"5"))).note
    verify_checkpoint(note, key.verifier, origin=ORIGIN)
    with pytest.raises(CheckpointError, match=message):
        verify_checkpoint(mutate(note), key.verifier, origin=ORIGIN)


def test_signature_by_another_key_or_name_is_rejected() -> None:
    key, other = generate_key(ORIGIN), generate_key(ORIGIN)
    note = other.sign(Checkpoint(ORIGIN, 2, EMPTY_ROOT)).note
    with pytest.raises(CheckpointError, match="no signature by key"):
        verify_checkpoint(note, key.verifier)
    # a forger claiming our name and key hash for a signature made with their own key
    sig = parse_note(note)[1][0]
    blob = base64.b64encode(key.verifier.key_hash + sig.signature).decode()
    forged = note.rsplit("— ", 1)[0] + f"— {ORIGIN} {blob}\n"
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_checkpoint(forged, key.verifier)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_any_single_bit_flip_in_a_note_is_rejected(data: st.DataObject) -> None:
    key = generate_key(ORIGIN)
    note = key.sign(Checkpoint(ORIGIN, 1234, leaf_hash(b"1234"))).note
    raw = bytearray(note.encode())
    pos = data.draw(st.integers(0, len(raw) - 1))
    raw[pos] ^= 1 << data.draw(st.integers(0, 7))
    with pytest.raises((CheckpointError, UnicodeDecodeError)):
        verify_checkpoint(raw.decode("utf-8"), key.verifier)


def test_non_canonical_base64_in_a_signature_line_is_rejected() -> None:
    key = generate_key(ORIGIN)
    note = key.sign(Checkpoint(ORIGIN, 1, EMPTY_ROOT)).note
    line = note.splitlines()[-1]
    blob = line.rsplit(" ", 1)[1]  # 68 bytes -> ends "=", the char before it carries 2 spare bits
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = blob[-2]
    sibling = alphabet[alphabet.index(last) ^ 1]
    assert base64.b64decode(blob[:-2] + sibling + "=") == base64.b64decode(blob)
    tampered = note.replace(blob, blob[:-2] + sibling + "=")
    with pytest.raises(CheckpointError, match="not canonically base64"):
        verify_checkpoint(tampered, key.verifier)


def test_verifier_key_strings_are_checked() -> None:
    with pytest.raises(CheckpointError, match="does not match its name and key"):
        Verifier.from_string(GO_VKEY.replace("c74f20a3", "c74f20a4"))
    with pytest.raises(CheckpointError, match="not name\\+hash\\+key"):
        Verifier.from_string("PeterNeumann")
    with pytest.raises(CheckpointError, match="not an Ed25519 key"):
        Verifier.from_string("PeterNeumann+c74f20a3+" + base64.b64encode(b"\x02" + bytes(32)).decode())
    with pytest.raises(CheckpointError, match="key name"):
        generate_key("has space")


def test_key_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path / "data", ORIGIN)
    path = tmp_path / "data" / "ledger.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = load_or_create_key(tmp_path / "data", ORIGIN)
    assert again.verifier_key() == key.verifier_key()
    assert load_key(tmp_path / "data").verifier_key() == key.verifier_key()
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["ledger.key"]  # no temp file left
    with pytest.raises(KeyFileError, match="signs as"):
        load_or_create_key(tmp_path / "data", "someone.else")


def _create_key(directory: str) -> str:
    return load_or_create_key(directory, ORIGIN).verifier_key()


def test_processes_starting_at_once_end_up_with_one_key(tmp_path: Path) -> None:
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(4) as pool:
        keys = set(pool.map(_create_key, [str(tmp_path)] * 8))
    assert len(keys) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["ledger.key"]


def test_a_data_dir_key_created_by_a_rival_in_the_meantime_is_taken_not_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two processes start on an empty data dir: each draws its own fresh origin name, one links its key in
    first. The other must take the winner's key (whatever its name), not stop on a name mismatch."""
    import truceline.ledger.checkpoint as checkpoint

    real_generate = checkpoint.generate_key
    rival: list[str] = []

    def generate_while_a_rival_wins(name: str) -> LedgerKey:
        if not rival:  # the rival process creates its key between our existence check and our link
            monkeypatch.setattr(checkpoint, "generate_key", real_generate)
            rival.append(load_or_create_key(tmp_path, "truceline/rival000000").verifier_key())
        return real_generate(name)

    monkeypatch.setattr(checkpoint, "generate_key", generate_while_a_rival_wins)
    key = ensure_ledger_key(tmp_path)
    assert key.verifier_key() == rival[0]
    assert existing_ledger_key(tmp_path) is not None and existing_ledger_key(tmp_path / "nothing") is None


def _ensure_fresh_key(directory: str) -> str:
    return ensure_ledger_key(Path(directory)).verifier_key()


def test_processes_creating_a_fresh_data_dir_key_at_once_end_up_with_one(tmp_path: Path) -> None:
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(4) as pool:
        keys = set(pool.map(_ensure_fresh_key, [str(tmp_path)] * 8))
    assert len(keys) == 1
    assert ensure_ledger_key(tmp_path).name.startswith("truceline/")


def test_unsafe_or_damaged_key_files_are_refused(tmp_path: Path) -> None:
    load_or_create_key(tmp_path, ORIGIN)
    path = tmp_path / "ledger.key"
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError, match="readable by others"):
        load_key(tmp_path)
    os.chmod(path, 0o600)
    text = path.read_text()
    path.write_text(text.replace("PRIVATE+KEY+", "PRIVATE+KEX+"))
    with pytest.raises(KeyFileError, match="PRIVATE\\+KEY\\+"):
        load_key(tmp_path)
    hash_hex = text.split("+")[3]
    path.write_text(text.replace(hash_hex, "00000000"))
    with pytest.raises(KeyFileError, match="does not match"):
        load_key(tmp_path)
    with pytest.raises(KeyFileError, match="no ledger key"):
        load_key(tmp_path / "missing")


def test_the_example_in_the_docs_verifies() -> None:
    """docs/ledger.md shows a real checkpoint; keep it true."""
    import re

    from truceline.ledger.canonical import leaf_bytes
    from truceline.ledger.merkle import root_from_leaf_hashes

    docs = (Path(__file__).resolve().parents[1] / "docs" / "ledger.md").read_text()
    section = docs[docs.index("## 3. Checkpoints") :]
    note = section.split("```\n", 2)[1]
    vkey = re.search(r"verifier key `([^`]+)`", section).group(1)  # type: ignore[union-attr]
    signed = verify_checkpoint(note, vkey)
    leaves = [leaf_bytes("observation", {"id": f"o-{i}"}) for i in range(signed.size)]
    assert signed.root == root_from_leaf_hashes([leaf_hash(d) for d in leaves])
