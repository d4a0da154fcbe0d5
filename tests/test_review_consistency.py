"""``GET /violations``, the daily report and the ACLED export apply analysts' reviews alike.

The data set is the daily report's (tests/test_report_daily.py: report day 2023-05-10 under the demo
agreement), ingested, fused and reviewed through the HTTP app: incident A verified by two analysts, the Sumy
explosion F dismissed by one. F breaks the agreement, so before the dismissal /violations counts it and
afterwards neither /violations nor the report nor the export may.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from tests.test_report_daily import DAY, records

from truceline.access.policy import Role
from truceline.api.app import create_app
from truceline.api.auth import ensure_admin_key, read_admin_key
from truceline.domain.incident import Incident, IncidentStatus
from truceline.domain.review import ReviewStatus, apply_review, violation_candidates
from truceline.report.build import daily_report
from truceline.service.settings import Settings
from truceline.store.sqlite import SqliteStore, open_store
from truceline.verify.agreement_loader import load_demo_agreement

DAY_PARAMS = {"since": "2023-05-10T00:00:00Z", "until": "2023-05-11T00:00:00Z"}


class Served:
    """The app over a real SQLite store, with a key per role that matters here."""

    def __init__(self, client: TestClient, store: SqliteStore, data_dir: Path) -> None:
        self.client = client
        self.store = store
        self.data_dir = data_dir
        self.admin = self.auth(read_admin_key(data_dir))
        self.analyst_1 = self.auth(store.create_api_key("FR", Role.ANALYST)[1])
        self.analyst_2 = self.auth(store.create_api_key("US", Role.ANALYST)[1])
        self.supervisor = self.auth(store.create_api_key("FR", Role.SUPERVISOR)[1])
        self.press = self.auth(store.create_api_key("PRESS", Role.OBSERVER)[1])  # no group: what PUBLIC may read
        self.member = self.auth(store.create_api_key("PL", Role.OBSERVER)[1])  # COALITION, owns nothing
        self.before: list[dict[str, Any]] = []

    @staticmethod
    def auth(secret: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {secret}"}

    def violations(self, headers: dict[str, str], **params: str) -> list[dict[str, Any]]:
        response = self.client.get("/api/v1/violations", params={**DAY_PARAMS, **params}, headers=headers)
        assert response.status_code == 200, response.text
        return list(response.json()["features"])

    def incident_of(self, observation_id: str) -> str:
        features = self.client.get("/api/v1/incidents", headers=self.admin).json()["features"]
        return str(next(f["id"] for f in features if observation_id in f["properties"]["observation_ids"]))

    def review(self, headers: dict[str, str], observation_id: str, decision: str, reason: str = "") -> None:
        url = f"/api/v1/incidents/{self.incident_of(observation_id)}/review"
        response = self.client.post(url, json={"decision": decision, "reason": reason}, headers=headers)
        assert response.status_code == 201, response.text


@contextmanager
def demo_app(data_dir: Path, coalition: tuple[str, ...]) -> Iterator[tuple[TestClient, SqliteStore]]:
    """The HTTP app on a fresh store with the demo agreement in force and ``coalition`` in COALITION."""
    store = open_store(data_dir)
    agreement = load_demo_agreement()
    store.save_agreement(agreement.canonical_document(), agreement.digest(), "test")
    for org in coalition:
        store.set_organisation(org, ["COALITION"])
    ensure_admin_key(store, data_dir)
    try:
        with TestClient(create_app(Settings(data_dir=data_dir, fusion=False), store)) as client:
            yield client, store
    finally:
        store.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("consistency") / "data"
    with demo_app(data_dir, ("FR", "US", "PL")) as (client, store):
        s = Served(client, store, data_dir)
        assert client.post("/api/v1/observations", content=orjson.dumps(records()), headers={**s.admin, "Content-Type": "application/json"}).status_code == 201
        client.app.state.fusion.run_until_idle()
        s.before = s.violations(s.press)  # as the public saw them before any review
        s.review(s.analyst_1, "fr-radar-kost", "verify")
        s.review(s.analyst_2, "fr-radar-kost", "verify")
        s.review(s.analyst_1, "ua-acoustic-sumy", "dismiss", "demolition of unexploded ordnance, notified")
        yield s


def by_party(features: list[dict[str, Any]]) -> dict[str, int]:
    return dict(Counter(f["properties"]["party"] for f in features))


def test_a_dismissal_through_the_api_leaves_violations_and_the_report_agreeing(served: Served) -> None:
    sumy = served.incident_of("ua-acoustic-sumy")
    before = served.before
    assert sumy in {f["properties"]["incident_id"] for f in before}  # F breaks the agreement until dismissed
    assert {f["properties"]["review"]["status"] for f in before} == {"pending"}
    for reader, audience in ((served.press, "public"), (served.member, "coalition")):
        after = served.violations(reader)
        assert sumy not in {f["properties"]["incident_id"] for f in after}
        built = daily_report(served.store, served.client.app.state.ledger_key, DAY, audience, "md")
        report = built.report
        assert len(after) == report.violations
        assert len({f["properties"]["incident_id"] for f in after}) == report.violating_incidents
        assert by_party(after) == {t.party: t.violations for t in report.by_party if t.violations}
        # the published edition over HTTP says the same number
        published = served.client.get("/api/v1/reports/daily", params={"date": DAY.isoformat(), "format": "md",
                                                                       "audience": audience}, headers=reader)
        assert published.status_code == 200, published.text
        assert re.search(rf"\b{report.violations} violations? of the agreement", published.text)
    assert len(served.violations(served.press)) == len(before) - 1
    public = daily_report(served.store, served.client.app.state.ledger_key, DAY, "public", "md").report
    assert public.violations == 4 and public.unverified_counts.get("dismissed") == 1


def test_each_violation_carries_the_review_status_of_its_incident(served: Served) -> None:
    kost = served.incident_of("fr-radar-kost")
    statuses = {f["properties"]["incident_id"]: f["properties"]["review"]["status"] for f in served.violations(served.press)}
    assert statuses[kost] == "verified"  # verified by two analysts: counted, and says so
    assert set(statuses.values()) == {"verified", "pending"}  # the rest stand on fusion's evidence, still counted


def test_dismissed_violations_only_for_coalition_staff_who_ask(served: Served) -> None:
    sumy = served.incident_of("ua-acoustic-sumy")
    counted = served.violations(served.analyst_1)
    for staff in (served.analyst_1, served.supervisor, served.admin):
        everything = served.violations(staff, include_dismissed="true")
        dismissed = [f for f in everything if f["properties"]["review"]["status"] == "dismissed"]
        assert [f["properties"]["incident_id"] for f in dismissed] == [sumy]
    assert len(served.violations(served.analyst_1, include_dismissed="true")) == len(counted) + 1
    for reader in (served.press, served.member):
        refused = served.client.get("/api/v1/violations", params={**DAY_PARAMS, "include_dismissed": "true"}, headers=reader)
        assert refused.status_code == 403 and "include_dismissed" in refused.json()["detail"]
        assert "observer" in refused.json()["detail"]
    bad = served.client.get("/api/v1/violations", params={"include_dismissed": "maybe"}, headers=served.analyst_1)
    assert bad.status_code == 422 and "include_dismissed" in bad.text


def test_acled_export_counts_the_same_violations(served: Served) -> None:
    response = served.client.get("/api/v1/exports/acled", params={**DAY_PARAMS, "violations": "true"}, headers=served.press)
    assert response.status_code == 200, response.text
    sumy = served.incident_of("ua-acoustic-sumy")
    rows = response.text.splitlines()
    assert response.text.count("violation of rule") == len(served.violations(served.press))
    sumy_row = next(r for r in rows if r.startswith(sumy + ","))
    assert "status=dismissed" in sumy_row and "violation of rule" not in sumy_row


def _incident(status: IncidentStatus, id_: str = "i") -> Incident:
    return Incident(id=id_, time="2023-05-10T01:00:00Z", kind="explosion", lat=48.0, lon=37.0, sigma_m=100.0,
                    observation_ids=("o",), status=status)


@pytest.mark.parametrize(
    ("decisions", "review_status", "counted"),
    [
        ([], ReviewStatus.PENDING, True),
        ([("verify", "a")], ReviewStatus.PENDING, True),
        ([("verify", "a"), ("verify", "b")], ReviewStatus.VERIFIED, True),
        ([("verify", "a"), ("dismiss", "b")], ReviewStatus.PENDING, True),  # disputed: fusion's evidence stands
        ([("dismiss", "a")], ReviewStatus.DISMISSED, False),
        ([("dismiss", "a"), ("reopen", "b")], ReviewStatus.PENDING, True),
    ],
)
def test_what_each_review_outcome_does_to_a_violation(decisions: list[tuple[str, str]], review_status: ReviewStatus,
                                                      counted: bool) -> None:
    history = [{"decision": d, "analyst": a, "at": f"2023-05-10T0{k}:00:00Z"} for k, (d, a) in enumerate(decisions)]
    reviewed, view = apply_review(_incident(IncidentStatus.CORROBORATED), history, with_reviewers=False, refusal=lambda d: None)
    assert view["status"] == review_status.value
    assert view["at"] == (history[-1]["at"] if history else None)
    assert (violation_candidates([reviewed]) == [reviewed]) is counted
    assert violation_candidates([reviewed], include_dismissed=True) == [reviewed]
