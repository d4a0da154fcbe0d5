"""The in-process bus's subscriptions: what a reader takes without waiting (``queued``), in order, up to the end."""

from __future__ import annotations

import asyncio

from truceline.bus.inproc import InProcessBus
from truceline.bus.ports import Event


def _event(n: int) -> Event:
    return Event("observation", {"n": n}, "UA")


def test_queued_takes_what_waits_in_order_up_to_its_limit_and_stops_at_the_end() -> None:
    async def scenario() -> None:
        bus = InProcessBus()
        subscription = bus.subscribe()
        assert subscription.queued(10) == []  # nothing waits: it does not wait either
        for n in range(5):
            bus.publish(_event(n))
        await asyncio.sleep(0)  # publish hands each event to the loop; let it deliver them
        first = await subscription.__aiter__().__anext__()
        assert first.data == {"n": 0}
        assert [e.data["n"] for e in subscription.queued(2)] == [1, 2]
        bus.publish(_event(5))
        bus.close()  # the end of the stream, after event 5
        await asyncio.sleep(0)
        assert [e.data["n"] for e in subscription.queued(10)] == [3, 4, 5]  # stops at the end mark
        assert subscription.queued(10) == []
        try:
            await subscription.__aiter__().__anext__()
        except StopAsyncIteration:
            pass
        else:
            raise AssertionError("the stream went on past its end")

    asyncio.run(scenario())


def test_publish_many_delivers_in_order_with_one_call_per_reader_and_drops_the_oldest_when_full() -> None:
    async def scenario() -> None:
        bus = InProcessBus(queue_size=4)
        subscription = bus.subscribe()
        loop = asyncio.get_running_loop()
        calls = 0
        original = loop.call_soon_threadsafe

        def counting(*args: object) -> asyncio.Handle:
            nonlocal calls
            calls += 1
            return original(*args)  # type: ignore[arg-type]

        loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
        bus.publish_many([_event(n) for n in range(6)])
        bus.publish_many([])
        loop.call_soon_threadsafe = original  # type: ignore[method-assign]
        assert calls == 1  # one hand-over onto the reader's loop for the whole batch, none for an empty one
        await asyncio.sleep(0)
        assert [e.data["n"] for e in subscription.queued(10)] == [2, 3, 4, 5]  # the queue holds 4: the oldest went
        assert subscription.lost == 2
        bus.close()

    asyncio.run(scenario())
