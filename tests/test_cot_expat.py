"""CoT events parsed by expat directly give what defusedxml's ElementTree gave: the same records and rejections.

The reference below is the parser CoT used before (defusedxml's ``DefusedXMLParser`` with DTDs, entities
and external references forbidden, building every element, depth-limited by a counting tree builder).
"""

from __future__ import annotations

import random
from typing import Any
from xml.etree.ElementTree import Element, TreeBuilder

import pytest
from defusedxml.ElementTree import DefusedXMLParser
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.test_ingest_cot import BILLION_LAUGHS, OPTIONS, event

from truceline.ingest import cot


class _Depth(TreeBuilder):
    def __init__(self, limit: int) -> None:
        super().__init__()
        self._depth, self._limit = 0, limit

    def start(self, tag: Any, attrs: Any) -> Element:
        self._depth += 1
        if self._depth > self._limit:
            raise cot._TooDeep
        return super().start(tag, attrs)

    def end(self, tag: Any) -> Element:
        self._depth -= 1
        return super().end(tag)


def reference_parse(data: bytes, max_depth: int) -> cot._Parts:
    """The whole event as ElementTree builds it, then what the mapping reads of it found as ``find`` finds it."""
    parser = DefusedXMLParser(target=_Depth(max_depth), forbid_dtd=True, forbid_entities=True, forbid_external=True)
    parser.feed(data)
    root: Element = parser.close()
    parts = cot._Parts(max_depth)
    parts.tag, parts.attrs = root.tag, dict(root.attrib)
    point, detail = root.find("point"), root.find("detail")
    parts.point = dict(point.attrib) if point is not None else None
    if detail is not None:
        link = next((child for child in detail if child.tag == "link" and child.get("relation") == "p-p"), None)
        contact, override, remarks = detail.find("contact"), detail.find("truceline"), detail.find("remarks")
        parts.link = dict(link.attrib) if link is not None else None
        parts.contact = dict(contact.attrib) if contact is not None else None
        parts.override = dict(override.attrib) if override is not None else None
        parts.remarks = remarks.text if remarks is not None else None
    return parts


def both(data: bytes) -> tuple[Any, Any]:
    ours = cot.parse_event(data, "event[1] (byte 0)", OPTIONS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cot, "_parse", reference_parse)
        theirs = cot.parse_event(data, "event[1] (byte 0)", OPTIONS)
    return ours, theirs


_DETAILS = [
    "",
    "<remarks>a &amp; b &#x41; <![CDATA[<c>]]> d</remarks>",
    "<remarks>before<b>bold</b>after</remarks>",
    "<remarks>x<!-- comment -->y<?pi data?>z</remarks>",
    "<remarks/><remarks>second</remarks>",
    "<remarks>   </remarks>",
    "<remarks>" + "long " * 200 + "</remarks>",
    '<link relation="p-p" uid="A" parent_callsign="P"/><link relation="p-p" uid="B"/>',
    '<link relation="x" uid="A"/><contact/><contact callsign="second"/><link relation="p-p" uid="L"/>',
    '<contact callsign="C"/><truceline kind="impact"/><truceline kind="launch"/>',
    '<wrap><contact callsign="deep"/><remarks>deep</remarks></wrap>',
    '<x:contact xmlns:x="urn:x" callsign="ns"/><remarks xmlns="urn:y">ns text</remarks>',
    '<contact xmlns:a="urn:a" a:callsign="attr-ns" callsign="plain"/>',
    "<remarks>&undefined;</remarks>",
    "<remarks>&lt;&gt;&quot;&apos;</remarks>",
    "<a>" * 31 + "</a>" * 31,
    "<a>" * 40 + "</a>" * 40,
    "<remarks>" + "<a>" * 40 + "</a>" * 40 + "</remarks>",
    "<remarks>unclosed",
    "</detail><detail><remarks>second detail</remarks>",
    "</detail><point lat='1' lon='2' hae='0' ce='5' le='5'/><detail>",
]
_DOCUMENTS = [
    *(event(detail=d) for d in _DETAILS),
    "<?xml version='1.0' encoding='UTF-8'?>" + event(),
    "\ufeff" + event(),
    "<?xml version='1.0' encoding='ISO-8859-1'?>" + event(detail="<remarks>caf\u00e9</remarks>"),
    BILLION_LAUGHS + event(detail="<remarks>&lol9;</remarks>"),
    '<!DOCTYPE event [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>' + event(detail="<remarks>&xxe;</remarks>"),
    '<!DOCTYPE event SYSTEM "http://example.org/event.dtd">' + event(),
    '<!DOCTYPE event [<!ENTITY % p SYSTEM "http://example.org/p">%p;]>' + event(),
    '<!DOCTYPE event [<!ENTITY u SYSTEM "http://x/u" NDATA gif>]>' + event(),
    '<x:event xmlns:x="urn:x" uid="u" type="a-h-G" time="2023-04-02T03:15:00Z" start="2023-04-02T03:15:00Z" stale="2023-04-02T03:25:00Z"/>',
    "<notevent/>",
    "",
    "   ",
    "<event",
    event() + "<extra/>",
    event()[:-5],
    event().replace("<point", "<!-- c --><point"),
    event().replace('uid="', 'uid="\n', 1),
    event(point='lat="48" lon="37" hae="0" ce="5" le="5" lat="49"'),
    event().replace("<detail>", "<detail><point lat='1' lon='2' hae='0' ce='5' le='5'/>"),
]


@pytest.mark.parametrize("document", _DOCUMENTS)
def test_the_same_record_or_rejection_as_defusedxml(document: str) -> None:
    data = document.encode("latin-1") if "ISO-8859-1" in document else document.encode()
    ours, theirs = both(data)
    assert ours == theirs


def test_hostile_documents_are_refused_before_expansion(monkeypatch: pytest.MonkeyPatch) -> None:
    for document, words in ((BILLION_LAUGHS + event(), "DTD"), (event(detail="<remarks>&lol9;</remarks>"), "undefined entity"),
                            (event(detail="<a>" * 40 + "</a>" * 40), "nested deeper than 32")):  # fmt: skip
        ours, theirs = both(document.encode())
        assert ours == theirs and isinstance(ours, cot.Rejection) and words in ours.message


def test_the_bench_events(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "bench"))
    import formats  # type: ignore[import-not-found]

    for line in formats.gen_cot(200, random.Random(3)).splitlines():
        ours, theirs = both(line)
        assert ours == theirs and isinstance(ours, cot.Record)


_PIECES = st.sampled_from(
    ["<remarks>", "</remarks>", "<detail>", "</detail>", "<contact callsign='c'/>", "<link relation='p-p' uid='l'/>",
     "<truceline kind='impact'/>", "<a>", "</a>", "text", "&amp;", "&x;", "<![CDATA[z]]>", "<!--c-->", " ", "<b/>",
     "<point lat='1' lon='2' hae='0' ce='5' le='5'/>", "<", ">", "&"]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=14))
def test_random_details_give_the_same_result(pieces: list[str]) -> None:
    ours, theirs = both(event(detail="".join(pieces)).encode())
    assert ours == theirs
