"""The agreement over HTTP: terms in force, locate, versions kept (and in the ledger), violations judged."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from tests.conftest import ApiClient, native

from truceline.access.policy import Role
from truceline.api.app import create_app
from truceline.api.auth import ensure_admin_key, read_admin_key
from truceline.service.settings import Settings
from truceline.store.sqlite import open_store
from truceline.verify.agreement_loader import load_demo_agreement

DEMO = resources.files("truceline.data.agreements").joinpath("isw-2023-03-04")


def demo_files() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in DEMO.iterdir() if p.name.endswith((".yaml", ".geojson"))}


@pytest.fixture
def served(tmp_path: Path):  # type: ignore[no-untyped-def]
    data_dir = tmp_path / "data"
    store = open_store(data_dir)
    ensure_admin_key(store, data_dir)
    agreement = load_demo_agreement()
    store.save_agreement(agreement.canonical_document(), agreement.digest(), "test")
    with TestClient(create_app(Settings(data_dir=data_dir, fusion=False), store)) as client:
        yield client, store, {"Authorization": f"Bearer {read_admin_key(data_dir)}"}
    store.close()


@pytest.mark.parametrize(
    ("lat", "lon", "party"),
    [(50.4501, 30.5234, "UA"), (48.7389, 37.5844, "UA"), (48.0159, 37.8028, "RU"), (46.8489, 35.3653, "RU")],
)
def test_locate_over_http(served, lat: float, lon: float, party: str) -> None:  # type: ignore[no-untyped-def]
    client, _, admin = served
    body = client.get("/api/v1/agreement/locate", params={"lat": lat, "lon": lon}, headers=admin).json()
    assert body["controlled_by"] == party and body["distance_to_contact_line_m"] >= 0 and isinstance(body["zones"], list)
    assert client.get("/api/v1/agreement/locate", params={"lat": 95, "lon": 0}, headers=admin).status_code == 422


def test_agreement_summary_and_geojson(served) -> None:  # type: ignore[no-untyped-def]
    client, _, admin = served
    body = client.get("/api/v1/agreement", headers=admin).json()
    assert body["id"] == "isw-2023-03-04" and body["effective_from"] == "2023-04-01T00:00:00Z"
    assert {p["code"] for p in body["parties"]} == {"UA", "RU"}
    assert body["geojson"]["type"] == "FeatureCollection" and body["geojson"]["features"]
    assert "wkb" not in orjson.dumps(body["parties"]).decode()


def test_new_version_needs_a_supervisor_is_kept_and_bad_ones_change_nothing(served) -> None:  # type: ignore[no-untyped-def]
    client, store, admin = served
    files = demo_files()
    observer = {"Authorization": f"Bearer {store.create_api_key('FR', Role.OBSERVER)[1]}"}
    supervisor = {"Authorization": f"Bearer {store.create_api_key('FR', Role.SUPERVISOR)[1]}"}
    assert client.put("/api/v1/agreement", json={"files": files}, headers=observer).status_code == 403
    same = client.put("/api/v1/agreement", json={"files": files}, headers=supervisor)
    assert same.status_code == 200 and "nothing changed" in same.json()["detail"]
    broken = dict(files)
    broken["agreement.yaml"] = files["agreement.yaml"].replace("distance: 15 km", "distance: 15")
    refused = client.put("/api/v1/agreement", json={"files": broken}, headers=supervisor)
    assert refused.status_code == 422 and refused.json()["problems"]
    stale = dict(files)
    stale["agreement.yaml"] = files["agreement.yaml"].replace("distance: 15 km", "distance: 10 km")
    assert client.put("/api/v1/agreement", json={"files": stale}, headers=supervisor).status_code == 409
    bumped = dict(stale)
    bumped["agreement.yaml"] = stale["agreement.yaml"].replace("version: 1", "version: 2", 1)
    accepted = client.put("/api/v1/agreement", json={"files": bumped}, headers=supervisor)
    assert accepted.status_code == 201, accepted.text
    assert client.get("/api/v1/agreement", headers=admin).json()["version"] == 2
    versions = client.get("/api/v1/agreement/versions", headers=admin).json()
    assert [v["version"] for v in versions] == [1, 2]
    leaf = client.get(f"/api/v1/ledger/leaves/{versions[1]['ledger_index']}", headers=admin).json()
    assert leaf["type"] == "agreement" and leaf["body"]["digest"] == versions[1]["digest"]


def test_violations_are_judged_from_visible_incidents(served) -> None:  # type: ignore[no-untyped-def]
    client, store, admin = served
    explosion = native(
        id="x1",
        time="2023-04-05T10:00:00Z",
        location={"lat": 48.0159, "lon": 37.8028, "cep_m": 50},
        source={"id": "ua-1", "type": "acoustic", "org": "UA"},
        releasable_to=["UA"],
    )
    before = native(id="x0", time="2023-03-05T10:00:00Z", location={"lat": 47.5, "lon": 38.5, "cep_m": 50})
    assert client.post("/api/v1/observations", json=[explosion, before], headers=admin).status_code == 201
    client.app.state.fusion.run_until_idle()
    features = client.get("/api/v1/violations", headers=admin).json()["features"]
    assert len(features) == 1  # the explosion before effective_from is no violation
    props = features[0]["properties"]
    assert props["agreement_version"] == 1 and props["party"] == "undetermined"  # impact only: who fired is unknown
    ru = {"Authorization": f"Bearer {store.create_api_key('RU', Role.OBSERVER)[1]}"}
    assert client.get("/api/v1/violations", headers=ru).json()["features"] == []


def test_no_agreement_is_a_clear_404(api: ApiClient) -> None:
    response = api.client.get("/api/v1/agreement", headers=api.auth)
    assert response.status_code == 404 and "--agreement" in response.json()["detail"]
