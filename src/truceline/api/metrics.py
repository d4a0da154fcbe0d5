"""Prometheus metrics of one app instance (own registry, so several apps can live in one process).

Only operational figures: request counts and latencies, ingest totals. Nothing here is filtered by
releasability, so nothing here may describe the content of observations.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    """The counters the API updates."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "truceline_http_requests", "HTTP requests by route and status", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "truceline_http_request_seconds", "HTTP request latency by route", ["route"], registry=self.registry
        )
        self.observations_stored = Counter(
            "truceline_observations_stored", "Observations newly stored", registry=self.registry
        )
        self.observations_duplicate = Counter(
            "truceline_observations_duplicate", "Observations re-sent with an id already stored", registry=self.registry
        )
        self.observations_conflicting = Counter(
            "truceline_observations_conflicting",
            "Observations re-sent with a stored id but different content (kept unchanged)",
            registry=self.registry,
        )
        self.mqtt_messages = Counter(
            "truceline_mqtt_messages", "MQTT messages by outcome (stored, duplicate, or the reason of a rejection)", ["outcome"],
            registry=self.registry,
        )
        self.cot_events = Counter(
            "truceline_cot_events",
            "Cursor-on-Target events received by the listeners, by transport and outcome (stored, duplicate, or why refused)",
            ["transport", "outcome"],
            registry=self.registry,
        )
        self.batches_rejected = Counter(
            "truceline_batches_rejected", "Observation batches rejected by reason", ["reason"], registry=self.registry
        )
