"""Each reader's view of the incidents, and the reviews applied to it: shared by the API, reports and exports.

An incident whose supporting observations a reader may all read is shown as fusion published it. One
resting partly on observations the reader may not read is fused again from the readable ones only, so
its position, uncertainty, source count and corroboration reveal nothing else; one resting on none does
not exist for that reader.

Reviews are applied with the two-person rule (``domain/review.py``), counting only the decisions of
keys with review authority (``access.policy.decision_authority``: analysts of COALITION organisations and
the admin). Every layer that shows incidents to someone (``GET /incidents``, the daily report, the ACLED
export, violations) goes through these functions, so none can reveal more than another.
"""

from __future__ import annotations

from typing import Any

import orjson

from truceline.access.policy import Principal, decision_authority, may_read
from truceline.domain.documents import parse_documents
from truceline.domain.incident import PARTIAL_VIEW_SEPARATOR, Incident, base_incident_id
from truceline.domain.review import Refusal, apply_review
from truceline.domain.revocation import compromise_refusal, compromised_since
from truceline.fuse.batch import fuse_all
from truceline.fuse.updates import FuserConfig

MAX_INCIDENTS = 100_000


def reader_view(store: Any, principal: Principal, incidents: list[Incident], config: FuserConfig | None = None) -> list[Incident]:
    """The incidents as ``principal`` may see them (see the module docstring)."""
    if principal.sees_everything or not incidents:
        return incidents
    members = store.member_documents([i.id for i in incidents])
    out: list[Incident] = []
    for incident in incidents:
        docs = members.get(incident.id, [])
        readable = [d for d in docs if may_read(principal, d["source"]["org"], d.get("releasable_to", ()))]
        if not readable:
            continue
        if len(readable) == len(docs):
            out.append(incident)
            continue
        partials = fuse_all(parse_documents([orjson.dumps(d).decode() for d in readable]), config)
        for k, partial in enumerate(partials):
            suffix = "" if len(partials) == 1 else f"{PARTIAL_VIEW_SEPARATOR}{k + 1}"
            # the partial's own fused status: "corroborated" from sources the reader cannot see would hint at them
            out.append(partial.model_copy(update={"id": incident.id + suffix}))
    return out


def with_reviews(store: Any, incidents: list[Incident], *, with_reviewers: bool) -> list[tuple[Incident, dict[str, Any]]]:
    """Each incident with its status after the two-person rule and its review view (see ``review_view``).

    Only decisions of keys with review authority count (:func:`review_refusal`). ``with_reviewers`` must
    be ``is_coalition_staff`` of whoever the result reaches.
    """
    decisions = store.reviews([base_incident_id(i.id) for i in incidents]) if incidents else {}
    refusal = review_refusal(store) if any(decisions.values()) else _counts
    return [
        apply_review(i, decisions.get(base_incident_id(i.id), []), with_reviewers=with_reviewers, refusal=refusal)
        for i in incidents
    ]


def _counts(decision: Any) -> None:
    return None


def review_refusal(store: Any) -> Refusal:
    """The authority rule for stored decisions, with the store's keys and groups as they are now."""
    roles = {key.key_id: key.role for key in store.list_api_keys()}
    groups = store.list_organisations()
    compromised = compromised_since(store.key_revocations())

    def refusal(decision: Any) -> str | None:
        if (why := compromise_refusal(decision, compromised)) is not None:
            return why
        org = str(decision["org"])
        key_id = str(decision["analyst"])
        authority = decision_authority(key_id, org, roles.get(key_id), groups.get(org, ()))
        return None if authority.allowed else authority.detail

    return refusal
