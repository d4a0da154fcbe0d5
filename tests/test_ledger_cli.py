"""`truceline ledger export|verify|key` end to end on a real data directory, and the bench script's entry point."""

from __future__ import annotations

import json
import sqlite3
import tarfile
from pathlib import Path
from types import ModuleType

import pytest
from tests.script_modules import REPO, load_script
from typer.testing import CliRunner

from truceline.cli_ledger import app
from truceline.ledger.canonical import leaf_bytes
from truceline.ledger.checkpoint import generate_key, load_or_create_key
from truceline.ledger.log import MerkleLog, ensure_schema

ORIGIN = "truceline.example/cli-test"
runner = CliRunner()


def make_data_dir(path: Path, signed: int = 12, unsigned: int = 3) -> Path:
    """A data dir as the server leaves it: truceline.db with ledger tables, ledger.key, one checkpoint."""
    key = load_or_create_key(path, ORIGIN)
    conn = sqlite3.connect(path / "truceline.db")
    ensure_schema(conn)
    log = MerkleLog()
    log.append_many(conn, [leaf_bytes("observation", {"id": f"o-{i}"}) for i in range(signed)])
    log.sign_checkpoint(conn, key, ORIGIN)
    log.append_many(conn, [leaf_bytes("review", {"incident": f"i-{i}"}) for i in range(unsigned)])
    conn.commit()
    conn.close()
    return path


def stored_checkpoints(data_dir: Path) -> int:
    conn = sqlite3.connect(data_dir / "truceline.db")
    try:
        return int(conn.execute("SELECT count(*) FROM ledger_checkpoints").fetchone()[0])
    finally:
        conn.close()


def test_export_signs_the_head_and_verifies(tmp_path: Path) -> None:
    data = make_data_dir(tmp_path / "data")
    out = tmp_path / "bundle.tar"
    result = runner.invoke(app, ["export", "--data-dir", str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "15 leaves" in result.output and "bundle verified" in result.output
    assert stored_checkpoints(data) == 1  # the database was only read

    result = runner.invoke(app, ["verify", str(out)])
    assert result.exit_code == 0, result.output
    assert "✓ bundle verified" in result.output and "15 leaves" in result.output

    result = runner.invoke(app, ["verify", str(out), "--json"])
    report = json.loads(result.output)
    assert result.exit_code == 0 and report["ok"] is True
    assert report["leaf_count"] == 15 and [c["size"] for c in report["checkpoints"]] == [12, 15]


def test_export_without_signing_keeps_to_stored_checkpoints(tmp_path: Path) -> None:
    data = make_data_dir(tmp_path / "data")
    out = tmp_path / "bundle.tar"
    result = runner.invoke(app, ["export", "--data-dir", str(data), "--out", str(out), "--no-sign-head", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["leaf_count"] == 12 and summary["checkpoint_sizes"] == [12] and summary["signed_head"] is None
    assert summary["verification"]["ok"] is True


def test_verify_rejects_a_tampered_bundle_naming_the_leaf(tmp_path: Path) -> None:
    data = make_data_dir(tmp_path / "data")
    out = tmp_path / "bundle.tar"
    assert runner.invoke(app, ["export", "--data-dir", str(data), "--out", str(out)]).exit_code == 0
    with tarfile.open(out, "r:") as tar:
        info = tar.getmember("truceline-ledger/leaves.bin")
    raw = bytearray(out.read_bytes())
    raw[info.offset_data + 44 + 3] ^= 0x20  # inside leaf 0's bytes
    out.write_bytes(raw)
    result = runner.invoke(app, ["verify", str(out)])
    assert result.exit_code == 1
    assert "✗ bundle rejected — leaf 0:" in result.output
    result = runner.invoke(app, ["verify", str(out), "--json"])
    assert result.exit_code == 1
    first = json.loads(result.output)["first_problem"]
    assert (first["place"], first["index"]) == ("leaf", 0)


def test_verify_against_a_published_key(tmp_path: Path) -> None:
    data = make_data_dir(tmp_path / "data")
    out = tmp_path / "bundle.tar"
    runner.invoke(app, ["export", "--data-dir", str(data), "--out", str(out)])
    published = runner.invoke(app, ["key", "--data-dir", str(data)]).output.strip()
    assert published.startswith(ORIGIN + "+")
    assert runner.invoke(app, ["verify", str(out), "--key", published]).exit_code == 0
    stranger = generate_key(ORIGIN).verifier_key()
    result = runner.invoke(app, ["verify", str(out), "--key", stranger])
    assert result.exit_code == 1 and "is not the trusted key" in result.output
    result = runner.invoke(app, ["verify", str(out), "--key", "not-a-key"])
    assert result.exit_code == 2


def test_export_errors_are_precise(tmp_path: Path) -> None:
    result = runner.invoke(app, ["export", "--data-dir", str(tmp_path), "--out", str(tmp_path / "b.tar")])
    assert result.exit_code == 1 and "no ledger key" in result.output
    load_or_create_key(tmp_path, ORIGIN)
    result = runner.invoke(app, ["export", "--data-dir", str(tmp_path), "--out", str(tmp_path / "b.tar")])
    assert result.exit_code == 1 and "no database" in result.output
    sqlite3.connect(tmp_path / "truceline.db").close()
    result = runner.invoke(app, ["export", "--data-dir", str(tmp_path), "--out", str(tmp_path / "b.tar")])
    assert result.exit_code == 1 and "has no ledger tables" in result.output
    result = runner.invoke(app, ["verify", str(tmp_path / "absent.tar")])
    assert result.exit_code == 1 and "cannot open" in result.output


@pytest.fixture(scope="module")
def bench_module() -> ModuleType:
    return load_script(REPO / "bench" / "ledger.py", "bench_ledger")


def test_bench_prints_one_line_per_figure(bench_module: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_module.main(["--leaves", "3000", "--samples", "30"]) == 0
    lines = capsys.readouterr().out.splitlines()
    text = "\n".join(lines)
    for figure in ("raw sha256", "RFC 6962 hashing alone, C extension", "RFC 6962 hashing alone, hashlib",
                   "storing floor, plain executemany", "storing floor, the same bytes as one row", "MerkleLog append", "inclusion proof generation", "inclusion proof verification",
                   "consistency proof generation", "consistency proof verification", "peak resident memory",
                   "bundle export", "bundle verify"):
        assert figure in text, figure
    assert all(": " in line for line in lines)
    assert "MerkleLog append, temp-file SQLite (WAL, synchronous=FULL" in text  # the server's durability
