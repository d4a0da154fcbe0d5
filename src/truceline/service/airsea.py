"""Run the air and sea checks (verify/airsea.py) on newly stored track points, against the agreement in force.

Called after each stored batch (file chunk or live flush). Findings are kept in ``track_findings`` with the
digest of the agreement version they were judged under; ``GET /violations`` serves the violations of the
version in force beside those of fused incidents, ``GET /tracks/findings`` serves all of them.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from truceline.domain.agreement import Agreement
from truceline.store.tracks import get_track, previous_position, save_findings
from truceline.track.identity import identity
from truceline.track.model import TrackPoint
from truceline.verify.airsea import TrackFinding, judge_track
from truceline.verify.geometry import AgreementGeometry, geometry_for

logger = logging.getLogger("truceline.airsea")


class TrackChecker:
    """Judges new points track by track; without an agreement in force it finds nothing (and says so)."""

    def __init__(self, store: Any, agreement: Agreement | None = None, geometry: AgreementGeometry | None = None,
                 *, load: bool = True) -> None:
        self.store = store
        self._lock = threading.Lock()
        if agreement is None and load:
            document = store.current_agreement_document()
            agreement = Agreement.from_canonical_document(document) if document is not None else None
        self.agreement = agreement
        self.geometry = geometry or (geometry_for(agreement) if agreement is not None else None)
        self.found: dict[str, int] = {"violation": 0, "incident": 0}

    def use(self, agreement: Agreement, geometry: AgreementGeometry) -> None:
        """Judge from now on under this agreement version (a live server follows the version in force)."""
        self.agreement, self.geometry = agreement, geometry

    def check(self, points: list[TrackPoint]) -> list[TrackFinding]:
        """Judge and keep findings for a batch of newly stored points (any order, any tracks)."""
        if self.agreement is None or self.geometry is None or not points:
            return []
        by_track: dict[str, list[TrackPoint]] = {}
        for p in points:
            if p.has_position:
                by_track.setdefault(p.track_id, []).append(p)
        findings: list[TrackFinding] = []
        with self._lock:
            for track_id, pts in by_track.items():
                pts.sort(key=lambda q: q.time)
                previous = previous_position(self.store, track_id, pts[0].time)
                who = identity(pts[0].kind, pts[0].ident)
                summary = get_track(self.store, track_id)
                if summary is not None and summary.callsign:
                    who["name"] = summary.callsign  # a vessel's name comes in its static reports, not its positions
                findings.extend(judge_track(self.agreement, self.geometry, track_id, pts, previous, who))
            new = save_findings(self.store, findings, self.agreement.digest())
        for f in findings:
            self.found[f.category] = self.found.get(f.category, 0) + 1
        if new:
            logger.info("air/sea checks: %d new findings", new)
        return findings
