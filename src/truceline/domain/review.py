"""Analysts' decisions on an incident and the two-person rule that turns them into a status.

Fusion proposes (detected, corroborated); people decide. An incident is *verified* only when two different
analysts' standing decisions are "verify" and none is "dismiss"; one analyst's "dismiss" with no
verification dismisses it; "reopen" clears every decision before it. Anything else (one verification, or
analysts disagreeing) leaves fusion's status and says why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from truceline.domain.incident import IncidentStatus


class Decision(str, Enum):
    """What an analyst can decide about an incident."""

    VERIFY = "verify"
    DISMISS = "dismiss"
    REOPEN = "reopen"


@dataclass(frozen=True)
class ReviewOutcome:
    """The status to show, and in words how the decisions led to it."""

    status: IncidentStatus
    note: str
    verified_by: tuple[str, ...] = ()
    dismissed_by: tuple[str, ...] = ()


def review_outcome(fused: IncidentStatus, decisions: Iterable[Mapping[str, Any]]) -> ReviewOutcome:
    """Apply the two-person rule to decisions (``{"decision", "analyst"}``, oldest first)."""
    standing: dict[str, Decision] = {}
    for item in decisions:
        decision = Decision(item["decision"])
        if decision is Decision.REOPEN:
            standing.clear()
        else:
            standing[str(item["analyst"])] = decision
    verified = tuple(sorted(a for a, d in standing.items() if d is Decision.VERIFY))
    dismissed = tuple(sorted(a for a, d in standing.items() if d is Decision.DISMISS))
    if dismissed and verified:
        return ReviewOutcome(fused, f"disputed: {len(verified)} analyst(s) verify, {len(dismissed)} dismiss", verified, dismissed)
    if dismissed:
        return ReviewOutcome(IncidentStatus.DISMISSED, f"dismissed by {len(dismissed)} analyst(s)", verified, dismissed)
    if len(verified) >= 2:
        return ReviewOutcome(IncidentStatus.VERIFIED, f"verified by {len(verified)} different analysts", verified, dismissed)
    if verified:
        return ReviewOutcome(fused, "one analyst verifies; a second, different analyst must agree", verified, dismissed)
    return ReviewOutcome(fused, "not reviewed", verified, dismissed)
