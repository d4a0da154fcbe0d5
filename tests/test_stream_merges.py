"""Incidents that fusion merges away are announced on the event stream, only to readers who saw them.

A real server fuses in-process; stream clients read ``/api/v1/stream`` over HTTP, and the analyst's page
runs in chromium. Two observations 600 m apart make two incidents; a sharp fix between them makes one,
and the loser is announced as ``incident.merged``. The scene is the one ``test_fuse_association`` checks
on the fuser itself.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from tests.conftest import LiveServer, native, start_server
from tests.test_web_browser import browser, open_page, shown  # noqa: F401  (browser is a fixture)

from truceline.access.policy import Principal, Role, reader_labels
from truceline.api.routes_stream import view_for
from truceline.bus.ports import Event
from truceline.locate import LocalFrame

FRAME = LocalFrame(48.0, 37.8)
T0 = datetime(2023, 4, 2, 3, 0, tzinfo=UTC)
DEADLINE_S = 60.0
Received = list[tuple[str, dict[str, Any]]]


def obs(oid: str, x: float, t: float, sigma: float, org: str, source: str, stype: str, to: list[str]) -> dict[str, Any]:
    """A point observation ``x`` metres east of the frame origin, ``t`` seconds after 03:00."""
    lat, lon = FRAME.to_geodetic(x, 0.0)
    return native(
        id=oid, time=(T0 + timedelta(seconds=t)).isoformat(), time_uncertainty_s=1.0, kind="impact",
        location={"lat": float(lat), "lon": float(lon), "cep_m": sigma * 1.1774},
        source={"id": source, "type": stype, "org": org}, releasable_to=to,
    )  # fmt: skip


class Reader:
    """One stream client in a thread, collecting every event it is sent."""

    def __init__(self, url: str, key: str) -> None:
        self.events: Received = []
        self.ready = threading.Event()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.error: httpx.HTTPError | None = None
        self._thread = threading.Thread(target=self._run, args=(url, key), daemon=True)
        self._thread.start()
        assert self.ready.wait(30), "the stream did not connect"

    def _run(self, url: str, key: str) -> None:
        try:
            with httpx.stream("GET", url + "/api/v1/stream", headers={"Authorization": f"Bearer {key}"}, timeout=None) as response:
                response.raise_for_status()
                topic = None
                for line in response.iter_lines():
                    if line.startswith(": connected"):
                        self.ready.set()
                    elif line.startswith("event: "):
                        topic = line[7:]
                    elif line.startswith("data: ") and topic:
                        with self._lock:
                            self.events.append((topic, orjson.loads(line[6:])))
                    if self._stop.is_set():
                        return
        except httpx.HTTPError as exc:  # the server stopping at the end of the test ends the stream too
            self.error = exc

    def wait_for(self, topic: str, test: Any = lambda data: True) -> dict[str, Any]:
        """The first event of ``topic`` passing ``test``, polling until a generous deadline."""
        return self.events[self.position(topic, test)][1]

    def position(self, topic: str, test: Any = lambda data: True) -> int:
        """Where in the stream the first event of ``topic`` passing ``test`` came (waiting for it)."""
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            with self._lock:
                for n, (seen, data) in enumerate(self.events):
                    if seen == topic and test(data):
                        return n
            time.sleep(0.05)
        raise AssertionError(f"no {topic} event within {DEADLINE_S:.0f} s; got {self.topics()} (stream error: {self.error})")

    def topics(self) -> list[str]:
        with self._lock:
            return [t for t, _ in self.events]

    def incident_ids(self) -> set[str]:
        """Every incident id this reader was told about, in any event."""
        with self._lock:
            ids: set[str] = set()
            for topic, data in self.events:
                if topic.startswith("incident"):
                    ids.update(v for v in (data.get("id"), data.get("into")) if v)
            return ids

    def close(self) -> None:
        self._stop.set()


@pytest.fixture
def server(tmp_path: Path) -> Any:
    live = start_server(tmp_path / "data")
    yield live
    live.process.terminate()
    live.process.wait(timeout=30)


def post(server: LiveServer, docs: list[dict[str, Any]]) -> None:
    response = httpx.post(server.url + "/api/v1/observations", content=orjson.dumps(docs),
                          headers={"Authorization": f"Bearer {server.key}", "Content-Type": "application/json"}, timeout=30)  # fmt: skip
    assert response.status_code == 201, response.text


def new_key(server: LiveServer, org: str, role: str = "observer") -> str:
    response = httpx.post(server.url + "/api/v1/keys", json={"org": org, "role": role},
                          headers={"Authorization": f"Bearer {server.key}"}, timeout=30)  # fmt: skip
    assert response.status_code < 300, response.text
    return str(response.json()["key"])


def created_from(reader: Reader, observation_id: str) -> str:
    data = reader.wait_for("incident", lambda d: d["properties"]["observation_ids"] == [observation_id])
    return str(data["id"])


def test_a_bridging_observation_merges_two_incidents_and_the_stream_says_so(server: LiveServer) -> None:
    for org in ("UA", "FR", "US", "PL"):
        response = httpx.put(server.url + f"/api/v1/organisations/{org}", json={"groups": ["COALITION"]},
                             headers={"Authorization": f"Bearer {server.key}"}, timeout=30)  # fmt: skip
        assert response.status_code < 300, response.text
    admin = Reader(server.url, server.key)
    pl = Reader(server.url, new_key(server, "PL"))  # reads x (released to PL) and z, not y
    fr = Reader(server.url, new_key(server, "FR"))  # reads y (its own) and z, not x
    ru = Reader(server.url, new_key(server, "RU"))  # in no group: reads none of them
    try:
        post(server, [
            obs("x", 0.0, 0.0, 100.0, "UA", "ua-acn-1", "acoustic", ["PL"]),
            obs("y", 600.0, 0.5, 100.0, "FR", "fr-acn-1", "acoustic", ["FR"]),
        ])  # fmt: skip
        x_incident, y_incident = created_from(admin, "x"), created_from(admin, "y")
        assert x_incident != y_incident
        post(server, [obs("z", 320.0, 0.2, 20.0, "US", "us-uav-1", "uav", ["COALITION"])])

        merged = admin.position("incident.merged")
        assert admin.events[merged][1] == {"id": x_incident, "into": y_incident}
        survivor = admin.position("incident", lambda d: d["id"] == y_incident and "z" in d["properties"]["observation_ids"])
        assert sorted(admin.events[survivor][1]["properties"]["observation_ids"]) == ["x", "y", "z"]
        assert survivor < merged  # a client knows the incident named by "into" when told of the merge
        # The stored incidents agree: the loser is gone.
        listed = httpx.get(server.url + "/api/v1/incidents", headers={"Authorization": f"Bearer {server.key}"}, timeout=30)
        assert [f["id"] for f in listed.json()["features"]] == [y_incident]

        # PL saw the loser (built on x alone), so it is told where it went.
        assert created_from(pl, "x") == x_incident
        assert pl.wait_for("incident.merged") == {"id": x_incident, "into": y_incident}
        # PL may read x and z but not y, so of the survivor it is told only that its view changed, before the merge.
        assert pl.position("incident.changed", lambda d: d == {"id": y_incident}) < pl.position("incident.merged")

        # Everything published before this sentinel has reached every reader once the sentinel has.
        post(server, [obs("sentinel", 90_000.0, 7200.0, 50.0, "US", "us-uav-2", "uav", ["PUBLIC"])])
        for reader in (fr, ru):
            reader.wait_for("observation", lambda d: d["id"] == "sentinel")
        # FR never saw the loser (x is not released to it): no event names it.
        assert "incident.merged" not in fr.topics() and x_incident not in fr.incident_ids()
        assert created_from(fr, "y") == y_incident
        # z, which FR may read, joined the survivor: FR's view of it changed.
        assert fr.wait_for("incident.changed") == {"id": y_incident}
        assert "incident.changed" not in admin.topics()  # a reader of everything gets the full events only
        # RU may read none of it: no incident id at all reaches it.
        assert not ru.incident_ids() - {created_from(ru, "sentinel")}
    finally:
        for reader in (admin, pl, fr, ru):
            reader.close()


def test_a_guarded_field_is_null_for_a_reader_who_may_not_see_its_evidence() -> None:
    """``into`` names the survivor only to readers who may read some of its observations."""
    event = Event(
        "incident.merged", {"id": "inc-a", "into": "inc-b"}, owner_org="",
        evidence=(("UA", ("COALITION",)),), any_evidence=True, guarded=(("into", (("FR", ("FR",)),)),),
    )  # fmt: skip

    def reader(org: str, role: Role = Role.OBSERVER, groups: tuple[str, ...] = ()) -> Principal:
        return Principal(key_id=f"k-{org}", org=org, role=role, labels=reader_labels(org, groups))

    assert view_for(reader("PL", groups=("COALITION",)), event).data == {"id": "inc-a", "into": None}  # type: ignore[union-attr]
    assert view_for(reader("FR", groups=("COALITION",)), event).data == {"id": "inc-a", "into": "inc-b"}  # type: ignore[union-attr]
    assert view_for(reader("RU"), event) is None
    assert view_for(reader("ADMIN", Role.ADMIN), event) is event
    assert event.data["into"] == "inc-b"  # the published event itself is never changed


def test_the_page_drops_a_merged_incident_and_its_detail_follows_the_survivor(browser: Any, server: LiveServer) -> None:  # noqa: F811 - the fixture imported above
    post(server, [
        obs("x", 0.0, 0.0, 100.0, "UA", "ua-acn-1", "acoustic", ["COALITION"]),
        obs("y", 600.0, 0.5, 100.0, "FR", "fr-acn-1", "acoustic", ["COALITION"]),
    ])  # fmt: skip
    headers = {"Authorization": f"Bearer {server.key}"}

    def incidents() -> dict[str, str]:
        """Founding observation → id of each one-observation incident."""
        found = httpx.get(server.url + "/api/v1/incidents", headers=headers, timeout=30).json()["features"]
        return {f["properties"]["observation_ids"][0]: f["id"] for f in found if len(f["properties"]["observation_ids"]) == 1}

    deadline = time.monotonic() + DEADLINE_S
    while len(ids := incidents()) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert set(ids) == {"x", "y"}, f"fusion made {ids} of x and y"
    x_incident, y_incident = ids["x"], ids["y"]
    page = open_page(browser, server, server.key)
    try:
        page.wait_for_function("document.querySelector('#live').dataset.state === 'live'")
        assert shown(page) == 2
        page.evaluate(f"window.truceline.select({orjson.dumps(x_incident).decode()})")
        page.locator("#detail").wait_for(state="visible")
        post(server, [obs("z", 320.0, 0.2, 20.0, "US", "us-uav-1", "uav", ["COALITION"])])
        page.wait_for_function(f"window.truceline.state.selected === {orjson.dumps(y_incident).decode()}", timeout=DEADLINE_S * 1000)
        assert shown(page) == 1
        assert page.evaluate(f"window.truceline.state.incidents.has({orjson.dumps(x_incident).decode()})") is False
        assert page.evaluate(f"window.truceline.view.pointOf({orjson.dumps(x_incident).decode()})") is None
        assert y_incident in page.inner_text("#detail")
        assert page.errors == []
    finally:
        page.context.close()


def test_an_analyst_reviews_a_split_view_as_its_incident_and_the_stream_carries_the_whole_incident(server: LiveServer) -> None:
    """PL's analyst may read x and y but not z, which joins them: PL sees the incident as two partial views.
    Reviewing either view reviews the incident; readers of everything are sent the whole incident, not PL's view."""
    for org in ("US", "PL"):
        response = httpx.put(server.url + f"/api/v1/organisations/{org}", json={"groups": ["COALITION"]},
                             headers={"Authorization": f"Bearer {server.key}"}, timeout=30)  # fmt: skip
        assert response.status_code < 300, response.text
    admin = Reader(server.url, server.key)
    try:
        post(server, [
            obs("x", 0.0, 0.0, 100.0, "UA", "ua-acn-1", "acoustic", ["PL"]),
            obs("y", 600.0, 0.5, 100.0, "FR", "fr-acn-1", "acoustic", ["PL"]),
            obs("z", 320.0, 0.2, 20.0, "US", "us-uav-1", "uav", ["US"]),
        ])  # fmt: skip
        whole = admin.wait_for("incident", lambda d: sorted(d["properties"]["observation_ids"]) == ["x", "y", "z"])["id"]
        analyst = {"Authorization": f"Bearer {new_key(server, 'PL', 'analyst')}"}
        views = httpx.get(server.url + f"/api/v1/incidents/{whole}", headers=analyst, timeout=30).json()
        assert sorted(f["id"] for f in views["features"]) == [f"{whole}.1", f"{whole}.2"]

        answer = httpx.post(server.url + f"/api/v1/incidents/{whole}.2/review", json={"decision": "verify"}, headers=analyst, timeout=30)
        assert answer.status_code == 201, answer.text
        assert answer.json()["incident"]["id"] == f"{whole}.2"  # the analyst gets back the view it reviewed
        announced = admin.wait_for("incident", lambda d: d["id"] == whole and d["properties"].get("action") == "reviewed")
        assert sorted(announced["properties"]["observation_ids"]) == ["x", "y", "z"]
        assert announced["properties"]["review"]["verified_by"] == 1
        stored = httpx.get(server.url + f"/api/v1/incidents/{whole}", headers={"Authorization": f"Bearer {server.key}"}, timeout=30)
        assert stored.json()["properties"]["review"]["verified_by"] == 1
    finally:
        admin.close()
