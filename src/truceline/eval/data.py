"""Reading what evaluation compares: the simulator's truth, fused incidents, and the observations.

Incidents are read from JSON Lines of :class:`~truceline.domain.incident.Incident` objects (what
``truceline simulate --fuse`` writes) or from a GeoJSON FeatureCollection (what ``GET /api/v1/incidents``
returns). Every malformed line is refused with its file and line number.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from truceline.domain.incident import Incident
from truceline.domain.observation import Observation
from truceline.ingest.validation import validate_batch, validation_context


class EvalInputError(ValueError):
    """An input file evaluation cannot use; the message names the file and line."""


@dataclass(frozen=True)
class Target:
    """One end (``impact`` or ``launch``) of one true event: what an incident should find."""

    event: str
    phase: str
    time: float
    lat: float
    lon: float


@dataclass(frozen=True)
class Label:
    """What an observation truly saw: an event's end, or nothing (clutter, false report)."""

    event: str | None
    phase: str | None
    tag: str


@dataclass(frozen=True)
class Truth:
    """Targets by ``(event, phase)`` and labels by observation id."""

    header: dict[str, Any]
    targets: dict[tuple[str, str], Target]
    labels: dict[str, Label]


@dataclass(frozen=True)
class FusedIncident:
    """The parts of an incident evaluation needs, whatever file it came from."""

    id: str
    time: float
    lat: float
    lon: float
    kind: str
    observation_ids: tuple[str, ...]
    status: str = "detected"


def fused(incident: Incident) -> FusedIncident:
    """The evaluated view of an in-memory incident."""
    return FusedIncident(
        incident.id,
        incident.time.timestamp(),
        incident.lat,
        incident.lon,
        incident.kind.value,
        incident.observation_ids,
        incident.status.value,
    )


def _lines(path: Path) -> list[tuple[int, Any]]:
    out = []
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise EvalInputError(f"{path}: cannot read: {exc.strerror}") from None
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append((number, orjson.loads(line)))
        except orjson.JSONDecodeError as exc:
            raise EvalInputError(f"{path}:{number}: malformed JSON: {exc.msg}") from None
    return out


def _time(value: Any, where: str) -> float:
    if not isinstance(value, str):
        raise EvalInputError(f"{where}: time must be an ISO 8601 string, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise EvalInputError(f"{where}: time {value!r} is not ISO 8601") from None
    if parsed.tzinfo is None:
        raise EvalInputError(f"{where}: time {value!r} has no UTC offset")
    return parsed.timestamp()


def read_truth(path: Path) -> Truth:
    """Parse ``truth.jsonl`` as written by the simulator."""
    return parse_truth(((f"{path}:{number}", doc) for number, doc in _lines(path)), str(path))


def parse_truth(records: Iterable[tuple[str, Any]], origin: str = "truth") -> Truth:
    """Truth from ``(where, record)`` pairs, e.g. straight from :func:`truceline.sim.truth_records`."""
    header: dict[str, Any] = {}
    targets: dict[tuple[str, str], Target] = {}
    labels: dict[str, Label] = {}
    for where, doc in records:
        if not isinstance(doc, dict) or "type" not in doc:
            raise EvalInputError(f"{where}: expected an object with a 'type' (scenario, event or label)")
        try:
            if doc["type"] == "scenario":
                header = doc
            elif doc["type"] == "event":
                for phase in ("impact", "launch"):
                    end = doc[phase]
                    targets[(doc["id"], phase)] = Target(doc["id"], phase, _time(end["time"], where), float(end["lat"]), float(end["lon"]))
            elif doc["type"] == "label":
                labels[str(doc["observation"])] = Label(doc.get("event"), doc.get("phase"), str(doc.get("tag", "signal")))
            else:
                raise EvalInputError(f"{where}: unknown record type {doc['type']!r}")
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, EvalInputError):
                raise
            raise EvalInputError(f"{where}: malformed {doc.get('type')} record ({exc!r})") from None
    if not labels:
        raise EvalInputError(f"{origin}: no label records: is this a truth file written by 'truceline simulate'?")
    for oid, label in labels.items():
        if label.event is not None and (label.event, label.phase or "impact") not in targets:
            raise EvalInputError(f"{origin}: label of {oid} names event {label.event!r} ({label.phase}) that the file does not define")
    return Truth(header, targets, labels)


def _incident_from_json(doc: Any, where: str) -> FusedIncident:
    if not isinstance(doc, dict):
        raise EvalInputError(f"{where}: expected an incident object")
    try:
        if doc.get("type") == "Feature":
            props = doc.get("properties") or {}
            lon, lat = doc["geometry"]["coordinates"][:2]
            return FusedIncident(
                str(doc.get("id", props.get("id"))),
                _time(props["time"], where),
                float(lat),
                float(lon),
                str(props.get("kind", "other")),
                tuple(str(i) for i in props["observation_ids"]),
                str(props.get("status", "detected")),
            )
        return FusedIncident(
            str(doc["id"]),
            _time(doc["time"], where),
            float(doc["lat"]),
            float(doc["lon"]),
            str(doc.get("kind", "other")),
            tuple(str(i) for i in doc["observation_ids"]),
            str(doc.get("status", "detected")),
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise EvalInputError(f"{where}: incident lacks a usable field ({exc!r}); need id, time, lat/lon, observation_ids") from None


def read_incidents(path: Path) -> list[FusedIncident]:
    """Incidents from JSON Lines of incident objects or from one GeoJSON FeatureCollection."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise EvalInputError(f"{path}: cannot read: {exc.strerror}") from None
    head = raw.lstrip()[:200]
    if head.startswith(b"{") and b'"FeatureCollection"' in raw[:1_000] and raw.count(b"\n") <= 1:
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise EvalInputError(f"{path}: malformed JSON at line {exc.lineno}: {exc.msg}") from None
        if doc.get("type") == "FeatureCollection":
            return [_incident_from_json(f, f"{path}: feature {i}") for i, f in enumerate(doc.get("features", []), start=1)]
    return [_incident_from_json(doc, f"{path}:{n}") for n, doc in _lines(path)]


def read_observations(path: Path) -> list[Observation]:
    """Validated observations from native JSON Lines; any invalid record is an error (the file is ours)."""
    records = [doc for _, doc in _lines(path)]
    good, errors = validate_batch(records, validation_context())
    if errors:
        first = errors[0]
        raise EvalInputError(f"{path}: record {first.index + 1} is not a valid observation: {first.field}: {first.message}")
    return good
