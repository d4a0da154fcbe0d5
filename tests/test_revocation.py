"""Revocation that means it: a key revoked as *retired* keeps its past work; one revoked as *compromised*
stops counting from ``since`` (its verification falls back to pending, saying why; the observations it
posted from then on are left out of fusion). Both are ledger leaves.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from tests.conftest import ApiClient, native
from typer.testing import CliRunner

from truceline.api.routes_incidents import with_reviews
from truceline.cli import app
from truceline.domain.incident import Incident, IncidentStatus
from truceline.domain.observation import Observation
from truceline.domain.revocation import RevocationReason
from truceline.ledger.canonical import parse_leaf
from truceline.store.ports import IncidentQuery
from truceline.store.sqlite import SqliteStore, StoreError, open_store


def _incident(store: SqliteStore) -> str:
    obs = Observation.model_validate(native(id="seen-1"))
    store.add_observations([obs])
    incident = Incident(id="inc-test", time=obs.time, kind=obs.kind, lat=48.105, lon=37.712, sigma_m=150.0,
                        observation_ids=("seen-1",), observation_orgs=("UA",), status=IncidentStatus.CORROBORATED)
    store.apply_incident_changes([(incident, True)], [])
    return incident.id


def _two_verifications(store: SqliteStore) -> tuple[str, str, str]:
    from truceline.access.policy import Role

    store.set_organisation("FR", ["COALITION"])
    store.set_organisation("US", ["COALITION"])
    first, _ = store.create_api_key("FR", Role.ANALYST)
    second, _ = store.create_api_key("US", Role.ANALYST)
    incident_id = _incident(store)
    store.add_review(incident_id, "verify", "two craters on imagery", first.key_id, "FR")
    store.add_review(incident_id, "verify", "acoustic and radar agree", second.key_id, "US")
    return incident_id, first.key_id, second.key_id


def _reviewed(store: SqliteStore, incident_id: str) -> tuple[Incident, dict[str, object]]:
    (pair,) = with_reviews(store, store.list_incidents(IncidentQuery(ids=(incident_id,))), with_reviewers=True)
    return pair


def test_a_compromised_analysts_verification_falls_back_to_pending_with_the_reason(store: SqliteStore) -> None:
    incident_id, _, second = _two_verifications(store)
    assert _reviewed(store, incident_id)[0].status is IncidentStatus.VERIFIED
    since = datetime.now(UTC) - timedelta(hours=1)
    assert store.revoke_api_key(second, RevocationReason.COMPROMISED, since, "admin-key") is True
    incident, view = _reviewed(store, incident_id)
    assert incident.status is IncidentStatus.CORROBORATED  # fusion's status again: one verification stands
    assert view["status"] == "pending" and view["verified_by"] == 1
    assert "second, different analyst" in str(view["note"])
    decisions = {d["analyst"]: d for d in view["decisions"]}  # type: ignore[union-attr]
    assert decisions[second]["counted"] is False
    assert "revoked as compromised" in decisions[second]["not_counted"] and second in decisions[second]["not_counted"]


def test_a_decision_made_before_the_compromise_still_counts(store: SqliteStore) -> None:
    incident_id, _, second = _two_verifications(store)
    store.revoke_api_key(second, RevocationReason.COMPROMISED, datetime.now(UTC), "admin-key")
    assert _reviewed(store, incident_id)[0].status is IncidentStatus.VERIFIED


def test_a_retired_keys_past_review_still_counts(store: SqliteStore) -> None:
    incident_id, first, _ = _two_verifications(store)
    assert store.revoke_api_key(first) is True  # the old call: retired
    incident, view = _reviewed(store, incident_id)
    assert incident.status is IncidentStatus.VERIFIED and view["verified_by"] == 2
    assert all(d["counted"] for d in view["decisions"])  # type: ignore[union-attr]
    # Found out later: the retired key is declared compromised, back to when it was still in use.
    assert store.revoke_api_key(first, RevocationReason.COMPROMISED, datetime.now(UTC) - timedelta(days=1)) is True
    assert _reviewed(store, incident_id)[0].status is IncidentStatus.CORROBORATED
    assert store.revoke_api_key(first, RevocationReason.COMPROMISED) is False  # once is enough


def test_both_revocations_are_ledger_leaves(store: SqliteStore) -> None:
    from truceline.access.policy import Role

    retired, _ = store.create_api_key("FR", Role.ANALYST)
    compromised, _ = store.create_api_key("US", Role.ANALYST)
    size = store.ledger_size()
    store.revoke_api_key(retired.key_id)
    store.revoke_api_key(compromised.key_id, RevocationReason.COMPROMISED, datetime(2023, 4, 2, tzinfo=UTC), "admin-key")
    assert store.ledger_size() == size + 2
    leaves = [parse_leaf(store.ledger_leaf(i)) for i in (size, size + 1)]
    assert [leaf.type for leaf in leaves] == ["revocation", "revocation"]
    recorded = [r.as_dict() for r in store.key_revocations()]
    assert [(r["key_id"], r["reason"], r["since"], r["ledger_index"]) for r in recorded] == [
        (retired.key_id, "retired", None, size),
        (compromised.key_id, "compromised", "2023-04-02T00:00:00Z", size + 1),
    ]
    with pytest.raises(StoreError, match="future"):
        store.revoke_api_key(retired.key_id, RevocationReason.COMPROMISED, datetime.now(UTC) + timedelta(days=1))


def test_observations_a_compromised_key_posted_are_left_out_of_fusion(api: ApiClient) -> None:
    from truceline.access.policy import Role

    key, secret = api.store.create_api_key("UA", Role.CONTRIBUTOR)
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    posted = api.client.post("/api/v1/observations", content=orjson.dumps([native(id="a"), native(id="b")]), headers=headers)
    assert posted.status_code == 201
    assert [orjson.loads(doc)["id"] for _, doc in api.store.observations_after(0, 10)] == ["a", "b"]
    gone = api.client.delete(f"/api/v1/keys/{key.key_id}", params={"reason": "compromised", "since": "2020-01-01T00:00:00Z"},
                             headers=api.auth)
    assert gone.status_code == 200 and gone.json()["reason"] == "compromised" and gone.json()["since"] == "2020-01-01T00:00:00Z"
    assert api.store.observations_after(0, 10) == []  # still stored (nothing accepted is lost), no longer fused
    assert api.store.count_observations() == 2
    assert api.client.get("/api/v1/observations", headers=headers).status_code == 401
    # Reader views leave them out; coalition staff (here the admin) are shown them, marked.
    _, other = api.store.create_api_key("UA", Role.OBSERVER)
    as_ua = {"Authorization": f"Bearer {other}"}
    assert api.client.get("/api/v1/observations/a", headers=as_ua).status_code == 404
    assert api.client.get("/api/v1/observations", headers=as_ua).json()["items"] == []
    staff = api.client.get("/api/v1/observations/a", headers=api.auth)
    assert staff.status_code == 200 and staff.json()["excluded"] == "excluded: posted by a compromised key"


def test_delete_without_a_reason_retires_and_the_cli_takes_the_same_choice(api: ApiClient, tmp_path: Path) -> None:
    from truceline.access.policy import Role

    key, _ = api.store.create_api_key("FR", Role.ANALYST)
    assert api.client.delete(f"/api/v1/keys/{key.key_id}", headers=api.auth).json()["reason"] == "retired"
    data_dir = tmp_path / "cli"
    store = open_store(data_dir)
    cli_key, _ = store.create_api_key("US", Role.ANALYST)
    store.close()
    runner = CliRunner()
    bad = runner.invoke(app, ["keys", "revoke", "--data-dir", str(data_dir), cli_key.key_id, "--reason", "retired", "--since", "2023-04-02T00:00:00Z"])
    assert bad.exit_code == 2 and "compromised key only" in bad.output
    ok = runner.invoke(app, ["keys", "revoke", "--data-dir", str(data_dir), cli_key.key_id, "--reason", "compromised", "--since", "2023-04-02T00:00:00Z"])
    assert ok.exit_code == 0, ok.output
    store = open_store(data_dir)
    try:
        (revocation,) = store.key_revocations()
        assert revocation.reason is RevocationReason.COMPROMISED and revocation.since == datetime(2023, 4, 2, tzinfo=UTC)
        assert revocation.by == "cli"
    finally:
        store.close()


def test_the_daily_report_says_why_a_verification_no_longer_counts(store: SqliteStore) -> None:
    from truceline.report.daily import _unverified

    incident_id, _, second = _two_verifications(store)
    store.revoke_api_key(second, RevocationReason.COMPROMISED, datetime.now(UTC) - timedelta(hours=1), "admin-key")
    incident, view = _reviewed(store, incident_id)
    open_item = _unverified(incident, view, [], "sector", True)
    assert open_item is not None and "review-open" in open_item.reasons
    assert any("revoked as compromised" in d for d in open_item.details)
