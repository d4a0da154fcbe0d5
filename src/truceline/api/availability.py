"""503 with Retry-After when a service the request needs (PostgreSQL, NATS) is unreachable.

Why: in cluster mode an intake is acknowledged only after the PostgreSQL commit and the JetStream PubAck. If
either cannot be had, the client must hear "not now, try again" (503 + ``Retry-After``), never a 2xx and
never a 500 that reads like a bug; a re-post is idempotent, so retrying is always safe. Reads fail the same
way while PostgreSQL is down. The embedded server never raises these.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request, Response

from truceline.bus.nats import BusUnavailable
from truceline.store.ports import StoreUnavailable

__all__ = ["RETRY_AFTER_S", "UNAVAILABLE_STATUS", "install_unavailable_handler", "unavailable_errors"]

log = logging.getLogger(__name__)
UNAVAILABLE_STATUS = 503
RETRY_AFTER_S = 2  # NATS reconnects every 0.5 s, the PostgreSQL pool opens new connections at once


def unavailable_errors() -> tuple[type[Exception], ...]:
    """The exceptions that mean "a service is unreachable or the outcome is unknown", not "bad request"."""
    import psycopg
    import psycopg_pool

    # StoreUnavailable is what the PostgreSQL store raises; the engine's own errors are caught too, in case
    # one escapes a path that does not translate it.
    return (BusUnavailable, StoreUnavailable, psycopg.OperationalError, psycopg.InterfaceError, psycopg_pool.PoolTimeout)


def install_unavailable_handler(app: FastAPI, json_response: Any) -> None:
    """Answer every unavailable-service error with 503, ``Retry-After`` and which service failed."""

    async def unavailable(request: Request, exc: Exception) -> Response:
        service = "the event log (NATS)" if isinstance(exc, BusUnavailable) else "the database (PostgreSQL)"
        log.warning("%s %s: %s unavailable: %s", request.method, request.url.path, service, exc)
        writes = request.method not in ("GET", "HEAD", "OPTIONS")
        detail = f"{service} is unavailable; retry after {RETRY_AFTER_S} s" + (
            " (re-sending the same batch is safe: it is idempotent)" if writes else ""
        )
        return json_response({"detail": detail}, UNAVAILABLE_STATUS, {"Retry-After": str(RETRY_AFTER_S)})  # type: ignore[no-any-return]

    for error in unavailable_errors():
        app.add_exception_handler(error, unavailable)
