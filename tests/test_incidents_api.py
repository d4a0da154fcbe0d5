"""HTTP → store → fusion → /incidents, live; and each reader's view computed only from what it may read."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from tests.conftest import LiveServer, native

from truceline.access.policy import Role
from truceline.api.app import create_app
from truceline.api.auth import ensure_admin_key, read_admin_key
from truceline.service.settings import Settings
from truceline.store.sqlite import open_store


def salvo(prefix: str, org: str, stype: str, labels: list[str], lat: float, lon: float, minute: int) -> dict[str, object]:
    return native(
        id=f"{prefix}-{minute}",
        time=f"2023-04-02T03:{minute:02d}:00Z",
        time_uncertainty_s=5,
        kind="explosion",
        location={"lat": lat, "lon": lon, "cep_m": 100},
        source={"id": f"{org.lower()}-{stype}", "type": stype, "org": org},
        releasable_to=labels,
    )


@pytest.fixture
def client(tmp_path: Path):  # type: ignore[no-untyped-def]
    data_dir = tmp_path / "data"
    store = open_store(data_dir)
    ensure_admin_key(store, data_dir)
    app = create_app(Settings(data_dir=data_dir, fusion=False), store)  # fused on demand, deterministically
    with TestClient(app) as c:
        yield c, store, {"Authorization": f"Bearer {read_admin_key(data_dir)}"}
    store.close()


def test_observations_of_one_event_fuse_and_different_events_stay_apart(client) -> None:  # type: ignore[no-untyped-def]
    c, store, admin = client
    event_a = [
        salvo("ua-ac", "UA", "acoustic", ["COALITION"], 48.1000, 37.7000, 15),
        salvo("fr-rad", "FR", "radar", ["COALITION"], 48.1005, 37.7004, 15),
        salvo("us-uav", "US", "uav", ["COALITION"], 48.0998, 37.6998, 15),
    ]
    event_b = [salvo("ua-ac-b", "UA", "acoustic", ["COALITION"], 48.3000, 37.9000, 40)]
    assert c.post("/api/v1/observations", content=orjson.dumps(event_a + event_b), headers={**admin, "Content-Type": "application/json"}).status_code == 201
    assert c.app.state.fusion.run_until_idle() == 4
    collection = c.get("/api/v1/incidents", headers=admin).json()
    assert collection["type"] == "FeatureCollection" and len(collection["features"]) == 2
    big = max(collection["features"], key=lambda f: f["properties"]["independent_sources"])
    props = big["properties"]
    assert sorted(props["observation_ids"]) == ["fr-rad-15", "ua-ac-15", "us-uav-15"]
    assert props["independent_sources"] == 3 and props["status"] == "corroborated"
    assert 0 < props["corroboration"] <= 1 and props["sigma_m"] < 100
    lon, lat = big["geometry"]["coordinates"]
    assert abs(lat - 48.1001) < 0.001 and abs(lon - 37.7001) < 0.001
    single = c.get(f"/api/v1/incidents/{big['id']}", headers=admin).json()
    assert single["id"] == big["id"] and single["type"] == "Feature"
    assert c.get("/api/v1/incidents/nope", headers=admin).status_code == 404
    boxed = c.get("/api/v1/incidents", params={"bbox": "37.8,48.2,38,48.4"}, headers=admin).json()
    assert [f["properties"]["observation_ids"] for f in boxed["features"]] == [["ua-ac-b-40"]]
    status_filtered = c.get("/api/v1/incidents", params={"status": "detected"}, headers=admin).json()
    assert len(status_filtered["features"]) == 1
    assert c.get("/api/v1/incidents", params={"limit": 100_001}, headers=admin).status_code == 422


def test_incident_figures_for_a_reader_come_only_from_what_it_may_read(client) -> None:  # type: ignore[no-untyped-def]
    c, store, admin = client
    store.set_organisation("FR", ["COALITION"])
    mixed = [
        salvo("ua-only", "UA", "acoustic", ["UA"], 48.1000, 37.7000, 10),
        salvo("fr-coal", "FR", "radar", ["COALITION"], 48.1004, 37.7004, 10),
    ]
    secret = [salvo("ua-secret", "UA", "acoustic", ["UA"], 48.5, 38.2, 50)]
    assert c.post("/api/v1/observations", content=orjson.dumps(mixed + secret), headers={**admin, "Content-Type": "application/json"}).status_code == 201
    c.app.state.fusion.run_until_idle()
    fr = {"Authorization": f"Bearer {store.create_api_key('FR', Role.OBSERVER)[1]}"}
    ua = {"Authorization": f"Bearer {store.create_api_key('UA', Role.OBSERVER)[1]}"}
    assert len(c.get("/api/v1/incidents", headers=ua).json()["features"]) == 2
    fr_view = c.get("/api/v1/incidents", headers=fr).json()["features"]
    assert len(fr_view) == 1  # the UA-only incident does not exist for FR
    props = fr_view[0]["properties"]
    assert props["observation_ids"] == ["fr-coal-10"] and props["independent_sources"] == 1
    lon, lat = fr_view[0]["geometry"]["coordinates"]
    assert abs(lat - 48.1004) < 1e-6 and abs(lon - 37.7004) < 1e-6  # from FR's evidence alone
    full = {f["id"]: f for f in c.get("/api/v1/incidents", headers=admin).json()["features"]}
    assert full[fr_view[0]["id"]]["properties"]["independent_sources"] == 2
    # fusion called the whole incident corroborated; FR sees one source, so for FR it is only detected
    assert full[fr_view[0]["id"]]["properties"]["status"] == "corroborated"
    assert props["status"] == "detected"
    secret_id = next(i for i, f in full.items() if f["properties"]["observation_ids"] == ["ua-secret-50"])
    assert c.get(f"/api/v1/incidents/{secret_id}", headers=fr).status_code == 404


def test_fusion_runs_live_on_a_real_server(live_server: LiveServer) -> None:
    headers = {"Authorization": f"Bearer {live_server.key}"}
    docs = [
        salvo("a", "UA", "acoustic", ["COALITION"], 48.2, 37.5, 5),
        salvo("b", "FR", "radar", ["COALITION"], 48.2003, 37.5002, 5),
    ]
    assert httpx.post(live_server.url + "/api/v1/observations", content=orjson.dumps(docs), headers={**headers, "Content-Type": "application/json"}).status_code == 201
    deadline = time.monotonic() + 30
    features: list[dict[str, object]] = []
    while time.monotonic() < deadline and not features:
        features = httpx.get(live_server.url + "/api/v1/incidents", headers=headers).json()["features"]
        time.sleep(0.1)
    assert len(features) == 1 and features[0]["properties"]["independent_sources"] == 2  # type: ignore[index]


def test_restart_rebuilds_open_incidents_with_the_same_ids(tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    store = open_store(data_dir)
    ensure_admin_key(store, data_dir)
    admin = {"Authorization": f"Bearer {read_admin_key(data_dir)}"}
    docs = [salvo(f"s{i}", "UA", "acoustic", ["UA"], 48.1 + i * 0.05, 37.7, 10 + i) for i in range(3)]
    with TestClient(create_app(Settings(data_dir=data_dir, fusion=False), store)) as c:
        c.post("/api/v1/observations", content=orjson.dumps(docs), headers={**admin, "Content-Type": "application/json"})
        c.app.state.fusion.run_until_idle()
        before = sorted(f["id"] for f in c.get("/api/v1/incidents", headers=admin).json()["features"])
    with TestClient(create_app(Settings(data_dir=data_dir, fusion=False), store)) as c:
        c.app.state.fusion.recover()
        after = sorted(f["id"] for f in c.get("/api/v1/incidents", headers=admin).json()["features"])
        assert c.app.state.fusion.run_until_idle() == 0
    store.close()
    assert before == after and len(before) == 3


def test_two_person_rule_and_review_leaves(client) -> None:  # type: ignore[no-untyped-def]
    c, store, admin = client
    docs = [salvo("r", "UA", "acoustic", ["COALITION"], 48.1, 37.7, 20)]
    assert c.post("/api/v1/observations", content=orjson.dumps(docs), headers={**admin, "Content-Type": "application/json"}).status_code == 201
    c.app.state.fusion.run_until_idle()
    incident_id = c.get("/api/v1/incidents", headers=admin).json()["features"][0]["id"]
    store.set_organisation("FR", ["COALITION"])
    analyst_1 = {"Authorization": f"Bearer {store.create_api_key('FR', Role.ANALYST)[1]}"}
    analyst_2 = {"Authorization": f"Bearer {store.create_api_key('FR', Role.ANALYST)[1]}"}
    observer = {"Authorization": f"Bearer {store.create_api_key('FR', Role.OBSERVER)[1]}"}
    outsider = {"Authorization": f"Bearer {store.create_api_key('RU', Role.ANALYST)[1]}"}
    url = f"/api/v1/incidents/{incident_id}/review"
    assert c.post(url, json={"decision": "verify"}, headers=observer).status_code == 403
    refused = c.post(url, json={"decision": "verify"}, headers=outsider)  # RU is no coalition member: may not review
    assert refused.status_code == 403 and "a RU analyst may not review" in refused.json()["detail"]
    assert c.post(url, json={"decision": "dismiss"}, headers=analyst_1).status_code == 422  # no reason
    first = c.post(url, json={"decision": "verify", "reason": "crater imagery"}, headers=analyst_1)
    assert first.status_code == 201 and first.json()["incident"]["properties"]["status"] == "detected"
    again = c.post(url, json={"decision": "verify"}, headers=analyst_1).json()  # the same analyst twice
    assert again["incident"]["properties"]["status"] == "detected"
    second = c.post(url, json={"decision": "verify"}, headers=analyst_2).json()
    assert second["incident"]["properties"]["status"] == "verified"
    assert c.get("/api/v1/incidents", params={"status": "verified"}, headers=admin).json()["features"][0]["id"] == incident_id
    disputed = c.post(url, json={"decision": "dismiss", "reason": "known quarry blast"}, headers=analyst_2).json()
    props = disputed["incident"]["properties"]  # analyst 1 still verifies: disputed, fusion's status stands
    assert props["status"] == "detected" and props["review"]["note"].startswith("disputed")
    withdrawn = c.post(url, json={"decision": "dismiss", "reason": "agree: quarry"}, headers=analyst_1).json()
    assert withdrawn["incident"]["properties"]["status"] == "dismissed"
    reopened = c.post(url, json={"decision": "reopen", "reason": "new evidence"}, headers=analyst_1).json()
    assert reopened["incident"]["properties"]["status"] == "detected"
    leaf_index = reopened["recorded"]["ledger"]["index"]
    leaf = c.get(f"/api/v1/ledger/leaves/{leaf_index}", headers=admin).json()
    assert leaf["type"] == "review" and "commitment" in leaf["body"]
    assert len(c.get(f"/api/v1/incidents/{incident_id}", headers=admin).json()["properties"]["review"]["decisions"]) == 6
