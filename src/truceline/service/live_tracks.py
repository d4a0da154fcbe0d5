"""The live air and sea role of ``serve``: AIS and ADS-B feeds read as a client, stored, checked, reported.

Each ``--ais`` / ``--adsb`` address is one feed (service/feeds.py: reconnect with backoff); its decoded
points go through a :class:`~truceline.service.track_intake.TrackIntake` (batched writes, one ledger leaf
per track-minute) and then the air and sea checks against the agreement in force at that moment. The feeds'
states are what the page (``GET /api/v1/feeds``), ``GET /api/v1/status`` and ``/metrics`` show.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from truceline.ingest.ais import AisDecoder
from truceline.service.adsb_feed import AdsbFeed
from truceline.service.airsea import TrackChecker
from truceline.service.feeds import FeedClient, FeedState, parse_feed_address
from truceline.service.track_intake import TrackIntake
from truceline.track.model import TrackPoint

logger = logging.getLogger("truceline.live_tracks")
_STATUS = ("idle", "connecting", "connected", "listening", "backoff", "stopped")


def _ais_decoder(source: str) -> Callable[[], AisDecoder]:
    """A fresh live AIS decoder per connection (a half sentence of a dropped connection is not carried over)."""
    return lambda: AisDecoder(source, live=True)


class LiveTracks:
    """All live track feeds of one server; start and stop from the app's lifespan."""

    def __init__(self, store: Any, *, ais: Iterable[str] = (), adsb: Iterable[str] = (),
                 in_force: Callable[[], Any] | None = None) -> None:
        self.store = store
        self.in_force = in_force
        self.checker = TrackChecker(store, load=False)
        self.feeds: list[tuple[Any, TrackIntake]] = []
        for n, text in enumerate(ais):
            address = parse_feed_address(text.removeprefix("ais://"))
            intake = TrackIntake(store, f"ais:{address}", on_stored=self._check)
            client = FeedClient(f"ais-{n + 1}", address, _ais_decoder(str(address)), intake, idle_timeout_s=None)
            self.feeds.append((client, intake))
        for n, text in enumerate(adsb):
            intake = TrackIntake(store, f"adsb:{text}", on_stored=self._check)
            self.feeds.append((AdsbFeed(text, intake, name=f"adsb-{n + 1}"), intake))

    def _check(self, points: list[TrackPoint]) -> None:
        current = self.in_force() if self.in_force is not None else None
        if current is None:
            return
        self.checker.use(current.agreement, current.geometry)
        self.checker.check(points)

    async def start(self) -> None:
        for feed, _ in self.feeds:
            await feed.start()

    async def stop(self) -> None:
        """Stop reading, then store what the intakes still buffer."""
        for feed, intake in self.feeds:
            await feed.stop()
            try:
                await intake.flush()
            except Exception:  # the store is going away with the server: say so, do not hide it
                logger.exception("feed %s: could not store its last %d points", feed.state.name, len(intake._pending))

    def states(self) -> list[dict[str, Any]]:
        """Each feed's state with what its intake stored."""
        out = []
        for feed, intake in self.feeds:
            state: FeedState = feed.state
            out.append(state.as_dict() | {"stored": intake.summary.stored, "ledger_leaves": intake.summary.leaves,
                                          "kind": "ais" if state.name.startswith("ais") else "adsb"})
        return out


class FeedCollector:
    """Prometheus collector: the feeds' status and counters at scrape time."""

    def __init__(self, live: LiveTracks) -> None:
        self.live = live

    def collect(self) -> Iterable[Any]:
        up = GaugeMetricFamily("truceline_feed_up", "1 when the feed is connected (TCP) or listening (UDP)", labels=["feed", "address"])
        status = GaugeMetricFamily("truceline_feed_status", "Feed status (1 for the current one)", labels=["feed", "status"])
        counters = {
            name: CounterMetricFamily(f"truceline_feed_{name}", help_text, labels=["feed"])
            for name, help_text in (("messages", "Messages read from the feed"), ("points", "Track points decoded"),
                                    ("rejected", "Messages rejected (checksum, truncated, malformed)"),
                                    ("connects", "Connections made (or UDP binds)"), ("disconnects", "Connections lost"),
                                    ("bytes", "Bytes read"), ("stored", "Track points newly stored"))
        }
        for s in self.live.states():
            up.add_metric([s["name"], s["address"]], 1.0 if s["status"] in ("connected", "listening") else 0.0)
            for value in _STATUS:
                status.add_metric([s["name"], value], 1.0 if s["status"] == value else 0.0)
            for name, family in counters.items():
                family.add_metric([s["name"]], float(s[name]))
        yield up
        yield status
        yield from counters.values()
