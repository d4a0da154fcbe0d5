"""``GET /violations`` pages violations, not incidents, and reads every incident the filters match.

One day (2023-05-10) of lone incidents far apart in western Ukraine, all PUBLIC: explosions (each a
violation) alternating with thermal detections (none), and a block of explosions sharing one exact time.
The agreement in force is the demo's plus an echo of its ``no-fire`` rule, so every explosion breaks two
rules and a page may end between the two violations of one incident. The chunk read from the store is made
tiny so pages cross chunk boundaries and the equal-time block.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from tests.conftest import native
from tests.test_review_consistency import demo_app

from truceline.access.policy import Role
from truceline.api import routes_agreement
from truceline.api.auth import read_admin_key
from truceline.report.build import daily_report
from truceline.verify.agreement_loader import load_agreement_files

DAY = date(2023, 5, 10)
DAY_PARAMS = {"since": "2023-05-10T00:00:00Z", "until": "2023-05-11T00:00:00Z"}
SPREAD = 30  # incidents at distinct times, every other one an explosion
BLOCK = 5  # explosions at one and the same instant
EXPLOSIONS = SPREAD // 2 + BLOCK
AGREEMENT_DIR = Path(routes_agreement.__file__).parents[1] / "data" / "agreements" / "isw-2023-03-04"
ECHO_RULE = """
  - id: no-fire-echo
    description: The no-fire rule once more, so that an explosion breaks two rules.
    kinds: [explosion]
    where: anywhere
    attribution: origin
"""


def agreement_with_echo(version: int) -> Any:
    files = {p.name: p.read_bytes() for p in AGREEMENT_DIR.iterdir() if p.suffix in (".yaml", ".geojson")}
    text = files["agreement.yaml"].decode()
    text = text.replace("version: 1\n", f"version: {version}\n", 1).replace("\nrules:\n", "\nrules:\n" + ECHO_RULE.lstrip("\n"), 1)
    return load_agreement_files({**files, "agreement.yaml": text.encode()})


def observations() -> list[dict[str, Any]]:
    docs = []
    for i in range(SPREAD):
        docs.append(native(
            id=f"page-{i:02d}", time=f"2023-05-10T{i // 3:02d}:{(i % 3) * 20:02d}:00Z",
            kind="explosion" if i % 2 == 0 else "thermal",
            location={"lat": 48.0 + 0.25 * (i // 6), "lon": 26.0 + 0.8 * (i % 6), "cep_m": 100},
            source={"id": "fr-radar-1", "type": "radar", "org": "FR"}, releasable_to=["PUBLIC"]))
    for j in range(BLOCK):
        docs.append(native(
            id=f"page-block-{j}", time="2023-05-10T20:00:00Z", kind="explosion",
            location={"lat": 50.0, "lon": 26.0 + 1.0 * j, "cep_m": 100},
            source={"id": "fr-radar-2", "type": "radar", "org": "FR"}, releasable_to=["PUBLIC"]))
    return docs


class Site:
    def __init__(self, client: TestClient, store: Any, data_dir: Path) -> None:
        self.client, self.store = client, store
        self.admin = {"Authorization": f"Bearer {read_admin_key(data_dir)}"}
        self.press = {"Authorization": f"Bearer {store.create_api_key('PRESS', Role.OBSERVER)[1]}"}

    def page(self, **params: Any) -> dict[str, Any]:
        response = self.client.get("/api/v1/violations", params={**DAY_PARAMS, **params}, headers=self.press)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def all_pages(self, **params: Any) -> list[dict[str, Any]]:
        pages = [self.page(**params)]
        while pages[-1]["next_cursor"] is not None:
            assert len(pages) < 500
            pages.append(self.page(**params, cursor=pages[-1]["next_cursor"]))
        return pages


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data_dir = tmp_path_factory.mktemp("paging") / "data"
    with demo_app(data_dir, ("FR",)) as (client, store):
        assert client.app.state.agreement.put(agreement_with_echo(2), "test") is not None
        s = Site(client, store, data_dir)
        response = client.post("/api/v1/observations", content=orjson.dumps(observations()), headers={**s.admin, "Content-Type": "application/json"})
        assert response.status_code == 201, response.text
        client.app.state.fusion.run_until_idle()
        incidents = client.get("/api/v1/incidents", params=DAY_PARAMS, headers=s.press).json()["features"]
        assert len(incidents) == SPREAD + BLOCK  # nothing fused together
        yield s


@pytest.fixture
def tiny_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routes_agreement, "SCAN_CHUNK", 3)


def ids(pages: list[dict[str, Any]]) -> list[str]:
    return [f["id"] for p in pages for f in p["features"]]


def test_one_page_holds_every_violation_and_agrees_with_the_daily_report(site: Site) -> None:
    [page] = site.all_pages()
    assert len(page["features"]) == 2 * EXPLOSIONS and page["next_cursor"] is None
    assert page["incidents_read"] == SPREAD + BLOCK
    report = daily_report(site.store, site.client.app.state.ledger_key, DAY, "public", "md").report
    assert report.violations == len(page["features"]) and report.violating_incidents == EXPLOSIONS


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 2 * EXPLOSIONS - 1, 2 * EXPLOSIONS])
def test_following_the_cursor_returns_every_violation_once_in_order(site: Site, tiny_chunks: None, limit: int) -> None:
    [whole] = site.all_pages()
    pages = site.all_pages(limit=limit)
    assert ids(pages) == ids([whole])  # none lost, none twice, the same order (across the equal-time block too)
    assert all(len(p["features"]) == limit for p in pages[:-1]) and 1 <= len(pages[-1]["features"]) <= limit
    assert len(pages) == -(-2 * EXPLOSIONS // limit)  # no empty page at the end: the last full page says it is last


def test_limit_caps_violations_not_incidents_and_filters_come_first(site: Site, tiny_chunks: None) -> None:
    first = site.page(limit=5)
    assert len(first["features"]) == 5 and first["next_cursor"]  # the first five incidents hold only three explosions
    echo = site.page(limit=4, rule="no-fire-echo")
    assert [f["properties"]["rule_id"] for f in echo["features"]] == ["no-fire-echo"] * 4
    everything = site.all_pages(rule="no-fire-echo", limit=6)
    assert len(ids(everything)) == EXPLOSIONS


def test_a_request_reads_at_most_the_ceiling_and_says_where_to_go_on(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    [whole] = site.all_pages()
    monkeypatch.setattr(routes_agreement, "SCAN_CHUNK", 2)
    monkeypatch.setattr(routes_agreement, "SCAN_CEILING", 4)
    nothing = site.all_pages(party="XX")  # matches no violation: every page reads its ceiling and moves on
    assert ids(nothing) == [] and len(nothing) > 1
    assert all(p["incidents_read"] <= 4 + 2 for p in nothing)
    assert sum(1 for p in nothing if p["next_cursor"]) == len(nothing) - 1
    pages = site.all_pages(limit=1000)
    assert len(pages) > 1 and ids(pages) == ids([whole])  # short pages still add up to everything


def test_a_bad_cursor_is_refused_and_one_from_another_agreement_version_too(site: Site) -> None:
    for bad in ("not-a-cursor", "W10", "WzEsMl0"):
        response = site.client.get("/api/v1/violations", params={**DAY_PARAMS, "cursor": bad}, headers=site.press)
        assert response.status_code == 422 and "cursor" in response.json()["detail"], response.text
    cursor = site.page(limit=3)["next_cursor"]
    _, incident_id, emitted, issued_for = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    for t_us in (10**18, -(10**18), 2**70, "1e400"):  # past year 9999 or before year 1: no time of any incident
        raw = f'[{t_us if isinstance(t_us, str) else t_us},{orjson.dumps(incident_id).decode()},{emitted},"{issued_for}"]'
        forged = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
        response = site.client.get("/api/v1/violations", params={**DAY_PARAMS, "cursor": forged}, headers=site.press)
        assert response.status_code == 422 and "cursor" in response.json()["detail"], (t_us, response.text)
    assert site.client.app.state.agreement.put(agreement_with_echo(3), "test") is not None
    stale = site.client.get("/api/v1/violations", params={**DAY_PARAMS, "cursor": cursor}, headers=site.press)
    assert stale.status_code == 409 and "agreement in force changed" in stale.json()["detail"]
