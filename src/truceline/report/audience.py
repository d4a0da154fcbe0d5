"""Who an edition of a report is for, as a reader the releasability rule understands.

An edition is computed as if read by a reader holding only the audience's label (``PUBLIC`` or
``COALITION``, plus ``PUBLIC`` which everyone reads) and belonging to no organisation, so the
owner-sees-its-own exception never lets an organisation's private material into an edition. When a caller
asks for an edition over HTTP, the reader is further capped at what the caller itself may read.
"""

from __future__ import annotations

from typing import Literal, get_args

from truceline.access.policy import COALITION, PUBLIC, Principal, Role

Audience = Literal["public", "coalition"]
AUDIENCES: tuple[str, ...] = get_args(Audience)
_LABELS: dict[str, frozenset[str]] = {"public": frozenset({PUBLIC}), "coalition": frozenset({COALITION, PUBLIC})}
#: Not a valid organisation code (codes are upper case), so no observation is ever "owned" by the reader.
_NO_ORG = "report-edition"


class AudienceError(ValueError):
    """The audience is unknown, or the caller may not read an edition for it."""


def edition_reader(audience: str, caller: Principal | None = None) -> Principal:
    """The reader an edition is computed for; ``caller`` (when given) must itself read the audience's label."""
    if audience not in _LABELS:
        raise AudienceError(f"unknown audience {audience!r}; choose one of {', '.join(AUDIENCES)}")
    labels = _LABELS[audience]
    if caller is not None and not caller.sees_everything:
        labels = labels & caller.labels
        needed = COALITION if audience == "coalition" else PUBLIC
        if needed not in labels:
            raise AudienceError(
                f"organisation {caller.org} does not belong to {needed}, so it may not read the {audience} edition"
            )
    return Principal(key_id=f"report:{audience}", org=_NO_ORG, role=Role.OBSERVER, labels=labels)
