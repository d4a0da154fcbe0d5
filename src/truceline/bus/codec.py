"""Events as JSON, every field that decides who may read them included: what crosses a process boundary.

Why: an event made in one process (a cluster worker, the server's fusion process) must reach another's
``/stream`` readers under the very releasability rules it was made with; so the whole :class:`Event` travels,
not just its data, and decoding restores the tuples, so the decoded event equals the one published.

msgspec encodes the :class:`Event` struct and decodes straight into it against its types (a compiled schema): a
fusing server with a reader passes every changed incident through here, and ``orjson`` with a field-by-field
rebuild of a dataclass took 8.7 µs per event against 2.6 (docs/performance.md, "Thirteenth round"). The JSON is
the same as before.
"""

from __future__ import annotations

import msgspec

from truceline.bus.ports import Event

__all__ = ["EVENT_LINE_PREFIX", "decode_event", "decode_event_line", "decode_events", "encode_event", "encode_event_line"]

#: How a line of the fusion process's pipe that carries an event begins (:func:`encode_event_line`).
EVENT_LINE_PREFIX = b'{"event":'


class _EventLine(msgspec.Struct):
    """``{"event": …}``: one event on the fusion process's pipe, among its other messages."""

    event: Event


_encode = msgspec.json.Encoder().encode
_decode_event = msgspec.json.Decoder(Event).decode
_decode_events = msgspec.json.Decoder(list[Event]).decode
_decode_line = msgspec.json.Decoder(_EventLine).decode


def _not_an_event(exc: msgspec.MsgspecError) -> ValueError:
    return ValueError(f"not an event: {exc}")


def encode_event(event: Event) -> bytes:
    """The event with every field that decides who may read it, as JSON (tuples as arrays, ``partial`` nested)."""
    return _encode(event)


def decode_event(payload: bytes) -> Event:
    """Inverse of :func:`encode_event` (tuples restored, so the event equals the one published); JSON that is
    not an event, or a field missing or of the wrong type, raises ValueError naming it. Nothing is coerced."""
    try:
        return _decode_event(payload)
    except msgspec.MsgspecError as exc:
        raise _not_an_event(exc) from exc


def decode_events(payload: bytes) -> list[Event]:
    """A JSON array of :func:`encode_event` events (a NATS message packs many); ValueError as :func:`decode_event`."""
    try:
        return _decode_events(payload)
    except msgspec.MsgspecError as exc:
        raise _not_an_event(exc) from exc


def encode_event_line(event: Event) -> bytes:
    """``{"event": …}`` and a newline: an event as the fusion process sends it to the server."""
    return EVENT_LINE_PREFIX + _encode(event) + b"}\n"


def decode_event_line(line: bytes) -> Event:
    """Inverse of :func:`encode_event_line`; ValueError as :func:`decode_event`."""
    try:
        return _decode_line(line).event
    except msgspec.MsgspecError as exc:
        raise _not_an_event(exc) from exc
