"""Reads that check what they serve: a stored document must still match its ledger commitment.

Why: the evidence log only proves its leaves; a document edited in the database would otherwise be served as
if it were evidence. The check costs one leaf lookup (one query for a whole page) and one SHA-256 per document, so every read of an
observation can afford it. A mismatch is answered with **500** and a body naming the integrity failure (the
record and its leaf index), never with the edited data: the caller did nothing wrong and a retry cannot help;
the operator must run ``truceline ledger audit`` (docs/operations.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request, Response

from truceline.ledger.audit import IntegrityError, check_commitment
from truceline.ledger.canonical import canonical_json
from truceline.store.ports import StoredObservation

__all__ = ["check_stored", "install_integrity_handler"]

INTEGRITY_STATUS = 500


def check_stored(store: Any, items: Sequence[StoredObservation]) -> None:
    """Raise :class:`IntegrityError` for the first item whose document does not match its ledger leaf."""
    logged = [item for item in items if item.ledger_index is not None]  # None: stored before the ledger existed
    if not logged:
        return
    leaves = store.ledger_leaves_at([item.ledger_index for item in logged])
    for item in logged:
        assert item.ledger_index is not None
        where = f"observation {item.id!r}"
        mismatch = check_commitment(
            leaves[item.ledger_index], "observation", item.ledger_salt or b"", canonical_json(item.document),
            where, item.ledger_index,
        )
        if mismatch is not None:
            raise IntegrityError(mismatch)


def install_integrity_handler(app: FastAPI, json_response: Any) -> None:
    """Answer :class:`IntegrityError` with 500 naming the failure, and nothing of the record's content."""

    @app.exception_handler(IntegrityError)
    async def integrity_failure(request: Request, exc: IntegrityError) -> Response:
        body = {
            "detail": f"integrity failure: {exc.mismatch.where} does not match the evidence ledger; "
            "it is withheld until an operator runs `truceline ledger audit`",
            "integrity": {"record": exc.mismatch.where, "leaf_index": exc.mismatch.leaf_index},
        }
        return json_response(body, INTEGRITY_STATUS)  # type: ignore[no-any-return]
