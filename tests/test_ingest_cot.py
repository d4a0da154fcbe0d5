"""Cursor on Target: event splitting, the kind table, uncertainty, sources, and hostile XML."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytak
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from truceline.fuse.measurement import MeasurementModel, measure
from truceline.ingest.cot import (
    CotOptions,
    EventSplitter,
    Stray,
    Unit,
    decode_cot,
    kind_for,
    parse_event,
)
from truceline.ingest.pipeline import IngestSummary, detect_format, ingest_records
from truceline.ingest.records import Record, Rejection
from truceline.ingest.validation import validate_batch, validation_context
from truceline.locate.enu import LocalFrame
from truceline.store.sqlite import SqliteStore

OPTIONS = CotOptions(org="UA", releasable_to=("COALITION",))


def event(
    cot_type: str = "a-h-G-E-W",
    *,
    uid: str = "ANDROID-589520ccfcd20f01",
    time: str = "2023-04-02T03:15:00.000Z",
    stale: str = "2023-04-02T03:20:00.000Z",
    point: str = 'lat="48.105" lon="37.712" hae="160.5" ce="40" le="15"',
    detail: str = '<contact callsign="Hostile 1"/><link uid="ANDROID-aaa" parent_callsign="MONITOR-7" relation="p-p"/>'
    "<remarks>two howitzers at the tree line</remarks>",
) -> str:
    return (
        f'<event version="2.0" uid="{uid}" type="{cot_type}" how="h-e" time="{time}" start="{time}" stale="{stale}">'
        f"<point {point}/><detail>{detail}</detail></event>"
    )


def one(xml: str) -> Record | Rejection:
    return parse_event(xml.encode(), "event[1] (byte 0)", OPTIONS)


def test_event_maps_to_a_valid_observation() -> None:
    record = one(event())
    assert isinstance(record, Record)
    (obs,), errors = validate_batch([record.value], validation_context())
    assert errors == []
    assert obs.kind.value == "equipment-sighting"
    assert obs.id == "cot-ANDROID-589520ccfcd20f01-1680405300000"
    assert obs.time.isoformat() == "2023-04-02T03:15:00+00:00"
    assert obs.point == (48.105, 37.712)
    # ce is CoT's 1-σ circular error: CEP = √(2 ln 2) σ.
    assert obs.location.cep_m == pytest.approx(40 * math.sqrt(2 * math.log(2)))  # type: ignore[union-attr]
    assert obs.location.alt_m == 160.5  # type: ignore[union-attr]
    assert obs.sigma_m == pytest.approx(40, rel=1e-3)
    assert obs.source.id == "MONITOR-7" and obs.source.org == "UA" and obs.source.type.value == "monitor"
    assert obs.releasable_to == ["COALITION"]
    assert obs.attributes["le_m"] == 15 and obs.attributes["callsign"] == "Hostile 1"
    assert obs.attributes["cot_stale"] == "2023-04-02T03:20:00.000Z"
    assert obs.attributes["remarks"] == "two howitzers at the tree line"


def test_pytak_generated_event_is_understood() -> None:
    element = pytak.cot_event(lat=48.2, lon=37.9, ce=25, hae=200, le=10, uid="sensor-42", cot_type="a-h-A-M-F-Q", callsign="OWL")
    record = one(pytak.serialize_cot(element).decode().split("\n", 1)[1])
    assert isinstance(record, Record)
    assert record.value["kind"] == "flight" and record.value["source"]["id"] == "OWL"


@pytest.mark.parametrize(
    ("cot_type", "kind"),
    [
        ("a-h-G-E-W-A", "equipment-sighting"),
        ("a-s-G-E-V-A-T", "equipment-sighting"),
        ("a-u-G-U-C-I", "troop-movement"),
        ("a-h-G-I", "other"),
        ("a-h-G", "other"),
        ("a-h-A-M-F-Q", "flight"),
        ("a-n-A-C", "flight"),
        ("a-h-S", "other"),
        ("a-h-F", "troop-movement"),
        ("b-r-f-h-c", "casualty-report"),
        ("b-m-p-s-m", "other"),
        ("b-d-c-n-r", "other"),
        ("a-f-G-U-C", None),
        ("a-a-A", None),
        ("a-h-P", None),
        ("a-h", None),
        ("t-x-d-d", None),
        ("u-d-f", None),
        ("b-m-r", None),
    ],
)
def test_kind_table(cot_type: str, kind: str | None) -> None:
    assert kind_for(cot_type)[0] == kind


def test_unmapped_type_is_refused_with_reason() -> None:
    rejection = one(event("a-f-G-U-C"))
    assert isinstance(rejection, Rejection) and rejection.field == "@type"
    assert "own-force tracking" in rejection.message


def test_truceline_kind_overrides_the_type() -> None:
    record = one(event("b-m-p-s-m", detail='<truceline kind="explosion"/>'))
    assert isinstance(record, Record) and record.value["kind"] == "explosion"
    bad = one(event("b-m-p-s-m", detail='<truceline kind="boom"/>'))
    assert isinstance(bad, Record)
    _, errors = validate_batch([bad.value], validation_context())
    assert [e.field for e in errors] == ["kind"]


def test_unknown_values_are_not_invented() -> None:
    record = one(event(point='lat="48.1" lon="37.7" hae="9999999.0" ce="9999999.0" le="9999999.0"', detail=""))
    assert isinstance(record, Record)
    assert record.value["location"] == {"lat": 48.1, "lon": 37.7}
    assert "le_m" not in record.value["attributes"]
    assert record.value["source"]["id"] == "ANDROID-589520ccfcd20f01"  # no link, no contact: the uid


def test_unknown_ce_gets_fusions_default_sigma_not_a_false_precision() -> None:
    """An event without ce must weigh in fusion like any report of unstated accuracy, neither as exact nor as
    infinitely vague: the measurement model's default σ, while a stated ce keeps its own (ce is 1σ)."""
    unknown, stated = (one(event(point=f'lat="48.1" lon="37.7" hae="9999999.0" ce="{ce}" le="9999999.0"')) for ce in ("9999999.0", "40"))
    assert isinstance(unknown, Record) and isinstance(stated, Record)
    observations, errors = validate_batch([unknown.value, stated.value], validation_context())
    assert errors == []
    model = MeasurementModel()
    (vague, precise), unlocated, _ = measure(observations, LocalFrame(48.1, 37.7), 0.0, model)
    assert unlocated == []
    assert math.isclose(vague.radius, model.default_sigma_m, rel_tol=1e-4)
    assert math.isclose(precise.radius, 40.0, rel_tol=1e-4)  # CEP round trip


@pytest.mark.parametrize(
    ("xml", "field", "message"),
    [
        (event(stale="2023-04-02T03:10:00Z"), "@stale", "is before start"),
        (event(time="2023-04-02T03:15:00"), "@time", "must end in Z"),
        (event(time="yesterday"), "@time", "not an xs:dateTime"),
        (event(point='lat="nan" lon="37.7" hae="0" ce="5" le="5"'), "point/@lat", "not a decimal number"),
        (event(point='lat="48" hae="0" ce="5" le="5"'), "point/@lon", "required attribute missing"),
        (event(point='lat="48" lon="37" hae="0" ce="-3" le="5"'), "point/@ce", "must be positive"),
        (event().replace("<point", "<pt").replace("/><detail>", "/><detail>", 1), "point", "needs a <point>"),
        (event().replace('uid="ANDROID-589520ccfcd20f01" ', ""), "@uid", "required attribute"),
        ("<notevent/>", "(document)", "expected <event>"),
        (event()[:-5], "(document)", "malformed XML at line 1"),
    ],
)
def test_bad_events_are_refused_precisely(xml: str, field: str, message: str) -> None:
    rejection = one(xml)
    assert isinstance(rejection, Rejection), rejection
    assert rejection.field == field and message in rejection.message, rejection


def test_out_of_range_latitude_is_caught_by_validation() -> None:
    record = one(event(point='lat="148" lon="37" hae="0" ce="5" le="5"'))
    assert isinstance(record, Record)
    _, errors = validate_batch([record.value], validation_context())
    assert [e.field for e in errors] == ["location.lat"]


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE event [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">' for i in range(1, 10))
    + "]>"
)


def test_dtd_and_entities_are_refused_by_the_parser() -> None:
    rejection = one(BILLION_LAUGHS + event(detail="<remarks>&lol9;</remarks>"))
    assert isinstance(rejection, Rejection) and "DTD" in rejection.message
    external = '<!DOCTYPE event [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>' + event(detail="<remarks>&xxe;</remarks>")
    rejection = one(external)
    assert isinstance(rejection, Rejection) and "DTD" in rejection.message


def test_billion_laughs_file_stores_nothing(store: SqliteStore) -> None:
    data = (BILLION_LAUGHS + event(detail="<remarks>&lol9;</remarks>")).encode()
    records = list(decode_cot(data, OPTIONS))
    assert all(isinstance(r, Rejection) for r in records) and len(records) == 2
    assert records[0].where == f"byte {BILLION_LAUGHS.index('<!DOCTYPE')}" and "DTD or entity declaration refused" in records[0].message
    assert records[1].where.startswith("event[1] (byte ") and "undefined entity" in records[1].message
    summary = ingest_records(store, iter(records), IngestSummary("laughs", "cot"))
    assert summary.stored == 0 and store.count_observations() == 0


def test_deep_nesting_is_refused() -> None:
    rejection = one(event(detail="<a>" * 200 + "</a>" * 200))
    assert isinstance(rejection, Rejection) and "nested deeper than 32" in rejection.message


def test_huge_event_is_refused_and_its_neighbours_kept() -> None:
    huge = event(uid="big", detail="<remarks>" + "x" * 300_000 + "</remarks>")
    data = "\n".join([event(uid="one"), huge, event(uid="three")]).encode()
    records = list(decode_cot(data, OPTIONS))
    assert [type(r).__name__ for r in records] == ["Record", "Rejection", "Record"]
    assert records[1].where == f"event[2] (byte {len(event(uid='one')) + 1})"
    assert "more than the 262144 allowed" in records[1].message


def test_file_with_wrapper_and_one_bad_event(store: SqliteStore, tmp_path: Path) -> None:
    events = [event(uid=f"e{i}", time=f"2023-04-02T03:1{i}:00Z", stale="2023-04-02T04:00:00Z") for i in range(4)]
    events[2] = events[2].replace('ce="40"', 'ce="forty"')
    text = '<?xml version="1.0" encoding="UTF-8"?>\n<events>\n' + "\n".join(events) + "\n</events>\n"
    path = tmp_path / "patrol.xml"
    path.write_text(text, encoding="utf-8")
    assert detect_format(path, text.encode()[:4096]) == "cot"
    records = list(decode_cot(text.encode(), OPTIONS))
    (bad,) = [r for r in records if isinstance(r, Rejection)]
    assert bad.where == f"event[3] (byte {text.index(events[2])})"
    assert bad.field == "point/@ce" and bad.value == "forty"
    summary = ingest_records(store, iter(records), IngestSummary(str(path), "cot"))
    assert (summary.stored, summary.rejected_count) == (3, 1)
    assert store.get_observation("cot-e1-1680405060000") is not None
    assert store.get_observation("cot-e2-1680405120000") is None


def test_text_between_events_and_unclosed_events_are_reported() -> None:
    data = (event(uid="a") + "hello" + "<event uid='x'>" + event(uid="b") + "<event uid='c'>").encode()
    splitter = EventSplitter()
    items = splitter.feed(data) + splitter.close()
    kinds = [(type(i).__name__, i.number) for i in items]
    assert kinds == [("Unit", 1), ("Stray", None), ("Stray", 2), ("Unit", 3), ("Stray", 4)]
    assert isinstance(items[1], Stray) and "unexpected content outside <event> elements: 'hello'" in items[1].message
    assert isinstance(items[2], Stray) and "not closed before the next <event>" in items[2].message
    assert isinstance(items[4], Stray) and "input ends" in items[4].message


def test_cli_ingest_cot_json_summary(tmp_path: Path) -> None:
    path = tmp_path / "patrol.cot"
    path.write_text("\n".join([event(uid="a"), event("a-f-G-U-C", uid="b"), event(uid="c")]) + "\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "truceline.cli", "ingest", "--data-dir", str(tmp_path / "d"), str(path), "--org", "UA", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    (summary,) = json.loads(result.stdout)["files"]
    assert (summary["format"], summary["stored"], summary["rejected_count"]) == ("cot", 2, 1)
    assert summary["rejected"][0]["where"] == f"event[2] (byte {len(event(uid='a')) + 1})"
    assert summary["rejected"][0]["field"] == "@type"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 400), min_size=1, max_size=30))
def test_splitting_does_not_depend_on_how_bytes_arrive(cuts: list[int]) -> None:
    data = ("<events>" + event(uid="a") + "\n" + event(uid="b", detail="<x>" * 40 + "</x>" * 40) + "junk" + event(uid="c")).encode()
    whole = EventSplitter(max_event_bytes=1024)
    expected = whole.feed(data) + whole.close()
    piecewise = EventSplitter(max_event_bytes=1024)
    got: list[Unit | Stray] = []
    pos = 0
    for size in cuts:
        got += piecewise.feed(data[pos : pos + size])
        pos += size
    got += piecewise.feed(data[pos:]) + piecewise.close()
    assert got == expected


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>/=\"' eventpointdhlaoncsu&;!-[]?x0123456789.ZT:")), max_size=400))
def test_fuzz_decoder_yields_only_records_or_rejections(text: str) -> None:
    for item in decode_cot(("<event " + text).encode(), OPTIONS):
        assert isinstance(item, Record | Rejection)


@settings(max_examples=150, deadline=None)
@given(
    st.recursive(
        st.builds(lambda t: ET.Element("point", lat=t, lon="37", hae="0", ce="5", le="5"), st.text(max_size=12)),
        lambda children: st.builds(lambda kids: _element("detail", kids), st.lists(children, max_size=4)),
        max_leaves=12,
    )
)
def test_fuzz_structured_events_never_raise(child: ET.Element) -> None:
    root = ET.Element("event", uid="u", type="a-h-G", time="2023-04-02T03:15:00Z", start="2023-04-02T03:15:00Z", stale="2023-04-02T03:25:00Z")
    root.append(child)
    result = parse_event(ET.tostring(root), "event[1] (byte 0)", OPTIONS)
    assert isinstance(result, Record | Rejection)


def _element(tag: str, children: list[ET.Element]) -> ET.Element:
    element = ET.Element(tag)
    element.extend(children)
    return element
