"""``serve --ais``: an AIS feed served over TCP (dropped once) and UDP, stored as tracks, checked against the demo
agreement, with the feed's state on /api/v1/feeds and /metrics. Sentences: pyais-encoded (tests/airsea_fixtures.py)."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.airsea_fixtures import T0, position, static

from truceline.api.app import create_app
from truceline.api.auth import ensure_admin_key, read_admin_key
from truceline.service.settings import Settings
from truceline.store.sqlite import open_store
from truceline.verify.agreement_loader import load_demo_agreement

SESSIONS = [
    static(272000001, "KYIV STAR", "UXAB", T0) + position(272000001, 45.5, 31.5, T0),
    position(273000002, 45.3, 31.2, T0 + timedelta(seconds=30)) + position(271000003, 45.4, 31.3, T0),
]


class _Feed(socketserver.BaseRequestHandler):
    sessions: list[bytes] = []

    def handle(self) -> None:
        if self.sessions:
            self.request.sendall(self.sessions.pop(0))  # then close: the client must reconnect for the rest
        else:
            time.sleep(5)


def _until(what: str, check: Callable[[], Any], deadline_s: float = 20.0) -> Any:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def feed_server() -> Iterator[int]:
    _Feed.sessions = list(SESSIONS)
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Feed)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_serve_ais_tcp_feed_reconnects_stores_and_judges(tmp_path: Path, feed_server: int) -> None:
    data_dir = tmp_path / "data"
    store = open_store(data_dir)
    ensure_admin_key(store, data_dir)
    demo = load_demo_agreement()
    store.save_agreement(demo.canonical_document(), demo.digest(), "test")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        udp_port = probe.getsockname()[1]
    settings = Settings(data_dir=data_dir, fusion=False,
                        ais_feeds=(f"127.0.0.1:{feed_server}", f"udp://127.0.0.1:{udp_port}"))
    app = create_app(settings, store)
    auth = {"Authorization": f"Bearer {read_admin_key(data_dir)}"}
    try:
        with TestClient(app) as client:
            def tracks() -> set[str]:
                body = client.get("/api/v1/tracks", params={"kind": "vessel"}, headers=auth).json()
                return {f["id"] for f in body["features"]}

            _until("both TCP sessions", lambda: {"vessel:272000001", "vessel:273000002", "vessel:271000003"} <= tracks())
            feeds = client.get("/api/v1/feeds", headers=auth).json()["feeds"]
            tcp = next(f for f in feeds if f["address"].startswith("tcp://"))
            assert tcp["connects"] >= 2 and tcp["disconnects"] >= 1 and tcp["messages"] == 5 and tcp["rejected"] == 0
            _until("UDP listening", lambda: client.get("/api/v1/feeds", headers=auth).json()["feeds"][1]["status"] == "listening")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
                tx.sendto(position(272000077, 44.5, 33.0, T0).rstrip(b"\n"), ("127.0.0.1", udp_port))
                tx.sendto(b"!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CR,0*4A", ("127.0.0.1", udp_port))  # corrupted
            _until("the UDP vessel", lambda: "vessel:272000077" in tracks())
            udp = _until("the corrupted datagram", lambda: [f for f in client.get("/api/v1/feeds", headers=auth).json()["feeds"]
                                                            if f["name"] == "ais-2" and f["rejected"]])[0]
            assert udp["rejected"] == 1 and "checksum" in udp["rejected_examples"][0]

            detail = client.get("/api/v1/tracks/vessel:272000001", headers=auth).json()
            assert detail["properties"]["name"] == "KYIV STAR" and detail["properties"]["state"] == "UA"
            assert detail["properties"]["points"][0] == {"time": "2024-05-01T12:00:00Z", "lat": 45.5, "lon": 31.5,
                                                         "speed_mps": pytest.approx(5.144, abs=1e-3), "course_deg": 90.0}

            def parties() -> list[str]:
                body = client.get("/api/v1/violations", headers=auth).json()
                return sorted(f["properties"]["party"] for f in body["features"] if f["properties"].get("track"))

            assert _until("violations", lambda: parties() == ["RU", "UA"] and parties())  # TR is no party: none
            metrics = client.get("/metrics", headers=auth).text
            assert 'truceline_feed_up{address="tcp://127.0.0.1:' in metrics and "truceline_feed_messages_total" in metrics
            assert client.get("/api/v1/status", headers=auth).json()["feeds"]["ais-2"] == "listening"
    finally:
        store.close()
