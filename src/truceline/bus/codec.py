"""Events as JSON, every field that decides who may read them included: what crosses a process boundary.

Why: an event made in one process (a cluster worker, the server's fusion process) must reach another's
``/stream`` readers under the very releasability rules it was made with; so the whole :class:`Event` travels,
not just its data, and decoding restores the tuples, so the decoded event equals the one published.
"""

from __future__ import annotations

from typing import Any

import orjson

from truceline.bus.ports import Event, Evidence

__all__ = ["decode_event", "encode_event", "event_dict", "event_from"]


def _evidence_out(evidence: Evidence) -> list[Any]:
    return [[owner, list(labels)] for owner, labels in evidence]


def _evidence_in(value: Any) -> Evidence:
    return tuple((str(owner), tuple(str(label) for label in labels)) for owner, labels in value)


def event_dict(event: Event) -> dict[str, Any]:
    """The event as plain JSON values (tuples as lists), ``partial`` nested."""
    return {
        "topic": event.topic,
        "data": event.data,
        "owner_org": event.owner_org,
        "releasable_to": list(event.releasable_to),
        "evidence": _evidence_out(event.evidence),
        "any_evidence": event.any_evidence,
        "guarded": [[name, _evidence_out(evidence)] for name, evidence in event.guarded],
        "partial": None if event.partial is None else event_dict(event.partial),
    }


def event_from(value: dict[str, Any]) -> Event:
    """Inverse of :func:`event_dict`; a missing or mistyped field raises (KeyError, TypeError, ValueError)."""
    partial = value.get("partial")
    return Event(
        topic=str(value["topic"]),
        data=dict(value["data"]),
        owner_org=str(value["owner_org"]),
        releasable_to=tuple(str(label) for label in value.get("releasable_to", ())),
        evidence=_evidence_in(value.get("evidence", ())),
        any_evidence=bool(value.get("any_evidence", False)),
        guarded=tuple((str(name), _evidence_in(evidence)) for name, evidence in value.get("guarded", ())),
        partial=None if partial is None else event_from(partial),
    )


def encode_event(event: Event) -> bytes:
    """The event with every field that decides who may read it, as JSON."""
    return orjson.dumps(event_dict(event))


def decode_event(payload: bytes) -> Event:
    """Inverse of :func:`encode_event` (tuples restored, so the event equals the one published)."""
    return event_from(orjson.loads(payload))
