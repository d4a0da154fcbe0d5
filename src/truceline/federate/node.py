"""Wiring of a national node: the outbox on the node's store, its forwarder, and its Prometheus figures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from truceline.federate.coalition import CoalitionPicture
from truceline.federate.forwarder import Forwarder, UpstreamConfig
from truceline.store.outbox import Outbox
from truceline.store.sqlite import SqliteStore


class OutboxCollector(Collector):
    """``/metrics`` figures of the outbox, read from the store at scrape time (counts only, no content)."""

    def __init__(self, forwarder: Forwarder) -> None:
        self.forwarder = forwarder

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Pending, oldest pending age, settled counts, last success and error times, and the alert."""
        status = self.forwarder.status()
        figures = (
            ("truceline_outbox_pending", "Observations waiting to be forwarded to the hub", status.pending),
            ("truceline_outbox_oldest_pending_seconds", "Age of the oldest observation waiting for the hub (0 when none)",
             status.oldest_pending_age_s or 0.0),
            ("truceline_outbox_sent", "Observations the hub acknowledged", status.sent),
            ("truceline_outbox_refused", "Observations the hub refused for good (kept, see GET /api/v1/outbox)", status.refused),
            ("truceline_outbox_local", "Observations releasable to this nation alone (never forwarded)", status.local),
            ("truceline_outbox_last_success_timestamp_seconds", "Unix time of the last acknowledged batch (0: never)",
             (status.last_success_us or 0) / 1e6),
            ("truceline_outbox_last_error_timestamp_seconds", "Unix time of the last forwarding error (0: never)",
             (status.last_error_us or 0) / 1e6),
            ("truceline_outbox_alert", "1 when the oldest pending observation waited longer than --upstream-alert-after",
             1.0 if self.forwarder.is_late(status) else 0.0),
        )
        for name, documentation, value in figures:
            yield GaugeMetricFamily(name, documentation, value=float(value))


def start_node(store: SqliteStore, config: UpstreamConfig, registry: CollectorRegistry, data_dir: Path) -> Forwarder:
    """Attach the outbox to ``store`` (catching up on what it missed), start forwarding and pulling the
    coalition picture into ``data_dir``, export figures."""
    if not isinstance(store, SqliteStore) or store.engine != "sqlite":
        raise TypeError(f"a national node keeps its outbox in the embedded SQLite store, not in {type(store).__name__}")
    forwarder = Forwarder(Outbox(store), config, picture=CoalitionPicture(data_dir, config.pull_every_s))
    registry.register(OutboxCollector(forwarder))
    forwarder.start()
    return forwarder
