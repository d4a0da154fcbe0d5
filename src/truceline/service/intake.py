"""The one path by which accepted observations enter a running server, whatever carried them.

HTTP batches, Cursor-on-Target listeners and the MQTT subscription all end here, so every intake gets the
same checks (a contributor writes only for its own organisation), the same atomic store, the same wake-up
of fusion and the same live announcement to readers.

Acknowledgement: in the embedded server the store's commit; in cluster mode the PostgreSQL commit *and* the
JetStream PubAck of the ``observations.stored`` announcement (:meth:`NatsBus.announce_stored`). If either
fails the error propagates (the API answers 503) and the caller re-sends; the store makes that idempotent.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec

from truceline.access.policy import Principal, may_write_for
from truceline.bus.ports import Bus, Event
from truceline.domain.observation import Observation
from truceline.store.ports import AddResult
from truceline.store.prepared import PreparedColumns, PreparedObservation, prepare_batch

_Raw = msgspec.Raw


class ForeignOrganisation(PermissionError):
    """A batch holds observations of an organisation the submitter may not write for; nothing was stored."""


def accept_prepared(state: Any, principal: Principal, items: Sequence[PreparedObservation]) -> AddResult:
    """Store prepared observations atomically for ``principal``, wake fusion, announce the new ones.

    ``state`` is the app's ``app.state`` (store, fusion worker, bus). Raises :class:`ForeignOrganisation`
    before storing anything if any item belongs to another organisation.
    """
    # A parsed HTTP batch comes as columns: read them as such, not one PreparedObservation per item.
    if isinstance(items, PreparedColumns):
        orgs, ids = items.owner_orgs, items.ids
    else:
        orgs, ids = [item.owner_org for item in items], [item.id for item in items]
    # The rule depends on the organisation only: ask it once per distinct organisation, not per item.
    refused = {org for org in set(orgs) if not may_write_for(principal, org)}
    foreign = [(i, org) for i, org in enumerate(orgs) if org in refused] if refused else []
    if foreign:
        listed = ", ".join(f"index {i} ({org})" for i, org in foreign[:20])
        raise ForeignOrganisation(
            f"a {principal.org} key may only submit observations whose source.org is {principal.org}: {listed}; nothing was stored"
        )
    result: AddResult = state.store.add_prepared(items, posted_by=principal.key_id)
    bus: Bus = state.bus
    conflicts = set(result.conflicts)
    # Committed; now durable on the bus too before anyone is told "accepted" (a no-op in the embedded server).
    # Duplicates are announced again: a re-post after a failed announcement must reach the workers.
    keys = list(zip(orgs, ids, strict=True))
    bus.announce_stored([key for key in keys if key[1] not in conflicts] if conflicts else keys)
    if result.stored:
        state.fusion.notify()
        forwarder = getattr(state, "forwarder", None)
        if forwarder is not None:
            forwarder.notify()  # the outbox rows were written in the same transaction
        if bus.has_subscribers:
            new = set(result.stored)
            events: list[Event] = []
            for item in items:
                if item.id in new:
                    new.discard(item.id)  # a batch may repeat an id; announce it once
                    events.append(Event("observation", _Raw(item.document), item.owner_org, item.labels))  # as stored
            bus.publish_many(events)  # handed to each reader's loop once per batch, not once per observation
    return result


def accept_observations(state: Any, principal: Principal, observations: list[Observation]) -> AddResult:
    """Validated observations → :func:`accept_prepared` (preparation stamps the receive time now)."""
    return accept_prepared(state, principal, prepare_batch(observations, datetime.now(UTC)))
