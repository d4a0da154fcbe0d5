"""Ledger coverage of raw ADS-B/AIS messages: one leaf per track and minute, committing to its messages.

A leaf per message would multiply the log by the message rate (2,000/s from a busy receiver); a leaf per
track and minute keeps it proportional to the traffic picture while every raw message stays provable:
the committed document lists the minute's raw messages in arrival order, and the leaf holds
``sha256(salt || canonical_json(document))`` like an observation's. Messages of one track-minute that
arrive in separate batches (a live feed) get one leaf per batch, each covering its own messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import orjson

from truceline.ledger.canonical import LEAF_VERSION
from truceline.ledger.commitment import commit_canonical, new_salt
from truceline.track.model import TrackPoint

MINUTE_US = 60_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _iso(value: datetime) -> str:
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat().replace("+00:00", "Z")


_TIME_CACHE: dict[datetime, str] = {}


def _times(value: datetime) -> str:
    """``_iso`` remembered: a minute's messages share a handful of time stamps (bounded cache)."""
    text = _TIME_CACHE.get(value)
    if text is None:
        if len(_TIME_CACHE) > 4096:
            _TIME_CACHE.clear()
        text = _TIME_CACHE[value] = _iso(value)
    return text


@dataclass
class TrackMinute:
    """The messages of one track in one UTC minute, and the document a leaf commits to."""

    track_id: str
    minute: datetime
    points: list[TrackPoint] = field(default_factory=list)

    def document(self, source: str) -> dict[str, object]:
        """What the leaf commits to: the track, the minute, the source, and every raw message with its time."""
        return {
            "track": self.track_id,
            "minute": _times(self.minute),
            "source": source,
            "messages": [{"time": _times(p.time), "raw": p.raw} for p in self.points],
        }


def group_by_track_minute(points: Iterable[TrackPoint], times_us: Sequence[int] | None = None) -> list[TrackMinute]:
    """Group points by (track, UTC minute), keeping arrival order inside each group.

    ``times_us``: the points' times as integer microseconds since the epoch when the caller has them (the
    store does), so the minute is an integer floor instead of a datetime built per point."""
    if times_us is None:
        groups: dict[tuple[str, datetime], TrackMinute] = {}
        for p in points:
            minute = p.time.astimezone(UTC).replace(second=0, microsecond=0)
            key = (p.track_id, minute)
            group = groups.get(key)
            if group is None:
                group = groups[key] = TrackMinute(p.track_id, minute)
            group.points.append(p)
        return list(groups.values())
    by_us: dict[tuple[str, int], TrackMinute] = {}
    for p, t in zip(points, times_us, strict=True):
        track = f"{p.kind}:{p.ident}"  # TrackPoint.track_id, without the property call
        key_us = (track, t - t % MINUTE_US)
        group = by_us.get(key_us)
        if group is None:
            group = by_us[key_us] = TrackMinute(track, _minute(key_us[1]))
        group.points.append(p)
    return list(by_us.values())


_MINUTES: dict[int, datetime] = {}


def _minute(minute_us: int) -> datetime:
    """The UTC minute starting ``minute_us`` microseconds after the epoch (remembered, bounded)."""
    value = _MINUTES.get(minute_us)
    if value is None:
        if len(_MINUTES) > 4096:
            _MINUTES.clear()
        value = _MINUTES[minute_us] = _EPOCH + timedelta(microseconds=minute_us)
    return value


def minute_leaf(group: TrackMinute, source: str, received_at: datetime) -> tuple[bytes, bytes, bytes]:
    """(canonical document, salt, leaf bytes) for one track-minute batch.

    The document holds only strings, and the leaf strings and one small integer, so orjson with sorted keys
    writes their RFC 8785 canonical form directly (as ``ledger.commitment`` does for observation leaves);
    the tests check it against :func:`~truceline.ledger.canonical.canonical_json`.
    """
    canonical = orjson.dumps(group.document(source), option=orjson.OPT_SORT_KEYS)
    salt = new_salt()
    body = {"commitment": commit_canonical(salt, canonical), "received_at": _times(received_at), "messages": len(group.points)}
    leaf = orjson.dumps({"body": body, "type": "track", "v": LEAF_VERSION}, option=orjson.OPT_SORT_KEYS)
    return canonical, salt, leaf
