"""Serving the analyst's page: ``/`` (the page), ``/static/…`` (its files) and ``/api/v1/whoami``.

The page is static; all data comes from the API with the reader's key, so the server filters by
releasability exactly as for any other client and the page hides nothing on its own. ``whoami`` exists
so the page can say *why* a control is disabled (an observer may not review) instead of failing on click.
"""

from __future__ import annotations

import mimetypes
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from truceline.access.policy import ROLE_PERMISSIONS, Permission, Principal, review_authority
from truceline.api.auth import require_key
from truceline.api.routes_observations import json_response
from truceline.web.assets import static_dir

# Starlette picks content types from the mimetypes table, which knows neither of these everywhere.
mimetypes.add_type("application/geo+json", ".geojson")
mimetypes.add_type("text/javascript", ".js")

#: Vendored files change only with a new package version (their URL stays, so revalidate daily);
#: the page's own files must be revalidated on every load so that an upgrade shows at once.
VENDOR_CACHE = "public, max-age=86400"
APP_CACHE = "no-cache"

router = APIRouter(prefix="/api/v1", tags=["access"])


class _StaticFiles(StaticFiles):
    """StaticFiles with cache headers per folder and no directory listings."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = VENDOR_CACHE if path.startswith("vendor/") else APP_CACHE
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


@router.get("/whoami", summary="The caller's organisation, role and permissions")
async def whoami(principal: Annotated[Principal, Depends(require_key)]) -> Response:
    """What the key behind the request may do (never the secret, never other keys).

    ``permissions`` are those the key may use: ``review`` only when ``may_review`` (analysts of COALITION
    organisations and the admin); ``review_reason`` says why it may or may not (beside ``org`` and ``role``).
    """
    authority = review_authority(principal)
    granted = {p for p in ROLE_PERMISSIONS[principal.role] if p is not Permission.REVIEW or authority.allowed}
    return json_response(
        {
            "key_id": principal.key_id,
            "org": principal.org,
            "role": principal.role.value,
            "permissions": sorted(p.value for p in granted),
            "may_review": authority.allowed,
            "review_reason": authority.why,
            "reads": sorted(principal.labels) if not principal.sees_everything else ["*"],
        }
    )


def install(app: FastAPI) -> None:
    """Add the page, its static files and ``whoami`` to ``app``."""
    directory = static_dir()
    page = (directory / "index.html").read_text(encoding="utf-8")
    app.include_router(router)
    app.mount("/static", _StaticFiles(directory=directory), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page, headers={"Cache-Control": APP_CACHE, "X-Content-Type-Options": "nosniff"})
