"""Operations endpoints: /healthz is open and says only "ok"; /metrics and /api/v1/status need a key.

Before issue 20, /healthz told anyone the fusion holder's pid, its command line (with the data dir) and
served /metrics to anyone at all.
"""

from __future__ import annotations

import os

from conftest import ApiClient
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
        assert body["data_dir"] == str(api.data_dir)
