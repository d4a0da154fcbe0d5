"""The ADS-B live feed role: read dump1090/readsb as a client and hand decoded track points to a sink.

``serve --adsb HOST:PORT[/sbs|beast|avr]`` connects the way other consumers of dump1090 do (SBS-1 on 30003,
AVR raw on 30002, Beast on 30005; without ``/format`` the conventional port decides, any other port needs
one). ``udp://HOST:PORT/…`` binds a UDP port instead. Transport, reconnection with backoff and the feed's
state for the page and ``/metrics`` are :class:`~truceline.service.feeds.FeedClient`'s.

One :class:`~truceline.ingest.modes.ModeSDecoder` lives as long as the feed: a reconnection starts a fresh
framing (a half line or frame of the old connection is dropped) but keeps each aircraft's CPR frames and
last position, so positions resume at once instead of waiting for new even/odd pairs. Messages are timed
by receipt (the host's clock, which should be NTP-synchronised); see ingest/modes_formats.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from truceline.ingest.modes import ModeSDecoder
from truceline.ingest.modes_formats import AvrStream, BeastStream, SbsStream
from truceline.service.feeds import Backoff, FeedAddress, FeedClient, FeedState, Sink, parse_feed_address
from truceline.track.model import DecodeReport

ADSB_FORMATS = ("sbs", "beast", "avr")
#: dump1090/readsb's conventional output ports.
PORT_FORMATS = {30003: "sbs", 30002: "avr", 30005: "beast"}
#: Aircraft not heard for this long are forgotten (bounded memory on a feed that runs for months).
FORGET_AFTER_S = 600.0


def parse_adsb_address(text: str) -> FeedAddress:
    """``[tcp://|udp://]HOST:PORT[/sbs|beast|avr]``; the format defaults from dump1090's ports, else ValueError."""
    address = parse_feed_address(text, formats=ADSB_FORMATS)
    if address.format is None:
        fmt = PORT_FORMATS.get(address.port)
        if fmt is None:
            raise ValueError(
                f"--adsb {text!r}: say which framing port {address.port} serves: HOST:PORT/sbs, /beast or /avr "
                "(dump1090 serves SBS on 30003, AVR on 30002, Beast on 30005)"
            )
        address = FeedAddress(address.protocol, address.host, address.port, fmt)
    return address


class _Framing:
    """One connection's framing over the feed's shared decoder; forgets silent aircraft now and then."""

    def __init__(self, owner: AdsbFeed) -> None:
        self.owner = owner
        fmt, source, clock = owner.address.format, str(owner.address), owner.clock
        if fmt == "sbs":
            self.stream: SbsStream | AvrStream | BeastStream = SbsStream(source=source, clock=clock)
        elif fmt == "avr":
            self.stream = AvrStream(owner.decoder, source=source, clock=clock)
        else:
            self.stream = BeastStream(owner.decoder, source=source, clock=clock)

    def feed(self, chunk: bytes) -> DecodeReport:
        report = self.stream.feed(chunk)
        owner = self.owner
        now = owner.clock()
        if now >= owner.next_sweep:
            owner.decoder.forget_before(now - FORGET_AFTER_S)
            owner.next_sweep = now + 60.0
        return report


class AdsbFeed:
    """A live ADS-B feed: decoded reports (points and rejections) go to ``sink`` as chunks arrive."""

    def __init__(
        self,
        address: str | FeedAddress,
        sink: Sink,
        *,
        name: str = "adsb",
        receiver: tuple[float, float] | None = None,
        max_range_km: float | None = None,
        backoff: Backoff = Backoff(),
        idle_timeout_s: float | None = 120.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.address = parse_adsb_address(address) if isinstance(address, str) else address
        if self.address.format not in ADSB_FORMATS:
            raise ValueError(f"ADS-B feed {address}: format must be one of {', '.join(ADSB_FORMATS)}")
        self.clock = clock
        self.decoder = ModeSDecoder(receiver=receiver, max_range_km=max_range_km)
        self.next_sweep = 0.0
        # a feed silent for idle_timeout_s is reconnected: dump1090 sends SBS/Beast heartbeats well inside that
        self.client = FeedClient(
            name, self.address, lambda: _Framing(self), sink, backoff=backoff, idle_timeout_s=idle_timeout_s,
            datagram_newline=self.address.format != "beast",
        )

    @property
    def state(self) -> FeedState:
        """Status and counters for the page and ``/metrics``."""
        return self.client.state

    async def start(self) -> None:
        await self.client.start()

    async def stop(self) -> None:
        await self.client.stop()
