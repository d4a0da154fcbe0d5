"""How an observation is named where several organisations meet: ``ORG/id``.

An observation's identity is its organisation and its id (two organisations may use the same id), so
whatever refers to observations of more than one organisation (an incident's ``observation_ids``, fusion's
internal keys) uses the qualified form. Organisation codes never contain ``/`` (``[A-Z][A-Z0-9_-]{1,31}``),
so the first ``/`` separates the two parts even when the id itself contains one.
"""

from __future__ import annotations

import re

_ORG = re.compile(r"^[A-Z][A-Z0-9_-]{1,31}$")


def observation_ref(org: str, observation_id: str) -> str:
    """The qualified name ``ORG/id``."""
    return f"{org}/{observation_id}"


def split_ref(ref: str) -> tuple[str | None, str]:
    """(organisation, id) of a qualified name; (None, ref) for a plain id (as incidents written before
    ids were per organisation, or files from other tools, carry)."""
    org, sep, rest = ref.partition("/")
    if sep and rest and (org in REMEMBERED_ORGS or _valid_org(org)):
        return org, rest
    return None, ref


#: Codes :data:`_ORG` has matched: a deployment has a handful, and the stores split every reference of every
#: incident fusion publishes (a set lookup is half the match). Cleared in place, never replaced: the row builder
#: of the stores (store/incident_rows.py) holds it.
REMEMBERED_ORGS: set[str] = set()
_MAX_REMEMBERED = 4096


def _valid_org(org: str) -> bool:
    if _ORG.match(org) is None:
        return False
    if len(REMEMBERED_ORGS) >= _MAX_REMEMBERED:
        REMEMBERED_ORGS.clear()
    REMEMBERED_ORGS.add(org)
    return True


def local_id(ref: str) -> str:
    """The id part of a qualified name (a plain id unchanged)."""
    return split_ref(ref)[1]
