"""Roles and releasability on every observation read path, including property tests over random worlds."""

from __future__ import annotations

import tempfile
from pathlib import Path

import orjson
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import ApiClient, native
from typer.testing import CliRunner

from truceline.access.policy import Permission, Principal, Role, may_read, reader_labels
from truceline.api.app import create_app
from truceline.cli import app as cli
from truceline.service.settings import Settings
from truceline.store.sqlite import open_store

JSON = {"Content-Type": "application/json"}


def key_for(api: ApiClient, org: str, role: Role) -> dict[str, str]:
    _, secret = api.store.create_api_key(org, role)
    return {"Authorization": f"Bearer {secret}"}


def obs_for(org: str, oid: str, labels: list[str]) -> dict[str, object]:
    return native(id=oid, source={"id": f"{org.lower()}-sensor", "type": "radar", "org": org}, releasable_to=labels)


def test_roles_and_forbidden_actions(api: ApiClient) -> None:
    observer = key_for(api, "FR", Role.OBSERVER)
    analyst = key_for(api, "FR", Role.ANALYST)
    contributor = key_for(api, "FR", Role.CONTRIBUTOR)
    body = orjson.dumps(obs_for("FR", "fr-1", ["FR"]))
    for headers in (observer, analyst):
        response = api.client.post("/api/v1/observations", content=body, headers={**headers, **JSON})
        assert response.status_code == 403 and "may not write observations" in response.json()["detail"]
    assert api.client.post("/api/v1/observations", content=body, headers={**contributor, **JSON}).status_code == 201
    assert api.client.get("/api/v1/observations/fr-1", headers=observer).status_code == 200


def test_contributor_cannot_post_for_another_organisation_and_nothing_is_stored(api: ApiClient) -> None:
    contributor = key_for(api, "FR", Role.CONTRIBUTOR)
    body = orjson.dumps([obs_for("FR", "fr-ok", ["FR"]), obs_for("UA", "ua-forged", ["UA"])])
    response = api.client.post("/api/v1/observations", content=body, headers={**contributor, **JSON})
    assert response.status_code == 403
    assert "index 1 (UA)" in response.json()["detail"] and "nothing was stored" in response.json()["detail"]
    assert api.store.count_observations() == 0


def test_releasability_on_get_list_and_summary(api: ApiClient) -> None:
    api.store.set_organisation("FR", ["COALITION"])
    api.store.set_organisation("UA", ["COALITION"])
    api.store.set_organisation("RU", [])
    ua = key_for(api, "UA", Role.CONTRIBUTOR)
    docs = [obs_for("UA", "ua-only", ["UA"]), obs_for("UA", "ua-coal", ["COALITION"]), obs_for("UA", "ua-pub", ["PUBLIC"])]
    assert api.client.post("/api/v1/observations", json=docs, headers=ua).status_code == 201
    fr, ru = key_for(api, "FR", Role.OBSERVER), key_for(api, "RU", Role.OBSERVER)
    listed = lambda h: {o["id"] for o in api.client.get("/api/v1/observations", headers=h).json()["items"]}  # noqa: E731
    assert listed(ua) == {"ua-only", "ua-coal", "ua-pub"}
    assert listed(fr) == {"ua-coal", "ua-pub"}
    assert listed(ru) == {"ua-pub"}
    assert listed(api.auth) == {"ua-only", "ua-coal", "ua-pub"}  # the operator's admin key
    assert api.client.get("/api/v1/observations/ua-only", headers=fr).status_code == 404  # existence not revealed
    assert api.client.get("/api/v1/observations/ua-coal", headers=ru).status_code == 404
    assert api.client.get("/api/v1/summary", headers=ru).json()["total"] == 1
    assert api.client.get("/api/v1/summary", headers=fr).json()["by_org"] == {"UA": 2}


def test_keys_cli_create_list_revoke(tmp_path: Path) -> None:
    runner = CliRunner()
    data = str(tmp_path / "d")
    created = runner.invoke(cli, ["keys", "create", "--data-dir", data, "--org", "FR", "--role", "observer", "--json"])
    assert created.exit_code == 0, created.output
    info = orjson.loads(created.stdout)
    store = open_store(tmp_path / "d")
    assert store.authenticate(info["key"]).role is Role.OBSERVER  # type: ignore[union-attr]
    store.close()
    listed = orjson.loads(runner.invoke(cli, ["keys", "list", "--data-dir", data, "--json"]).stdout)
    assert [k["key_id"] for k in listed] == [info["key_id"]] and "key" not in listed[0]
    assert runner.invoke(cli, ["keys", "revoke", "--data-dir", data, info["key_id"]]).exit_code == 0
    assert runner.invoke(cli, ["keys", "revoke", "--data-dir", data, info["key_id"]]).exit_code == 1
    store = open_store(tmp_path / "d")
    assert store.authenticate(info["key"]) is None
    store.close()
    bad = runner.invoke(cli, ["keys", "create", "--data-dir", data, "--org", "fr", "--role", "observer"])
    assert bad.exit_code == 2
    assert runner.invoke(cli, ["keys", "create", "--data-dir", data, "--org", "FR", "--role", "admin"]).exit_code == 2
    assert runner.invoke(cli, ["orgs", "set", "--data-dir", data, "FR", "--group", "COALITION"]).exit_code == 0
    assert orjson.loads(runner.invoke(cli, ["orgs", "list", "--data-dir", data, "--json"]).stdout) == {"FR": ["COALITION"]}


ORGS = ["UA", "FR", "US", "UK", "RU"]
GROUPS = ["COALITION", "NORDIC"]
labels_strategy = st.lists(st.sampled_from(ORGS + GROUPS + ["PUBLIC"]), max_size=3)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    memberships=st.fixed_dictionaries({org: st.lists(st.sampled_from(GROUPS), max_size=2) for org in ORGS}),
    observations=st.lists(st.tuples(st.sampled_from(ORGS), labels_strategy), min_size=1, max_size=25),
    kinds=st.lists(st.sampled_from(["explosion", "impact"]), min_size=25, max_size=25),
)
def test_every_reader_sees_exactly_what_the_rule_allows(
    memberships: dict[str, list[str]], observations: list[tuple[str, list[str]]], kinds: list[str]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp))
        try:
            for org, groups in memberships.items():
                store.set_organisation(org, groups)
            docs = [
                dict(obs_for(org, f"o{i}", labels), kind=kinds[i]) for i, (org, labels) in enumerate(observations)
            ]
            from truceline.ingest.validation import validate_all_or_nothing, validation_context

            good, errors = validate_all_or_nothing(docs, validation_context())
            assert not errors
            store.add_observations(good)
            app = create_app(Settings(data_dir=Path(tmp)), store)
            with TestClient(app) as client:
                for org in ORGS:
                    _, secret = store.create_api_key(org, Role.OBSERVER)
                    headers = {"Authorization": f"Bearer {secret}"}
                    principal = Principal("k", org, Role.OBSERVER, reader_labels(org, memberships[org]))
                    expected = {o.id for o in good if may_read(principal, o.source.org, o.releasable_to)}
                    page = client.get("/api/v1/observations", params={"limit": 100}, headers=headers).json()
                    assert {o["id"] for o in page["items"]} == expected
                    kind_only = client.get("/api/v1/observations", params={"kind": "impact"}, headers=headers).json()
                    assert {o["id"] for o in kind_only["items"]} == {o.id for o in good if o.id in expected and o.kind.value == "impact"}
                    summary = client.get("/api/v1/summary", headers=headers).json()
                    assert summary["total"] == len(expected)
                    for o in good:
                        status = client.get(f"/api/v1/observations/{o.id}", headers=headers).status_code
                        assert status == (200 if o.id in expected else 404)
        finally:
            store.close()


def test_role_permissions_table() -> None:
    assert Principal("k", "FR", Role.OBSERVER, frozenset()).can(Permission.READ)
    assert not Principal("k", "FR", Role.OBSERVER, frozenset()).can(Permission.REVIEW)
    assert Principal("k", "FR", Role.ANALYST, frozenset()).can(Permission.REVIEW)
    assert Principal("k", "FR", Role.SUPERVISOR, frozenset()).can(Permission.MANAGE_KEYS)
    assert not Principal("k", "FR", Role.CONTRIBUTOR, frozenset()).can(Permission.MANAGE_AGREEMENT)


def test_key_management_over_http(api: ApiClient) -> None:
    fr_sup = key_for(api, "FR", Role.SUPERVISOR)
    created = api.client.post("/api/v1/keys", json={"org": "FR", "role": "observer", "label": "desk"}, headers=fr_sup)
    assert created.status_code == 201
    new_key = {"Authorization": f"Bearer {created.json()['key']}"}
    assert api.client.get("/api/v1/observations", headers=new_key).status_code == 200
    assert api.client.post("/api/v1/keys", json={"org": "UA", "role": "observer"}, headers=fr_sup).status_code == 403
    assert api.client.post("/api/v1/keys", json={"org": "FR", "role": "admin"}, headers=fr_sup).status_code == 403
    assert api.client.post("/api/v1/keys", json={"org": "FR", "role": "observer"}, headers=new_key).status_code == 403
    assert api.client.post("/api/v1/keys", json={"org": "fr", "role": "observer"}, headers=fr_sup).status_code == 422
    listed = api.client.get("/api/v1/keys", headers=fr_sup).json()
    assert {k["org"] for k in listed} == {"FR"} and all("key" not in k for k in listed)
    ua_key = api.store.create_api_key("UA", Role.OBSERVER)[0]
    assert api.client.delete(f"/api/v1/keys/{ua_key.key_id}", headers=fr_sup).status_code == 404
    assert api.client.delete(f"/api/v1/keys/{created.json()['key_id']}", headers=fr_sup).status_code == 200
    assert api.client.get("/api/v1/observations", headers=new_key).status_code == 401
    assert api.client.put("/api/v1/organisations/FR", json={"groups": ["COALITION"]}, headers=fr_sup).status_code == 403
    assert api.client.put("/api/v1/organisations/FR", json={"groups": ["COALITION"]}, headers=api.auth).status_code == 200
    assert api.client.get("/api/v1/organisations", headers=fr_sup).json()["FR"] == ["COALITION"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    memberships=st.fixed_dictionaries({org: st.lists(st.sampled_from(GROUPS), max_size=2) for org in ORGS}),
    observations=st.lists(
        st.tuples(st.sampled_from(ORGS), labels_strategy, st.integers(0, 3), st.integers(0, 2)), min_size=1, max_size=20
    ),
)
def test_derived_incidents_reveal_nothing_a_reader_could_not_read(
    memberships: dict[str, list[str]], observations: list[tuple[str, list[str], int, int]]
) -> None:
    """Every incident a reader gets rests only on observations it may read; none is hidden that it could see."""
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp))
        try:
            for org, groups in memberships.items():
                store.set_organisation(org, groups)
            docs = [
                dict(
                    obs_for(org, f"o{i}", labels),
                    time=f"2023-04-02T03:{10 + 7 * minute:02d}:00Z",
                    location={"lat": 48.0 + 0.2 * place, "lon": 37.5, "cep_m": 100},
                )
                for i, (org, labels, place, minute) in enumerate(observations)
            ]
            from truceline.ingest.validation import validate_all_or_nothing, validation_context

            good, errors = validate_all_or_nothing(docs, validation_context())
            assert not errors
            store.add_observations(good)
            app = create_app(Settings(data_dir=Path(tmp), fusion=False), store)
            with TestClient(app) as client:
                app.state.fusion.run_until_idle()
                for org in ORGS:
                    _, secret = store.create_api_key(org, Role.OBSERVER)
                    principal = Principal("k", org, Role.OBSERVER, reader_labels(org, memberships[org]))
                    readable = {o.id for o in good if may_read(principal, o.source.org, o.releasable_to)}
                    features = client.get(
                        "/api/v1/incidents", params={"limit": 1000}, headers={"Authorization": f"Bearer {secret}"}
                    ).json()["features"]
                    shown = [set(f["properties"]["observation_ids"]) for f in features]
                    assert all(ids <= readable for ids in shown)
                    assert set().union(*shown) == readable  # every readable observation is in some incident
        finally:
            store.close()
