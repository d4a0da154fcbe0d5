"""The evidence ledger as the service runs it: every stored observation is a leaf, provable by any reader."""

from __future__ import annotations

import base64
import hashlib
import sqlite3
from pathlib import Path

import orjson
import pytest
from tests.conftest import ApiClient, native
from typer.testing import CliRunner

from truceline.access.policy import Role
from truceline.cli import app as cli
from truceline.ingest.validation import validate_all_or_nothing, validation_context
from truceline.ledger.canonical import canonical_json, parse_leaf
from truceline.ledger.checkpoint import verify_checkpoint
from truceline.ledger.merkle import leaf_hash, verify_consistency, verify_inclusion
from truceline.store.sqlite import SqliteStore


def b64(text: str) -> bytes:
    return base64.b64decode(text)


def post(api: ApiClient, docs: list[dict[str, object]]) -> None:
    response = api.client.post("/api/v1/observations", json=docs, headers=api.auth)
    assert response.status_code == 201, response.text


def test_each_stored_observation_is_provably_in_the_signed_log(api: ApiClient) -> None:
    post(api, [native(id=f"a{i}", location={"lat": 48 + i / 100, "lon": 37.5}) for i in range(5)])
    first = api.client.get("/api/v1/ledger/checkpoint", headers=api.auth).json()
    assert first["size"] == 5
    signed = verify_checkpoint(first["note"], first["verifier_key"])
    assert signed.root == b64(first["root_hash"]) and signed.origin == first["origin"]
    post(api, [native(id="a2"), native(id="b0", kind="impact")])  # a2 is a duplicate: no new leaf
    second = api.client.get("/api/v1/ledger/checkpoint", headers=api.auth).json()
    assert second["size"] == 6
    consistency = api.client.get("/api/v1/ledger/consistency", params={"from": 5, "to": 6}, headers=api.auth).json()
    verify_consistency(5, 6, [b64(h) for h in consistency["proof"]], b64(first["root_hash"]), b64(second["root_hash"]))

    observation = api.client.get("/api/v1/observations/a3", headers=api.auth).json()
    ledger = observation.pop("ledger")
    observation.pop("received_at")
    leaf = api.client.get(f"/api/v1/ledger/leaves/{ledger['index']}", headers=api.auth).json()
    # The reader recomputes the commitment from what it was shown, and proves the leaf in the signed tree.
    expected = "sha256:" + hashlib.sha256(b64(ledger["salt"]) + canonical_json(observation)).hexdigest()
    assert leaf["type"] == "observation" and leaf["body"]["commitment"] == expected
    proof = api.client.get("/api/v1/ledger/inclusion", params={"index": ledger["index"], "size": 6}, headers=api.auth).json()
    assert b64(proof["leaf_hash"]) == leaf_hash(b64(leaf["leaf"]))
    verify_inclusion(b64(proof["leaf_hash"]), ledger["index"], 6, [b64(h) for h in proof["proof"]], b64(second["root_hash"]))


def test_leaves_reveal_nothing_of_restricted_observations(api: ApiClient) -> None:
    post(api, [native(id="ua-secret-position", releasable_to=["UA"])])
    _, secret = api.store.create_api_key("RU", Role.OBSERVER)
    ru = {"Authorization": f"Bearer {secret}"}
    assert api.client.get("/api/v1/observations/ua-secret-position", headers=ru).status_code == 404
    leaf = api.client.get("/api/v1/ledger/leaves/0", headers=ru).json()
    raw = b64(leaf["leaf"])
    assert b"ua-secret" not in raw and b"48.105" not in raw and set(leaf["body"]) == {"commitment", "received_at"}


def test_failed_batch_leaves_the_log_unchanged(store: SqliteStore) -> None:
    good, _ = validate_all_or_nothing([native(id="x0")], validation_context())
    store.add_observations(good)
    store._writer.execute(
        "CREATE TRIGGER fail_label BEFORE INSERT ON observation_labels WHEN NEW.label = 'BOOM' BEGIN SELECT RAISE(ABORT, 'boom'); END"
    )
    batch, _ = validate_all_or_nothing([native(id="x1"), native(id="x2", releasable_to=["BOOM"])], validation_context())
    with pytest.raises(sqlite3.IntegrityError):
        store.add_observations(batch)
    assert store.ledger_size() == 1 and store.count_observations() == 1


@pytest.mark.parametrize(
    ("params", "fragment"),
    [({"index": 5, "size": 3}, "index"), ({"index": 0, "size": 99}, "size")],
)
def test_bad_proof_requests_are_422(api: ApiClient, params: dict[str, int], fragment: str) -> None:
    post(api, [native(id=f"p{i}") for i in range(3)])
    response = api.client.get("/api/v1/ledger/inclusion", params=params, headers=api.auth)
    assert response.status_code == 422 and fragment in response.json()["detail"]
    assert api.client.get("/api/v1/ledger/consistency", params={"from": 0, "to": 3}, headers=api.auth).status_code == 422
    assert api.client.get("/api/v1/ledger/leaves/3", headers=api.auth).status_code == 404


def test_export_and_offline_verify_of_a_served_data_dir(api: ApiClient, tmp_path: Path) -> None:
    post(api, [native(id=f"e{i}") for i in range(20)])
    api.client.get("/api/v1/ledger/checkpoint", headers=api.auth)
    post(api, [native(id=f"f{i}") for i in range(7)])
    runner = CliRunner()
    bundle = tmp_path / "evidence.bundle"
    exported = runner.invoke(cli, ["ledger", "export", "--data-dir", str(api.data_dir), "--out", str(bundle)])
    assert exported.exit_code == 0, exported.output
    verified = runner.invoke(cli, ["ledger", "verify", str(bundle), "--json"])
    assert verified.exit_code == 0, verified.output
    report = orjson.loads(verified.stdout)
    assert report["leaf_count"] == 27
    data = bytearray(bundle.read_bytes())
    position = data.index(b'"commitment":"sha256:') + 30
    data[position] ^= 0x01
    bundle.write_bytes(bytes(data))
    tampered = runner.invoke(cli, ["ledger", "verify", str(bundle), "--json"])
    assert tampered.exit_code == 1
    assert orjson.loads(tampered.stdout)["problems"][0]["place"] == "leaf"


def test_leaf_bytes_are_canonical_envelopes(api: ApiClient) -> None:
    post(api, [native(id="c1")])
    leaf = b64(api.client.get("/api/v1/ledger/leaves/0", headers=api.auth).json()["leaf"])
    parsed = parse_leaf(leaf)
    assert parsed.type == "observation" and canonical_json({"body": parsed.body, "type": "observation", "v": 1}) == leaf


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"location": {"lat": 0.00001, "lon": -0.000002, "cov_m2": [[100.0, 0.5], [0.5, 2500.0]], "alt_m": 12.5}},
        {"location": {"sensor_lat": 48.0, "sensor_lon": 37.0, "bearing_deg": 90.0, "bearing_sd_deg": 2.5}},
        {"location": {"name": "Kupiansk", "precision": 2, "lat": 49.71, "lon": 37.61}},
        {"attributes": {"frp": 12.0, "tiny": 1e-7, "big": 2**53 - 1, "nested": {"é": [1.5, 2.0, None, True]}, "😀": "x"}},
        {"time": "2016-12-31T23:59:60Z", "time_uncertainty_s": 0.25},
    ],
)
def test_fast_canonical_observation_equals_reference_encoder(overrides: dict[str, object]) -> None:
    from truceline.ledger.canonical import _write
    from truceline.ledger.commitment import canonical_observation

    (obs,), errors = validate_all_or_nothing([native(**overrides)], validation_context())
    assert not errors
    reference: list[str] = []
    _write(obs.model_dump(mode="json", exclude_none=True), "$", reference, 0)
    assert canonical_observation(obs) == "".join(reference).encode()
