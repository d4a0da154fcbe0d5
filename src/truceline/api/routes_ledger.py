"""``/api/v1/ledger``: signed checkpoints and proofs, so any reader can check the log independently.

Leaves hold salted commitments only (see :mod:`truceline.ledger.commitment`), so every reader may see
every leaf and proof; what an observation says stays behind releasability.
"""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from truceline.access.policy import Permission, Principal
from truceline.api.auth import require
from truceline.api.routes_observations import json_response
from truceline.domain.strict import PlainInt
from truceline.ledger.canonical import parse_leaf
from truceline.ledger.checkpoint import LedgerKey, existing_ledger_key
from truceline.ledger.log import LogError
from truceline.ledger.merkle import ProofError

router = APIRouter(prefix="/api/v1/ledger", tags=["ledger"])
Reader = Annotated[Principal, Depends(require(Permission.READ))]


def current_ledger_key(request: Request) -> LedgerKey:
    """The app's signing key, loaded once the sequencer has created it; 503 until then (cluster mode)."""
    key: LedgerKey | None = request.app.state.ledger_key
    if key is None:
        key = request.app.state.ledger_key = existing_ledger_key(request.app.state.settings.data_dir)
    if key is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "the ledger key does not exist yet: the sequencer (`truceline worker`) creates it",
            headers={"Retry-After": "2"},
        )
    return key


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _bad(exc: Exception) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))


@router.get("/checkpoint", summary="The latest signed tree head (C2SP signed note)")
async def checkpoint(request: Request, principal: Reader) -> Response:
    """Size, root hash and the signed note; a new checkpoint is signed when the log has grown."""
    key = current_ledger_key(request)
    signed = await run_in_threadpool(request.app.state.store.ledger_checkpoint, key)
    signature = signed.signatures[0]
    return json_response(
        {
            "origin": signed.origin,
            "size": signed.size,
            "root_hash": _b64(signed.root),
            "key_id": signature.key_hash.hex(),
            "signature": _b64(signature.signature),
            "note": signed.note,
            "verifier_key": key.verifier_key(),
        }
    )


@router.get("/inclusion", summary="Audit path of one leaf in the tree of a given size")
async def inclusion(
    request: Request, principal: Reader, index: Annotated[PlainInt, Query(ge=0)], size: Annotated[PlainInt, Query(ge=1)]
) -> Response:
    """RFC 9162 inclusion proof (base64 hashes, leaf first)."""
    try:
        leaf_hash, proof = await run_in_threadpool(request.app.state.store.ledger_inclusion, index, size)
    except (LogError, ProofError, ValueError) as exc:
        raise _bad(exc) from None
    return json_response({"index": index, "size": size, "leaf_hash": _b64(leaf_hash), "proof": [_b64(h) for h in proof]})


@router.get("/consistency", summary="Proof that a larger tree extends a smaller one")
async def consistency(
    request: Request,
    principal: Reader,
    size1: Annotated[PlainInt, Query(alias="from", ge=1)],
    size2: Annotated[PlainInt, Query(alias="to", ge=1)],
) -> Response:
    """RFC 9162 consistency proof; ``from`` must be at least 1 (every tree extends the empty one)."""
    try:
        proof = await run_in_threadpool(request.app.state.store.ledger_consistency, size1, size2)
    except (LogError, ProofError, ValueError) as exc:
        raise _bad(exc) from None
    return json_response({"from": size1, "to": size2, "proof": [_b64(h) for h in proof]})


@router.get("/leaves/{index}", summary="One leaf: its exact bytes and their JSON reading")
async def leaf(request: Request, principal: Reader, index: PlainInt) -> Response:
    """Leaves hold commitments, never observation content, so they are readable by all."""
    try:
        data = await run_in_threadpool(request.app.state.store.ledger_leaf, index)
    except (LogError, ValueError) as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    parsed = parse_leaf(data)
    return json_response({"index": index, "leaf": _b64(data), "type": parsed.type, "v": parsed.v, "body": parsed.body})
