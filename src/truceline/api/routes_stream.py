"""``/api/v1/stream``: server-sent events of changes, filtered per reader by releasability."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

import msgspec
import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from truceline.access.policy import Permission, Principal, may_read
from truceline.api.auth import require
from truceline.bus.ports import Event, Evidence

router = APIRouter(prefix="/api/v1", tags=["stream"])
HEARTBEAT_S = 15.0
#: Events written to a reader in one piece at most: those already waiting when one arrives go out with it. Each
#: piece passes the response's middleware and a socket write, so one per event made a fusing server's reader set
#: its pace (docs/performance.md, "Twelfth round").
WRITE_EVENTS = 256
_Raw = msgspec.Raw
_decode = msgspec.json.decode


def format_event(number: int, event: Event) -> bytes:
    """One SSE message: ``id``, ``event`` (the topic) and one line of JSON ``data`` (encoded data as it is: JSON
    never holds a raw line break)."""
    data = event.data
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (number, event.topic.encode(), data if type(data) is _Raw else orjson.dumps(data))


def _may_read_evidence(principal: Principal, evidence: Evidence, any_of: bool) -> bool:
    if principal.sees_everything:
        return True
    readable = (may_read(principal, owner, labels) for owner, labels in evidence)
    return any(readable) if any_of else all(readable)


def view_for(principal: Principal, event: Event) -> Event | None:
    """The event as ``principal`` may receive it (guarded fields it may not see nulled), its ``partial``
    notice when it may not receive the event itself but passes the notice's rule, or None."""
    if event.evidence:
        visible = _may_read_evidence(principal, event.evidence, event.any_evidence)
    else:
        visible = may_read(principal, event.owner_org, event.releasable_to)
    if not visible:
        return None if event.partial is None else view_for(principal, event.partial)
    hidden = [name for name, evidence in event.guarded if not _may_read_evidence(principal, evidence, event.any_evidence)]
    if not hidden:
        return event
    data = event.data
    shown: dict[str, Any] = _decode(data) if isinstance(data, _Raw) else data
    return msgspec.structs.replace(event, data={**shown, **dict.fromkeys(hidden)})


@router.get(
    "/stream",
    summary="Live changes as server-sent events (text/event-stream)",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "`observation` and `incident` events (an `incident` only to readers of all its evidence;"
            " `incident.changed` (`{id}`) instead to a reader of part of it whose view changed: fetch"
            " `/incidents/{id}` again); `incident.merged` (`{id, into}`) and `incident.removed` (`{id}`) when fusion"
            " folds an incident into another or dissolves it; `lost` when the reader fell behind",
        }
    },
)
async def stream(request: Request, principal: Annotated[Principal, Depends(require(Permission.READ))]) -> StreamingResponse:
    """Events the caller may read, as they happen; a comment line every 15 s keeps proxies from closing it."""
    subscription = request.app.state.bus.subscribe()
    request.app.state.fusion.readers_changed()  # a fusion process computes events only for a server with readers

    async def messages() -> AsyncIterator[bytes]:
        number, reported_lost = 0, 0
        iterator = subscription.__aiter__()
        try:
            yield b": connected\n\n"
            while True:
                try:
                    event = await asyncio.wait_for(iterator.__anext__(), HEARTBEAT_S)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                except StopAsyncIteration:
                    return
                piece: list[bytes] = []
                if subscription.lost != reported_lost:
                    reported_lost = subscription.lost
                    number += 1
                    piece.append(format_event(number, Event("lost", {"lost": reported_lost}, principal.org)))
                for each in (event, *subscription.queued(WRITE_EVENTS - 1)):
                    shown = view_for(principal, each)
                    if shown is not None:
                        number += 1
                        piece.append(format_event(number, shown))
                if piece:
                    yield b"".join(piece)
        finally:
            subscription.close()
            request.app.state.fusion.readers_changed()

    return StreamingResponse(
        messages(), media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
