"""The witness checkpoint outside the database, and file modes private to the owner.

Before issue 20 a store restored from an old backup started silently with fewer observations than its own
signed checkpoint covered, and truceline.db was created 0644 (readable by every local user).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from conftest import native, start_server
from truceline.domain.observation import Observation
from truceline.ingest.validation import validation_context
from truceline.ledger.checkpoint import ensure_ledger_key
from truceline.ledger.witness import WITNESS_FILE, read_witness, write_witness
from truceline.store.sqlite import StoreError, open_store

DB_FILES = ("truceline.db", "truceline.db-wal", "truceline.db-shm")


def _obs(*ids: str) -> list[Observation]:
    context = validation_context(datetime(2023, 4, 3, tzinfo=UTC))
    return [Observation.model_validate(native(id=i), context=context) for i in ids]


def _add_and_witness(data_dir: Path, *ids: str) -> None:
    store = open_store(data_dir)
    try:
        store.add_observations(_obs(*ids))
        write_witness(data_dir, store.ledger_checkpoint(ensure_ledger_key(data_dir)))  # after the commit
    finally:
        store.close()


def _copy_db(src: Path, dst: Path) -> None:
    dst.mkdir(exist_ok=True)
    for name in DB_FILES:
        if (src / name).exists():
            shutil.copy2(src / name, dst / name)


def _restore_db(backup: Path, data_dir: Path) -> None:
    for name in DB_FILES:
        (data_dir / name).unlink(missing_ok=True)
        if (backup / name).exists():
            shutil.copy2(backup / name, data_dir / name)


def test_a_store_behind_its_witness_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _add_and_witness(data, "a", "b")
    _copy_db(data, tmp_path / "backup")
    _add_and_witness(data, "c")
    assert read_witness(data) is not None and read_witness(data).size == 3  # type: ignore[union-attr]
    _restore_db(tmp_path / "backup", data)
    with pytest.raises(StoreError, match="restored from an old backup or damaged; run `truceline ledger audit"):
        open_store(data)
    assert read_witness(data).size == 3  # type: ignore[union-attr]  # never moved back


def test_a_store_ahead_of_its_witness_opens_and_the_witness_only_grows(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _add_and_witness(data, "a")
    store = open_store(data)  # the DB may lead the witness (a crash between commit and witness write)
    try:
        store.add_observations(_obs("b", "c"))
        small = read_witness(data)
    finally:
        store.close()
    open_store(data).close()
    assert small is not None and small.size == 1
    key = ensure_ledger_key(data)
    store = open_store(data)
    try:
        big = store.ledger_checkpoint(key)
    finally:
        store.close()
    assert write_witness(data, big) and not write_witness(data, small)
    assert read_witness(data).size == 3  # type: ignore[union-attr]


def test_a_rewritten_log_of_the_same_size_is_refused(tmp_path: Path) -> None:
    data, other = tmp_path / "data", tmp_path / "other"
    _add_and_witness(data, "a", "b")
    _add_and_witness(other, "x", "y")  # same size, another root
    shutil.copy2(data / WITNESS_FILE, tmp_path / "witness")
    _restore_db(other, data)
    shutil.copy2(other / "ledger.key", data / "ledger.key")
    shutil.copy2(tmp_path / "witness", data / WITNESS_FILE)
    with pytest.raises(StoreError, match="signature|root"):
        open_store(data)


def test_serve_refuses_an_old_copy_of_its_database(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_server(data)
    auth = {"Authorization": f"Bearer {server.key}"}
    try:
        first = httpx.post(server.url + "/api/v1/observations", json=[native(id="one")], headers=auth, timeout=30)
        assert first.status_code == 201, first.text
    finally:
        server.process.terminate()
        server.process.wait(timeout=30)
    _copy_db(data, tmp_path / "backup")
    server = start_server(data)
    try:
        second = httpx.post(server.url + "/api/v1/observations", json=[native(id="two")], headers=auth, timeout=30)
        assert second.status_code == 201, second.text
    finally:
        server.process.terminate()
        server.process.wait(timeout=30)
    assert read_witness(data).size == 2  # type: ignore[union-attr]  # written on the way down at the latest
    _restore_db(tmp_path / "backup", data)
    refused = subprocess.run(
        [sys.executable, "-m", "truceline.cli", "serve", "--data-dir", str(data), "--port", "1"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "300"},
    )
    assert refused.returncode != 0
    output = " ".join((refused.stdout + refused.stderr).split())
    assert "restored from an old backup or damaged; run `truceline ledger audit" in output, output


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_store_and_keys_are_private_to_their_owner(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_server(data)
    try:
        response = httpx.post(server.url + "/api/v1/observations", json=[native(id="m")],
                              headers={"Authorization": f"Bearer {server.key}"}, timeout=30)  # fmt: skip
        assert response.status_code == 201
        assert _mode(data) == 0o700
        for name in ("truceline.db", "truceline.db-wal", "truceline.db-shm", "admin.key", "ledger.key", "fuser.lock"):
            assert _mode(data / name) == 0o600, name
    finally:
        server.process.terminate()
        server.process.wait(timeout=30)
    assert _mode(data / WITNESS_FILE) == 0o600


def test_an_existing_data_dir_is_tightened_on_open_and_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = tmp_path / "old"
    open_store(data).close()
    os.chmod(data, 0o755)
    os.chmod(data / "truceline.db", 0o644)
    with caplog.at_level(logging.WARNING):
        open_store(data).close()
    assert _mode(data) == 0o700 and _mode(data / "truceline.db") == 0o600
    assert "tightened file modes" in caplog.text and "truceline.db 644→600" in caplog.text


def test_ingest_witnesses_what_it_stored(tmp_path: Path) -> None:
    data, source = tmp_path / "data", tmp_path / "obs.json"
    source.write_text(json.dumps([native(id="i1"), native(id="i2")]))
    done = subprocess.run([sys.executable, "-m", "truceline.cli", "ingest", "--data-dir", str(data), str(source)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    witness = read_witness(data)
    assert witness is not None and witness.size == 2


def test_files_that_are_not_truceline_s_keep_their_mode(tmp_path: Path) -> None:
    data = tmp_path / "shared"
    data.mkdir()
    notes = data / "notes.txt"
    notes.write_text("not truceline's")
    os.chmod(notes, 0o644)
    open_store(data).close()
    assert _mode(notes) == 0o644 and _mode(data / "truceline.db") == 0o600
