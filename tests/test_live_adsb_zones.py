"""``serve --adsb HOST:PORT/sbs`` end to end: an SBS-1 feed over TCP (dropped once) with aircraft of two parties'
registries entering the demo no-fly area below its ceiling, one above it and one far away; violations must name
the state of registry of exactly the first two. SBS rows are dump1090's BaseStation format (port 30003)."""

from __future__ import annotations

import socketserver
import threading
import time
from pathlib import Path

from fastapi.testclient import TestClient

from truceline.api.app import create_app
from truceline.api.auth import ensure_admin_key, read_admin_key
from truceline.api.settings import Settings
from truceline.store.sqlite import open_store
from truceline.verify.agreement_loader import load_demo_agreement


def row(icao: str, alt_ft: int, lat: float, lon: float) -> bytes:
    return (f"MSG,3,1,1,{icao},1,2024/06/01,15:30:00.500,2024/06/01,15:30:00.500,,{alt_ft},,,{lat},{lon},,,0,,0,0\r\n").encode()


SESSIONS = [
    row("508035", 2500, 47.9, 34.6) + row("508035", 2500, 47.52, 34.59),  # UA registry: outside, then into ZNPP low
    row("15a001", 8000, 47.45, 34.55)                                       # RU registry (0x100000-0x1FFFFF), inside low
    + row("508036", 36000, 47.50, 34.58)                                    # UA above the 10 km ceiling (10,973 m)
    + row("508037", 3000, 50.45, 30.52),                                    # UA far away (Kyiv)
]


class _Feed(socketserver.BaseRequestHandler):
    sessions: list[bytes] = []

    def handle(self) -> None:
        if self.sessions:
            self.request.sendall(self.sessions.pop(0))  # and drop the connection: the client reconnects
        else:
            time.sleep(10)


def test_serve_adsb_sbs_violations_name_the_registry_of_exactly_the_two(tmp_path: Path) -> None:
    _Feed.sessions = list(SESSIONS)
    feed = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Feed)
    feed.daemon_threads = True
    threading.Thread(target=feed.serve_forever, daemon=True).start()
    data_dir = tmp_path / "data"
    store = open_store(data_dir)
    ensure_admin_key(store, data_dir)
    demo = load_demo_agreement()
    store.save_agreement(demo.canonical_document(), demo.digest(), "test")
    app = create_app(Settings(data_dir=data_dir, fusion=False, adsb_feeds=(f"127.0.0.1:{feed.server_address[1]}/sbs",)), store)
    auth = {"Authorization": f"Bearer {read_admin_key(data_dir)}"}
    try:
        with TestClient(app) as client:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                ids = {f["id"] for f in client.get("/api/v1/tracks", params={"kind": "aircraft"}, headers=auth).json()["features"]}
                if len(ids) == 4:
                    break
                time.sleep(0.05)
            assert ids == {"aircraft:508035", "aircraft:15a001", "aircraft:508036", "aircraft:508037"}
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                found = [f["properties"] for f in client.get("/api/v1/violations", headers=auth).json()["features"]
                         if f["properties"].get("track")]
                if len(found) >= 2:
                    break
                time.sleep(0.05)
            assert sorted((v["track"], v["party"]) for v in found) == [("aircraft:15a001", "RU"), ("aircraft:508035", "UA")]
            assert all(v["rule_id"] == "no-fly-znpp" and v["confidence"] == 0.7 for v in found)
            feeds = client.get("/api/v1/feeds", headers=auth).json()["feeds"]
            assert feeds[0]["connects"] >= 2 and feeds[0]["disconnects"] >= 1
            state = client.get("/api/v1/tracks/aircraft:508036", headers=auth).json()["properties"]
            assert state["state"] == "UA" and state["points"][0]["alt_m"] == 36000 * 0.3048
    finally:
        store.close()
        feed.shutdown()
        feed.server_close()
