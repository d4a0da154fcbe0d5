"""Cursor-on-Target listeners of a real `truceline serve`, fed by pytak as the TAK client."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from configparser import ConfigParser
from pathlib import Path
from typing import Any

import httpx
import pytak
import pytest
from typer.testing import CliRunner

from conftest import LiveServer, free_port, start_server
from truceline.cli import app as cli


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def cot_server(tmp_path: Path) -> Iterator[tuple[LiveServer, int, int]]:
    tcp, udp = free_port(), free_udp_port()
    server = start_server(
        tmp_path / "live",
        ["--cot-tcp", str(tcp), "--cot-udp", str(udp), "--cot-org", "UA", "--cot-releasable-to", "COALITION", "--no-fusion"],
    )
    yield server, tcp, udp
    if server.process.poll() is None:
        server.process.terminate()
        server.process.wait(timeout=30)


def cot(uid: str, cot_type: str = "a-h-G-E-W", **extra: Any) -> bytes:
    """A CoT event as pytak builds and serialises it (XML declaration included)."""
    element = pytak.cot_event(lat=48.105, lon=37.712, ce=30, hae=150, le=10, uid=uid, cot_type=cot_type, callsign="OBS-3", **extra)
    return pytak.serialize_cot(element)


async def send_with_pytak(url: str, payloads: list[bytes]) -> None:
    """Open pytak's client for ``url`` and send every payload through its TX worker, then close."""
    parser = ConfigParser()
    parser["truceline-test"] = {"COT_URL": url}
    config = parser["truceline-test"]
    _, writer = await pytak.protocol_factory(config)
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    worker = pytak.TXWorker(queue, config, writer)
    for payload in payloads:
        await queue.put(payload)
        await worker.run_once()
    if hasattr(writer, "drain"):
        await writer.drain()
    writer.close()
    if hasattr(writer, "wait_closed"):
        await writer.wait_closed()


def observations(server: LiveServer, wanted: int, timeout_s: float = 30.0) -> list[dict[str, Any]]:
    """Poll GET /api/v1/observations until ``wanted`` items are there (or the timeout; the caller asserts)."""
    deadline = time.monotonic() + timeout_s
    items: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        response = httpx.get(server.url + "/api/v1/observations", params={"limit": 100}, headers={"Authorization": f"Bearer {server.key}"})
        response.raise_for_status()
        items = response.json()["items"]
        if len(items) >= wanted:
            break
        time.sleep(0.2)
    return items


def metric(server: LiveServer, transport: str, outcome: str) -> float:
    text = httpx.get(server.url + "/metrics", headers={"Authorization": f"Bearer {server.key}"}).text
    line = f'truceline_cot_events_total{{outcome="{outcome}",transport="{transport}"}}'
    for row in text.splitlines():
        if row.startswith(line):
            return float(row.split()[-1])
    return 0.0


def settled_metric(server: LiveServer, transport: str, outcome: str, expected: float, timeout_s: float = 30.0) -> float:
    """The counter once it reaches ``expected`` (counts land just after the commit a reader may already see)."""
    deadline = time.monotonic() + timeout_s
    value = metric(server, transport, outcome)
    while value < expected and time.monotonic() < deadline:
        time.sleep(0.2)
        value = metric(server, transport, outcome)
    return value


LAUGHS = b'<?xml version="1.0"?><!DOCTYPE event [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'


def test_pytak_over_tcp_and_udp_stores_good_events_and_survives_bad_ones(cot_server: tuple[LiveServer, int, int]) -> None:
    server, tcp, udp = cot_server
    good = cot("hostile-gun-1")
    friendly = cot("ANDROID-self", cot_type="a-f-G-U-C")
    bad_xml = cot("broken").replace(b"</detail>", b"")
    laughs = LAUGHS + cot("laughs").split(b"\n", 1)[1].replace(b"<detail>", b"<detail><remarks>&b;</remarks>")
    asyncio.run(send_with_pytak(f"tcp://127.0.0.1:{tcp}", [pytak.hello_event(), good, friendly, bad_xml, laughs]))
    stored = observations(server, 1)
    assert [item["attributes"]["cot_uid"] for item in stored] == ["hostile-gun-1"]
    # The listener keeps serving: a new connection and a UDP datagram after the bad input are stored.
    oversized = b"<event " + b" " * 300_000
    asyncio.run(send_with_pytak(f"tcp://127.0.0.1:{tcp}", [oversized, cot("hostile-gun-2")]))
    asyncio.run(send_with_pytak(f"udp+wo://127.0.0.1:{udp}", [cot("uav-over-line", cot_type="a-h-A-M-F-Q")]))
    stored = observations(server, 3)
    by_uid = {item["attributes"]["cot_uid"]: item for item in stored}
    assert set(by_uid) == {"hostile-gun-1", "hostile-gun-2", "uav-over-line"}
    gun = by_uid["hostile-gun-1"]
    assert gun["kind"] == "equipment-sighting" and gun["source"] == {"id": "OBS-3", "type": "monitor", "org": "UA"}
    assert gun["releasable_to"] == ["COALITION"] and gun["location"]["lat"] == 48.105
    assert by_uid["uav-over-line"]["kind"] == "flight"
    assert settled_metric(server, "tcp", "stored", 2) == 2 and settled_metric(server, "udp", "stored", 1) == 1
    # Unclosed XML; the DTD before the entity event and the event's then undefined entity; the oversized event.
    assert settled_metric(server, "tcp", "malformed", 4) == 4
    assert settled_metric(server, "tcp", "not-an-observation", 2) == 2  # the takPing and the friendly self-position


def test_a_resent_event_is_a_duplicate_not_a_second_observation(cot_server: tuple[LiveServer, int, int]) -> None:
    server, tcp, _ = cot_server
    event = cot("marker-9")
    asyncio.run(send_with_pytak(f"tcp://127.0.0.1:{tcp}", [event, event]))
    assert len(observations(server, 1)) == 1
    assert settled_metric(server, "tcp", "duplicate", 1) == 1
    assert len(observations(server, 1)) == 1


def test_serve_refuses_cot_ports_without_an_organisation(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["serve", "--data-dir", str(tmp_path / "d"), "--cot-tcp", "8087"])
    assert result.exit_code == 2
    assert "--cot-org" in result.output
