"""Federation endpoints: a node's outbox (``/outbox``) and the hub's register of nodes (``/nodes``).

Every server can be both: a node when started with ``--upstream``, a hub to whichever nodes report to it.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from truceline.access.policy import Permission, Principal, is_coalition_staff
from truceline.api.auth import require
from truceline.api.routes_observations import json_response
from truceline.federate.forwarder import NODE_HEADER, Forwarder
from truceline.store.nodes import NodeRegister

router = APIRouter(prefix="/api/v1", tags=["federation"])
_register_lock = threading.Lock()


def _forwarder(request: Request) -> Forwarder:
    forwarder: Forwarder | None = getattr(request.app.state, "forwarder", None)
    if forwarder is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this server forwards to no hub (it was not started with --upstream)")
    return forwarder


def _register(request: Request) -> NodeRegister:
    with _register_lock:
        register: NodeRegister | None = getattr(request.app.state, "nodes", None)
        if register is None:
            register = request.app.state.nodes = NodeRegister(request.app.state.store)
        return register


def outbox_view(forwarder: Forwarder, principal: Principal) -> dict[str, Any]:
    """The outbox figures for any reader; refused ids and reasons only for the node's admin and supervisors."""
    figures = forwarder.status()
    view = {
        **figures.as_dict(),
        "upstream": forwarder.config.url,
        "node": forwarder.config.node,
        "alert": forwarder.is_late(figures),
        "alert_after_s": forwarder.config.alert_after_s,
    }
    if principal.sees_everything or principal.can(Permission.MANAGE_KEYS):
        view["refused_items"] = forwarder.outbox.refused()
    return view


@router.get("/outbox", summary="This node's outbox to the coalition hub: pending, oldest age, last success and error")
async def get_outbox(request: Request, principal: Annotated[Principal, Depends(require(Permission.READ))]) -> Response:
    """404 when the server has no upstream. ``alert`` is true when the oldest pending waited too long."""
    forwarder = _forwarder(request)
    return json_response(await run_in_threadpool(outbox_view, forwarder, principal))


@router.post("/outbox/retry", summary="Requeue the observations the hub refused (after fixing the cause)")
async def retry_refused(request: Request, principal: Annotated[Principal, Depends(require(Permission.MANAGE_KEYS))]) -> Response:
    """Puts every ``refused`` row back to pending; the forwarder sends them again at once."""
    forwarder = _forwarder(request)
    count = await run_in_threadpool(forwarder.outbox.requeue_refused)
    forwarder.notify()
    return json_response({"requeued": count})


@router.get("/coalition", summary="The hub's incidents and violations as released to this node's nation (last pulled copy)")
async def coalition_picture(request: Request, principal: Annotated[Principal, Depends(require(Permission.READ))]) -> Response:
    """The copy with its ``label``, ``fetched_at`` and ``hub``; for this nation's keys and the admin only.

    The hub released it to the nation's key, not to every reader of this node: a key of another
    organisation on this node gets 403. 404 before the first pull (or without ``--upstream``).
    """
    forwarder = _forwarder(request)
    picture = forwarder.picture.latest if forwarder.picture is not None else None
    if picture is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no coalition picture pulled from the hub yet")
    if not principal.sees_everything and principal.org != picture.get("nation"):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"the hub released this picture to {picture.get('nation')}, not to {principal.org}"
        )
    return json_response(picture)


#: The largest count the store can hold (SQLite's INTEGER); a larger one is refused, not a 500.
MAX_COUNT = 2**63 - 1


class NodeReport(BaseModel):
    """What a node says about itself on each contact (counts up to :data:`MAX_COUNT`, a finite age).

    Strict: a count sent as ``"3"``, ``3.0`` or ``true`` is refused, not read as 3 or 1.
    """

    model_config = ConfigDict(strict=True)
    node: str = Field(min_length=1, max_length=200)
    pending: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    oldest_pending_age_s: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    refused: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    sent: int | None = Field(default=None, ge=0, le=MAX_COUNT)


@router.put("/nodes/self", summary="A national node reports its contact and outbox (keys that may write)")
async def report_node(
    request: Request, report: NodeReport, principal: Annotated[Principal, Depends(require(Permission.WRITE_OBSERVATIONS))]
) -> Response:
    """Recorded under the caller's key: a node can only speak for itself."""
    register = await run_in_threadpool(_register, request)
    name = request.headers.get(NODE_HEADER) or report.node
    await run_in_threadpool(register.record, principal.key_id, principal.org, name, report.model_dump())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/nodes", summary="National nodes known to this hub and their last contact (coalition staff)")
async def list_nodes(request: Request, principal: Annotated[Principal, Depends(require(Permission.READ))]) -> Response:
    """One row per reporting key: organisation, node name, last contact, seconds silent, reported outbox."""
    if not is_coalition_staff(principal):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the node register is for coalition staff (analysts and supervisors of COALITION organisations, and the admin key)")
    register = await run_in_threadpool(_register, request)
    return json_response({"nodes": await run_in_threadpool(register.list)})
