"""Events across a process boundary (bus/codec.py) and the fusion process's pipe to its server: the same JSON as
before, the event back equal, anything else refused with its reason, and the server's reading of the pipe."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest

from truceline.access.policy import Principal, Role
from truceline.api.routes_stream import format_event, view_for
from truceline.bus.codec import decode_event, decode_event_line, decode_events, encode_event, encode_event_line
from truceline.bus.ports import Event
from truceline.service.fusion import _evidence, _incident_event
from truceline.service.fusion_process import FusionProcess
from truceline.store.sqlite_incidents import LabelsCache

CHANGED = Event("incident.changed", {"id": "inc-1"}, owner_org="", evidence=(("UA", ("COALITION",)),), any_evidence=True)
FULL = Event(
    "incident.merged",
    {"id": "inc-1", "into": "inc-2", "n": 1.5, "nested": {"a": [1, None]}},
    owner_org="UA",
    releasable_to=("COALITION", "OSCE"),
    evidence=(("UA", ()), ("RU", ("RU",))),
    any_evidence=True,
    guarded=(("into", (("FR", ("NATO",)),)),),
    partial=CHANGED,
)


def _as_before(event: Event) -> dict[str, Any]:
    """The JSON the codec wrote before it used msgspec (orjson over this dict), written out here."""
    return {
        "topic": event.topic,
        "data": event.data,
        "owner_org": event.owner_org,
        "releasable_to": list(event.releasable_to),
        "evidence": [[owner, list(labels)] for owner, labels in event.evidence],
        "any_evidence": event.any_evidence,
        "guarded": [[name, [[o, list(ls)] for o, ls in ev]] for name, ev in event.guarded],
        "partial": None if event.partial is None else _as_before(event.partial),
    }


@pytest.mark.parametrize("event", [FULL, CHANGED, Event("observation", {}, "UA")])
def test_an_event_goes_out_as_the_same_json_and_comes_back_equal(event: Event) -> None:
    assert encode_event(event) == orjson.dumps(_as_before(event))
    assert decode_event(encode_event(event)) == event
    assert decode_events(b"[" + encode_event(event) + b"," + encode_event(FULL) + b"]") == [event, FULL]
    line = encode_event_line(event)
    assert line == orjson.dumps({"event": _as_before(event)}) + b"\n"
    assert decode_event_line(line) == event


def test_encoded_data_goes_out_as_it_is_and_arrives_as_the_same_object() -> None:
    """An observation event carries its stored document encoded (msgspec.Raw): the same JSON on the wire and on
    /stream, a dict on the far side of a process boundary, and a guarded field still hidden from a reader."""
    document = b'{"id":"o-1","kind":"impact","n":1e+21,"s":"\xc3\xa9"}'
    raw = Event("observation", msgspec.Raw(document), "UA", ("COALITION",))
    parsed = Event("observation", orjson.loads(document), "UA", ("COALITION",))
    assert orjson.loads(encode_event(raw)) == orjson.loads(encode_event(parsed)) and decode_event(encode_event(raw)) == parsed
    assert decode_event_line(encode_event_line(raw)) == parsed
    assert format_event(7, raw) == b"id: 7\nevent: observation\ndata: " + document + b"\n\n"
    guarded = msgspec.structs.replace(raw, guarded=(("kind", (("RU", ("RU",)),)),))
    reader = Principal("k", "UA", Role.OBSERVER, frozenset({"UA", "COALITION"}))
    seen = view_for(reader, guarded)
    assert seen is not None and seen.data == {**orjson.loads(document), "kind": None}
    assert view_for(reader, raw) is raw


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'{"topic": 5, "data": {}, "owner_org": "UA"}', "$.topic"),  # a number is not coerced to a topic
        (b'{"data": {}, "owner_org": "UA"}', "topic"),
        (b'{"topic": "x", "data": [], "owner_org": "UA"}', "$.data"),
        (b'{"topic": "x", "data": {}, "owner_org": "UA", "any_evidence": "yes"}', "$.any_evidence"),
        (b'{"topic": "x", "data": {}, "owner_org": "UA", "evidence": [["UA", "COALITION"]]}', "$.evidence[0][1]"),
        (b'{"topic": "x", "data": {}, "owner_org": "UA", "partial": {"topic": "y"}}', "$.partial"),
        (b'{"topic": "x", "data": {}, "owner_', "truncated"),
        (b"[1, 2]", "Expected `object`"),
        (b"\xff", "invalid"),
    ],
)
def test_anything_but_an_event_is_refused_with_its_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match="not an event") as raised:
        decode_event(payload)
    assert reason.lower() in str(raised.value).lower()
    with pytest.raises(ValueError, match="not an event"):
        decode_event_line(b'{"event":' + payload + b"}")
    with pytest.raises(ValueError, match="not an event"):
        decode_events(b"[" + payload + b"]")


def test_labels_are_read_as_the_database_hands_them_back() -> None:
    labels = LabelsCache()
    assert labels.of(None) == ()
    assert labels.of('["COALITION","OSCE"]') == ("COALITION", "OSCE")
    assert labels.of('["COALITION","OSCE"]') is labels.of('["COALITION","OSCE"]')  # parsed once
    assert labels.of(["RU"]) == ("RU",)  # psycopg parses JSON itself


def test_an_incident_event_names_each_owner_and_label_set_once_and_tells_moves_apart_per_organisation() -> None:
    feature = {"type": "Feature", "id": "inc-1", "properties": {}}
    before = [("UA", "a", ("COALITION",)), ("UA", "x", ("COALITION",))]
    after = [("UA", "a", ("COALITION",)), ("UA", "b", ("COALITION",)), ("RU", "x", ("RU",)), ("UA", "c", ())]
    event = _incident_event(feature, before, after)
    assert event.evidence == (("UA", ("COALITION",)), ("RU", ("RU",)), ("UA", ()))
    # UA's "x" left and RU's "x" joined: the same id, two observations, both moved; "b" and "c" joined.
    assert event.partial is not None
    assert event.partial.evidence == _evidence([after[1], after[2], after[3], before[1]])
    assert event.partial.evidence == (("UA", ("COALITION",)), ("RU", ("RU",)), ("UA", ()))
    unchanged = _incident_event(feature, after, list(reversed(after)))
    assert unchanged.partial is None


class _Bus:
    def __init__(self) -> None:
        self.handed: list[list[Event]] = []
        self.has_subscribers = True
        self.got_events = threading.Event()

    def publish(self, event: Event) -> None:
        self.publish_many([event])

    def publish_many(self, events: list[Event]) -> None:
        self.handed.append(list(events))
        if events:
            self.got_events.set()


def test_the_server_hands_over_the_events_that_arrived_together_and_reads_lines_cut_anywhere(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bus = _Bus()
    process = FusionProcess(tmp_path, store=None, bus=bus)  # type: ignore[arg-type]
    events = [Event("incident", {"id": f"inc-{n}"}, "") for n in range(3)]
    stream = b"".join(encode_event_line(e) for e in events[:2])
    stream += b'{"status": {"errors": 2, "last_error": "x"}}\n'
    stream += b'{"event":{"topic": 5}}\n'  # unreadable: logged, the others kept
    stream += encode_event_line(events[2])
    read, write = os.pipe()
    first = len(encode_event_line(events[0]) + encode_event_line(events[1])) + 7  # two events and a line begun
    cuts = [0, first, len(stream) - 3, len(stream)]

    def child() -> None:
        with os.fdopen(write, "wb", buffering=0) as out:
            for start, end in zip(cuts, cuts[1:], strict=False):
                out.write(stream[start:end])
                if start == 0:  # the first piece is read on its own, however slow the machine
                    assert bus.got_events.wait(30)
                else:
                    threading.Event().wait(0.02)
            out.write(b'{"event": ')  # the child dies in the middle of a line

    writer = threading.Thread(target=child)
    writer.start()
    with caplog.at_level(logging.ERROR), os.fdopen(read, "rb") as pipe:
        process._read_child(pipe)
    writer.join()
    # Per piece read, not per event: the first two together; the third once its line is whole.
    assert [batch for batch in bus.handed if batch] == [events[:2], events[2:]]
    assert process.errors == 2 and process.last_error == "x"
    assert "unreadable event from the fusion process" in caplog.text
    assert "ended in the middle of a message" in caplog.text
