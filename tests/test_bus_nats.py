"""NatsBus across two connections to a real ``nats-server -js``: events cross processes' buses with their
releasability, announcements wait for JetStream's PubAck and are deduplicated, and a dead server is an
error (``BusUnavailable``), never a silent success."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from truceline.access.policy import Principal, Role, reader_labels
from truceline.api.routes_stream import view_for
from truceline.bus.codec import decode_event, encode_event
from truceline.bus.nats import STREAM, BusUnavailable, NatsBus
from truceline.bus.ports import Event

SECRET = Event(
    "incident",
    {"id": "inc-1", "kinds": ["explosion"], "sources": ["ua-1", "fr-1"]},
    "UA",
    ("UA",),
    evidence=(("UA", ("UA",)), ("FR", ("COALITION",))),
    guarded=(("sources", (("UA", ("UA",)),)),),
    partial=Event("incident.changed", {"id": "inc-1"}, "FR", ("COALITION",), evidence=(("FR", ("COALITION",)),), any_evidence=True),
)


def _reader(org: str, *groups: str) -> Principal:
    return Principal(key_id=f"k-{org}", org=org, role=Role.ANALYST, labels=reader_labels(org, list(groups)))


@pytest.fixture
def two_buses(nats: Any) -> Iterator[tuple[NatsBus, NatsBus]]:
    a, b = NatsBus(nats.url, timeout_s=2.0), NatsBus(nats.url, timeout_s=2.0)
    try:
        assert a.start(10) and b.start(10)
        yield a, b
    finally:
        a.close()
        b.close()


def test_an_event_survives_the_wire_with_every_field_that_decides_who_reads_it() -> None:
    assert decode_event(encode_event(SECRET)) == SECRET


def _collect(bus: NatsBus, count: int, publish: Any, settle_s: float = 0.5) -> list[Event]:
    """Subscribe on ``bus`` (on a loop of this test), run ``publish``, return what arrived within a while."""

    async def run() -> list[Event]:
        subscription = bus.subscribe()
        got: list[Event] = []

        async def read() -> None:
            async for event in subscription:
                got.append(event)
                if len(got) >= count:
                    return

        reader = asyncio.create_task(read())
        await asyncio.sleep(0.2)  # both subscriptions are live on the server before anything is sent
        publish()
        with contextlib.suppress(TimeoutError):  # fewer than expected: the assertion below says which
            await asyncio.wait_for(reader, 15)
        await asyncio.sleep(settle_s)  # a duplicate would arrive now
        subscription.close()
        return got

    return asyncio.run(run())


def test_an_event_published_on_one_bus_reaches_the_other_once_with_releasability(two_buses: tuple[NatsBus, NatsBus]) -> None:
    a, b = two_buses
    plain = Event("observation", {"id": "ua-1"}, "UA", ("COALITION",))
    got = _collect(b, 2, lambda: (a.publish(plain), a.publish(SECRET)))
    assert got == [plain, SECRET]
    # the receiving replica applies the same rules as the sender's would
    assert view_for(_reader("UA", "COALITION"), got[1]) == SECRET  # owner of all guarded evidence
    fr_view = view_for(_reader("FR", "COALITION"), got[1])
    assert fr_view is not None and fr_view.topic == "incident.changed" and fr_view.data == {"id": "inc-1"}
    assert view_for(_reader("RU"), got[1]) is None
    assert view_for(_reader("RU"), got[0]) is None


def test_the_publisher_s_own_readers_get_each_event_once(two_buses: tuple[NatsBus, NatsBus]) -> None:
    a, _b = two_buses
    event = Event("observation", {"id": "ua-2"}, "UA", ("COALITION",))
    assert _collect(a, 2, lambda: a.publish(event), settle_s=1.0) == [event]


def _stream_messages(url: str) -> int:
    async def count() -> int:
        import nats as nats_client

        nc = await nats_client.connect(url)
        try:
            info = await nc.jetstream().stream_info(STREAM)
            return int(info.state.messages)
        finally:
            await nc.close()

    return asyncio.run(count())


def test_announcements_are_acknowledged_by_jetstream_and_deduplicated(nats: Any, two_buses: tuple[NatsBus, NatsBus]) -> None:
    a, b = two_buses
    heard: list[list[tuple[str, str]]] = []
    arrived = threading.Event()
    b.on_stored(lambda pairs: (heard.append(pairs), arrived.set()))
    a.announce_stored([("UA", "ua-1"), ("UA", "ua-2")])
    assert arrived.wait(10)
    assert heard == [[("UA", "ua-1"), ("UA", "ua-2")]]
    a.announce_stored([("UA", "ua-2"), ("UA", "ua-1")])  # a re-post re-announces the same set: one message kept
    b.announce_stored([("UA", "ua-2"), ("UA", "ua-1")])
    assert _stream_messages(nats.url) == 1
    a.announce_stored([("FR", "ua-1")])  # another organisation's id is another observation
    assert _stream_messages(nats.url) == 2


def test_a_large_batch_is_announced_in_pieces_below_the_payload_limit(nats: Any, two_buses: tuple[NatsBus, NatsBus]) -> None:
    a, _b = two_buses
    a.announce_stored([("UA", f"ua-long-identifier-{i:06d}-" + "x" * 100) for i in range(9000)])
    assert _stream_messages(nats.url) == 5


def test_a_dead_server_is_an_error_and_a_restarted_one_is_used_again(nats: Any, two_buses: tuple[NatsBus, NatsBus]) -> None:
    a, _b = two_buses
    a.announce_stored([("UA", "before")])
    nats.kill()
    with pytest.raises(BusUnavailable):
        a.announce_stored([("UA", "during")])
    nats.start()
    deadline = threading.Event()
    for _ in range(100):  # the client reconnects on its own; give it a few seconds
        try:
            a.announce_stored([("UA", "during")])
            break
        except BusUnavailable:
            deadline.wait(0.2)
    else:
        pytest.fail("the bus did not reconnect to the restarted server")
    assert _stream_messages(nats.url) == 2  # the stream survived on disk; the failed try left nothing


def test_a_bus_without_a_server_starts_disconnected_and_refuses_to_announce() -> None:
    from tests.services import free_port

    bus = NatsBus(f"nats://127.0.0.1:{free_port()}", timeout_s=0.5)
    try:
        assert bus.start(0.5) is False
        with pytest.raises(BusUnavailable):
            bus.announce_stored([("UA", "x")])
        bus.publish(Event("observation", {"id": "x"}, "UA"))  # live news: never blocks, never raises
    finally:
        bus.close()
