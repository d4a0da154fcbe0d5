"""``POST /api/v1/reports/text``: extract, store atomically, and say what was read."""

from __future__ import annotations

from typing import Any

REPORT: dict[str, Any] = {
    "text": "Laut den örtlichen Behörden gab es in der Nacht zum Mittwoch durch Beschuss in Odessa und Sumy insgesamt 15 Verletzte.",
    "published_at": "2025-08-20T18:00:00Z",
    "source": {"id": "dpa-de", "type": "osint", "org": "PRESS"},
    "language": "de",
}


def test_report_is_stored_as_located_timed_observations(api) -> None:  # type: ignore[no-untyped-def]
    response = api.client.post("/api/v1/reports/text", json=REPORT, headers=api.auth)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["stored"] == 2 and len(body["accepted"]) == 2
    assert {o["location"]["name"] for o in body["observations"]} == {"Sumy", "Odesa"}
    assert all(o["kind"] == "casualty-report" and o["time"] == "2025-08-19T21:00:00Z" for o in body["observations"])
    stored = api.client.get(f"/api/v1/observations/{body['accepted'][0]}", headers=api.auth)
    assert stored.status_code == 200 and stored.json()["attributes"]["injured"] == 15
    again = api.client.post("/api/v1/reports/text", json=REPORT, headers=api.auth)
    assert again.status_code == 201 and again.json()["stored"] == 0 and len(again.json()["duplicates"]) == 2


def test_invalid_report_is_422_per_field_and_stores_nothing(api) -> None:  # type: ignore[no-untyped-def]
    bad = {**REPORT, "published_at": "2025-08-20T18:00:00", "source": {"id": "x", "type": "rumour", "org": "PRESS"}}
    response = api.client.post("/api/v1/reports/text", json=bad, headers=api.auth)
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"published_at", "source.type"}
    assert api.store.summarize_observations()["total"] == 0


def test_report_without_event_stores_nothing_and_says_so(api) -> None:  # type: ignore[no-untyped-def]
    calm = {**REPORT, "text": "Die Außenminister trafen sich in Lissabon und sprachen über Sicherheitsgarantien."}
    response = api.client.post("/api/v1/reports/text", json=calm, headers=api.auth)
    assert response.status_code == 200 and response.json()["accepted"] == []
    assert [p["name"] for p in response.json()["places"]] == ["Lisbon"]


def test_requires_a_key(api) -> None:  # type: ignore[no-untyped-def]
    assert api.client.post("/api/v1/reports/text", json=REPORT).status_code == 401


def test_openapi_documents_the_request_body_without_dangling_references(api) -> None:  # type: ignore[no-untyped-def]
    api.client.app.openapi_schema = None
    schema = api.client.get("/openapi.json").json()
    body = schema["paths"]["/api/v1/reports/text"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"text", "published_at", "source"} <= set(body["required"])
    assert "$ref" not in str(body)


def test_report_for_another_organisation_is_403_and_observers_cannot_post(api) -> None:  # type: ignore[no-untyped-def]
    from truceline.access.policy import Role

    fr = {"Authorization": f"Bearer {api.store.create_api_key('FR', Role.CONTRIBUTOR)[1]}"}
    observer = {"Authorization": f"Bearer {api.store.create_api_key('PRESS', Role.OBSERVER)[1]}"}
    assert api.client.post("/api/v1/reports/text", json=REPORT, headers=fr).status_code == 403
    assert api.client.post("/api/v1/reports/text", json=REPORT, headers=observer).status_code == 403
    press = {"Authorization": f"Bearer {api.store.create_api_key('PRESS', Role.CONTRIBUTOR)[1]}"}
    assert api.client.post("/api/v1/reports/text", json=REPORT, headers=press).status_code == 201
