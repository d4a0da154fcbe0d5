"""The daily report's section "Airspace and sea lanes": tracks heard, zone violations found on them, and the
track incidents (AIS gaps in zones, signs of spoofing) of the day, all under the agreement version in force.

ADS-B and AIS are broadcast in the clear, so every edition may show them; attribution rests on the
transponder's identity (state of registry, flag), which the section says can be spoofed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from truceline.domain.agreement import Agreement

LIST_LIMIT = 50


@dataclass(frozen=True)
class AirSeaFinding:
    """One line of the section: when, which track, what, and why."""

    time: str
    track: str
    type: str
    party: str | None
    confidence: float | None
    zones: str
    basis: str


@dataclass(frozen=True)
class AirSea:
    """The section's figures for one day."""

    aircraft: int  # tracks heard during the day
    vessels: int
    messages: int  # messages stored for the day
    leaves: int  # ledger leaves (track-minutes) covering them
    violations_by_party: dict[str, int]
    incidents_by_type: dict[str, int]
    violations: tuple[AirSeaFinding, ...]
    incidents: tuple[AirSeaFinding, ...]
    omitted: int


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def gather_airsea(store: Any, agreement: Agreement, day: date) -> AirSea:
    """Read the day's tracks and findings from the store (the track tables, same SQL in both stores)."""
    from truceline.store.tracks import list_findings

    start = datetime.combine(day, time(0), tzinfo=UTC)
    end = start + timedelta(days=1)
    s_us, e_us = int(start.timestamp() * 1e6), int(end.timestamp() * 1e6)
    reader = store._reader()
    kinds = dict(reader.execute(
        "SELECT t.kind, count(DISTINCT p.track_id) FROM track_points p JOIN tracks t ON t.track_id = p.track_id"
        " WHERE p.t_us >= ? AND p.t_us < ? GROUP BY t.kind", (s_us, e_us)).fetchall())
    messages = reader.execute("SELECT count(*) FROM track_points WHERE t_us >= ? AND t_us < ?", (s_us, e_us)).fetchone()[0]
    leaves = reader.execute("SELECT count(*) FROM track_minutes WHERE minute_us >= ? AND minute_us < ?", (s_us, e_us)).fetchone()[0]
    found = list_findings(store, agreement_digest=agreement.digest(), since=start, until=end)
    violations: list[AirSeaFinding] = []
    incidents: list[AirSeaFinding] = []
    for f in found:
        v = f.get("violation") or {}
        line = AirSeaFinding(f["time"], f["track"], f["type"], v.get("party"), v.get("confidence"), ", ".join(f["zones"]), f["basis"])
        (violations if f["category"] == "violation" else incidents).append(line)
    omitted = max(0, len(violations) - LIST_LIMIT) + max(0, len(incidents) - LIST_LIMIT)
    return AirSea(
        aircraft=int(kinds.get("aircraft", 0)), vessels=int(kinds.get("vessel", 0)), messages=int(messages), leaves=int(leaves),
        violations_by_party=dict(Counter(v.party or "undetermined" for v in violations)),
        incidents_by_type=dict(Counter(i.type for i in incidents)),
        violations=tuple(violations[:LIST_LIMIT]), incidents=tuple(incidents[:LIST_LIMIT]), omitted=omitted,
    )
