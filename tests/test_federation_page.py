"""The node's page shows its outbox and raises the alert when the hub has been out of reach too long."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from tests.conftest import free_port, native, start_server

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"


def test_the_page_warns_when_the_outbox_waits_longer_than_the_threshold(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: .ci/services installs Debian's chromium")
    key_file = tmp_path / "hub.key"
    key_file.write_text("tl_not_a_key_any_hub_knows\n")
    hub = f"http://127.0.0.1:{free_port()}/api/v1"  # nothing listens there: the hub is unreachable
    node = start_server(tmp_path / "node", ["--upstream", hub, "--upstream-key", str(key_file), "--upstream-alert-after", "1"])
    try:
        auth = {"Authorization": f"Bearer {node.key}"}
        assert httpx.post(f"{node.url}/api/v1/observations", json=[native()], headers=auth, timeout=30).status_code == 201
        with playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{node.url}/#key={node.key}")
            alert = page.wait_for_selector("#federation .federation-alert", timeout=60_000)
            assert "has not taken this node's observations" in alert.inner_text()
            panel = page.inner_text("#federation")
            assert "Pending 1" in panel and "Last success: never" in panel and "ConnectError" in panel
            assert "No node has reported yet." in panel  # the same server is a hub to nobody
            assert errors == []
            browser.close()
    finally:
        node.process.terminate()
        node.process.wait(timeout=30)
