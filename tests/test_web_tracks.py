"""The page's aircraft and vessel layers in a real browser, against `serve --ais` fed over TCP (pyais-encoded
sentences, tests/airsea_fixtures.py): latest positions and trails drawn, the feed's state shown."""

from __future__ import annotations

import socketserver
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.airsea_fixtures import T0, position, static
from tests.conftest import REPO, start_server

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
AGREEMENT = REPO / "src" / "truceline" / "data" / "agreements" / "isw-2023-03-04" / "agreement.yaml"
FEED = b"".join([
    static(272000001, "KYIV STAR", "UXAB", T0),
    position(272000001, 45.50, 31.50, T0), position(272000001, 45.52, 31.55, T0 + timedelta(minutes=3)),
    position(273000002, 45.30, 31.20, T0),
])


class _Feed(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.sendall(FEED)
        time.sleep(60)  # stay connected, as an AIS server does


def test_vessel_layer_draws_positions_trails_and_feed_state(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: .ci/services installs Debian's chromium")
    feed = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Feed)
    feed.daemon_threads = True
    threading.Thread(target=feed.serve_forever, daemon=True).start()
    server = start_server(tmp_path / "data", ["--agreement", str(AGREEMENT), "--ais", f"127.0.0.1:{feed.server_address[1]}"])
    try:
        with playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            errors: list[Any] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{server.url}/#key={server.key}")
            page.wait_for_selector("body[data-ready='1']", timeout=30_000)
            page.wait_for_function(
                "() => /2 vessels in view/.test(document.getElementById('tracks-note').textContent)"
                " && /ais-1 connected/.test(document.getElementById('tracks-note').textContent)", timeout=30_000)
            layers = page.evaluate("() => window.truceline.tracks.groups.vessel.getLayers().map((l) => l.getLatLngs ? 'trail' : 'position')")
            assert sorted(layers) == ["position", "position", "trail"]  # one vessel moved: one trail
            page.uncheck("#layer-vessels")
            page.wait_for_function("() => window.truceline.tracks.groups.vessel.getLayers().length === 0")
            assert errors == []
            browser.close()
    finally:
        server.process.terminate()
        server.process.wait(timeout=30)
        feed.shutdown()
        feed.server_close()
