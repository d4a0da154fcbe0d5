"""The analyst's page in a real browser (Debian's chromium driven by Playwright) against a real server.

One server for the module, seeded through the API with observations from three organisations over five
days; each test gets fresh browser contexts. Nothing here measures time: see ``bench/page.py``.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np
import pytest
from PIL import Image
from tests.conftest import REPO, LiveServer, native, start_server

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
AGREEMENT = REPO / "src" / "truceline" / "data" / "agreements" / "isw-2023-03-04" / "agreement.yaml"
KINDS = ["explosion", "impact", "thermal", "flight", "equipment-sighting", "launch"]
SOURCES = [("UA", "acoustic"), ("FR", "uav"), ("US", "satellite")]


def seed_observations() -> list[dict[str, Any]]:
    """12 lone observations far apart in space and time, and one pair two organisations saw together."""
    docs = []
    for i in range(12):
        org, kind_of_source = SOURCES[i % 3]
        docs.append(native(
            id=f"web-{i:02d}", time=f"2023-05-{1 + i % 5:02d}T{2 + 2 * (i // 5):02d}:00:00Z", kind=KINDS[i % 6],
            location={"lat": 47.2 + 0.2 * i, "lon": 34.6 + 0.3 * i, "cep_m": 200},
            source={"id": f"{org.lower()}-{kind_of_source}-1", "type": kind_of_source, "org": org},
        ))
    for org, kind_of_source, offset in (("UA", "acoustic", 0), ("FR", "uav", 4)):
        docs.append(native(
            id=f"web-pair-{org}", time="2023-05-03T12:00:00Z", time_uncertainty_s=5, kind="explosion",
            location={"lat": 47.95 + offset * 1e-4, "lon": 37.5, "cep_m": 100},
            source={"id": f"{org.lower()}-{kind_of_source}-9", "type": kind_of_source, "org": org},
        ))
    return docs


class Site:
    """The running server, its keys, and the incidents it fused from the seed."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.url = server.url
        self.admin = server.key
        for org in ("UA", "FR", "US", "PL"):
            self.call("PUT", f"/api/v1/organisations/{org}", {"groups": ["COALITION"]})
        self.analyst = self.new_key("FR", "analyst")
        self.analyst2 = self.new_key("UA", "analyst")
        self.observer = self.new_key("PL", "observer")
        self.outsider = self.new_key("XX", "observer")  # in no group: may read nothing of the seed

    def call(self, method: str, path: str, body: Any = None, key: str | None = None) -> Any:
        response = httpx.request(method, self.url + path, json=body, timeout=30,
                                 headers={"Authorization": f"Bearer {key or self.admin}"})
        assert response.status_code < 300, response.text
        return response.json()

    def new_key(self, org: str, role: str) -> str:
        return str(self.call("POST", "/api/v1/keys", {"org": org, "role": role})["key"])

    def incidents(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "/api/v1/incidents?limit=1000")["features"])

    def wait_for_incidents(self, count: int) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = self.incidents()
            if len(found) >= count:
                return found
            time.sleep(0.2)
        raise AssertionError(f"fusion produced {len(self.incidents())} incidents, expected {count}")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    server = start_server(tmp_path_factory.mktemp("web") / "data", ["--agreement", str(AGREEMENT)])
    try:
        s = Site(server)
        s.call("POST", "/api/v1/observations", seed_observations())
        s.wait_for_incidents(13)
        yield s
    finally:
        server.process.terminate()
        server.process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: .ci/services installs Debian's chromium")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


def open_page(browser: Any, site: Site, key: str, requests: list[Any] | None = None) -> Any:
    """A fresh context (own localStorage) on the page, the key given once in the fragment, page ready."""
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    if requests is not None:
        page.on("request", lambda r: requests.append(r))
    page.goto(f"{site.url}/#key={key}")
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    page.errors = errors
    return page


def shown(page: Any) -> int:
    return int(page.get_attribute("#count", "data-shown"))


def test_page_loads_from_localhost_only_and_draws_the_map(browser: Any, site: Site) -> None:
    requests: list[Any] = []
    page = open_page(browser, site, site.admin, requests)
    try:
        page.wait_for_function("document.querySelector('#live').dataset.state === 'live'")
        hosts = {urlsplit(r.url).hostname for r in requests if not r.url.startswith(("data:", "blob:"))}
        assert hosts == {"127.0.0.1"}, sorted(r.url for r in requests)
        urls = [r.url for r in requests]
        assert any(u.endswith("/static/vendor/world-atlas/countries-50m.json") for u in urls)
        assert any("/api/v1/incidents" in u for u in urls) and any("/api/v1/agreement" in u for u in urls)
        assert "#key=" not in page.url and page.evaluate("localStorage.getItem('truceline-key')") == site.admin
        total = len(site.incidents())
        assert total >= 13 and shown(page) == total
        assert page.evaluate("window.truceline.view.layers.incidents.getLayers().length") == total
        pixels = np.asarray(Image.open(io.BytesIO(page.locator("#map").screenshot())).convert("RGB"), dtype=float)
        assert pixels.std() > 15  # not a blank canvas: sea, land, borders, lines and markers
        colours = {tuple(c) for c in pixels.reshape(-1, 3)[::7].astype(int)}
        assert len(colours) > 50
        assert page.errors == []
        # The key stays in this browser: a reload needs no fragment.
        page.goto(site.url + "/")
        page.wait_for_selector("body[data-ready='1']")
        assert shown(page) == total
    finally:
        page.context.close()


def test_the_map_has_a_legend_for_the_agreements_lines_and_zones(browser: Any, site: Site) -> None:
    page = open_page(browser, site, site.admin)
    try:
        legend = page.locator("#map-legend")
        legend.wait_for(state="visible")
        kinds = page.eval_on_selector_all("#map-legend .map-legend-row", "rows => rows.map(r => r.dataset.kind)")
        # what the demo agreement draws
        assert kinds == ["contact-line", "security-strip", "withdrawal", "no-fly", "maritime-exclusion", "corridor"]
        assert legend.inner_text().split("\n") == ["line of contact", "security strip", "withdrawal lines (by weapon class)", "no-fly area",
                                                    "maritime exclusion zone", "sea corridor"]
        # each swatch is drawn in its layer's colour: the legend and the map share one table
        strokes = page.eval_on_selector_all("#map-legend svg > *", "marks => marks.map(m => m.getAttribute('stroke'))")
        styles = page.evaluate("import('/static/js/map.js').then(m => Object.values(m.AGREEMENT_STYLES).map(e => e.style.color))")
        assert strokes == styles
        box = legend.bounding_box()
        map_box = page.locator("#map").bounding_box()
        assert box is not None and map_box is not None and box["x"] >= map_box["x"] and box["y"] + box["height"] <= map_box["y"] + map_box["height"]
        assert page.errors == []
    finally:
        page.context.close()


def test_clicking_an_incident_on_the_map_opens_its_detail(browser: Any, site: Site) -> None:
    pair = next(f for f in site.incidents() if len(f["properties"]["observation_ids"]) == 2)
    page = open_page(browser, site, site.analyst)
    try:
        lon, lat = pair["geometry"]["coordinates"]
        page.evaluate(f"void window.truceline.view.map.setView([{lat}, {lon}], 10, {{animate: false}})")
        page.wait_for_timeout(100)
        point = page.evaluate(f"window.truceline.view.pointOf({json.dumps(pair['id'])})")
        box = page.locator("#map").bounding_box()
        page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
        detail = page.locator("#detail")
        detail.wait_for(state="visible")
        assert pair["id"] in detail.inner_text()
        page.wait_for_selector("#detail .obs-table tbody tr >> nth=1")
        text = detail.inner_text()
        assert "web-pair-UA" in text and "web-pair-FR" in text
        assert "2 independent source groups" in text and "FR/uav" in text and "UA/acoustic" in text
        assert "B2: source usually reliable, information probably true" in page.inner_html("#detail")
        assert "Breaks rule no-fire" in text and "undetermined" in text.lower()
        assert page.evaluate("window.truceline.view.layers.selection.getLayers().length") >= 1  # the ellipse
        assert page.is_enabled("#detail button.review-verify")
        assert page.errors == []
    finally:
        page.context.close()


def test_a_review_reaches_another_browser_live_and_observers_may_not_review(browser: Any, site: Site) -> None:
    target = next(f for f in site.incidents() if f["properties"]["kind"] == "impact")
    analyst = open_page(browser, site, site.analyst)
    watcher = open_page(browser, site, site.observer)
    try:
        watcher.wait_for_function("document.querySelector('#live').dataset.state === 'live'")
        watcher.evaluate(f"void window.truceline.select({json.dumps(target['id'])})")
        status = watcher.locator("[data-testid=detail-status]")
        assert status.inner_text() == target["properties"]["status"]
        assert watcher.is_disabled("#detail button.review-verify") and watcher.is_disabled("#detail button.review-dismiss")
        assert "role observer) may not review" in watcher.inner_text("#review-why")

        analyst.evaluate(f"void window.truceline.select({json.dumps(target['id'])})")
        analyst.click("#detail button.review-dismiss")  # no reason yet: refused in the page, nothing sent
        assert "needs a reason" in analyst.inner_text("#review-message")
        analyst.fill("#review-reason", "crater is from 2022, not a new impact")
        analyst.click("#detail button.review-dismiss")
        analyst.wait_for_function("document.querySelector('[data-testid=detail-status]').textContent === 'dismissed'")

        # The watcher learns it over the stream, without reloading.
        watcher.wait_for_function(
            "document.querySelector('[data-testid=detail-status]').textContent === 'dismissed'", timeout=15_000)
        # An observer sees the outcome and its time; who dismissed it and why is for coalition staff.
        assert "crater is from 2022" not in watcher.inner_text("#detail")
        assert "Review dismissed as of" in watcher.inner_text("#detail .review-outcome")
        assert "crater is from 2022" in analyst.inner_text("#detail .review-history")
        assert watcher.errors == [] and analyst.errors == []
        assert watcher.evaluate("performance.getEntriesByType('navigation').length") == 1
        assert site.call("GET", f"/api/v1/incidents/{target['id']}")["properties"]["status"] == "dismissed"
    finally:
        site.call("POST", f"/api/v1/incidents/{target['id']}/review", {"decision": "reopen"}, key=site.analyst)
        analyst.context.close()
        watcher.context.close()


def test_a_party_analyst_sees_why_it_may_not_review(browser: Any, site: Site) -> None:
    party_analyst = site.new_key("RU", "analyst")  # RU is in no group: a party, not the monitoring mission
    before = len(site.incidents())
    site.call("POST", "/api/v1/observations", native(
        id="web-ru-own", time="2023-05-04T21:00:00Z", kind="explosion", location={"lat": 50.45, "lon": 30.52, "cep_m": 100},
        source={"id": "ru-uav-1", "type": "uav", "org": "RU"}, releasable_to=["RU"]))
    own = next(f for f in site.wait_for_incidents(before + 1) if "web-ru-own" in f["properties"]["observation_ids"])
    page = open_page(browser, site, party_analyst)
    try:
        assert page.evaluate("window.truceline.state.whoami.may_review") is False
        page.evaluate(f"void window.truceline.select({json.dumps(own['id'])})")
        page.wait_for_selector("#detail:not([hidden]) #review-why")
        for decision in ("verify", "dismiss", "reopen"):
            assert page.is_disabled(f"#detail button.review-{decision}")
        assert page.is_disabled("#review-reason")
        why = page.inner_text("#review-why")
        assert "(RU, role analyst) may not review" in why and "RU is not in the COALITION group" in why
        assert page.errors == []
    finally:
        page.context.close()


def test_new_incidents_arrive_live(browser: Any, site: Site) -> None:
    page = open_page(browser, site, site.observer)
    try:
        page.wait_for_function("document.querySelector('#live').dataset.state === 'live'")
        before = shown(page)
        doc = native(id="web-live-1", time="2023-05-05T20:00:00Z", kind="explosion",
                     location={"lat": 46.9, "lon": 32.1, "cep_m": 100},
                     source={"id": "us-satellite-2", "type": "satellite", "org": "US"})
        site.call("POST", "/api/v1/observations", doc)
        page.wait_for_function(f"Number(document.querySelector('#count').dataset.shown) === {before + 1}", timeout=15_000)
        assert "live change" in page.inner_text("#live-count")  # fusion may also finalise older incidents
    finally:
        page.context.close()


def test_filters_and_time_change_the_counts(browser: Any, site: Site) -> None:
    page = open_page(browser, site, site.admin)
    try:
        incidents = site.incidents()
        total = len(incidents)
        assert shown(page) == total
        thermal = sum(f["properties"]["kind"] == "thermal" for f in incidents)
        assert page.inner_text("fieldset[data-facet=kind] .count[data-value=thermal]") == str(thermal)
        page.uncheck("fieldset[data-facet=kind] input[value=thermal]")
        page.wait_for_function(f"Number(document.querySelector('#count').dataset.shown) === {total - thermal}")
        fr = sum(any(g.startswith("FR/") for g in f["properties"]["source_groups"]) and f["properties"]["kind"] != "thermal"
                 for f in incidents)
        page.click("fieldset[data-facet=org] button.link")  # none
        page.check("fieldset[data-facet=org] input[value=FR]")
        page.wait_for_function(f"Number(document.querySelector('#count').dataset.shown) === {fr}")
        assert page.evaluate("window.truceline.view.layers.incidents.getLayers().length") == fr
        page.click("fieldset[data-facet=org] button.link")  # all again
        page.check("fieldset[data-facet=kind] input[value=thermal]")
        page.wait_for_function(f"Number(document.querySelector('#count').dataset.shown) === {total}")

        # One day: the slider's first stop is the first incident's day.
        days = sorted({f["properties"]["time"][:10] for f in incidents})
        page.select_option("#window", "1")
        page.eval_on_selector("#day", "(e) => { e.value = '0'; e.dispatchEvent(new Event('input')); }")
        first_day = sum(f["properties"]["time"][:10] == days[0] for f in incidents)
        page.wait_for_function(f"Number(document.querySelector('#count').dataset.shown) === {first_day}")
        assert days[0] in page.inner_text("#day-label")
        assert f"date={days[0]}" in page.get_attribute("#report-link", "href")

        # Observations on demand: those of the window, in the view.
        page.check("#layer-observations")
        page.wait_for_function("/in view/.test(document.querySelector('#observations-note').textContent)")
        on_day = sum(f["properties"]["time"][:10] == days[0] for f in incidents for _ in f["properties"]["observation_ids"])
        assert page.evaluate("window.truceline.view.layers.observations.getLayers().length") == on_day

        # Filtering everything away says so, and offers the way back.
        page.click("fieldset[data-facet=status] button.link")
        page.wait_for_selector("#incident-list .empty")
        page.click("#incident-list .empty button")
        page.wait_for_function(f"Number(document.querySelector('#count').dataset.shown) === {total}")
    finally:
        page.context.close()


def test_focus_in_the_detail_survives_violations_arriving_late(browser: Any, site: Site) -> None:
    """Violations load after the page is ready. Arriving while a keyboard user reads an incident's detail, they
    draw the detail again; the focus must stay in it (it fell back to the page: CI under load, 2026-12-06)."""
    held: list[Any] = []
    holding = [True]
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    # Violations are answered only once the detail is open.
    page.route("**/api/v1/violations*", lambda route: held.append(route) if holding[0] else route.continue_())
    try:
        page.goto(f"{site.url}/#key={site.analyst}")
        page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        page.locator("#incident-list button.incident").first.focus()
        page.keyboard.press("Enter")
        page.wait_for_selector("#detail:not([hidden])")
        assert page.evaluate("document.activeElement.id") == "detail-title"
        page.wait_for_function("document.body.dataset.judged !== '1'")  # still waiting for the violations
        while not held:
            page.wait_for_timeout(50)
        holding[0] = False
        for route in held:
            route.continue_()
        page.wait_for_selector("body[data-judged='1']", timeout=30_000)
        page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
        assert page.evaluate("document.activeElement.id") == "detail-title"
    finally:
        context.close()


def test_keyboard_only_use_and_the_report_link(browser: Any, site: Site) -> None:
    requests: list[Any] = []
    page = open_page(browser, site, site.analyst, requests)
    try:
        first = page.locator("#incident-list button.incident").first
        first.focus()
        focused = page.evaluate("document.activeElement.dataset.id")
        # Anything that re-renders (a live update; here the time window re-applied) rebuilds the list, and
        # the keyboard user's place must survive it.
        page.evaluate("""() => new Promise((done) => {
            document.querySelector('#window').dispatchEvent(new Event('change'));
            requestAnimationFrame(() => requestAnimationFrame(done));
        })""")
        assert page.evaluate("document.activeElement.dataset.id") == focused
        page.keyboard.press("Enter")
        page.wait_for_selector("#detail:not([hidden])")
        assert page.evaluate("document.activeElement.id") == "detail-title"
        page.keyboard.press("Escape")
        page.wait_for_selector("#detail", state="hidden")
        assert page.evaluate("document.activeElement.classList.contains('incident')")

        page.select_option("#report-audience", "public")
        page.locator("#report-link").focus()
        with page.expect_request(lambda r: "/api/v1/reports/daily" in r.url) as caught:
            page.keyboard.press("Enter")
        query = parse_qs(urlsplit(caught.value.url).query)
        day = page.inner_text("#day-label")[:10]
        assert query == {"date": [day], "format": ["html"], "audience": ["public"]}
        assert caught.value.headers["authorization"] == f"Bearer {site.analyst}"
    finally:
        page.context.close()


def test_refused_key_and_empty_view(browser: Any, site: Site) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    try:
        page.goto(f"{site.url}/#key=tl_not-a-key")
        page.wait_for_selector("#key-section:not([hidden])")
        assert "refused" in page.inner_text("#key-why")
        assert page.evaluate("localStorage.getItem('truceline-key')") is None
        page.fill("#key-input", site.outsider)
        page.press("#key-input", "Enter")
        page.wait_for_selector("body[data-ready='1']")
        assert shown(page) == 0 and "No incidents yet" in page.inner_text("#incident-list")
        assert "XX · observer" in page.inner_text("#who")
    finally:
        context.close()


def test_an_engagement_shows_launch_trajectory_and_impact_as_one_act(browser: Any, site: Site) -> None:
    """A launch heard 16 km inside RU-held ground and the impact it fired: the impact's violation names RU
    through the link, the detail lists the engagement with both ends, and the map draws both ends and the line."""
    shot = [
        native(id="web-shot-launch", time="2023-05-04T22:00:00Z", time_uncertainty_s=2, kind="launch",
               location={"lat": 48.0, "lon": 37.95, "cep_m": 150},
               source={"id": "pl-acoustic-4", "type": "acoustic", "org": "PL"}),
        native(id="web-shot-impact", time="2023-05-04T22:01:02Z", time_uncertainty_s=2, kind="impact",
               location={"lat": 48.0, "lon": 37.55, "cep_m": 200},
               source={"id": "fr-uav-4", "type": "uav", "org": "FR"}),
    ]
    site.call("POST", "/api/v1/observations", shot)
    deadline = time.monotonic() + 30
    ids: dict[str, str] = {}
    while time.monotonic() < deadline and len(ids) < 2:
        ids = {o: f["id"] for f in site.incidents() for o in f["properties"]["observation_ids"] if o.startswith("web-shot-")}
        time.sleep(0.2)
    launch_id, impact_id = ids["web-shot-launch"], ids["web-shot-impact"]
    violation = next(f["properties"] for f in site.call("GET", "/api/v1/violations?limit=1000")["features"]
                     if f["properties"]["incident_id"] == impact_id)
    assert violation["party"] == "RU" and violation["attribution_method"] == "launch-link"
    page = open_page(browser, site, site.analyst)
    try:
        page.evaluate(f"window.truceline.select({json.dumps(impact_id)})")
        box = page.locator("#detail [data-testid=engagements]")
        box.wait_for(state="visible")
        text = box.inner_text()
        assert "Engagement" in text and "launch at 48.0000 N, 37.9500 E" in text and "link" in text
        assert "Held responsible: RU" in page.inner_text("#detail")
        # ellipse, trajectory, launch square and impact ring
        assert page.evaluate("window.truceline.view.layers.selection.getLayers().length") >= 4
        page.click(f"#detail [data-testid=engagements] button[data-incident='{launch_id}']")
        page.wait_for_function(f"document.querySelector('#detail .incident-id').textContent === {json.dumps(launch_id)}")
        assert "Engagement" in page.inner_text("#detail [data-testid=engagements]")  # the launch lists its impact
        assert page.errors == []
    finally:
        page.context.close()
