"""Server-sent events on a real server: live observations, filtered per reader by releasability."""

from __future__ import annotations

import threading

import httpx
import orjson
from tests.conftest import LiveServer, native

from truceline.access.policy import Role
from truceline.ledger.canonical import canonical_json
from truceline.store.sqlite import open_store


def read_events(url: str, key: str, want: int, out: list[tuple[str, dict]], ready: threading.Event, lines: list[str] | None = None) -> None:  # type: ignore[type-arg]
    with httpx.stream("GET", url + "/api/v1/stream", headers={"Authorization": f"Bearer {key}"}, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        event = None
        for line in response.iter_lines():
            if line.startswith(": connected"):
                ready.set()
            elif line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event:
                out.append((event, orjson.loads(line[6:])))
                if lines is not None:
                    lines.append(line[6:])
                if len(out) >= want:
                    return


def test_stream_delivers_only_releasable_observations(live_server: LiveServer) -> None:
    store = open_store(live_server.data_dir)
    ua_contrib = store.create_api_key("UA", Role.CONTRIBUTOR)[1]
    ru_observer = store.create_api_key("RU", Role.OBSERVER)[1]
    store.close()
    ru_events: list[tuple[str, dict]] = []  # type: ignore[type-arg]
    ua_events: list[tuple[str, dict]] = []  # type: ignore[type-arg]
    ua_lines: list[str] = []
    ready_ru, ready_ua = threading.Event(), threading.Event()
    threads = [
        threading.Thread(target=read_events, args=(live_server.url, ru_observer, 1, ru_events, ready_ru)),
        threading.Thread(target=read_events, args=(live_server.url, ua_contrib, 2, ua_events, ready_ua, ua_lines)),
    ]
    for t in threads:
        t.start()
    assert ready_ru.wait(20) and ready_ua.wait(20)
    ua = {"id": "ua-sensor", "type": "acoustic", "org": "UA"}
    batch = [native(id="secret", source=ua, releasable_to=["UA"]), native(id="open", source=ua, releasable_to=["PUBLIC"])]
    response = httpx.post(
        live_server.url + "/api/v1/observations", content=orjson.dumps(batch),
        headers={"Authorization": f"Bearer {ua_contrib}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 201
    for t in threads:
        t.join(timeout=30)
    assert [(e, d["id"]) for e, d in ua_events] == [("observation", "secret"), ("observation", "open")]
    assert [(e, d["id"]) for e, d in ru_events] == [("observation", "open")]
    store = open_store(live_server.data_dir)
    try:  # an observation event carries the stored canonical document, byte for byte
        stored = [store.get_observation(d["id"], org="UA") for _, d in ua_events]
        assert ua_lines == [canonical_json(s.document).decode() for s in stored if s is not None] and len(ua_lines) == 2
    finally:
        store.close()


def test_stream_needs_a_key(live_server: LiveServer) -> None:
    assert httpx.get(live_server.url + "/api/v1/stream").status_code == 401


def test_shutdown_ends_open_streams_cleanly_instead_of_cutting_them_off(live_server: LiveServer) -> None:
    """On SIGTERM the server ends each event stream itself (a proper end of the chunked body), so an open
    page does not hold the stop until uvicorn's grace period runs out and the connection is cut."""
    lines: list[str] = []
    headers = {"Authorization": f"Bearer {live_server.key}"}
    with httpx.stream("GET", live_server.url + "/api/v1/stream", headers=headers, timeout=60) as response:
        received = response.iter_lines()
        lines.append(next(received))
        assert lines == [": connected"]
        live_server.process.terminate()
        lines.extend(received)  # raises RemoteProtocolError if the server cut the connection instead
    live_server.process.wait(timeout=60)  # uvicorn re-raises the signal once shut down: the status is -SIGTERM
