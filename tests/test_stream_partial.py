"""Readers of part of an incident's evidence are told that their view changed, and nothing more.

A real server fuses in-process; stream clients read ``/api/v1/stream`` over HTTP, and the analyst's page
runs in chromium. The scene: US, FR and PL are COALITION members; RU is a party whose observer may read
what FR shares with it, not the coalition-only evidence; XX is an organisation in no group. An incident
rests on ``hidden`` (US, COALITION only) and ``shared`` (FR, COALITION and RU):

- PL (coalition) may read all of it and receives the full ``incident`` event, never ``incident.changed``;
- RU may read part of it and receives ``incident.changed`` ``{"id"}`` when its view changed, then fetches
  its view (``GET /incidents/{id}``, fused again from ``shared`` alone);
- XX may read none of it and receives nothing about it.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from tests.conftest import LiveServer, eventually
from tests.test_stream_merges import DEADLINE_S, Reader, new_key, obs, post
from tests.test_web_browser import browser, open_page, shown  # noqa: F401  (browser is a fixture)

from truceline.access.policy import Principal, Role, reader_labels
from truceline.api.routes_stream import view_for
from truceline.bus.ports import Event

HIDDEN = ("hidden", 0.0, 0.0, 50.0, "US", "us-uav-7", "uav", ["COALITION"])
SHARED = ("shared", 30.0, 0.3, 50.0, "FR", "fr-acn-3", "acoustic", ["COALITION", "RU"])


class Scene:
    """The server with its organisations and one stream reader per organisation."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        for org in ("US", "FR", "PL"):
            response = httpx.put(server.url + f"/api/v1/organisations/{org}", json={"groups": ["COALITION"]},
                                 headers={"Authorization": f"Bearer {server.key}"}, timeout=30)  # fmt: skip
            assert response.status_code < 300, response.text
        self.keys = {org: new_key(server, org) for org in ("PL", "RU", "XX")}
        self.pl, self.ru, self.xx = (Reader(server.url, self.keys[org]) for org in ("PL", "RU", "XX"))
        self.sentinels = 0

    def post(self, *docs: tuple[Any, ...]) -> None:
        post(self.server, [obs(*doc) for doc in docs])

    def incident_of(self, *observation_ids: str) -> str:
        """The id of the incident that PL (who reads everything here) was told rests on these observations."""
        wanted = sorted(observation_ids)
        return str(self.pl.wait_for("incident", lambda d: sorted(d["properties"]["observation_ids"]) == wanted)["id"])

    def settle(self) -> str:
        """Everything published so far has reached every reader once the sentinel's event has (one bus, in order)."""
        self.sentinels += 1
        name = f"sentinel-{self.sentinels}"  # far from everything, readable by all
        self.post((name, 90_000.0 * self.sentinels, 7200.0 * self.sentinels, 50.0, "US", "us-uav-9", "uav", ["PUBLIC"]))
        for reader in (self.pl, self.ru, self.xx):
            reader.wait_for("observation", lambda d: d["id"] == name)
        return self.incident_of(name)

    def view(self, org: str, incident_id: str) -> httpx.Response:
        return httpx.get(self.server.url + f"/api/v1/incidents/{incident_id}",
                         headers={"Authorization": f"Bearer {self.keys[org]}"}, timeout=30)  # fmt: skip

    def close(self) -> None:
        for reader in (self.pl, self.ru, self.xx):
            reader.close()


@pytest.fixture
def scene(live_server: LiveServer) -> Any:
    made = Scene(live_server)
    yield made
    made.close()


def events_about(reader: Reader, incident_id: str) -> list[tuple[str, dict[str, Any]]]:
    return [(t, d) for t, d in list(reader.events) if t.startswith("incident") and d.get("id") == incident_id]


def test_a_party_observer_is_told_its_partial_view_changed_and_nothing_else(scene: Scene) -> None:
    scene.post(HIDDEN, SHARED)
    incident = scene.incident_of("hidden", "shared")

    assert scene.ru.wait_for("incident.changed") == {"id": incident}
    sentinel = scene.settle()
    # RU: only the notice, naming nothing it may not read (not the hidden observation, its source or its owner).
    assert [t for t, _ in events_about(scene.ru, incident)] == ["incident.changed"]
    ru_text = orjson.dumps(events_about(scene.ru, incident)).decode()
    assert "hidden" not in ru_text and "us-uav-7" not in ru_text and "US" not in ru_text
    # PL reads all of it: the full event only.
    assert "incident.changed" not in scene.pl.topics()
    assert {t for t, _ in events_about(scene.pl, incident)} == {"incident"}
    # XX reads none of it: nothing at all about it.
    assert scene.xx.incident_ids() <= {sentinel}

    # What the notice asks RU to fetch: its own view, fused from `shared` alone; XX may not fetch it.
    answer = scene.view("RU", incident)
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == incident and answer.json()["properties"]["observation_ids"] == ["shared"]
    assert "hidden" not in answer.text and "us-uav-7" not in answer.text
    assert scene.view("XX", incident).status_code == 404


def test_a_reader_who_saw_nothing_learns_of_the_incident_when_evidence_it_may_read_joins(scene: Scene) -> None:
    scene.post(HIDDEN)
    incident = scene.incident_of("hidden")
    first = scene.settle()
    assert not events_about(scene.ru, incident)  # RU may read none of it yet
    assert scene.view("RU", incident).status_code == 404

    scene.post(SHARED)
    assert scene.incident_of("hidden", "shared") == incident
    # Any-evidence over what joined: RU may read `shared`, so it learns of the incident, by the id its list now shows.
    assert scene.ru.wait_for("incident.changed") == {"id": incident}
    listed = httpx.get(scene.server.url + "/api/v1/incidents", headers={"Authorization": f"Bearer {scene.keys['RU']}"}, timeout=30)
    assert incident in [f["id"] for f in listed.json()["features"]]
    sentinels = {first, scene.settle()}
    assert [t for t, _ in events_about(scene.ru, incident)] == ["incident.changed"]
    assert scene.xx.incident_ids() <= sentinels


def test_evidence_a_reader_may_not_read_joining_its_view_tells_it_nothing(scene: Scene) -> None:
    """RU's view rests on `shared` alone before and after `hidden` joins: no event, so no hint of when it did."""
    scene.post(SHARED)
    incident = scene.incident_of("shared")
    full = scene.ru.wait_for("incident", lambda d: d["id"] == incident)  # RU reads all of it, for now
    assert full["properties"]["observation_ids"] == ["shared"]

    scene.post(HIDDEN)
    assert scene.incident_of("hidden", "shared") == incident
    scene.settle()
    assert [t for t, _ in events_about(scene.ru, incident)] == ["incident"]
    answer = scene.view("RU", incident)
    assert answer.status_code == 200 and answer.json()["properties"]["observation_ids"] == ["shared"]


def test_a_review_reaches_partial_readers_as_a_change_notice(scene: Scene) -> None:
    scene.post(HIDDEN, SHARED)
    incident = scene.incident_of("hidden", "shared")
    scene.ru.wait_for("incident.changed")
    analyst = new_key(scene.server, "FR", "analyst")
    response = httpx.post(scene.server.url + f"/api/v1/incidents/{incident}/review",
                          json={"decision": "dismiss", "reason": "a controlled demolition, announced"},
                          headers={"Authorization": f"Bearer {analyst}"}, timeout=30)  # fmt: skip
    assert response.status_code == 201, response.text

    scene.pl.wait_for("incident", lambda d: d["id"] == incident and d["properties"].get("action") == "reviewed")
    eventually("RU told of the review", lambda: len(events_about(scene.ru, incident)) >= 2)
    sentinel = scene.settle()
    assert [t for t, _ in events_about(scene.ru, incident)] == ["incident.changed", "incident.changed"]
    assert all(d == {"id": incident} for _, d in events_about(scene.ru, incident))
    assert "incident.changed" not in scene.pl.topics()
    assert scene.xx.incident_ids() <= {sentinel}
    assert scene.view("RU", incident).json()["properties"]["status"] == "dismissed"


def test_the_partial_notice_goes_only_to_readers_denied_the_event() -> None:
    notice = Event("incident.changed", {"id": "inc-a"}, owner_org="", evidence=(("FR", ("COALITION", "RU")),), any_evidence=True)
    event = Event(
        "incident", {"id": "inc-a", "properties": {"observation_ids": ["hidden", "shared"]}}, owner_org="",
        evidence=(("US", ("COALITION",)), ("FR", ("COALITION", "RU"))), partial=notice,
    )  # fmt: skip

    def reader(org: str, role: Role = Role.OBSERVER, groups: tuple[str, ...] = ()) -> Principal:
        return Principal(key_id=f"k-{org}", org=org, role=role, labels=reader_labels(org, groups))

    assert view_for(reader("PL", groups=("COALITION",)), event) is event
    assert view_for(reader("RU"), event) is notice
    assert view_for(reader("XX"), event) is None
    assert view_for(reader("ADMIN", Role.ADMIN), event) is event
    assert view_for(reader("RU"), Event("incident", {"id": "inc-a"}, owner_org="", evidence=event.evidence)) is None


def test_a_party_observers_map_follows_an_incident_it_sees_part_of(browser: Any, scene: Scene) -> None:  # noqa: F811
    page = open_page(browser, scene.server, scene.keys["RU"])
    try:
        page.wait_for_function("document.querySelector('#live').dataset.state === 'live'")
        assert shown(page) == 0
        scene.post(HIDDEN, SHARED)
        incident = scene.incident_of("hidden", "shared")
        key = orjson.dumps(incident).decode()
        ids = f"window.truceline.state.incidents.get({key})?.properties.observation_ids"
        page.wait_for_function(f"JSON.stringify({ids}) === '[\"shared\"]'", timeout=DEADLINE_S * 1000)
        assert shown(page) == 1 and page.evaluate(f"window.truceline.view.pointOf({key})") is not None
        page.evaluate(f"window.truceline.select({key})")
        page.locator("#detail").wait_for(state="visible")
        assert "Observations (1)" in page.inner_text("#detail")

        # More evidence RU may read joins: the map, the list and the open detail follow, without a reload.
        scene.post(("shared-2", 10.0, 0.4, 50.0, "PL", "pl-acn-1", "acoustic", ["RU"]))
        assert scene.incident_of("hidden", "shared", "shared-2") == incident
        page.wait_for_function(f"({ids} || []).length === 2", timeout=DEADLINE_S * 1000)
        page.wait_for_function("document.querySelector('#detail').innerText.includes('Observations (2)')", timeout=DEADLINE_S * 1000)
        assert shown(page) == 1
        assert page.evaluate("window.truceline.state.selected") == incident
        assert "hidden" not in page.inner_text("#detail") and "us-uav-7" not in page.inner_text("#detail")
        assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
        assert page.errors == []
    finally:
        page.context.close()
