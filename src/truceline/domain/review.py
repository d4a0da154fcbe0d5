"""Analysts' decisions on an incident and the two-person rule that turns them into a status.

Fusion proposes (detected, corroborated); people decide. An incident is *verified* only when two different
analysts' standing decisions are "verify" and none is "dismiss"; one analyst's "dismiss" with no
verification dismisses it; "reopen" clears every decision before it. Anything else (one verification, or
analysts disagreeing) leaves fusion's status and says why.

The same outcome decides what counts as a violation, so ``GET /violations``, the daily report and the
ACLED export cannot disagree (:func:`violation_candidates`): a *dismissed* incident is not counted; a
*verified* one and one still *pending* (not reviewed, one verification, or analysts disagreeing) are,
since fusion's evidence stands until analysts conclude otherwise.

Who reviewed and why is for coalition staff only (:func:`review_view`): other readers are shown the
outcome, the time of the last decision and a note that counts analysts without naming them.

Only authorised decisions count (:func:`apply_review` takes the authority rule, ``access.policy``'s
``decision_authority``: analysts of COALITION organisations and the admin). A decision by anyone else (an
analyst of a party's organisation, recorded before reviews were refused to them) is kept, as it is a
ledger leaf and part of the history, and coalition staff see it marked ``"counted": false`` with the
reason; it takes no part in the outcome, its time, its note or its counts, and a "reopen" among such
decisions clears nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from truceline.domain.incident import Incident, IncidentStatus


class Decision(StrEnum):
    """What an analyst can decide about an incident."""

    VERIFY = "verify"
    DISMISS = "dismiss"
    REOPEN = "reopen"


class ReviewStatus(StrEnum):
    """Where analysts stand on an incident, as every reader may see it."""

    PENDING = "pending"  # not concluded: not reviewed, one verification so far, or analysts disagree
    VERIFIED = "verified"
    DISMISSED = "dismissed"

    @classmethod
    def of(cls, status: IncidentStatus) -> ReviewStatus:
        """The review status behind an incident status after the two-person rule."""
        if status is IncidentStatus.VERIFIED:
            return cls.VERIFIED
        if status is IncidentStatus.DISMISSED:
            return cls.DISMISSED
        return cls.PENDING


@dataclass(frozen=True)
class ReviewOutcome:
    """The status to show, and in words how the decisions led to it."""

    status: IncidentStatus
    note: str
    verified_by: tuple[str, ...] = ()
    dismissed_by: tuple[str, ...] = ()
    at: str | None = None  # time of the last decision (reopen included); None when never reviewed

    @property
    def review_status(self) -> ReviewStatus:
        """The outcome as pending, verified or dismissed."""
        return ReviewStatus.of(self.status)


def review_outcome(fused: IncidentStatus, decisions: Iterable[Mapping[str, Any]]) -> ReviewOutcome:
    """Apply the two-person rule to decisions (``{"decision", "analyst"[, "at"][, "counted"]}``, oldest first).

    A decision marked ``"counted": False`` (see :func:`mark_authority`) is skipped entirely.
    """
    standing: dict[str, Decision] = {}
    at: str | None = None
    for item in decisions:
        if item.get("counted", True) is False:
            continue
        decision = Decision(item["decision"])
        at = item.get("at", at)
        if decision is Decision.REOPEN:
            standing.clear()
        else:
            standing[str(item["analyst"])] = decision
    verified = tuple(sorted(a for a, d in standing.items() if d is Decision.VERIFY))
    dismissed = tuple(sorted(a for a, d in standing.items() if d is Decision.DISMISS))
    if dismissed and verified:
        note = f"disputed: {len(verified)} analyst(s) verify, {len(dismissed)} dismiss"
        return ReviewOutcome(fused, note, verified, dismissed, at)
    if dismissed:
        return ReviewOutcome(IncidentStatus.DISMISSED, f"dismissed by {len(dismissed)} analyst(s)", verified, dismissed, at)
    if len(verified) >= 2:
        return ReviewOutcome(IncidentStatus.VERIFIED, f"verified by {len(verified)} different analysts", verified, dismissed, at)
    if verified:
        return ReviewOutcome(fused, "one analyst verifies; a second, different analyst must agree", verified, dismissed, at)
    return ReviewOutcome(fused, "not reviewed", verified, dismissed, at)


#: Keys of a review view that every reader who may see the incident is shown.
PUBLIC_REVIEW_KEYS: tuple[str, ...] = ("status", "at", "note", "verified_by")


def review_view(outcome: ReviewOutcome, decisions: Sequence[Mapping[str, Any]], *, with_reviewers: bool) -> dict[str, Any]:
    """What a reader is shown of an incident's reviews.

    Everyone: ``status`` (pending, verified, dismissed), ``at`` (last decision), ``note`` and ``verified_by``
    (counts, no names). With ``with_reviewers`` (coalition staff) also ``decisions``: every decision with
    analyst key id, organisation, reason and ledger leaf. Without it the key is absent, not empty, so a
    client cannot mistake "not shown" for "none".
    """
    view: dict[str, Any] = {
        "status": outcome.review_status.value,
        "at": outcome.at,
        "note": outcome.note,
        "verified_by": len(outcome.verified_by),
    }
    if with_reviewers:
        view["decisions"] = [dict(d) for d in decisions]
    return view


#: The authority rule for one stored decision: None when it counts, otherwise why not (in words).
Refusal = Callable[[Mapping[str, Any]], str | None]


def mark_authority(decisions: Iterable[Mapping[str, Any]], refusal: Refusal) -> list[dict[str, Any]]:
    """Copies of ``decisions`` each marked ``"counted"`` (bool), with ``"not_counted"`` (why) when False."""
    marked = []
    for item in decisions:
        why = refusal(item)
        marked.append({**item, "counted": True} if why is None else {**item, "counted": False, "not_counted": why})
    return marked


def apply_review(
    incident: Incident, decisions: Sequence[Mapping[str, Any]], *, with_reviewers: bool, refusal: Refusal
) -> tuple[Incident, dict[str, Any]]:
    """The incident with its status after the two-person rule, and the review view for its reader.

    ``refusal`` says which decisions count (see the module docstring); the outcome is computed from those
    alone, and staff's ``decisions`` list every one, marked.
    """
    marked = mark_authority(decisions, refusal)
    outcome = review_outcome(incident.status, marked)
    reviewed = incident if outcome.status is incident.status else incident.model_copy(update={"status": outcome.status})
    return reviewed, review_view(outcome, marked, with_reviewers=with_reviewers)


def counts_as_violation(status: IncidentStatus) -> bool:
    """Whether an incident with this status (reviews applied) may count as a violation: all but dismissed."""
    return status is not IncidentStatus.DISMISSED


def violation_candidates(incidents: Iterable[Incident], *, include_dismissed: bool = False) -> list[Incident]:
    """The incidents (reviews already applied) to judge against the agreement, in order.

    One place for the rule, so ``GET /violations``, the daily report and the ACLED export count alike;
    ``include_dismissed`` is for staff who want to see what a dismissal took out.
    """
    return [i for i in incidents if include_dismissed or counts_as_violation(i.status)]
