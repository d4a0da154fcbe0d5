"""Bearer-key authentication for every ``/api/v1`` call, and the admin key created on first start."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from truceline.access.policy import ADMIN_ORG, Permission, Principal, Role, reader_labels
from truceline.service.settings import ADMIN_KEY_FILENAME
from truceline.store.ports import KeyStore

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="truceline"'}


def require_key(request: Request) -> Principal:
    """FastAPI dependency: the caller behind a live API key, or 401 saying what is wrong with the header."""
    header = request.headers.get("authorization")
    if not header:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing Authorization: Bearer <key> header", headers=_CHALLENGE)
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Authorization header must be 'Bearer <key>'", headers=_CHALLENGE)
    key = request.app.state.store.authenticate(secret.strip())
    if key is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown or revoked API key", headers=_CHALLENGE)
    groups = request.app.state.store.organisation_groups(key.org)
    return Principal(key_id=key.key_id, org=key.org, role=key.role, labels=reader_labels(key.org, groups))


def require(permission: Permission) -> Callable[[Principal], Principal]:
    """Dependency factory: the caller, or 403 naming the role and the missing permission."""

    def check(principal: Annotated[Principal, Depends(require_key)]) -> Principal:
        if not principal.can(permission):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"role {principal.role.value!r} may not {permission.value.replace('-', ' ')}"
            )
        return principal

    return check


def ensure_admin_key(store: KeyStore, data_dir: Path) -> tuple[Path, bool]:
    """Create ``DATA_DIR/admin.key`` (mode 0600) with a fresh admin key unless it already exists.

    Returns the path and whether a key was created. The file is created exclusively, so two servers
    starting at once cannot both write it.
    """
    path = data_dir / ADMIN_KEY_FILENAME
    if path.exists():
        return path, False
    _key, secret = store.create_api_key(ADMIN_ORG, Role.ADMIN, label="created on first start")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    return path, True


def read_admin_key(data_dir: Path) -> str:
    """The admin key of a data dir (for the CLI and the demo's browser link)."""
    return (data_dir / ADMIN_KEY_FILENAME).read_text().strip()
