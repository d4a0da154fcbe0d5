"""Which observation kinds can describe the same physical event.

Each kind maps to a bit mask of event phases it can belong to; two observations are compatible when their
masks share a bit, and an incident's mask is the AND of its members', so an incident narrows as specific
kinds join ("explosion" then "impact" leaves an impact incident that a "launch" can no longer join).
"""

from __future__ import annotations

from truceline.domain.observation import ObservationKind as K

IMPACT = 1
LAUNCH = 2
FLIGHT = 4
PRESENCE = 8
SMALL_ARMS = 16
ANY = IMPACT | LAUNCH | FLIGHT | PRESENCE | SMALL_ARMS

KIND_MASK: dict[K, int] = {
    K.EXPLOSION: IMPACT | LAUNCH,  # a bang heard or seen: either end of a shot
    K.IMPACT: IMPACT,
    K.DAMAGE: IMPACT,
    K.CASUALTY_REPORT: IMPACT,
    K.THERMAL: IMPACT,
    K.MINE: IMPACT,
    K.LAUNCH: LAUNCH,
    K.MUZZLE_FLASH: LAUNCH,
    K.FLIGHT: FLIGHT,
    K.EQUIPMENT_SIGHTING: PRESENCE,
    K.TROOP_MOVEMENT: PRESENCE,
    K.SMALL_ARMS_FIRE: SMALL_ARMS,
    K.OTHER: ANY,
}

#: Kinds that say less than another kind with the same phase; an incident is named after a specific kind
#: when it has one.
GENERIC_KINDS: frozenset[K] = frozenset({K.EXPLOSION, K.OTHER})

PHASE_NAMES: dict[int, str] = {IMPACT: "impact", LAUNCH: "launch", FLIGHT: "flight", PRESENCE: "presence", SMALL_ARMS: "small-arms"}


def phases(mask: int) -> tuple[str, ...]:
    """Names of the phases a mask allows, e.g. ``("impact", "launch")`` for an explosion."""
    return tuple(name for bit, name in PHASE_NAMES.items() if mask & bit)
