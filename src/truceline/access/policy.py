"""Roles, permissions, the releasability rule and review authority, as pure functions the API applies.

The rule: a reader sees an observation if it is releasable to the reader's organisation, or to a group
the organisation belongs to (``PUBLIC`` contains everyone), or if the reader's organisation owns it.
Anything derived from observations must be computed only from those the reader can see.

Coalition staff (:func:`is_coalition_staff`) are analysts and supervisors of organisations in the
``COALITION`` group, and the operator's admin key: they see who reviewed an incident and why. Reviewing is
the monitoring mission's job (:func:`review_authority`): only analysts of ``COALITION`` organisations and
the admin key may verify, dismiss or reopen, and only their decisions count (:func:`decision_authority`);
a party's analyst (an organisation outside ``COALITION``) may read but not judge incidents.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

PUBLIC = "PUBLIC"
COALITION = "COALITION"
ADMIN_ORG = "ADMIN"


class Role(StrEnum):
    """What an API key may do."""

    CONTRIBUTOR = "contributor"  # writes observations for its own organisation
    ANALYST = "analyst"  # reviews incidents
    SUPERVISOR = "supervisor"  # manages agreement versions and keys
    OBSERVER = "observer"  # reads
    ADMIN = "admin"  # the operator's bootstrap key: everything, sees everything
    METRICS = "metrics"  # a Prometheus scraper: reads /metrics and nothing else


class Permission(StrEnum):
    """Actions checked by the API."""

    READ = "read"
    WRITE_OBSERVATIONS = "write-observations"
    REVIEW = "review"
    MANAGE_AGREEMENT = "manage-agreement"
    MANAGE_KEYS = "manage-keys"
    READ_METRICS = "read-metrics"  # /metrics: operational figures, not for every contributor's key
    READ_STATUS = "read-status"  # /api/v1/status: pids, command lines and paths of the server's processes


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.CONTRIBUTOR: frozenset({Permission.READ, Permission.WRITE_OBSERVATIONS}),
    Role.ANALYST: frozenset({Permission.READ, Permission.REVIEW}),
    Role.SUPERVISOR: frozenset(
        {Permission.READ, Permission.MANAGE_AGREEMENT, Permission.MANAGE_KEYS, Permission.READ_METRICS, Permission.READ_STATUS}
    ),
    Role.OBSERVER: frozenset({Permission.READ}),
    Role.ADMIN: frozenset(Permission),
    Role.METRICS: frozenset({Permission.READ_METRICS}),
}


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: its key, organisation, role and the labels it may read."""

    key_id: str
    org: str
    role: Role
    labels: frozenset[str]

    @property
    def sees_everything(self) -> bool:
        """Only the operator's admin key reads without releasability limits."""
        return self.role is Role.ADMIN

    def can(self, permission: Permission) -> bool:
        """Whether the role grants ``permission``."""
        return permission in ROLE_PERMISSIONS[self.role]


#: Roles whose holders in a COALITION organisation are coalition staff (see who reviewed and why).
STAFF_ROLES: frozenset[Role] = frozenset({Role.ANALYST, Role.SUPERVISOR})
#: Who may review, in words (part of every refusal).
REVIEWERS = "reviewing is the monitoring mission's job, for analysts of COALITION organisations and the operator's admin key"


def is_coalition_staff(principal: Principal) -> bool:
    """Whether the caller is coalition staff: may see analysts' identities and reasons, and dismissed violations.

    Parties' observers, contributors and the public see review outcomes alone, so no analyst can be singled
    out or pressed over a decision; a staff role in an organisation outside COALITION is not coalition staff.
    """
    return principal.sees_everything or (principal.role in STAFF_ROLES and COALITION in principal.labels)


@dataclass(frozen=True)
class ReviewAuthority:
    """Whether a key may review incidents (or a stored decision counts), and why.

    ``why`` is the bare reason (for a caller who already shows org and role, like the page); ``detail``
    the whole sentence naming org and role (a 403's detail).
    """

    allowed: bool
    why: str
    detail: str


def review_authority(principal: Principal) -> ReviewAuthority:
    """May ``principal`` verify, dismiss or reopen incidents? Analysts of COALITION organisations and the admin.

    The role's ``review`` permission is necessary, not sufficient: an analyst of an organisation outside the
    COALITION group (a party to the agreement, say) would otherwise judge violations attributed to itself.
    """
    org, role = principal.org, principal.role.value
    if principal.sees_everything:
        return ReviewAuthority(True, "the operator's admin key reviews", "the operator's admin key may review incidents")
    if not principal.can(Permission.REVIEW):
        return ReviewAuthority(False, REVIEWERS, f"a {org} {role} may not review incidents: {REVIEWERS}")
    if COALITION not in principal.labels:
        why = f"{org} is not in the COALITION group, and {REVIEWERS}"
        return ReviewAuthority(False, why, f"a {org} {role} may not review incidents: {why}")
    why = f"{org} is in the COALITION group and analysts review"
    return ReviewAuthority(True, why, f"a {org} {role} may review incidents: {why}")


def may_review(principal: Principal) -> bool:
    """Shorthand for ``review_authority(principal).allowed``."""
    return review_authority(principal).allowed


def decision_authority(key_id: str, org: str, role: Role | None, groups: Iterable[str]) -> ReviewAuthority:
    """Whether a stored review decision counts: :func:`review_authority` of the key that made it, today.

    ``role`` is the key's role (None when the store does not know the key: the API only ever recorded
    decisions of keys with the review permission, so it is judged as an analyst of ``org``); ``groups`` are
    ``org``'s groups now. The store keeps no history of group membership, so an organisation taken out of
    COALITION has its past decisions set aside (the incident falls back on fusion's evidence) and decisions
    recorded before this rule by analysts outside COALITION never count. A revoked key's decisions, made
    while it was live, still count.
    """
    principal = Principal(key_id=key_id, org=org, role=role or Role.ANALYST, labels=reader_labels(org, groups))
    return review_authority(principal)


def reader_labels(org: str, groups: Iterable[str]) -> frozenset[str]:
    """Labels an organisation reads: itself, its groups, and PUBLIC."""
    return frozenset({org, PUBLIC, *groups})


def may_read(principal: Principal, owner_org: str, releasable_to: Iterable[str]) -> bool:
    """The releasability rule for one observation."""
    if principal.sees_everything or owner_org == principal.org:
        return True
    return not principal.labels.isdisjoint(releasable_to)


def may_write_for(principal: Principal, org: str) -> bool:
    """Contributors write only for their own organisation; the admin for any."""
    if principal.sees_everything:
        return True
    return principal.can(Permission.WRITE_OBSERVATIONS) and principal.org == org
