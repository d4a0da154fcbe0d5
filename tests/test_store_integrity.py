"""Integrity of what is stored: an edited document is caught by `ledger audit`, refused by `ledger export`
and never served by the API; a damaged leaf or checkpoint is named too.

Before issue 20 a latitude edited in the database (48.105 → 48.905) was served without complaint and
`ledger export` + `ledger verify` passed.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from conftest import ApiClient, native
from truceline.cli_ledger import app
from truceline.domain.observation import Observation
from truceline.ingest.validation import validation_context
from truceline.ledger.checkpoint import ensure_ledger_key
from truceline.store.sqlite import open_store
from truceline.verify.agreement_loader import load_demo_agreement

runner = CliRunner()


def _observations(n: int) -> list[Observation]:
    context = validation_context(datetime(2023, 4, 3, tzinfo=UTC))
    return [Observation.model_validate(native(id=f"obs-{i}"), context=context) for i in range(n)]


def make_store(data_dir: Path, n: int = 6) -> None:
    """A data dir with observations, one review and a signed checkpoint, as the server leaves it."""
    store = open_store(data_dir)
    try:
        key = ensure_ledger_key(data_dir)
        store.add_observations(_observations(n))
        store.add_review("inc-1", "verify", "two sources agree", "key-1", "COALITION")
        agreement = load_demo_agreement()
        store.save_agreement(agreement.canonical_document(), agreement.digest(), "test")
        store.ledger_checkpoint(key)
        store.add_observations(_observations(n + 2)[n:])  # two more leaves beyond the checkpoint
    finally:
        store.close()


def edit_latitude(db: Path, observation_id: str) -> None:
    conn = sqlite3.connect(db)
    with conn:
        changed = conn.execute(
            "UPDATE observations SET doc = replace(doc, '48.105', '48.905') WHERE id = ?", (observation_id,)
        ).rowcount
    conn.close()
    assert changed == 1


def test_audit_passes_on_an_untouched_store(tmp_path: Path) -> None:
    make_store(tmp_path / "data")
    result = runner.invoke(app, ["audit", "--data-dir", str(tmp_path / "data"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"] and report["leaves"] == 10 and report["observations_checked"] == 8
    assert report["reviews_checked"] == 1 and report["agreements_checked"] == 1 and report["checkpoints_checked"] == 1 and report["signatures_checked"]


def test_an_edited_document_fails_audit_and_export_names_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    make_store(data)
    edit_latitude(data / "truceline.db", "obs-3")
    result = runner.invoke(app, ["audit", "--data-dir", str(data)])
    assert result.exit_code == 1, result.output
    assert "integrity failure" in result.output and "observation 'obs-3'" in result.output
    assert "ledger leaf 3" in result.output
    report = json.loads(runner.invoke(app, ["audit", "--data-dir", str(data), "--json"]).output)
    assert report["first_mismatch"]["leaf_index"] == 3 and report["mismatches"] == 1
    exported = runner.invoke(app, ["export", "--data-dir", str(data), "--out", str(tmp_path / "b.tar")])
    assert exported.exit_code == 1 and "refusing to export" in exported.output and "obs-3" in exported.output
    assert not (tmp_path / "b.tar").exists()


def test_an_edited_review_and_a_changed_leaf_are_named(tmp_path: Path) -> None:
    data = tmp_path / "data"
    make_store(data)
    conn = sqlite3.connect(data / "truceline.db")
    with conn:
        conn.execute("UPDATE incident_reviews SET decision = 'dismiss'")
    conn.close()
    report = json.loads(runner.invoke(app, ["audit", "--data-dir", str(data), "--json"]).output)
    assert not report["ok"] and "review 1 of incident 'inc-1'" in report["first_mismatch"]["where"]

    data2 = tmp_path / "data2"
    make_store(data2)
    conn = sqlite3.connect(data2 / "truceline.db")
    with conn:  # rewrite one leaf's bytes in place (same length): the stored hash and the checkpoint disagree
        first, data_blob = conn.execute("SELECT first, data FROM ledger_leaves ORDER BY first LIMIT 1").fetchone()
        forged = bytes(data_blob).replace(b'"received_at":"2', b'"received_at":"3', 1)
        conn.execute("UPDATE ledger_leaves SET data = ? WHERE first = ?", (forged, first))
    conn.close()
    result = runner.invoke(app, ["audit", "--data-dir", str(data2)])
    assert result.exit_code == 1 and "leaf 0" in result.output, result.output


def test_an_edited_agreement_version_is_named(tmp_path: Path) -> None:
    data = tmp_path / "data"
    make_store(data)
    conn = sqlite3.connect(data / "truceline.db")
    with conn:  # move the effective date of the terms a day later
        conn.execute("UPDATE agreement_versions SET doc = replace(doc, '2023-', '2024-')")
    conn.close()
    report = json.loads(runner.invoke(app, ["audit", "--data-dir", str(data), "--json"]).output)
    assert not report["ok"] and report["first_mismatch"]["where"].startswith("agreement ")
    assert "changed after it was loaded" in report["first_mismatch"]["reason"]


def test_the_api_never_serves_an_edited_document(api: ApiClient) -> None:
    response = api.client.post("/api/v1/observations", json=[native(id="a"), native(id="b")], headers=api.auth)
    assert response.status_code == 201, response.text
    assert api.client.get("/api/v1/observations/a", headers=api.auth).status_code == 200
    edit_latitude(api.store.path, "a")
    one = api.client.get("/api/v1/observations/a", headers=api.auth)
    assert one.status_code == 500, one.text
    assert "integrity failure" in one.json()["detail"] and one.json()["integrity"]["record"] == "observation 'a'"
    assert "48.905" not in one.text and "48.105" not in one.text
    listed = api.client.get("/api/v1/observations", headers=api.auth)
    assert listed.status_code == 500 and "48.905" not in listed.text
    assert api.client.get("/api/v1/observations/b", headers=api.auth).status_code == 200  # the others still serve
