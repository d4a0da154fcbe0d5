"""Who reviewed an incident and why is for coalition staff; every other reader sees the outcome and its time.

Two public incidents under the demo agreement (both violations): one dismissed with a reason, one with a
single verification and a reason (pending, so still a violation). Each role reads them through the HTTP
app: incidents, one incident, violations, the ACLED export and the live broadcast of a review.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from tests.conftest import native
from tests.test_review_consistency import demo_app

from truceline.access.policy import Role
from truceline.api.auth import read_admin_key
from truceline.bus.ports import Event
from truceline.domain.review import PUBLIC_REVIEW_KEYS

DISMISS_REASON = "quarry blast at Novoselivka, confirmed by the operator"
VERIFY_REASON = "crater imagery from drone pass 7"
STAFF = ("fr-analyst", "fr-supervisor", "admin")
OTHERS = ("fr-observer", "fr-contributor", "press-observer", "ru-observer", "ru-analyst")


class Site:
    """The app, its store, a key per reader, and the two reviewed incidents."""

    def __init__(self, client: TestClient, data_dir: Path) -> None:
        self.client = client
        store = client.app.state.store
        self.headers: dict[str, dict[str, str]] = {"admin": self.auth(read_admin_key(data_dir))}
        self.key_ids: list[str] = []
        for name, org, role in (("fr-analyst", "FR", Role.ANALYST), ("fr-analyst-2", "FR", Role.ANALYST),
                                ("fr-supervisor", "FR", Role.SUPERVISOR), ("fr-observer", "FR", Role.OBSERVER),
                                ("fr-contributor", "FR", Role.CONTRIBUTOR), ("press-observer", "PRESS", Role.OBSERVER),
                                ("ru-observer", "RU", Role.OBSERVER), ("ru-analyst", "RU", Role.ANALYST)):
            key, secret = store.create_api_key(org, role)
            self.headers[name] = self.auth(secret)
            self.key_ids.append(key.key_id)
        docs = [
            native(id="vis-dismissed", time="2023-05-10T01:00:00Z", location={"lat": 48.527, "lon": 37.706, "cep_m": 100},
                   releasable_to=["PUBLIC"]),
            native(id="vis-pending", time="2023-05-10T05:00:00Z", location={"lat": 47.567, "lon": 35.785, "cep_m": 100},
                   releasable_to=["PUBLIC"]),
            native(id="vis-live", time="2023-05-10T09:00:00Z", location={"lat": 48.45, "lon": 34.98, "cep_m": 100},
                   releasable_to=["PUBLIC"]),
        ]
        assert client.post("/api/v1/observations", content=orjson.dumps(docs), headers={**self.headers["admin"], "Content-Type": "application/json"}).status_code == 201
        client.app.state.fusion.run_until_idle()
        self.dismissed = self.incident_holding("vis-dismissed")
        self.pending = self.incident_holding("vis-pending")
        self.live = self.incident_holding("vis-live")  # reviewed only by the broadcast test
        self.review(self.dismissed, "fr-analyst", "dismiss", DISMISS_REASON)
        self.review(self.pending, "fr-analyst", "verify", VERIFY_REASON)

    @staticmethod
    def auth(secret: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {secret}"}

    def incident_holding(self, observation_id: str) -> str:
        features = self.client.get("/api/v1/incidents", headers=self.headers["admin"]).json()["features"]
        return str(next(f["id"] for f in features if observation_id in f["properties"]["observation_ids"]))

    def review(self, incident_id: str, reader: str, decision: str, reason: str) -> dict[str, Any]:
        response = self.client.post(f"/api/v1/incidents/{incident_id}/review", json={"decision": decision, "reason": reason},
                                    headers=self.headers[reader])
        assert response.status_code == 201, response.text
        return dict(response.json())

    def get(self, reader: str, path: str, **params: str) -> Any:
        response = self.client.get(path, params=params, headers=self.headers[reader])
        assert response.status_code == 200, response.text
        return response

    def reader_sees(self, reader: str) -> dict[str, Any]:
        """Every review view the reader gets, by where it came from, and the raw text of all responses."""
        listing = self.get(reader, "/api/v1/incidents").json()["features"]
        one = self.get(reader, f"/api/v1/incidents/{self.dismissed}").json()
        violations = self.get(reader, "/api/v1/violations").json()["features"]
        return {
            "listing": {f["id"]: f["properties"]["review"] for f in listing},
            "one": one["properties"]["review"],
            "violations": {f["properties"]["incident_id"]: f["properties"]["review"] for f in violations},
            "text": orjson.dumps([listing, one, violations]).decode(),
        }


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data_dir = tmp_path_factory.mktemp("visibility") / "data"
    with demo_app(data_dir, ("FR",)) as (client, _):
        yield Site(client, data_dir)


@pytest.mark.parametrize("reader", STAFF)
def test_coalition_staff_see_who_reviewed_and_why(site: Site, reader: str) -> None:
    seen = site.reader_sees(reader)
    for review in (seen["listing"][site.dismissed], seen["one"]):
        assert review["status"] == "dismissed" and review["at"]
        [decision] = review["decisions"]
        assert decision["decision"] == "dismiss" and decision["reason"] == DISMISS_REASON
        assert decision["analyst"] in site.key_ids and decision["org"] == "FR" and decision["ledger"]["salt"]
    pending = seen["violations"][site.pending]  # one verification: still a violation, review open
    assert pending["status"] == "pending" and pending["decisions"][0]["reason"] == VERIFY_REASON


@pytest.mark.parametrize("reader", OTHERS)
def test_other_readers_see_the_outcome_and_its_time_only(site: Site, reader: str) -> None:
    seen = site.reader_sees(reader)
    reviews = [seen["one"], *seen["listing"].values(), *seen["violations"].values()]
    assert {site.dismissed, site.pending} <= set(seen["listing"]) and site.pending in seen["violations"]  # the incidents themselves are visible
    for review in reviews:
        assert set(review) == set(PUBLIC_REVIEW_KEYS)
    assert seen["one"]["status"] == "dismissed" and seen["one"]["at"] == seen["listing"][site.dismissed]["at"]
    assert seen["violations"][site.pending]["status"] == "pending" and seen["violations"][site.pending]["at"]
    for secret in (DISMISS_REASON, VERIFY_REASON, *site.key_ids, "decisions", "salt"):
        assert secret not in seen["text"], secret


def test_a_staff_role_outside_the_coalition_may_not_review(site: Site) -> None:
    before = site.get("fr-analyst", f"/api/v1/incidents/{site.pending}").json()["properties"]["review"]
    refused = site.client.post(f"/api/v1/incidents/{site.pending}/review", json={"decision": "verify", "reason": "RU's own view"},
                               headers=site.headers["ru-analyst"])
    assert refused.status_code == 403 and "a RU analyst may not review" in refused.json()["detail"]
    after = site.get("fr-analyst", f"/api/v1/incidents/{site.pending}").json()["properties"]["review"]
    assert after == before and after["status"] == "pending"  # nothing recorded, the outcome unchanged


@pytest.mark.parametrize("reader", ("admin", "fr-analyst", "press-observer"))
def test_the_acled_export_names_no_reviewer_and_no_reason(site: Site, reader: str) -> None:
    text = site.get(reader, "/api/v1/exports/acled").text
    assert site.dismissed in text and "dismissed by 1 analyst(s)" in text
    for secret in (DISMISS_REASON, VERIFY_REASON, *site.key_ids):
        assert secret not in text


def test_the_live_broadcast_of_a_review_carries_the_outcome_only(site: Site) -> None:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    bus = site.client.app.state.bus

    async def subscribe() -> Any:
        return bus.subscribe()

    async def next_event(subscription: Any) -> Event:
        return await asyncio.wait_for(subscription.__anext__(), 10)

    try:
        subscription = asyncio.run_coroutine_threadsafe(subscribe(), loop).result(10)
        answer = site.review(site.live, "fr-analyst-2", "dismiss", DISMISS_REASON)
        event = asyncio.run_coroutine_threadsafe(next_event(subscription), loop).result(15)
        subscription.close()
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
    assert event.topic == "incident" and event.data["id"] == site.live
    assert event.data["properties"]["action"] == "reviewed"
    assert set(event.data["properties"]["review"]) == set(PUBLIC_REVIEW_KEYS)
    assert DISMISS_REASON not in orjson.dumps(event.data).decode()
    # the reviewing analyst's own answer still shows every decision, and is not the broadcast object
    assert answer["incident"]["properties"]["review"]["decisions"][0]["reason"] == DISMISS_REASON
    assert "action" not in answer["incident"]["properties"]
