"""The page in a real browser: simulated evidence shows a banner and SIMULATED badges, real evidence none;
without a key, the prompt says where the key is."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import REPO, LiveServer, native, start_server

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
AGREEMENT = REPO / "src" / "truceline" / "data" / "agreements" / "isw-2023-03-04" / "agreement.yaml"


def _post(server: LiveServer, docs: list[dict[str, Any]]) -> None:
    response = httpx.post(server.url + "/api/v1/observations", json=docs, headers={"Authorization": f"Bearer {server.key}"}, timeout=30)
    assert response.status_code == 201, response.text


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("sim-web") / "data", ["--agreement", str(AGREEMENT)])
    try:
        simulated = {"simulated": True}
        _post(live, [
            # a simulated impact near Orikhiv seen by two simulated sensors (a no-fire violation, party undetermined)
            native(id="sim-a-1", time="2023-05-18T06:00:00Z", time_uncertainty_s=2, kind="impact", attributes=simulated,
                   location={"lat": 47.57, "lon": 35.78, "cep_m": 80}, source={"id": "sim-ua-acn-01", "type": "acoustic", "org": "UA"}),
            native(id="sim-a-2", time="2023-05-18T06:00:01Z", time_uncertainty_s=2, kind="impact", attributes=simulated,
                   location={"lat": 47.5701, "lon": 35.7801, "cep_m": 60}, source={"id": "sim-us-uav-01", "type": "uav", "org": "US"}),
            # real: a lone observation far away
            native(id="real-1", time="2023-05-18T09:00:00Z", kind="explosion",
                   location={"lat": 48.6, "lon": 37.9, "cep_m": 150}, source={"id": "ua-acoustic-17", "type": "acoustic", "org": "UA"}),
            native(id="real-2", time="2023-05-20T09:00:00Z", kind="explosion",
                   location={"lat": 48.9, "lon": 38.1, "cep_m": 150}, source={"id": "ua-acoustic-17", "type": "acoustic", "org": "UA"}),
        ])  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = httpx.get(live.url + "/api/v1/incidents", headers={"Authorization": f"Bearer {live.key}"}, timeout=10).json()["features"]
            if len(found) >= 3:
                break
            time.sleep(0.2)
        yield live
    finally:
        live.process.terminate()
        live.process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: .ci/services installs Debian's chromium")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


def test_simulated_incidents_carry_a_badge_and_the_page_a_banner(browser: Any, server: LiveServer) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    try:
        page.goto(f"{server.url}/?day=2023-05-18#key={server.key}")  # as `truceline demo` opens it
        page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        assert page.inner_text("#day-label").startswith("2023-05-18 (from 2023-05-18")  # that day alone
        assert page.input_value("#window") == "1"
        assert page.is_visible("#simulated-banner")
        assert "SIMULATED data shown" in page.inner_text("#simulated-banner")
        items = page.locator("#incident-list button.incident")
        texts = {items.nth(k).get_attribute("data-id"): items.nth(k).inner_text() for k in range(items.count())}
        simulated = [t for t in texts.values() if "SIMULATED" in t]
        real = [t for t in texts.values() if "SIMULATED" not in t]
        assert len(simulated) == 1 and len(real) == 1, texts
        page.locator("#incident-list button.incident", has_text="SIMULATED").click()
        detail = page.locator("#detail")
        detail.wait_for(state="visible")
        page.wait_for_selector("#detail .violations [data-testid='simulated']", timeout=30_000)
        assert page.locator("#detail [data-testid='simulated']").count() == 2  # the incident and its violation
    finally:
        context.close()


def test_without_a_key_the_prompt_says_where_the_key_is_and_no_banner_shows(browser: Any, server: LiveServer) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    try:
        page.goto(f"{server.url}/")
        page.wait_for_selector("#key-section:not([hidden])", timeout=30_000)
        prompt = page.inner_text("#key-section")
        assert "admin.key" in prompt and "truceline-demo/admin.key" in prompt and "#key=" in prompt
        assert not page.is_visible("#simulated-banner")
    finally:
        context.close()


def test_without_a_day_the_page_follows_the_newest_day(browser: Any, server: LiveServer) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    try:
        page.goto(f"{server.url}/#key={server.key}")
        page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        assert page.inner_text("#day-label").startswith("2023-05-20")
        assert page.input_value("#window") == "all"
    finally:
        context.close()
