"""Cursor on Target (CoT, the TAK ecosystem's XML): ``<event>`` elements → observations.

A CoT file or stream is a run of ``<event>…</event>`` documents (one per line, back to back, or inside a
wrapper element). :class:`EventSplitter` cuts them apart on the bytes, with a size cap, so that each event
is parsed as its own unit: one bad event is one rejection (``event[3] (byte 1234)``) and nothing of it is
kept, while its neighbours are. Each unit is parsed by expat with defusedxml's protections (DTDs, entities and
external references refused) and a nesting depth limit, so a billion-laughs or external-entity document is
refused before it can expand.

Mapping (the kind table is in docs/formats.md):

- ``type`` → kind by :func:`kind_for` (a ``<truceline kind="…"/>`` child of ``detail`` overrides it, for
  bridges from sensors that know truceline's kinds); own-force positions, pings, tasking and drawings are
  refused as not being observations;
- ``point`` lat/lon/hae; ``ce`` is read as the 1-σ radius of a circular normal error (the CoT schema's
  "circular 1-sigma"), so CEP = 1.1774 × ce; ``le`` (1-σ vertical) goes to attributes; 9999999 is unknown;
- ``time`` is the observation time; ``start``/``stale`` are kept as attributes and must be ordered;
- the source is the creator of the event: ``detail/link[@relation='p-p']`` (``parent_callsign``, else its
  ``uid``), else ``detail/contact/@callsign``, else the event ``uid``; the observation id is
  ``cot-<uid>-<time in ms>`` so a re-sent event is a duplicate, an update a new observation.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.etree.ElementTree import ParseError
from xml.parsers import expat

import msgspec
from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

from truceline.domain.observation import DEFAULT_CLOCK_SKEW
from truceline.domain.observation_fast import RecordIn, collector_paused
from truceline.domain.strict import parse_decimal
from truceline.domain.validated import ValidatedObservation
from truceline.ingest.records import Record, Rejection, Validated
from truceline.ingest.validated_json import validated_or_checked

#: Largest single event accepted; TAK events are a few hundred bytes to a few KiB.
MAX_EVENT_BYTES = 256 * 1024
#: Deepest element nesting accepted inside one event (TAK details nest 3–4 levels).
MAX_DEPTH = 32
#: CoT's "unknown" value for ce, le and hae.
UNKNOWN = 9_999_999.0
#: CEP of a circular normal error with per-axis σ: √(2 ln 2) σ.
CEP_PER_SIGMA = math.sqrt(2 * math.log(2))
_MAX_REMARKS = 500
_CHUNK = 1000  # events decoded at a time with the cyclic collector paused
_START = re.compile(rb"<event[\s>/]")
_END = re.compile(rb"</event\s*>")
# What may stand between events: whitespace, XML declarations, comments, and wrapper start/end tags.
_BETWEEN = re.compile(rb"(?:\s|\xef\xbb\xbf|<\?xml[^>]*\?>|<!--.*?-->|</?[A-Za-z_][\w.:-]*(?:\s[^<>]*)?/?>)*", re.DOTALL)
_DTD = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_ID_BAD = re.compile(r"[^A-Za-z0-9._:@/+-]+")
_FRIENDLY = frozenset({"f", "a"})
_convert = msgspec.convert  # a record checked against the compiled schema (types, ranges, kinds) in C


@dataclass(frozen=True)
class Unit:
    """One ``<event>`` cut from the input: its number (1-based, XPath style), byte offset and bytes."""

    number: int
    offset: int
    data: bytes


@dataclass(frozen=True)
class Stray:
    """Bytes that are not an acceptable event (oversized, unclosed, text or a DTD between events)."""

    offset: int
    message: str
    number: int | None = None  # the event number, when the stray bytes were an event


class EventSplitter:
    """Cut a byte stream into ``<event>`` units as bytes arrive, holding at most ``max_event_bytes``.

    Used on whole files and on TCP streams alike; UDP datagrams get a fresh splitter each.
    """

    def __init__(self, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self.max_event_bytes = max_event_bytes
        self._buf = bytearray()
        self._base = 0  # input offset of _buf[0]
        self._in_event = False  # _buf starts with "<event"
        self._scan = 0  # where to resume searching in _buf
        self._discarding = False  # skipping the rest of an oversized event
        self._count = 0

    def feed(self, data: bytes) -> list[Unit | Stray]:
        """Units completed by ``data`` and refusals of what cannot become one."""
        self._buf += data
        out: list[Unit | Stray] = []
        while self._step(out):
            continue  # each step cuts one unit or refusal off the buffer
        return out

    def close(self) -> list[Unit | Stray]:
        """What remains at the end of the input: an unfinished event or stray bytes are refused."""
        out: list[Unit | Stray] = []
        if self._in_event:
            out.append(Stray(self._base, f"event is not closed: input ends {len(self._buf)} bytes after its start", self._count))
        elif self._buf and not self._discarding:
            self._check_between(bytes(self._buf), out)
        self._drop(len(self._buf))
        self._in_event = self._discarding = False
        return out

    def _drop(self, n: int) -> None:
        del self._buf[:n]
        self._base += n
        self._scan = 0

    def _step(self, out: list[Unit | Stray]) -> bool:
        buf = self._buf
        if self._discarding:
            end, start = _END.search(buf), _START.search(buf)
            if start is not None and (end is None or start.start() < end.start()):
                self._discarding = False
                self._drop(start.start())
                return True
            if end is None:
                self._drop(max(0, len(buf) - 16))
                return False
            self._discarding = False
            self._drop(end.end())
            return True
        if not self._in_event:
            start = _START.search(buf, self._scan)
            if start is None:
                if len(buf) > self.max_event_bytes:
                    out.append(Stray(self._base, f"{len(buf)} bytes without an <event> element"))
                    self._drop(len(buf) - 16)
                else:
                    self._scan = max(0, len(buf) - 16)
                return False
            if start.start():
                self._check_between(bytes(buf[: start.start()]), out)
                self._drop(start.start())
            self._in_event = True
            self._count += 1
            self._scan = 1
        end = _END.search(buf, self._scan)
        limit = end.start() if end is not None else len(buf)
        following = _START.search(buf, max(1, self._scan - 16), limit)
        if following is not None:
            out.append(
                Stray(self._base, f"event is not closed before the next <event> at byte {self._base + following.start()}", self._count)
            )
            self._in_event = False
            self._drop(following.start())
            return True
        if end is None:
            if len(buf) > self.max_event_bytes:
                out.append(Stray(self._base, f"event exceeds {self.max_event_bytes} bytes without </event>", self._count))
                self._in_event = False
                self._discarding = True
                self._drop(len(buf) - 16)
            else:
                self._scan = max(1, len(buf) - 16)
            return False
        size = end.end()
        if size > self.max_event_bytes:
            out.append(Stray(self._base, f"event is {size} bytes, more than the {self.max_event_bytes} allowed", self._count))
        else:
            out.append(Unit(self._count, self._base, bytes(buf[:size])))
        self._in_event = False
        self._drop(size)
        return True

    def _check_between(self, text: bytes, out: list[Unit | Stray]) -> None:
        dtd = _DTD.search(text)
        if dtd is not None:
            out.append(Stray(self._base + dtd.start(), "DTD or entity declaration refused: CoT needs neither, and they enable entity-expansion attacks"))
            return
        match = _BETWEEN.match(text)
        if match is not None and match.end() < len(text):
            snippet = text[match.end() : match.end() + 40].decode("utf-8", "replace")
            out.append(Stray(self._base + match.end(), f"unexpected content outside <event> elements: {snippet!r}"))


@dataclass(frozen=True)
class CotOptions:
    """What a CoT event does not say: whose observation it is and who may read it."""

    org: str
    releasable_to: tuple[str, ...] = ()
    source_type: str = "monitor"
    max_event_bytes: int = MAX_EVENT_BYTES
    max_depth: int = MAX_DEPTH


@functools.lru_cache(maxsize=1024)  # a stream repeats a handful of types
def kind_for(cot_type: str) -> tuple[str | None, str]:
    """(truceline kind, "") for a CoT type, or (None, why it is not an observation). Table: docs/formats.md."""
    atoms = cot_type.split("-")
    if atoms[0] == "a":
        if len(atoms) < 3:
            return None, "an atom type needs an affiliation and a battle dimension (e.g. a-h-G)"
        affiliation, dimension, function = atoms[1], atoms[2], atoms[3:]
        if affiliation in _FRIENDLY:
            return None, "friendly positions (a-f-…, a-a-…) are own-force tracking, not observations"
        if dimension == "A":
            return "flight", ""
        if dimension == "G":
            if function[:1] == ["E"]:
                return "equipment-sighting", ""
            if function[:1] == ["U"]:
                return "troop-movement", ""
            return "other", ""
        if dimension in ("S", "U", "F"):
            return ("troop-movement" if dimension == "F" else "other"), ""
        return None, f"battle dimension {dimension!r} (space or unknown) is not observed by truceline"
    if atoms[0] == "b":
        if atoms[1:5] == ["r", "f", "h", "c"]:
            return "casualty-report", ""
        if atoms[1:2] == ["d"] or atoms[1:3] == ["m", "p"] or atoms[1:2] == ["i"]:
            return "other", ""
        return None, "this bit type (routes, chat, alarms, …) is not a located observation"
    return None, "tasking, replies, pings and drawings (t-, y-, u-, c-) are not observations"


def _number(attrs: dict[str, str], name: str, where: str, path: str) -> float | Rejection:
    raw = attrs.get(name)
    if raw is None:
        return Rejection(where, f"{path}/@{name}", "required attribute missing")
    try:
        return parse_decimal(raw)  # XML gives text: one strict grammar, no NaN, inf, hex or padding
    except ValueError as exc:
        return Rejection(where, f"{path}/@{name}", str(exc), raw[:40])


def _time(raw: str, where: str, name: str) -> datetime | Rejection:
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        return Rejection(where, f"@{name}", "not an xs:dateTime (e.g. 2023-04-02T03:15:00Z)", raw[:40])
    if value.tzinfo is None:
        return Rejection(where, f"@{name}", "CoT times are UTC and must end in Z (or carry an offset)", raw[:40])
    return value


class _TooDeep(Exception):
    """Raised from inside the parser at the first element nested deeper than the limit."""


def _forbid_dtd(name: str, sysid: str | None, pubid: str | None, has_internal_subset: bool) -> None:
    raise DTDForbidden(name, sysid, pubid)


def _forbid_entity(name: str, is_parameter: bool, value: str | None, base: str | None, sysid: str | None, pubid: str | None,
                   notation: str | None) -> None:  # fmt: skip
    raise EntitiesForbidden(name, value, base, sysid, pubid, notation)


def _forbid_unparsed_entity(name: str, base: str | None, sysid: str | None, pubid: str | None, notation: str | None) -> None:
    raise EntitiesForbidden(name, None, base, sysid, pubid, notation)


def _forbid_external(context: str, base: str | None, sysid: str | None, pubid: str | None) -> int:
    raise ExternalReferenceForbidden(context, base, sysid, pubid)


_MAPPED = frozenset({"link", "contact", "truceline", "remarks"})  # the children of <detail> the mapping reads


class _Parts:
    """What :func:`parse_event` reads of an event, gathered by expat's handlers as ElementTree's ``find`` would
    give it: the root's tag and attributes, the first ``<point>``'s attributes, and of the first ``<detail>``
    the first ``link`` with ``relation="p-p"``, the first ``contact``, the first ``truceline`` and the first
    ``remarks``' text (what precedes its first child). The rest of the event is checked, never built."""

    __slots__ = ("depth", "limit", "tag", "attrs", "point", "in_detail", "seen_detail", "link", "contact", "override",
                 "reading", "seen_remarks", "text", "remarks")  # fmt: skip

    def __init__(self, limit: int) -> None:
        self.depth = 0
        self.limit = limit
        self.tag = ""
        self.attrs: dict[str, str] = {}
        self.point: dict[str, str] | None = None
        self.in_detail = False  # the first <detail> is open
        self.seen_detail = False
        self.link: dict[str, str] | None = None
        self.contact: dict[str, str] | None = None
        self.override: dict[str, str] | None = None  # <truceline kind="…"/>
        self.reading = False  # the first <remarks>' text is being read
        self.seen_remarks = False
        self.text: list[str] = []
        self.remarks: str | None = None

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        depth = self.depth = self.depth + 1
        if depth > self.limit:
            raise _TooDeep
        if self.reading:
            self._end_text()  # ElementTree's text is what comes before the first child
        if depth == 1:
            self.tag = "{" + tag if "}" in tag else tag
            self.attrs = attrs
        elif depth == 2:
            if tag == "point":
                if self.point is None:
                    self.point = attrs
            elif tag == "detail" and not self.seen_detail:
                self.seen_detail = self.in_detail = True
        elif depth == 3 and self.in_detail and tag in _MAPPED:
            if tag == "link":
                if self.link is None and attrs.get("relation") == "p-p":
                    self.link = attrs
            elif tag == "contact":
                if self.contact is None:
                    self.contact = attrs
            elif tag == "truceline":
                if self.override is None:
                    self.override = attrs
            elif not self.seen_remarks:
                self.seen_remarks = self.reading = True

    def end(self, tag: str) -> None:
        if self.reading:
            self._end_text()
        if self.depth == 2:
            self.in_detail = False
        self.depth -= 1

    def data(self, text: str) -> None:
        if self.reading:
            self.text.append(text)

    def _end_text(self) -> None:
        if self.text:
            self.remarks = "".join(self.text)
            self.text = []
        self.reading = False


def _parse(data: bytes, max_depth: int) -> _Parts:
    """Expat with defusedxml's protections (a DTD, an entity declaration or an external reference is refused
    the moment expat reports it, before anything expands), depth-limited; the parts of the event the mapping
    reads. ElementTree built every element of the event through Python callbacks (a fifth of CoT ingest); the
    handlers keep the parts themselves, not elements for the mapping to ``find`` in (docs/performance.md,
    "Fourteenth round"). tests/test_cot_expat.py checks both give the same records and rejections."""
    parser = expat.ParserCreate(None, "}")  # ElementTree's namespace separator
    event = _Parts(max_depth)
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = _forbid_dtd
    parser.EntityDeclHandler = _forbid_entity
    parser.UnparsedEntityDeclHandler = _forbid_unparsed_entity
    parser.ExternalEntityRefHandler = _forbid_external
    parser.StartElementHandler = event.start
    parser.EndElementHandler = event.end
    parser.CharacterDataHandler = event.data
    try:
        parser.Parse(data, True)
    except expat.error as exc:
        error = ParseError(exc)
        error.code = exc.code
        error.position = exc.lineno, exc.offset
        raise error from None
    return event  # expat refuses a document without an element: the root was seen


def _clean_id(text: str) -> str:
    cleaned = _ID_BAD.sub("-", text.strip()).strip("-._:@/+")[:100]
    return cleaned


def _source(parts: _Parts, uid: str) -> tuple[str, dict[str, str]]:
    """Source id and the names it came from: the creating link, else the contact callsign, else the uid."""
    names: dict[str, str] = {}
    candidates: list[str] = []
    link = parts.link
    if link is not None:
        if link.get("parent_callsign"):
            names["parent_callsign"] = link["parent_callsign"]
            candidates.append(names["parent_callsign"])
        if link.get("uid"):
            names["parent_uid"] = link["uid"]
            candidates.append(names["parent_uid"])
    contact = parts.contact
    if contact is not None and contact.get("callsign"):
        names["callsign"] = contact["callsign"]
        candidates.append(names["callsign"])
    candidates.append(uid)
    for candidate in candidates:
        cleaned = _clean_id(candidate)
        if cleaned:
            return cleaned, names
    return "cot-" + hashlib.sha256(uid.encode()).hexdigest()[:16], names


def parse_event(data: bytes, where: str, options: CotOptions) -> Record | Rejection:
    """One ``<event>`` document → a native-shaped record, or the rejection naming what and where."""
    try:
        parts = _parse(data, options.max_depth)
    except _TooDeep:
        return Rejection(where, "(document)", f"elements nested deeper than {options.max_depth} levels")
    except DTDForbidden:
        return Rejection(where, "(document)", "DTD (<!DOCTYPE>) refused: CoT needs none, and DTDs enable entity-expansion attacks")
    except EntitiesForbidden as exc:
        return Rejection(where, "(document)", f"entity declaration {exc.name!r} refused")
    except ExternalReferenceForbidden as exc:
        return Rejection(where, "(document)", f"external reference {exc.sysid!r} refused")
    except ParseError as exc:
        line, column = exc.position
        return Rejection(where, "(document)", f"malformed XML at line {line} column {column}: {str(exc).split(':')[0]}")
    if parts.tag != "event":
        return Rejection(where, "(document)", f"root element is <{parts.tag}>, expected <event>")
    attrs = parts.attrs
    for name in ("uid", "type", "time", "start", "stale"):
        if not attrs.get(name, "").strip():
            return Rejection(where, f"@{name}", "required attribute missing or empty")
    uid, cot_type = attrs["uid"].strip(), attrs["type"].strip()
    override = parts.override
    kind: str | None
    if override is not None and override.get("kind"):
        kind = override["kind"]
    else:
        kind, why = kind_for(cot_type)
        if kind is None:
            return Rejection(where, "@type", f"CoT type {cot_type!r} has no truceline kind: {why}", cot_type[:40])
    times: dict[str, datetime] = {}
    for name in ("time", "start", "stale"):
        parsed = _time(attrs[name].strip(), where, name)
        if isinstance(parsed, Rejection):
            return parsed
        times[name] = parsed
    if times["stale"] < times["start"]:
        return Rejection(where, "@stale", f"stale {attrs['stale']} is before start {attrs['start']}")
    point = parts.point
    if point is None:
        return Rejection(where, "point", "an event needs a <point> child")
    numbers: dict[str, float] = {}
    for name in ("lat", "lon", "hae", "ce", "le"):
        value = _number(point, name, where, "point")
        if isinstance(value, Rejection):
            return value
        numbers[name] = value
    location: dict[str, Any] = {"lat": numbers["lat"], "lon": numbers["lon"]}
    if numbers["hae"] != UNKNOWN:
        location["alt_m"] = numbers["hae"]
    ce = numbers["ce"]
    if ce != UNKNOWN:
        if ce <= 0:
            return Rejection(where, "point/@ce", "circular error must be positive (9999999 for unknown)", str(ce))
        location["cep_m"] = ce * CEP_PER_SIGMA
    source_id, names = _source(parts, uid)
    attributes: dict[str, Any] = {
        "cot_uid": uid,
        "cot_type": cot_type,
        "cot_start": attrs["start"].strip(),
        "cot_stale": attrs["stale"].strip(),
        **names,
    }
    if attrs.get("how"):
        attributes["cot_how"] = attrs["how"]
    if numbers["le"] != UNKNOWN:
        attributes["le_m"] = numbers["le"]
    remarks = parts.remarks
    if remarks is not None and remarks.strip():
        attributes["remarks"] = remarks.strip()[:_MAX_REMARKS]
    millis = round(times["time"].timestamp() * 1000)
    uid_part = _clean_id(uid) or hashlib.sha256(uid.encode()).hexdigest()[:16]
    record = {
        "id": f"cot-{uid_part}-{millis}",
        "time": attrs["time"].strip(),
        "kind": kind,
        "location": location,
        "source": {"id": source_id, "type": options.source_type, "org": options.org},
        "releasable_to": list(options.releasable_to),
        "attributes": attributes,
    }
    return Record(where, record)


def validated_record(record: Record, latest: datetime) -> Record | Validated:
    """A record of :func:`parse_event` as the store takes it, when the compiled checks accept it
    (:func:`~truceline.ingest.validated_json.validated_or_checked`; ``latest``: no later than validation's ``now``
    plus the allowed clock skew): the model's objects would be built only to be written as this same document
    (decode to stored rows 86.5 → 81.3 µs per event, docs/performance.md, "Fourteenth round"). Any other record
    stays a :class:`Record`, so that validation words its refusal."""
    try:
        checked = validated_or_checked(_convert(record.value, RecordIn), latest)
    except msgspec.ValidationError:
        return record  # the model refuses it, in its words
    if type(checked) is ValidatedObservation:
        return Validated(record.where, checked)
    if checked is not None:
        return Record(record.where, checked)  # a time after ``latest``: validation refuses it
    return record


def unit_results(items: Iterable[Unit | Stray], options: CotOptions, prefix: str = "", latest: datetime | None = None) -> Iterator[Record | Rejection | Validated]:
    """Parse split units (with ``latest``: :func:`validated_record`); stray bytes become rejections at their byte offset."""
    for item in items:
        if isinstance(item, Unit):
            result = parse_event(item.data, f"{prefix}event[{item.number}] (byte {item.offset})", options)
            yield result if latest is None or isinstance(result, Rejection) else validated_record(result, latest)
        else:
            place = f"event[{item.number}] (byte {item.offset})" if item.number is not None else f"byte {item.offset}"
            yield Rejection(prefix + place, "(document)", item.message)


def decode_cot(data: bytes, options: CotOptions, validate_at: datetime | None = None) -> Iterator[Record | Rejection | Validated]:
    """Records of a CoT file: every ``<event>`` is its own unit. With ``validate_at`` (file ingest: a time no later
    than validation's ``now``), plainly valid events come out as :class:`Validated`, ready for the store."""
    latest = None if validate_at is None else validate_at + DEFAULT_CLOCK_SKEW
    splitter = EventSplitter(options.max_event_bytes)
    units = splitter.feed(data) + splitter.close()  # the file is in memory already; its events as units
    for start in range(0, len(units), _CHUNK):  # a chunk at a time: what is stored is freed before the next is built
        with collector_paused():  # small objects without cycles, built as the other decoders build them
            results = list(unit_results(units[start : start + _CHUNK], options, latest=latest))
        yield from results


def looks_like_cot(head: bytes) -> bool:
    """True if the first bytes hold a CoT ``<event`` (after any declaration, comment or wrapper)."""
    return _START.search(head[:4096]) is not None and head.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"<"
