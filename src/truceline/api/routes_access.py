"""``/api/v1/keys`` and ``/api/v1/organisations``: key management for supervisors, groups for the operator.

A supervisor manages keys of its own organisation only; group membership changes what other
organisations may read, so only the operator's admin key may change it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from truceline.access.policy import Permission, Principal, Role
from truceline.api.auth import require
from truceline.api.routes_observations import json_response
from truceline.domain.revocation import RevocationReason
from truceline.store.sqlite_schema import StoreError

router = APIRouter(prefix="/api/v1", tags=["access"])
_CODE = r"^[A-Z][A-Z0-9_-]{1,31}$"


class KeyRequest(BaseModel):
    """A new key: for which organisation, with which role."""

    model_config = ConfigDict(extra="forbid")
    org: Annotated[str, Field(pattern=_CODE)]
    role: Role
    label: Annotated[str, Field(max_length=200)] = ""


class OrganisationRequest(BaseModel):
    """The groups an organisation belongs to (PUBLIC is implicit)."""

    model_config = ConfigDict(extra="forbid")
    groups: list[Annotated[str, Field(pattern=_CODE)]] = Field(default_factory=list, max_length=32)
    name: Annotated[str, Field(max_length=200)] = ""


def _own_org_only(principal: Principal, org: str) -> None:
    if not principal.sees_everything and principal.org != org:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"a {principal.org} supervisor manages only {principal.org} keys, not {org}")


@router.post("/keys", status_code=201, summary="Create an API key (the key is returned once)")
async def create_key(
    request: Request, body: KeyRequest, principal: Annotated[Principal, Depends(require(Permission.MANAGE_KEYS))]
) -> Response:
    """Create a key for the caller's organisation (any organisation for the admin)."""
    _own_org_only(principal, body.org)
    if body.role is Role.ADMIN:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "admin keys are created only on first start")
    key, secret = await run_in_threadpool(request.app.state.store.create_api_key, body.org, body.role, body.label)
    return json_response({"key": secret, "key_id": key.key_id, "org": key.org, "role": key.role.value}, 201)


@router.get("/keys", summary="List keys (never their secrets)")
async def list_keys(request: Request, principal: Annotated[Principal, Depends(require(Permission.MANAGE_KEYS))]) -> Response:
    """Keys of the caller's organisation (all for the admin)."""
    keys = await run_in_threadpool(request.app.state.store.list_api_keys)
    return json_response(
        [k.as_dict() for k in keys if principal.sees_everything or k.org == principal.org]
    )


@router.delete("/keys/{key_id}", summary="Revoke a key, as retired (default) or compromised")
async def revoke_key(
    request: Request,
    key_id: str,
    principal: Annotated[Principal, Depends(require(Permission.MANAGE_KEYS))],
    reason: Annotated[
        RevocationReason, Query(description="retired: its past work stands (the default, as before); compromised: its work from `since` stops counting")
    ] = RevocationReason.RETIRED,
    since: Annotated[datetime | None, Query(description="compromised only: from when (ISO 8601 with offset; default now)")] = None,
) -> Response:
    """Revoke at once, recording a ledger leaf; 404 if there is no such key visible to the caller that can
    still be revoked this way (a retired key may later be declared compromised)."""
    keys = {k.key_id: k for k in await run_in_threadpool(request.app.state.store.list_api_keys)}
    key = keys.get(key_id)
    if key is None or not (principal.sees_everything or key.org == principal.org):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no live key {key_id!r}")
    try:
        done = await run_in_threadpool(request.app.state.store.revoke_api_key, key_id, reason, since, principal.key_id)
    except StoreError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    if not done:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no live key {key_id!r}")
    revocation = [r for r in await run_in_threadpool(request.app.state.store.key_revocations) if r.key_id == key_id][-1]
    return json_response({"revoked": key_id, **revocation.as_dict()})


@router.get("/organisations", summary="Organisations and their groups")
async def list_organisations(request: Request, principal: Annotated[Principal, Depends(require(Permission.READ))]) -> Response:
    """Every organisation with its groups (membership decides releasability, so it is not secret)."""
    return json_response(await run_in_threadpool(request.app.state.store.list_organisations))


@router.put("/organisations/{code}", summary="Register an organisation and set its groups (admin only)")
async def set_organisation(
    request: Request, code: str, body: OrganisationRequest, principal: Annotated[Principal, Depends(require(Permission.MANAGE_KEYS))]
) -> Response:
    """Group membership widens or narrows what an organisation reads: only the operator changes it."""
    if not principal.sees_everything:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only the operator's admin key changes group membership")
    if not re.match(_CODE, code):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"organisation code {code!r} must match {_CODE}")
    await run_in_threadpool(request.app.state.store.set_organisation, code, body.groups, body.name)
    return json_response({"code": code, "groups": sorted(set(body.groups))})
