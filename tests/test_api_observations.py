"""The HTTP contract of /api/v1/observations, /healthz, /metrics and the OpenAPI schema."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from tests.conftest import ApiClient, native

from truceline.api.app import create_app
from truceline.api.auth import ensure_admin_key, read_admin_key
from truceline.service.settings import Settings
from truceline.store.sqlite import open_store

JSON = {"Content-Type": "application/json"}


def post(api: ApiClient, payload: object, **kwargs: object):  # type: ignore[no-untyped-def]
    return api.client.post("/api/v1/observations", content=orjson.dumps(payload), headers={**api.auth, **JSON}, **kwargs)


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


@pytest.mark.parametrize("body", [b"[1, 2,", b"\xff\xfe", b'{"id": "x", "lat": NaN', b'[{"a": Infinity}, 1,]', b"[NaN, nan]"])
def test_malformed_json_is_400_with_position(api: ApiClient, body: bytes) -> None:
    response = api.client.post("/api/v1/observations", content=body, headers={**api.auth, **JSON})
    assert response.status_code == 400
    assert "line 1 column" in response.json()["detail"]
    assert api.store.count_observations() == 0


@pytest.mark.parametrize(("token", "field"), [("NaN", "location.lat"), ("Infinity", "location.lat"), ("-Infinity", "location.lat"), ("1e999", "location.lat")])
def test_non_finite_literal_in_the_body_is_422_naming_the_field(api: ApiClient, token: str, field: str) -> None:
    """NaN and Infinity are not JSON, but a sender who writes them gets the field named (issue 20), not a bare 400."""
    text = orjson.dumps([native(id="fine"), native(id="nan-lat")]).decode().replace("48.105", token, 2).replace(token, "48.105", 1)
    response = api.client.post("/api/v1/observations", content=text, headers={**api.auth, **JSON})
    assert response.status_code == 422, response.text
    assert [(e["index"], e["field"], e["rule"]) for e in response.json()["errors"]] == [(1, field, "finite_number")]
    assert_nothing_stored(api, "fine", "nan-lat")


def test_non_finite_attribute_literal_is_422_naming_the_attribute(api: ApiClient) -> None:
    text = orjson.dumps(native(id="nan-attr", attributes={"snr_db": 1.5})).decode().replace("1.5", "NaN")
    response = api.client.post("/api/v1/observations", content=text, headers={**api.auth, **JSON})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "attributes"
    assert "attributes.snr_db" in response.json()["errors"][0]["message"]
    assert_nothing_stored(api, "nan-attr")


def assert_nothing_stored(api: ApiClient, *ids: str) -> None:
    """No observation, no ledger leaf: a refused batch changes nothing."""
    assert api.store.count_observations() == 0 and api.store.ledger_size() == 0
    for obs_id in ids:
        assert api.client.get(f"/api/v1/observations/{obs_id}", headers=api.auth).status_code == 404


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"location": {"lat": "48.1", "lon": 37.712, "cep_m": 150}}, "location.lat", "float_type"),
        ({"location": {"lat": True, "lon": 37.712, "cep_m": 150}}, "location.lat", "float_type"),
        ({"location": {"lat": 48.105, "lon": 37.712, "cep_m": "150"}}, "location.cep_m", "float_type"),
        ({"credibility": True}, "credibility", "strict_int_enum"),
        ({"credibility": "2"}, "credibility", "strict_int_enum"),
        ({"time": 1680405300}, "time", "iso_datetime"),
        ({"time": "1680405300"}, "time", "iso_datetime"),
        ({"time_uncertainty_s": "5"}, "time_uncertainty_s", "float_type"),
        ({"location": {"name": "Bakhmut", "precision": True}}, "location.precision", "strict_int_enum"),
    ],
)
def test_no_silent_coercion_of_a_partys_values(api: ApiClient, change: dict[str, object], field: str, rule: str) -> None:
    """Lax validation stored "48.1" and true (as 1) as a latitude, true as credibility 1, a number as a time."""
    response = post(api, [native(id="good"), native(id="coerced", **change)])
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [(e["index"], e["field"], e["rule"]) for e in errors] == [(1, field, rule)]
    assert "nothing was stored" in response.json()["detail"]
    assert_nothing_stored(api, "good", "coerced")


def test_integers_are_numbers(api: ApiClient) -> None:
    response = post(api, native(id="ints", location={"lat": 48, "lon": 37, "cep_m": 150}, time_uncertainty_s=60))
    assert response.status_code == 201, response.text
    assert api.client.get("/api/v1/observations/ints", headers=api.auth).json()["location"]["lat"] == 48.0


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/xml", "application/x-www-form-urlencoded", "application/x-ndjson",
                                          "application/json; charset=latin-1", "application/jsonx", "multipart/form-data; boundary=x"])
def test_a_body_that_is_not_declared_json_is_415(api: ApiClient, content_type: str | None) -> None:
    headers = dict(api.auth) if content_type is None else {**api.auth, "Content-Type": content_type}
    response = api.client.post("/api/v1/observations", content=orjson.dumps(native(id="typed")), headers=headers)
    assert response.status_code == 415, response.text
    assert "application/json" in response.json()["detail"]
    assert_nothing_stored(api, "typed")


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=\"UTF-8\""])
def test_json_with_or_without_utf8_charset_is_accepted(api: ApiClient, content_type: str) -> None:
    response = api.client.post("/api/v1/observations", content=orjson.dumps(native(id="typed")), headers={**api.auth, "Content-Type": content_type})
    assert response.status_code == 201, response.text


def test_an_observation_beyond_the_size_cap_is_422_naming_index_and_field(api: ApiClient) -> None:
    """1 MB in one attribute fits the fixture's 2 MB body limit, so the per-observation cap is what refuses it."""
    response = post(api, [native(id="small"), native(id="huge", attributes={"blob": "x" * 1_000_000})])
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert (error["index"], error["field"], error["rule"]) == (1, "attributes", "attributes_size")
    assert "57344" in error["message"]
    assert_nothing_stored(api, "small", "huge")


def test_a_2mb_attribute_is_422_under_the_default_body_limit_and_nothing_stored(tmp_path: Path) -> None:
    """The issue's check: the default 32 MiB body limit lets 2 MB through, the observation's own cap does not."""
    data_dir = tmp_path / "data"
    store = open_store(data_dir)
    ensure_admin_key(store, data_dir)
    with TestClient(create_app(Settings(data_dir=data_dir), store)) as client:
        api = ApiClient(client, read_admin_key(data_dir), store, data_dir)
        response = post(api, native(id="two-mb", attributes={"blob": "x" * 2_000_000}))
        assert response.status_code == 422, response.text
        assert [(e["index"], e["field"], e["rule"]) for e in response.json()["errors"]] == [(0, "attributes", "attributes_size")]
        assert_nothing_stored(api, "two-mb")
    store.close()


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

    response = api.client.post("/api/v1/observations", content=chunks(), headers={**api.auth, **JSON})
    assert response.status_code == 413


def test_huge_array_beyond_item_limit_is_413(api: ApiClient) -> None:
    response = api.client.post("/api/v1/observations", content=b"[" + b",".join([b"{}"] * 5001) + b"]", headers={**api.auth, **JSON})
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
