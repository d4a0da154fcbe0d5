"""A report from people (patrol note, official statement, news wire) → observation records.

One observation per event sentence and place in the theatre (Ukraine, Russia): kind ``casualty-report``
when the sentence counts killed or injured, ``explosion`` for strikes, shelling and explosions. Its time is
the sentence's time expression resolved against the publication time (else the nearest one before it in
the same paragraph, else the day before publication), its place the geoparser's answer with its precision.
A place the text names but the gazetteer cannot resolve still yields an observation, without a point and
saying why; a sentence naming no place but counting casualties or regions hit yields one for Ukraine as a
whole, also without a point. Places abroad (Washington, Lissabon, Rom) never become incidents here.

Records are native-observation-shaped dicts, validated later by :mod:`truceline.ingest.validation`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from truceline.domain.observation import MAX_TIME_UNCERTAINTY_S
from truceline.text.events import EventMention, Sentence, detect_language, event_in, sentences
from truceline.text.geoparse import Geoparser, ResolvedPlace, default_geoparser, merge_mentions
from truceline.text.timex import TimeInterval, default_interval, find_times

SourceKind = Literal["osint", "official"]

#: Admiralty grades given when the sender states none. An official statement comes from a source with a
#: record (B) but is one side's word (3, possibly true); an open-source text has no record with the mission
#: (F) and is likewise unconfirmed (3).
DEFAULT_GRADES: dict[str, tuple[str, int]] = {"official": ("B", 3), "osint": ("F", 3)}
MAX_TEXT_CHARS = 200_000
_MAX_ATTRIBUTE_CHARS = 500


class ReportError(ValueError):
    """The report itself is unusable (empty, too long, naive publication time, bad source type)."""


class ReportSource(BaseModel):
    """Who published the report: an open source (news, social media) or an official body."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,127}$", description="stable id of the publisher or channel")]
    type: SourceKind = "osint"
    org: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_-]{1,31}$", description="organisation that owns the data, e.g. PRESS")]


class ReportIn(BaseModel):
    """A free-text report as sent to ``POST /api/v1/reports/text`` or in a ``--format text`` file."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS)]
    published_at: AwareDatetime
    source: ReportSource
    language: Literal["de", "en", "uk", "ru"] | None = None
    releasable_to: Annotated[list[Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_-]{1,31}$")]], Field(max_length=64)] = Field(default_factory=list)
    reliability: Literal["A", "B", "C", "D", "E", "F"] | None = None
    credibility: Annotated[int, Field(ge=1, le=6)] | None = None
    url: Annotated[str, Field(max_length=2000)] | None = None

    def to_report(self) -> TextReport:
        """The domain-side report."""
        return TextReport(
            text=self.text, published_at=self.published_at, source_id=self.source.id, org=self.source.org,
            source_type=self.source.type, language=self.language, releasable_to=tuple(self.releasable_to),
            reliability=self.reliability, credibility=self.credibility, url=self.url,
        )


@dataclass(frozen=True)
class TextReport:
    """A free-text report and what is known about where it came from."""

    text: str
    published_at: datetime
    source_id: str
    org: str
    source_type: SourceKind = "osint"
    language: str | None = None
    releasable_to: tuple[str, ...] = ()
    reliability: str | None = None
    credibility: int | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise ReportError("text is empty")
        if len(self.text) > MAX_TEXT_CHARS:
            raise ReportError(f"text has {len(self.text)} characters; the limit is {MAX_TEXT_CHARS}")
        if self.published_at.tzinfo is None or self.published_at.utcoffset() is None:
            raise ReportError("published_at must carry a UTC offset (e.g. 'Z')")
        if self.source_type not in DEFAULT_GRADES:
            raise ReportError(f"source type must be one of {', '.join(DEFAULT_GRADES)}, got {self.source_type!r}")


@dataclass(frozen=True)
class ExtractedEvent:
    """One event sentence with its resolved places and time."""

    mention: EventMention
    places: tuple[ResolvedPlace, ...]
    time: TimeInterval


@dataclass
class Extraction:
    """Everything read from one report: events, places, times, and what was left out and why."""

    report: TextReport
    language: str
    events: list[ExtractedEvent] = field(default_factory=list)
    places: list[ResolvedPlace] = field(default_factory=list)
    times: list[TimeInterval] = field(default_factory=list)
    boilerplate: list[str] = field(default_factory=list)

    @property
    def unresolved(self) -> list[ResolvedPlace]:
        """Place mentions without a point, each with the reason."""
        return [p for p in self.places if not p.resolved]

    def records(self) -> list[dict[str, Any]]:
        """Native observation records, one per event and place."""
        return [record for event in self.events for record in _records(self.report, self.language, event)]

    def summary(self) -> dict[str, Any]:
        """JSON form of what was found (for the API answer and ``--json`` output)."""
        return {
            "language": self.language,
            "places": [p.as_dict() for p in self.places],
            "times": [t.as_dict() for t in self.times],
            "events": [
                {
                    "sentence": e.mention.sentence.start,
                    "types": list(e.mention.types),
                    "kind": e.mention.kind,
                    "killed": e.mention.killed,
                    "injured": e.mention.injured,
                    "regions_hit": e.mention.regions_hit,
                    "according_to": e.mention.according_to,
                    "claims": [c.as_dict() for c in e.mention.claims],
                    "places": [p.name for p in e.places],
                    "time": e.time.as_dict(),
                }
                for e in self.events
            ],
            "boilerplate_lines": len(self.boilerplate),
        }


def extract(report: TextReport, geoparser: Geoparser | None = None) -> Extraction:
    """Read one report: sentences, places, times, events."""
    parser = geoparser or default_geoparser()
    body, dropped = sentences(report.text)
    language = report.language or detect_language(report.text)
    extraction = Extraction(report, language, boilerplate=dropped)
    kept_text = "\n".join(s.text for s in body)
    # Places are read once over the kept text (so proximity between them can disambiguate), then
    # assigned to sentences by position.
    mentions = parser.mentions(kept_text) if kept_text else []
    extraction.places = merge_mentions(mentions)
    times_by_sentence: list[list[TimeInterval]] = [find_times(s.text, report.published_at) for s in body]
    extraction.times = [t for ts in times_by_sentence for t in ts]
    places_by_sentence = _assign(body, mentions)
    last_time_in_paragraph: dict[int, TimeInterval] = {}
    for index, sentence in enumerate(body):
        mention = event_in(sentence)
        times = times_by_sentence[index]
        if mention is not None:
            named = places_by_sentence[index]
            places = tuple(p for p in _event_places(sentence, mention, named) if p.in_theatre or p.kind == "unresolved")
            abroad = any(p.resolved and not p.in_theatre for p in named)
            counted = bool(mention.killed or mention.injured or mention.regions_hit)
            if places or (counted and not abroad):
                if times:
                    when = min(times, key=lambda t: _distance_to_triggers(sentence, mention, t.span))
                else:
                    when = last_time_in_paragraph.get(sentence.paragraph) or default_interval(report.published_at)
                extraction.events.append(ExtractedEvent(mention, places, when))
        if times:
            last_time_in_paragraph[sentence.paragraph] = times[-1]
    return extraction


#: A place belongs to an event when named this close (in words) to the event's words, or joined by
#: "and"/a comma to a place that is: "Angriffe auf … in Sumy und Odessa", not "Druck auf Moskau".
EVENT_PLACE_WORDS = 6
_JOINERS = re.compile(r"^\s*(?:,|und|and|і|й|и|та|sowie|as well as|or|oder|або|или)?\s*$", re.IGNORECASE)
_WORDS = re.compile(r"\w+", re.UNICODE)


def _trigger_spans(sentence: Sentence, mention: EventMention) -> list[tuple[int, int]]:
    low = sentence.text.casefold()
    spans = []
    for word in mention.triggers:
        for m in re.finditer(r"(?<!\w)" + re.escape(word), low):
            spans.append((m.start(), m.end()))
    for m in re.finditer(r"(?<!\w)(?:verletzt|verwundet|getötet|tote|injured|wounded|killed|dead|died|поранен|загин|постраждал|ранен|погиб|убит)", low):
        spans.append((m.start(), m.end()))
    return spans


def _distance_to_triggers(sentence: Sentence, mention: EventMention, span: tuple[int, int] | None) -> int:
    if span is None:
        return 1 << 30
    spans = _trigger_spans(sentence, mention)
    if not spans:
        return 0
    return min(abs(span[0] - s) for s, _ in spans)


def _event_places(sentence: Sentence, mention: EventMention, named: list[ResolvedPlace]) -> list[ResolvedPlace]:
    """The places of a sentence that the event is about (see :data:`EVENT_PLACE_WORDS`)."""
    triggers = [len(_WORDS.findall(sentence.text[:s])) for s, _ in _trigger_spans(sentence, mention)]
    if not triggers:
        return list(named)
    chosen: list[ResolvedPlace] = []
    ordered = sorted(named, key=lambda p: p.start or 0)
    for place in ordered:
        position = len(_WORDS.findall(sentence.text[: place.start or 0]))
        if min(abs(position - t) for t in triggers) <= EVENT_PLACE_WORDS:
            chosen.append(place)
    changed = True
    while changed:  # places joined to a chosen one by "and" or a comma
        changed = False
        for place in ordered:
            if place in chosen:
                continue
            for other in chosen:
                a, b = sorted((place, other), key=lambda p: p.start or 0)
                if a.end is not None and b.start is not None and _JOINERS.match(sentence.text[a.end : b.start]):
                    chosen.append(place)
                    changed = True
                    break
    return sorted(chosen, key=lambda p: p.start or 0)


def _assign(body: list[Sentence], mentions: list[ResolvedPlace]) -> list[list[ResolvedPlace]]:
    """Places named in each sentence (spans are offsets into the sentences joined by newlines)."""
    out: list[list[ResolvedPlace]] = [[] for _ in body]
    offset = 0
    bounds = []
    for sentence in body:
        bounds.append((offset, offset + len(sentence.text)))
        offset += len(sentence.text) + 1
    for place in mentions:
        if place.start is None:
            continue
        for i, (s, e) in enumerate(bounds):
            if s <= place.start < e:
                local = replace(place, start=place.start - s, end=(place.end or place.start) - s)
                if all((p.name, p.lat, p.lon) != (local.name, local.lat, local.lon) for p in out[i]):
                    out[i].append(local)
                break
    return out


def _short(text: str | None) -> str | None:
    if text is None:
        return None
    return text if len(text) <= _MAX_ATTRIBUTE_CHARS else text[: _MAX_ATTRIBUTE_CHARS - 1] + "…"


def _records(report: TextReport, language: str, event: ExtractedEvent) -> list[dict[str, Any]]:
    mention = event.mention
    reliability, credibility = DEFAULT_GRADES[report.source_type]
    places: list[ResolvedPlace | None] = list(event.places) or [None]
    published = report.published_at.astimezone(UTC)
    out = []
    for place in places:
        if place is None:
            location: dict[str, Any] = {"type": "place", "name": "Ukraine", "precision": 4}
            geo_note: str | None = "the sentence names no place: the whole country, without a point"
        elif place.resolved:
            location = {"type": "place", "name": place.name[:200], "precision": place.precision, "lat": place.lat, "lon": place.lon}
            if place.admin1:
                location["admin"] = place.admin1[:200]
            geo_note = place.note
        else:
            location = {"type": "place", "name": place.mention[:200], "precision": 4}
            geo_note = f"unresolved: {place.note}"
        attributes: dict[str, Any] = {
            "event_types": list(mention.types),
            "language": language,
            "published_at": published.isoformat().replace("+00:00", "Z"),
            "sentence": _short(mention.sentence.text),
            "time_expression": event.time.expression or None,
            "extractor": "truceline.text",
        }
        if mention.killed is not None:
            attributes["killed"] = mention.killed
        if mention.injured is not None:
            attributes["injured"] = mention.injured
        if (mention.killed or mention.injured) and len(places) > 1:
            attributes["counts_shared_by"] = len(places)  # one figure for all places of the sentence
        if mention.regions_hit is not None:
            attributes["regions_hit"] = mention.regions_hit
        if mention.according_to:
            attributes["according_to"] = _short(mention.according_to)
        if mention.claims:
            attributes["claims"] = [c.as_dict() for c in mention.claims]
        if geo_note:
            attributes["geoparse"] = geo_note
        if place is not None and place.resolved and place.basis:
            attributes["geoparse_basis"] = _short(place.basis)  # why this place of the name: the context that decided
        if place is not None and place.mention != place.name:
            attributes["place_mention"] = _short(place.mention)
        if report.url:
            attributes["url"] = _short(report.url)
        key = "|".join(
            [report.source_id, published.isoformat(), str(mention.sentence.start), mention.sentence.text, location["name"]]
        )
        record: dict[str, Any] = {
            "id": "txt-" + hashlib.sha256(key.encode()).hexdigest()[:32],
            "time": event.time.midpoint.isoformat().replace("+00:00", "Z"),
            "time_uncertainty_s": min(event.time.half_width_s, MAX_TIME_UNCERTAINTY_S),
            "kind": mention.kind,
            "location": location,
            "source": {"id": report.source_id, "type": report.source_type, "org": report.org},
            "reliability": report.reliability or reliability,
            "credibility": report.credibility or credibility,
            "releasable_to": list(report.releasable_to) or [report.org],
            "attributes": {k: v for k, v in attributes.items() if v is not None},
            "evidence_hash": "sha256:" + hashlib.sha256(report.text.encode()).hexdigest(),
        }
        out.append(record)
    return out


def extract_records(report: TextReport, geoparser: Geoparser | None = None) -> list[dict[str, Any]]:
    """Observation records of one report (see :func:`extract` for what else is found)."""
    return extract(report, geoparser).records()
