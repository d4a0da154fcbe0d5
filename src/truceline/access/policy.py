"""Roles, permissions and the releasability rule, as pure functions every read path applies.

The rule: a reader sees an observation if it is releasable to the reader's organisation, or to a group
the organisation belongs to (``PUBLIC`` contains everyone), or if the reader's organisation owns it.
Anything derived from observations must be computed only from those the reader can see.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

PUBLIC = "PUBLIC"
COALITION = "COALITION"
ADMIN_ORG = "ADMIN"


class Role(str, Enum):
    """What an API key may do."""

    CONTRIBUTOR = "contributor"  # writes observations for its own organisation
    ANALYST = "analyst"  # reviews incidents
    SUPERVISOR = "supervisor"  # manages agreement versions and keys
    OBSERVER = "observer"  # reads
    ADMIN = "admin"  # the operator's bootstrap key: everything, sees everything


class Permission(str, Enum):
    """Actions checked by the API."""

    READ = "read"
    WRITE_OBSERVATIONS = "write-observations"
    REVIEW = "review"
    MANAGE_AGREEMENT = "manage-agreement"
    MANAGE_KEYS = "manage-keys"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.CONTRIBUTOR: frozenset({Permission.READ, Permission.WRITE_OBSERVATIONS}),
    Role.ANALYST: frozenset({Permission.READ, Permission.REVIEW}),
    Role.SUPERVISOR: frozenset({Permission.READ, Permission.MANAGE_AGREEMENT, Permission.MANAGE_KEYS}),
    Role.OBSERVER: frozenset({Permission.READ}),
    Role.ADMIN: frozenset(Permission),
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
