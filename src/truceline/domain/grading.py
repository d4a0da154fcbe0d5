"""NATO Admiralty grading: source reliability (A–F) and information credibility (1–6).

Kept as enums so that a typo in a feed is refused at the edge instead of silently weighting evidence.
"""

from __future__ import annotations

from enum import Enum, StrEnum


class Reliability(StrEnum):
    """How far the *source* has proven trustworthy in the past (A best, F cannot be judged)."""

    A = "A"  # completely reliable
    B = "B"  # usually reliable
    C = "C"  # fairly reliable
    D = "D"  # not usually reliable
    E = "E"  # unreliable
    F = "F"  # reliability cannot be judged


class Credibility(int, Enum):
    """How far *this piece of information* is confirmed (1 best, 6 cannot be judged)."""

    CONFIRMED = 1
    PROBABLY_TRUE = 2
    POSSIBLY_TRUE = 3
    DOUBTFUL = 4
    IMPROBABLE = 5
    CANNOT_BE_JUDGED = 6


# Weights used wherever evidence is combined; F and 6 carry a small but non-zero weight because an
# unjudged source is not a known-false one.
RELIABILITY_WEIGHT: dict[Reliability, float] = {
    Reliability.A: 1.0,
    Reliability.B: 0.8,
    Reliability.C: 0.6,
    Reliability.D: 0.4,
    Reliability.E: 0.2,
    Reliability.F: 0.3,
}
CREDIBILITY_WEIGHT: dict[Credibility, float] = {
    Credibility.CONFIRMED: 1.0,
    Credibility.PROBABLY_TRUE: 0.8,
    Credibility.POSSIBLY_TRUE: 0.6,
    Credibility.DOUBTFUL: 0.4,
    Credibility.IMPROBABLE: 0.2,
    Credibility.CANNOT_BE_JUDGED: 0.3,
}


def evidence_weight(reliability: Reliability, credibility: Credibility) -> float:
    """Weight in [0, 1] of one observation graded with the Admiralty code."""
    return RELIABILITY_WEIGHT[reliability] * CREDIBILITY_WEIGHT[credibility]
