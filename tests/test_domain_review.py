"""The two-person rule, decision by decision."""

from __future__ import annotations

import pytest

from truceline.domain.incident import IncidentStatus
from truceline.domain.review import review_outcome

D = IncidentStatus.DETECTED


@pytest.mark.parametrize(
    ("decisions", "status", "note"),
    [
        ([], D, "not reviewed"),
        ([("verify", "a")], D, "one analyst"),
        ([("verify", "a"), ("verify", "a")], D, "one analyst"),
        ([("verify", "a"), ("verify", "b")], IncidentStatus.VERIFIED, "verified by 2"),
        ([("verify", "a"), ("verify", "b"), ("dismiss", "c")], D, "disputed"),
        ([("dismiss", "a")], IncidentStatus.DISMISSED, "dismissed by 1"),
        ([("verify", "a"), ("verify", "b"), ("reopen", "c")], D, "not reviewed"),
        ([("dismiss", "a"), ("verify", "a"), ("verify", "b")], IncidentStatus.VERIFIED, "verified"),
        ([("verify", "a"), ("reopen", "a"), ("verify", "b")], D, "one analyst"),
    ],
)
def test_two_person_rule(decisions: list[tuple[str, str]], status: IncidentStatus, note: str) -> None:
    outcome = review_outcome(D, [{"decision": d, "analyst": a} for d, a in decisions])
    assert outcome.status is status and note in outcome.note
