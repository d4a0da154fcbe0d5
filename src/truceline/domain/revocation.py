"""Revoking a key as *retired* or *compromised*, and what that does to the work done with it.

A retired key (its holder left, it was rotated) stops working, and everything done with it while it was
live stands. A compromised key stops working, and from ``since`` (the moment it is believed to have been in
someone else's hands; the revocation time when nobody knows better) nothing done with it counts: its review
decisions are kept, as ledger leaves and history, but are marked not counted (a verification that needed it
falls back to pending), and the observations it posted from then on are left out of fusion. Revocations are
ledger leaves themselves, so nobody can quietly un-compromise a key or move ``since``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class RevocationReason(StrEnum):
    """Why a key was revoked."""

    RETIRED = "retired"  # its past work stands
    COMPROMISED = "compromised"  # its work from ``since`` stops counting


@dataclass(frozen=True)
class Revocation:
    """One recorded revocation of a key (a ledger leaf)."""

    key_id: str
    reason: RevocationReason
    at: datetime
    since: datetime | None  # compromised only: from when its work stops counting
    by: str  # key id of whoever revoked it ("cli" from the command line)
    ledger_index: int

    def as_dict(self) -> dict[str, Any]:
        """JSON form (times ISO 8601, Z)."""
        return {
            "key_id": self.key_id,
            "reason": self.reason.value,
            "at": _iso(self.at),
            "since": None if self.since is None else _iso(self.since),
            "by": self.by,
            "ledger_index": self.ledger_index,
        }


def compromised_since(revocations: Iterable[Revocation]) -> dict[str, Revocation]:
    """The compromise revocation in force per key (the earliest ``since`` if a key was declared twice)."""
    out: dict[str, Revocation] = {}
    for item in revocations:
        if item.reason is RevocationReason.COMPROMISED and item.since is not None:
            known = out.get(item.key_id)
            if known is None or (known.since is not None and item.since < known.since):
                out[item.key_id] = item
    return out


def compromise_refusal(decision: Mapping[str, Any], compromised: Mapping[str, Revocation]) -> str | None:
    """Why a review decision does not count because its key was compromised when it was made; None if
    it counts as far as revocations go (a retired key's decisions always do)."""
    revocation = compromised.get(str(decision.get("analyst", "")))
    if revocation is None or revocation.since is None:
        return None
    made = datetime.fromisoformat(str(decision["at"]).replace("Z", "+00:00"))
    if made < revocation.since:
        return None
    return (
        f"made with key {revocation.key_id} after {_iso(revocation.since)}: the key was revoked as compromised at"
        f" {_iso(revocation.at)} (ledger leaf #{revocation.ledger_index}), and its work from then on does not count"
    )


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
