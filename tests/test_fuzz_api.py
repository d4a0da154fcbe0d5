"""Property-based fuzzing of the API's write routes: a valid body is mutated, and the answer must be no 5xx,
a refusal must say precisely what is wrong, and a refusal must store nothing (counts before and after).

The bodies' JSON values are replaced by the edge values of tests/test_fuzz_formats.py (1e999, 2**64, NaN and
Infinity spelled in JSON, deep nesting, huge strings, lone surrogates, non-ASCII digits, times at the
calendar's ends); the agreement's YAML values by YAML edges (tags, anchors, ``.nan``, other scripts' digits).
Budgets are small and derandomized so the suite is repeatable; ``TRUCELINE_FUZZ_EXAMPLES=N`` explores (see
docs/formats.md#bad-input-and-fuzzing).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import ApiClient, native
from tests.test_fuzz_formats import EXPLORE, FUZZ, PICK, _replaced

from truceline.access.policy import Role

GENERIC = {"Bad Request", "Unprocessable Entity", "Not Found", "Internal Server Error", "Method Not Allowed"}
#: The agreement is loaded and its geometry built on every upload: fewer examples than the JSON routes.
FUZZ_AGREEMENT = settings(FUZZ, max_examples=EXPLORE or 12)

YAML_EDGES = [
    ".nan", ".inf", "-.inf", "1e999 km", "٥٠ km", "５０ km", "1_000 km", "0x10 km", "-0 km", "18446744073709551616", "!!int 1e3",
    "!!float x", "!!bool maybe", "!!timestamp 2023-13-45", "!!binary x", "!!python/name:os.system", "&a x", "*nowhere", "[", "{",
    "'", '"\\ud800"', "~", "null", "[]", "{}", "9999-12-31T23:59:60Z", "0001-01-01T00:00:00+23:59", "2023-02-29", "x" * 5000,
    "\x00", "\ufeff1", "٣", "1", "-1",
]  # fmt: skip


def assert_precise_refusal(status: int, payload: Any) -> None:
    """A 4xx whose body names what is wrong: each error its field and message, each problem its reason."""
    assert 400 <= status < 500, status
    assert isinstance(payload, dict), payload
    if "errors" in payload:
        assert payload["errors"] and all(e.get("field") and e.get("message") for e in payload["errors"]), payload
    elif "problems" in payload:
        assert payload["problems"] and all(p.get("reason") for p in payload["problems"]), payload
    else:
        detail = payload.get("detail")
        assert isinstance(detail, str) and len(detail) >= 10 and detail not in GENERIC, payload


def _check(api: ApiClient, send: Callable[[], Any], count: Callable[[], Any], seen: list[int]) -> None:
    before = count()
    response = send()
    seen.append(response.status_code)
    assert response.status_code < 500, response.text[:500]
    if response.status_code >= 400:
        assert_precise_refusal(response.status_code, response.json())
        assert count() == before


def _json(api: ApiClient, method: str, url: str, body: str) -> Any:
    return api.client.request(method, url, content=body.encode("utf-8", "surrogatepass"),
                              headers={**api.auth, "Content-Type": "application/json"})  # fmt: skip


REPORT = {"text": "On 2 April 2023 at 03:15 shelling hit Avdiivka, Donetsk oblast; 3 wounded.",
          "published_at": "2023-04-03T06:00:00Z", "source": {"id": "s1", "type": "osint", "org": "PRESS"}, "language": "en"}  # fmt: skip
NODE = {"node": "ua-1", "pending": 3, "oldest_pending_age_s": 12.5, "refused": 0, "sent": 7}

ROUTES: dict[str, tuple[str, str, Any, str]] = {
    "observations": ("POST", "/api/v1/observations", [native(id="a"), native(id="b", time="2023-04-02T03:15:00+02:00")], "/api/v1/summary"),
    "reports/text": ("POST", "/api/v1/reports/text", REPORT, "/api/v1/summary"),
    "keys": ("POST", "/api/v1/keys", {"org": "FR", "role": "observer", "label": "desk"}, "/api/v1/keys"),
    "nodes/self": ("PUT", "/api/v1/nodes/self", NODE, "/api/v1/nodes"),
    "organisations": ("PUT", "/api/v1/organisations/FR", {"groups": ["COALITION"]}, "/api/v1/organisations"),
}  # fmt: skip


@pytest.mark.parametrize("route", list(ROUTES))
def test_write_routes_with_edge_values_never_fail_and_refuse_precisely_storing_nothing(api: ApiClient, route: str) -> None:
    method, url, body, listing = ROUTES[route]
    api.store.set_organisation("FR", ["COALITION"])

    def count() -> Any:
        listed = api.client.get(listing, headers=api.auth).json()
        if route == "nodes/self":  # the register's "silent_for_s" grows between two reads
            return [{k: v for k, v in node.items() if k != "silent_for_s"} for node in listed["nodes"]]
        return listed

    first = _json(api, method, url, json.dumps(body))
    assert first.status_code < 300, first.text[:500]  # the unmutated body is good: mutations start from valid

    seen: list[int] = []

    @FUZZ
    @given(st.lists(PICK, min_size=1, max_size=3))
    def check(picks: list[tuple[int, int]]) -> None:
        _check(api, lambda: _json(api, method, url, _replaced(body, picks)), count, seen)

    check()
    assert any(400 <= s < 500 for s in seen)  # the mutations reach the refusals, not only good bodies


def test_incident_review_with_edge_values_never_fails_and_changes_nothing_on_refusal(api: ApiClient) -> None:
    docs = [native(id=f"r{i}", time=f"2023-04-02T03:15:{i:02d}Z") for i in range(3)]
    assert _json(api, "POST", "/api/v1/observations", json.dumps(docs)).status_code == 201
    api.client.app.state.fusion.run_until_idle()  # type: ignore[attr-defined]
    features = api.client.get("/api/v1/incidents", headers=api.auth).json()["features"]
    assert features, "fusion made no incident to review"
    url = f"/api/v1/incidents/{features[0]['id']}/review"
    api.store.set_organisation("FR", ["COALITION"])
    analyst = {"Authorization": f"Bearer {api.store.create_api_key('FR', Role.ANALYST)[1]}", "Content-Type": "application/json"}

    def count() -> Any:
        return api.client.get("/api/v1/incidents", headers=api.auth).json()

    seen: list[int] = []

    @FUZZ
    @given(st.lists(PICK, min_size=1, max_size=3))
    def check(picks: list[tuple[int, int]]) -> None:
        body = _replaced({"decision": "dismiss", "note": "duplicate of a known strike"}, picks)
        _check(api, lambda: api.client.post(url, content=body.encode("utf-8", "surrogatepass"), headers=analyst), count, seen)

    check()
    assert any(400 <= s < 500 for s in seen)  # the mutations reach the refusals, not only good bodies


AGREEMENT_FILES = {p.name: p.read_text() for p in resources.files("truceline.data.agreements").joinpath("isw-2023-03-04").iterdir()
                   if p.name.endswith((".yaml", ".geojson"))}  # fmt: skip
VALUE_LINES = [i for i, line in enumerate(AGREEMENT_FILES["agreement.yaml"].split("\n")) if ": " in line and not line.rstrip().endswith(":")]


def _agreement_with(picks: list[tuple[int, int]]) -> dict[str, str]:
    lines = AGREEMENT_FILES["agreement.yaml"].split("\n")
    for line_pick, edge in picks:
        i = VALUE_LINES[line_pick % len(VALUE_LINES)]
        key = lines[i].split(": ", 1)[0]
        lines[i] = f"{key}: {YAML_EDGES[edge % len(YAML_EDGES)]}"
    return {**AGREEMENT_FILES, "agreement.yaml": "\n".join(lines)}


def test_agreement_upload_with_edge_yaml_values_never_fails_and_keeps_the_version_in_force(api: ApiClient) -> None:
    assert api.client.put("/api/v1/agreement", json={"files": AGREEMENT_FILES}, headers=api.auth).status_code == 201

    def count() -> Any:
        return api.client.get("/api/v1/agreement", headers=api.auth).json()

    seen: list[int] = []

    @FUZZ_AGREEMENT
    @given(st.lists(PICK, min_size=1, max_size=2))
    def check(picks: list[tuple[int, int]]) -> None:
        files = _agreement_with(picks)
        body = json.dumps({"files": files}, ensure_ascii=False)
        _check(api, lambda: _json(api, "PUT", "/api/v1/agreement", body), count, seen)

    check()
    assert any(400 <= s < 500 for s in seen)  # the mutations reach the refusals, not only good bodies


TIME_EDGES = [
    "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+23:59", "0001-01-01T00:30:00+01:00", "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-23:59", "9999-12-31T23:30:00-01:00", "9999-12-31T23:59:60Z", "2016-12-31T23:59:60Z", "2023-02-29T00:00:00Z",
    "2023-04-02T03:15:00", "2023-04-02T03:15:00+24:00", "2023-04-02T03:15:00.123456789Z", "٢٠٢٣-04-02T03:15:00Z", "1680405300",
    "nan", "", "2023-04-02T03:15:00Z", "2023-04-01T00:00:00Z", "2023-04-03T00:00:00Z", "x" * 5000,
]  # fmt: skip
QUERY_EDGES: dict[str, list[str]] = {
    "since": TIME_EDGES,
    "until": TIME_EDGES,
    "bbox": ["30,44,40,52", "-180,-90,180,90", "179,9,-179,11", "nan,1,2,3", "1e999,1,2,3", "١,٢,٣,٤", "1,2,3", "0,10,1,5", "-0.0,-0.0,0,0", ""],
    "party": ["UA", "RU", "undetermined", "", "٣", "x" * 5000, "\x00"],
    "rule": ["no-fly-znpp", "security-strip-fire", "", "x" * 5000, "%00"],
    "limit": ["1", "0", "-1", "10001", "1000000", "18446744073709551616", "1e3", "nan", "٣", "1_0", " 1", ""],
    "cursor": ["", "zzz", "AAAA", "W10", "WzEsMiwzLDRd", "W251bGwsbnVsbCxudWxsLG51bGxd", "\x00", "=" * 50],
    "include_dismissed": ["true", "false", "1", "yes", "maybe", ""],
    "include_excused": ["true", "false", "on", "2", ""],
}  # fmt: skip


def test_violations_query_at_the_edges_never_fails_with_an_agreement_and_incidents(api: ApiClient) -> None:
    docs = [native(id=f"v{i}", time=f"2023-04-02T03:15:{i:02d}Z") for i in range(3)]
    assert _json(api, "POST", "/api/v1/observations", json.dumps(docs)).status_code == 201
    api.client.app.state.fusion.run_until_idle()  # type: ignore[attr-defined]
    assert api.client.put("/api/v1/agreement", json={"files": AGREEMENT_FILES}, headers=api.auth).status_code == 201
    page = api.client.get("/api/v1/violations", params={"limit": "1"}, headers=api.auth)
    assert page.status_code == 200 and page.json()["features"], page.text[:300]  # judged incidents to page through
    names = list(QUERY_EDGES)
    seen: list[int] = []

    @FUZZ
    @given(st.lists(st.tuples(st.integers(0, len(names) - 1), st.integers(0, 10**6)), min_size=1, max_size=4))
    def check(picks: list[tuple[int, int]]) -> None:
        params = {names[n]: QUERY_EDGES[names[n]][v % len(QUERY_EDGES[names[n]])] for n, v in picks}
        response = api.client.get("/api/v1/violations", params=params, headers=api.auth)
        seen.append(response.status_code)
        assert response.status_code < 500, (params, response.text[:500])
        if response.status_code >= 400:
            assert_precise_refusal(response.status_code, response.json())

    check()
    assert any(s == 200 for s in seen) and any(400 <= s < 500 for s in seen)
