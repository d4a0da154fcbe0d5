"""Operations endpoints: /healthz is open and says only "ok"; /metrics and /api/v1/status need a key.

Before issue 20, /healthz told anyone the fusion holder's pid, its command line (with the data dir) and
served /metrics to anyone at all.
"""

from __future__ import annotations

import os

from conftest import ApiClient, native
from truceline.access.policy import Role


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_healthz_is_open_and_tells_nothing_but_health(api: ApiClient) -> None:
    response = api.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    text = response.text
    assert str(os.getpid()) not in text and str(api.data_dir) not in text and "truceline" not in text


def test_metrics_needs_a_metrics_or_admin_key(api: ApiClient) -> None:
    assert api.client.get("/metrics").status_code == 401
    assert api.client.get("/metrics", headers=_bearer("not-a-key")).status_code == 401
    _key, contributor = api.store.create_api_key("UA", Role.CONTRIBUTOR)
    refused = api.client.get("/metrics", headers=_bearer(contributor))
    assert refused.status_code == 403 and "read metrics" in refused.json()["detail"]
    _key, scraper = api.store.create_api_key("OPS", Role.METRICS)
    scraped = api.client.get("/metrics", headers=_bearer(scraper))
    assert scraped.status_code == 200 and "truceline_http_requests_total" in scraped.text
    assert api.client.get("/metrics", headers=api.auth).status_code == 200
    # The scraper's key reads nothing else.
    assert api.client.get("/api/v1/observations", headers=_bearer(scraper)).status_code == 403
    assert api.client.get("/api/v1/status", headers=_bearer(scraper)).status_code == 403


def test_status_tells_admins_and_supervisors_who_fuses(api: ApiClient) -> None:
    assert api.client.get("/api/v1/status").status_code == 401
    _key, observer = api.store.create_api_key("UA", Role.OBSERVER)
    assert api.client.get("/api/v1/status", headers=_bearer(observer)).status_code == 403
    _key, supervisor = api.store.create_api_key("COAL", Role.SUPERVISOR)
    for headers in (api.auth, _bearer(supervisor)):
        body = api.client.get("/api/v1/status", headers=headers).json()
        assert body["fusion"]["mode"] == "in-process"
        assert body["fusion"]["holder"]["pid"] == os.getpid()
        assert body["fusion"]["errors"] == 0 and body["fusion"]["last_error"] is None  # failed fusion steps (service/fusion.py)
        assert body["data_dir"] == str(api.data_dir)


def test_requests_are_counted_by_route_template_and_status_without_a_streaming_middleware(api: ApiClient) -> None:
    """The request counter and latency are kept by a plain ASGI middleware (no task group and memory streams per
    request in the event loop's thread: docs/performance.md, "Fifth round"), by route template and status."""
    from starlette.middleware.base import BaseHTTPMiddleware

    assert not [m for m in api.client.app.user_middleware if m.cls is BaseHTTPMiddleware]  # type: ignore[attr-defined]
    assert api.client.post("/api/v1/observations", headers=api.auth, json=native(id="m-1")).status_code == 201
    assert api.client.post("/api/v1/observations", headers=api.auth, json=native(id="m-2", kind="rumour")).status_code == 422
    assert api.client.get("/api/v1/observations/m-1", headers=api.auth).status_code == 200
    assert api.client.get("/api/v1/observations/nothing", headers=api.auth).status_code == 404
    assert api.client.get("/no/such/path").status_code == 404
    text = api.client.get("/metrics", headers=api.auth).text
    for method, route, status in (
        ("POST", "/api/v1/observations", "201"),
        ("POST", "/api/v1/observations", "422"),
        ("GET", "/api/v1/observations/{observation_id}", "200"),
        ("GET", "/api/v1/observations/{observation_id}", "404"),
        ("GET", "unmatched", "404"),
    ):
        assert f'truceline_http_requests_total{{method="{method}",route="{route}",status="{status}"}} 1.0' in text
    assert 'truceline_http_request_seconds_count{route="/api/v1/observations"} 2.0' in text
