"""CoT file ingest's validated path against the model's: the same stored rows, byte for byte, and the same rejections.

Old path: :func:`~truceline.ingest.cot.decode_cot` without a time bound gives records, which the model validates
and the store prepares. New path: with ``validate_at`` (what ``truceline ingest`` does), an event the compiled
checks accept comes out :class:`~truceline.ingest.records.Validated` with its canonical bytes; any other stays a
record for the model to word its refusal. The comparison is tests/test_validated_json.py's.
"""

from __future__ import annotations

import random

import pytest
from bench.formats import gen_cot
from tests.test_ingest_cot import event
from tests.test_validated_json import assert_same, both

_POINTS = [
    'lat="48.105" lon="37.712" hae="160.5" ce="40" le="15"',
    'lat="48" lon="37" hae="9999999" ce="9999999" le="9999999"',  # unknowns: no altitude, CEP assumed
    'lat="-0" lon="0.0" hae="-500" ce="0.0000001" le="0"',
    'lat="90" lon="-180" hae="100000" ce="849321" le="1e3"',
    'lat="48.123456789012345" lon="37.1" hae="1e2" ce="1.5E1" le="15"',
    'lat="91" lon="37" hae="0" ce="5" le="5"',  # out of range: the model refuses it
    'lat="48" lon="37" hae="100001" ce="5" le="5"',
    'lat="48" lon="37" hae="0" ce="900000" le="5"',  # a CEP beyond the schema's limit
    'lat="48" lon="37" hae="0" ce="-5" le="5"',
]
_TIMES = [
    ("2023-04-02T03:15:00Z", "2023-04-02T03:20:00Z"),
    ("2023-04-02T03:15:00.123456Z", "2023-04-02T03:20:00Z"),
    ("2023-04-02T03:15:00.000000Z", "2023-04-02T03:20:00Z"),
    ("2023-04-02T05:15:00+02:00", "2023-04-02T05:20:00+02:00"),
    ("1999-12-31T23:59:59Z", "2000-01-01T00:00:00Z"),
    ("2099-01-01T00:00:00Z", "2099-01-01T00:05:00Z"),  # in the future: validation refuses it, in its words
]
_DETAILS = [
    "",
    '<contact callsign="Hostile 1"/><remarks>two howitzers at the tree line</remarks>',
    '<link relation="p-p" uid="ANDROID-a" parent_callsign="MONITOR 7"/><contact callsign="c"/>',
    "<remarks>line\u2028sep &quot;quoted&quot; \\ \u00e9 \U0001f600 &#x7f; tab\there</remarks>",
    "<remarks>" + "long " * 200 + "</remarks>",
    '<truceline kind="impact"/>',
    '<truceline kind="nonsense"/>',  # not a kind: the model refuses it
    '<contact callsign="!!!"/>',  # nothing of it survives cleaning: the uid names the source
]
_TYPES = ["a-h-G-E-W", "a-h-A-M-F-Q", "b-r-f-h-c", "b-m-p-s-m", "a-u-G-U-C-I", "t-x-c"]


def test_a_generated_file_stores_the_same_rows_every_event_validated() -> None:
    old, new = both("cot", gen_cot(300, random.Random(5)))
    assert len(new[0]) == 300 and new[2] == 300
    assert new[0] == old[0] and new[1] == old[1] == []


@pytest.mark.parametrize("seed", range(120))
def test_varied_events_store_and_refuse_the_same(seed: int) -> None:
    rng = random.Random(seed)
    events = []
    for i in range(4):
        time, stale = rng.choice(_TIMES)
        uid = rng.choice([f"ev-{seed}-{i}", f"odd uid/{seed}:{i}", "  spaced  ", "\u00e9\u00e9"])
        events.append(event(rng.choice(_TYPES), uid=uid, time=time, stale=stale, point=rng.choice(_POINTS), detail=rng.choice(_DETAILS)))
    assert_same("cot", "\n".join(events).encode())


def test_plain_events_come_validated_and_refused_ones_as_records() -> None:
    plain = event().encode()
    assert both("cot", plain)[1][2] == 1
    _, new = both("cot", event(point=_POINTS[5]).encode())
    assert new[2] == 0 and new[1] and new[1][0][1].startswith("location")
    _, new = both("cot", event(time="2099-01-01T00:00:00Z", stale="2099-01-01T00:05:00Z").encode())
    assert new[2] == 0 and new[1] and new[1][0][1] == "time"
