"""The HTTP contract of /api/v1/observations, /healthz, /metrics and the OpenAPI schema."""

from __future__ import annotations

import os
import stat

import orjson
import pytest
from tests.conftest import ApiClient, native


def post(api: ApiClient, payload: object, **kwargs: object):  # type: ignore[no-untyped-def]
    return api.client.post("/api/v1/observations", content=orjson.dumps(payload), headers=api.auth, **kwargs)


def test_every_api_call_needs_a_key(api: ApiClient) -> None:
    for method, path in (("get", "/api/v1/observations"), ("get", "/api/v1/observations/x"), ("post", "/api/v1/observations"), ("get", "/api/v1/summary")):
        response = getattr(api.client, method)(path)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert api.client.get("/api/v1/observations", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert api.client.get("/api/v1/observations", headers={"Authorization": f"Basic {api.key}"}).status_code == 401
    assert api.client.get("/api/v1/observations", headers=api.auth).status_code == 200


def test_revoked_key_is_refused(api: ApiClient) -> None:
    from truceline.store.ports import Role

    key, secret = api.store.create_api_key("FR", Role.OBSERVER)
    headers = {"Authorization": f"Bearer {secret}"}
    assert api.client.get("/api/v1/observations", headers=headers).status_code == 200
    api.store.revoke_api_key(key.key_id)
    assert api.client.get("/api/v1/observations", headers=headers).status_code == 401


def test_admin_key_file_is_private(api: ApiClient) -> None:
    mode = stat.S_IMODE(os.stat(api.data_dir / "admin.key").st_mode)
    assert mode == 0o600


def test_single_object_and_array_are_accepted(api: ApiClient) -> None:
    one = post(api, native(id="single"))
    assert one.status_code == 201 and one.json()["accepted"] == ["single"]
    many = post(api, [native(id="m1"), native(id="m2")])
    assert many.status_code == 201 and many.json() == {"accepted": ["m1", "m2"], "stored": 2, "duplicates": [], "conflicts": []}
    got = api.client.get("/api/v1/observations/m2", headers=api.auth)
    assert got.status_code == 200
    body = got.json()
    assert body["id"] == "m2" and body["location"] == {"type": "point", "lat": 48.105, "lon": 37.712, "cep_m": 150.0}
    assert body["received_at"].endswith("Z")


def test_batch_is_atomic_and_422_names_every_bad_item_and_field(api: ApiClient) -> None:
    batch = [
        native(id="ok-1"),
        native(id="bad-lat", location={"lat": 95, "lon": 37.7}),
        native(id="ok-2"),
        native(id="bad-two", time="2023-04-02T03:15:00", kind="boom"),
    ]
    response = post(api, batch)
    assert response.status_code == 422
    body = response.json()
    assert "nothing was stored" in body["detail"] and body["detail"].startswith("2 of 4")
    found = {(e["index"], e["field"]) for e in body["errors"]}
    assert found == {(1, "location.lat"), (3, "time"), (3, "kind")}
    lat_error = next(e for e in body["errors"] if e["field"] == "location.lat")
    assert lat_error["value"] == "95" and lat_error["rule"] == "less_than_equal" and "90" in lat_error["message"]
    assert api.store.count_observations() == 0
    assert api.client.get("/api/v1/observations/ok-1", headers=api.auth).status_code == 404


def test_reposting_is_accepted_and_changes_nothing(api: ApiClient) -> None:
    assert post(api, [native(id="r1"), native(id="r2")]).status_code == 201
    before = api.client.get("/api/v1/observations/r1", headers=api.auth).json()
    again = post(api, [native(id="r1"), native(id="r3")])
    assert again.status_code == 201
    assert again.json() == {"accepted": ["r1", "r3"], "stored": 1, "duplicates": ["r1"], "conflicts": []}
    assert api.client.get("/api/v1/observations/r1", headers=api.auth).json() == before
    changed = post(api, native(id="r1", kind="impact"))
    assert changed.status_code == 201 and changed.json()["conflicts"] == ["r1"]
    assert api.client.get("/api/v1/observations/r1", headers=api.auth).json()["kind"] == "explosion"
    assert api.store.count_observations() == 3


@pytest.mark.parametrize("body", [b'{"id": "x", "lat": NaN}', b"[1, 2,", b"\xff\xfe", b'{"a": Infinity}'])
def test_malformed_json_is_400_with_position(api: ApiClient, body: bytes) -> None:
    response = api.client.post("/api/v1/observations", content=body, headers=api.auth)
    assert response.status_code == 400
    assert "line 1 column" in response.json()["detail"]
    assert api.store.count_observations() == 0


def test_nan_inside_a_valid_structure_never_reaches_the_store(api: ApiClient) -> None:
    text = orjson.dumps(native()).decode().replace("48.105", "NaN")
    assert api.client.post("/api/v1/observations", content=text, headers=api.auth).status_code == 400


def test_empty_and_non_object_batches(api: ApiClient) -> None:
    assert post(api, []).status_code == 422
    response = post(api, [native(id="x"), 7])
    assert response.status_code == 422 and response.json()["errors"][0]["index"] == 1
    assert post(api, "just a string").status_code == 422


def test_oversized_body_is_413_and_stores_nothing(api: ApiClient) -> None:
    big = [native(id=f"b{i}", attributes={"pad": "x" * 1000}) for i in range(2100)]  # > 2 MB limit of the fixture
    response = post(api, big)
    assert response.status_code == 413 and "exceeds the limit" in response.json()["detail"]
    assert api.store.count_observations() == 0


def test_chunked_oversized_body_without_length_is_413(api: ApiClient) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b" " * 65536

    response = api.client.post("/api/v1/observations", content=chunks(), headers=api.auth)
    assert response.status_code == 413


def test_huge_array_beyond_item_limit_is_413(api: ApiClient) -> None:
    response = api.client.post("/api/v1/observations", content=b"[" + b",".join([b"{}"] * 5001) + b"]", headers=api.auth)
    assert response.status_code == 413 and "5001 items" in response.json()["detail"]
    assert api.store.count_observations() == 0


def test_huge_valid_batch_within_limits_is_stored_whole(api: ApiClient) -> None:
    response = post(api, [native(id=f"h{i}", location={"lat": 48 + i * 1e-4, "lon": 37.7}) for i in range(5000)])
    assert response.status_code == 201 and response.json()["stored"] == 5000
    assert api.store.count_observations() == 5000


def test_list_filters_pagination_and_bbox(api: ApiClient) -> None:
    post(api, [native(id=f"p{i}", time=f"2023-04-{i + 1:02d}T00:00:00Z", location={"lat": 48.0, "lon": 30.0 + i}) for i in range(10)])
    page = api.client.get("/api/v1/observations", params={"limit": 4}, headers=api.auth).json()
    assert [o["id"] for o in page["items"]] == ["p0", "p1", "p2", "p3"] and page["next_cursor"]
    rest = api.client.get("/api/v1/observations", params={"limit": 100, "cursor": page["next_cursor"]}, headers=api.auth).json()
    assert [o["id"] for o in rest["items"]] == [f"p{i}" for i in range(4, 10)] and rest["next_cursor"] is None
    timed = api.client.get(
        "/api/v1/observations", params={"since": "2023-04-03T00:00:00Z", "until": "2023-04-05T00:00:00Z"}, headers=api.auth
    ).json()
    assert [o["id"] for o in timed["items"]] == ["p2", "p3"]
    boxed = api.client.get("/api/v1/observations", params={"bbox": "32.5,47,34.9,49"}, headers=api.auth).json()
    assert [o["id"] for o in boxed["items"]] == ["p3", "p4"]


@pytest.mark.parametrize(
    "params",
    [{"bbox": "1,2,3"}, {"bbox": "a,b,c,d"}, {"bbox": "0,10,1,5"}, {"limit": 0}, {"limit": 10_001}, {"since": "2023-04-01T00:00:00"}, {"cursor": "zzz"}],
)
def test_bad_query_parameters_are_422(api: ApiClient, params: dict[str, object]) -> None:
    response = api.client.get("/api/v1/observations", params=params, headers=api.auth)
    assert response.status_code == 422, response.text


def test_unknown_observation_is_404(api: ApiClient) -> None:
    response = api.client.get("/api/v1/observations/nope", headers=api.auth)
    assert response.status_code == 404 and "nope" in response.json()["detail"]


def test_healthz_metrics_and_openapi(api: ApiClient) -> None:
    assert api.client.get("/healthz").json()["status"] == "ok"
    post(api, [native(id="a"), native(id="b")])
    post(api, [native(id="a")])
    metrics = api.client.get("/metrics", headers=api.auth).text
    assert "truceline_observations_stored_total 2.0" in metrics
    assert "truceline_observations_duplicate_total 1.0" in metrics
    assert 'route="/api/v1/observations"' in metrics
    schema = api.client.get("/openapi.json").json()
    post_op = schema["paths"]["/api/v1/observations"]["post"]
    assert "requestBody" in post_op
    assert "Observation" in schema["components"]["schemas"]
    assert schema["components"]["schemas"]["Observation"]["properties"]["kind"]
    assert api.client.get("/docs").status_code == 200


def test_overview_page_and_summary(api: ApiClient) -> None:
    page = api.client.get("/")
    assert page.status_code == 200 and "truceline" in page.text and "/static/app.js" in page.text  # the analyst page
    post(api, [native(id="a"), native(id="b", kind="impact")])
    summary = api.client.get("/api/v1/summary", headers=api.auth).json()
    assert summary["total"] == 2 and summary["by_kind"] == {"explosion": 1, "impact": 1}
