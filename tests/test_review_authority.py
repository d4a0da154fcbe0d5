"""Reviewing is the monitoring mission's job: analysts of COALITION organisations and the admin key only.

FR and US are in COALITION; RU and UA (parties) are not. A party's analyst may read incidents but may not
verify, dismiss or reopen one (403 naming org and role, nothing stored, no ledger leaf), ``whoami`` says so,
and decisions a party's analyst recorded before the rule (written here straight into the store, as an old
data dir holds them) stay in the history but count for nothing: not in the outcome, its time or counts,
nor in /violations, the daily report or the ACLED export.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from tests.test_report_daily import DAY, records
from tests.test_review_consistency import DAY_PARAMS, Served, demo_app

from truceline.access.policy import (
    Principal,
    Role,
    decision_authority,
    is_coalition_staff,
    may_review,
    reader_labels,
    review_authority,
)
from truceline.domain.incident import Incident, IncidentStatus
from truceline.domain.review import apply_review
from truceline.report.build import daily_report
from truceline.store.sqlite import SqliteStore

PARTY_REASON = "our own radar shows nothing there"


def principal(org: str, role: Role, groups: tuple[str, ...] = ()) -> Principal:
    return Principal(key_id=f"{org}-{role.value}", org=org, role=role, labels=reader_labels(org, groups))


@pytest.mark.parametrize(
    ("org", "role", "groups", "reviews", "staff"),
    [
        ("FR", Role.ANALYST, ("COALITION",), True, True),
        ("ADMIN", Role.ADMIN, (), True, True),
        ("RU", Role.ANALYST, (), False, False),  # a party's analyst
        ("UA", Role.ANALYST, ("OBSERVERS",), False, False),  # another group is not the coalition
        ("FR", Role.SUPERVISOR, ("COALITION",), False, True),  # coalition staff, but supervisors do not review
        ("FR", Role.OBSERVER, ("COALITION",), False, False),
        ("FR", Role.CONTRIBUTOR, ("COALITION",), False, False),
    ],
)
def test_who_may_review_and_who_is_coalition_staff(org: str, role: Role, groups: tuple[str, ...], reviews: bool,
                                                   staff: bool) -> None:
    caller = principal(org, role, groups)
    authority = review_authority(caller)
    assert authority.allowed is reviews is may_review(caller)
    assert is_coalition_staff(caller) is staff
    if not reviews:
        assert authority.detail.startswith(f"a {org} {role.value} may not review incidents: ")
        assert authority.detail.endswith(authority.why)
    if role is Role.ANALYST and not reviews:
        assert f"{org} is not in the COALITION group" in authority.why


def test_a_stored_decision_counts_by_its_key_and_its_organisation_now() -> None:
    assert decision_authority("k1", "FR", Role.ANALYST, ["COALITION"]).allowed
    assert decision_authority("k0", "ADMIN", Role.ADMIN, []).allowed
    assert not decision_authority("k2", "RU", Role.ANALYST, []).allowed
    assert decision_authority("old", "OSCE", None, ["COALITION"]).allowed  # a key the store does not know: an analyst
    assert not decision_authority("old", "ADMIN", None, []).allowed  # ... not the admin


def _incident() -> Incident:
    return Incident(id="i", time="2023-05-10T01:00:00Z", kind="explosion", lat=48.0, lon=37.0, sigma_m=100.0,
                    observation_ids=("o",), status=IncidentStatus.CORROBORATED)


@pytest.mark.parametrize(
    ("decisions", "status", "verified_by"),
    [
        ([("dismiss", "ru")], IncidentStatus.CORROBORATED, 0),  # a party's dismissal dismisses nothing
        ([("verify", "fr"), ("verify", "ru")], IncidentStatus.CORROBORATED, 1),  # nor is it a second analyst
        ([("dismiss", "fr"), ("reopen", "ru")], IncidentStatus.DISMISSED, 0),  # nor does its reopen clear anything
        ([("verify", "fr"), ("dismiss", "ru"), ("verify", "us")], IncidentStatus.VERIFIED, 2),  # nor does it dispute
    ],
)
def test_the_outcome_is_computed_from_authorised_decisions_only(decisions: list[tuple[str, str]],
                                                                 status: IncidentStatus, verified_by: int) -> None:
    history = [{"decision": d, "analyst": a, "reason": "r", "at": f"2023-05-10T0{k}:00:00Z"}
               for k, (d, a) in enumerate(decisions)]
    refusal = lambda d: "a RU analyst may not review incidents" if d["analyst"] == "ru" else None  # noqa: E731
    reviewed, staff_view = apply_review(_incident(), history, with_reviewers=True, refusal=refusal)
    assert reviewed.status is status and staff_view["verified_by"] == verified_by
    authorised = [d for d in history if d["analyst"] != "ru"]
    assert staff_view["at"] == (authorised[-1]["at"] if authorised else None)
    assert [d["counted"] for d in staff_view["decisions"]] == [d["analyst"] != "ru" for d in history]
    assert all(("not_counted" in d) is (not d["counted"]) for d in staff_view["decisions"])


class Mission(Served):
    """The daily report's data set over HTTP (``Served``'s keys), plus two parties' analysts."""

    def __init__(self, client: TestClient, store: SqliteStore, data_dir: Path) -> None:
        super().__init__(client, store, data_dir)
        self.headers = {"admin": self.admin, "fr-analyst": self.analyst_1, "us-analyst": self.analyst_2,
                        "fr-supervisor": self.supervisor, "press": self.press}
        self.key_ids: dict[str, str] = {}
        for name, org in (("ru-analyst", "RU"), ("ua-analyst", "UA")):
            key, secret = store.create_api_key(org, Role.ANALYST)
            self.headers[name] = self.auth(secret)
            self.key_ids[name] = key.key_id
        response = client.post("/api/v1/observations", content=orjson.dumps(records()), headers={**self.admin, "Content-Type": "application/json"})
        assert response.status_code == 201, response.text
        client.app.state.fusion.run_until_idle()

    def post_review(self, who: str, incident_id: str, decision: str, reason: str = "") -> Any:
        return self.client.post(f"/api/v1/incidents/{incident_id}/review", json={"decision": decision, "reason": reason},
                                headers=self.headers[who])

    def legacy_review(self, who: str, incident_id: str, decision: str, reason: str = "") -> None:
        """A decision as the API recorded it before party analysts were refused."""
        org = {"ru-analyst": "RU", "ua-analyst": "UA"}[who]
        self.store.add_review(incident_id, decision, reason, self.key_ids[who], org)

    def review_of(self, who: str, incident_id: str) -> dict[str, Any]:
        response = self.client.get(f"/api/v1/incidents/{incident_id}", headers=self.headers[who])
        assert response.status_code == 200, response.text
        return dict(response.json()["properties"]["review"])

    def violating(self, who: str) -> set[str]:
        return {f["properties"]["incident_id"] for f in self.violations(self.headers[who])}

    def ledger_size(self) -> int:
        return int(self.client.get("/api/v1/ledger/checkpoint", headers=self.admin).json()["size"])


@pytest.fixture(scope="module")
def mission(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mission]:
    data_dir = tmp_path_factory.mktemp("authority") / "data"
    with demo_app(data_dir, ("FR", "US")) as (client, store):
        yield Mission(client, store, data_dir)


@pytest.mark.parametrize("who", ["ru-analyst", "ua-analyst"])
@pytest.mark.parametrize("decision", ["verify", "dismiss", "reopen"])
def test_a_party_analyst_may_not_review_and_nothing_is_stored(mission: Mission, who: str, decision: str) -> None:
    incident = mission.incident_of("ua-acoustic-sumy")
    size = mission.ledger_size()
    answer = mission.post_review(who, incident, decision, "a party judging itself")
    org = who[:2].upper()
    assert answer.status_code == 403, answer.text
    detail = answer.json()["detail"]
    assert detail.startswith(f"a {org} analyst may not review incidents") and f"{org} is not in the COALITION group" in detail
    assert mission.store.reviews([incident])[incident] == [] and mission.ledger_size() == size
    assert mission.review_of(who, incident)["status"] == "pending"  # it may still read the incident


def test_coalition_analysts_and_the_admin_may_review(mission: Mission) -> None:
    incident = mission.incident_of("fr-radar-kost")
    size = mission.ledger_size()
    for who in ("fr-analyst", "admin"):
        answer = mission.post_review(who, incident, "verify")
        assert answer.status_code == 201, answer.text
    assert mission.ledger_size() == size + 2
    assert mission.review_of("press", incident)["status"] == "verified"
    refused = mission.post_review("fr-supervisor", incident, "reopen")  # coalition staff, but no analyst
    assert refused.status_code == 403 and "supervisor" in refused.json()["detail"]
    assert mission.post_review("admin", incident, "reopen").status_code == 201


@pytest.mark.parametrize(
    ("who", "may", "permissions", "reason"),
    [
        ("fr-analyst", True, ["read", "review"], "FR is in the COALITION group"),
        ("admin", True, ["manage-agreement", "manage-keys", "read", "read-metrics", "read-status", "review", "write-observations"], "admin"),
        ("ru-analyst", False, ["read"], "RU is not in the COALITION group"),
        ("fr-supervisor", False, ["manage-agreement", "manage-keys", "read", "read-metrics", "read-status"], "analysts of COALITION organisations"),
        ("press", False, ["read"], "analysts of COALITION organisations"),
    ],
)
def test_whoami_says_whether_the_key_may_review_and_why(mission: Mission, who: str, may: bool, permissions: list[str],
                                                        reason: str) -> None:
    me = mission.client.get("/api/v1/whoami", headers=mission.headers[who]).json()
    assert me["may_review"] is may and me["permissions"] == permissions
    assert reason in me["review_reason"]


def test_decisions_stored_from_party_analysts_are_history_but_count_for_nothing(mission: Mission) -> None:
    sumy = mission.incident_of("ua-acoustic-sumy")  # breaks the agreement until dismissed
    mission.legacy_review("ua-analyst", sumy, "dismiss", PARTY_REASON)
    mission.legacy_review("ru-analyst", sumy, "verify", "")
    public, staff = mission.review_of("press", sumy), mission.review_of("fr-analyst", sumy)
    assert public == {"status": "pending", "at": None, "note": "not reviewed", "verified_by": 0}
    assert staff["status"] == "pending" and staff["at"] is None
    assert [(d["org"], d["counted"]) for d in staff["decisions"]] == [("UA", False), ("RU", False)]
    assert all("may not review incidents" in d["not_counted"] for d in staff["decisions"])
    assert staff["decisions"][0]["reason"] == PARTY_REASON and staff["decisions"][0]["ledger"]["salt"]
    assert PARTY_REASON not in orjson.dumps(public).decode()

    # Still a violation everywhere: /violations, the daily report (both editions), the ACLED export.
    for who in ("press", "fr-analyst"):
        assert sumy in mission.violating(who)
    for audience in ("public", "coalition"):
        report = daily_report(mission.store, mission.client.app.state.ledger_key, DAY, audience, "md").report
        assert report.unverified_counts.get("dismissed", 0) == 0
        assert PARTY_REASON not in "".join(str(u.details) for u in report.unverified)
    export = mission.client.get("/api/v1/exports/acled", params={**DAY_PARAMS, "violations": "true"},
                                headers=mission.headers["press"])
    row = next(r for r in export.text.splitlines() if r.startswith(sumy + ","))
    assert "violation of rule" in row and "status=dismissed" not in row

    # A coalition analyst's dismissal does count, and the party's verification does not dispute it.
    assert mission.post_review("fr-analyst", sumy, "dismiss", "demolition of unexploded ordnance, notified").status_code == 201
    assert mission.review_of("press", sumy)["status"] == "dismissed"
    assert sumy not in mission.violating("press")
    coalition = daily_report(mission.store, mission.client.app.state.ledger_key, DAY, "coalition", "md").report
    [dismissed] = [u for u in coalition.unverified if "dismissed" in u.reasons]
    assert "notified" in " ".join(dismissed.details) and PARTY_REASON not in " ".join(dismissed.details)
    mission.legacy_review("ru-analyst", sumy, "reopen", "")  # a party's reopen clears nothing
    assert mission.review_of("press", sumy)["status"] == "dismissed"
    assert mission.post_review("fr-analyst", sumy, "reopen", "back to the evidence").status_code == 201


def test_an_organisation_taken_out_of_the_coalition_no_longer_counts(mission: Mission) -> None:
    kost = mission.incident_of("fr-radar-kost")
    for who in ("fr-analyst", "us-analyst"):
        assert mission.post_review(who, kost, "verify").status_code == 201
    assert mission.review_of("press", kost)["status"] == "verified"
    mission.store.set_organisation("US", [])
    try:
        assert mission.review_of("press", kost)["status"] == "pending"  # one coalition verification left
        assert mission.post_review("us-analyst", kost, "verify").status_code == 403
    finally:
        mission.store.set_organisation("US", ["COALITION"])
    assert mission.review_of("press", kost)["status"] == "verified"
    assert mission.post_review("fr-analyst", kost, "reopen", "end of test").status_code == 201
