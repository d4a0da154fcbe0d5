"""The outbox and the forwarder against an in-process hub: what is enqueued, what leaves, what is refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest
from tests.conftest import ApiClient, native
from typer.testing import CliRunner

from truceline.access.policy import Role
from truceline.cli import app as cli_app
from truceline.domain.observation import Observation
from truceline.federate.coalition import CoalitionPicture
from truceline.federate.forwarder import Forwarder, HubUnavailable, UpstreamConfig
from truceline.store.outbox import LOCAL, REFUSED, SENT, Outbox
from truceline.store.sqlite import open_store


def obs(oid: str, org: str = "UA", releasable_to: list[str] | None = None) -> Observation:
    doc = native(id=oid, source={"id": f"{org.lower()}-s1", "type": "acoustic", "org": org})
    doc["releasable_to"] = ["COALITION"] if releasable_to is None else releasable_to
    return Observation.model_validate(doc)


class LossyTransport(httpx.BaseTransport):
    """Delivers every request to the hub, but loses the reply of the first ``lose`` POSTs (as a time-out)."""

    def __init__(self, inner: httpx.BaseTransport, lose: int) -> None:
        self.inner = inner
        self.lose = lose
        self.posts = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method == "POST":
            self.posts += 1
            if self.lose > 0:
                self.lose -= 1
                response.read()
                raise httpx.ReadTimeout("reply lost on the way back", request=request)
        return response


def hub_key(api: ApiClient, org: str) -> str:
    return api.store.create_api_key(org, Role.CONTRIBUTOR, "national node")[1]


def forwarder_for(node_dir: Path, api: ApiClient, key: str, lose: int = 0) -> tuple[Forwarder, LossyTransport]:
    transport = LossyTransport(api.client._transport, lose)  # the hub app itself, no network
    config = UpstreamConfig(url="http://testserver/api/v1", key=key, node="ua-test", batch_size=50)
    return Forwarder(Outbox(open_store(node_dir)), config, transport=transport), transport


def on_hub(api: ApiClient) -> set[str]:
    return {row[0] for row in api.store.reader().execute("SELECT id FROM observations")}


def test_outbox_rows_are_written_with_the_observation_or_not_at_all(tmp_path: Path) -> None:
    store = open_store(tmp_path / "node")
    outbox = Outbox(store)
    store.add_observations([obs("shared"), obs("ua-only", releasable_to=["UA"]), obs("owner-only", releasable_to=[])])
    assert outbox.states() == {"shared": "pending"}  # the other two are releasable to UA alone

    def fail(conn: sqlite3.Connection, new: object) -> None:
        raise RuntimeError("crash inside the storing transaction")

    store.add_insert_hook(fail)
    with pytest.raises(RuntimeError):
        store.add_observations([obs("lost-with-its-row")])
    assert store.get_observation("lost-with-its-row") is None
    assert "lost-with-its-row" not in outbox.states()
    store.close()


def test_observations_stored_without_the_outbox_are_caught_up(tmp_path: Path) -> None:
    store = open_store(tmp_path / "node")
    store.add_observations([obs("before-upstream"), obs("before-national", releasable_to=["UA"])])
    outbox = Outbox(store)  # a server started with --upstream on an existing data dir
    assert outbox.states() == {"before-upstream": "pending"}
    other = open_store(tmp_path / "node")  # `truceline ingest` into the same data dir, no hook there
    other.add_observations([obs("by-ingest")])
    other.close()
    store.add_observations([obs("after")])  # the hook notices the gap below its own rows
    assert set(outbox.states()) == {"before-upstream", "by-ingest", "after"}
    other = open_store(tmp_path / "node")
    other.add_observations([obs("by-ingest-2")])
    other.close()
    outbox.catch_up()  # what the forwarder does on every round
    assert "by-ingest-2" in outbox.states()
    store.close()


def test_a_lost_reply_is_forwarded_again_and_counted_once_at_the_hub(tmp_path: Path, api: ApiClient) -> None:
    forwarder, transport = forwarder_for(tmp_path / "node", api, hub_key(api, "UA"), lose=1)
    ids = [f"dup-{i}" for i in range(30)]
    forwarder.outbox.store.add_observations([obs(i) for i in ids])
    with forwarder.client() as client:
        with pytest.raises(HubUnavailable, match="ReadTimeout"):
            forwarder.drain_once(client)
        assert on_hub(api) == set(ids)  # the hub stored them; the node does not know
        assert forwarder.status().pending == 30 and "ReadTimeout" in (forwarder.status().last_error or "")
        assert forwarder.drain_once(client) == 30
    assert transport.posts == 2
    assert set(forwarder.outbox.states().values()) == {SENT}
    assert api.store.count_observations() == 30
    metrics = api.client.get("/metrics", headers=api.auth).text
    assert "truceline_observations_duplicate_total 30.0" in metrics
    forwarder.outbox.store.close()


def test_forged_rows_are_refused_alone_and_nation_only_rows_stay(tmp_path: Path, api: ApiClient) -> None:
    forwarder, transport = forwarder_for(tmp_path / "node", api, hub_key(api, "UA"))
    good = [f"ua-{i}" for i in range(20)]
    batch = [obs(i) for i in good[:10]] + [obs("forged", org="FR")] + [obs(i) for i in good[10:]]
    batch.append(obs("fr-for-ua-only", org="FR", releasable_to=["UA"]))  # owner FR, but releasable to UA alone
    forwarder.outbox.store.add_observations(batch)
    with forwarder.client() as client:
        assert forwarder.drain_once(client) == 22
        assert forwarder.drain_once(client) == 0  # nothing left to try: a refused row is not retried on its own
    states = forwarder.outbox.states()
    assert states.pop("forged") == REFUSED and states.pop("fr-for-ua-only") == LOCAL
    assert set(states.values()) == {SENT}
    assert on_hub(api) == set(good)  # the forged one was refused by the hub, nothing of it stored
    [refused] = forwarder.outbox.refused()
    assert refused["id"] == "forged" and "403" in refused["reason"] and "source.org is UA" in refused["reason"]
    posts = transport.posts
    assert forwarder.outbox.requeue_refused() == 1  # an operator's retry after fixing the cause
    with forwarder.client() as client:
        forwarder.drain_once(client)
    assert transport.posts == posts + 1 and forwarder.outbox.refused()[0]["attempts"] == 2
    forwarder.outbox.store.close()


def test_a_key_that_may_not_write_is_an_outage_not_a_refusal(tmp_path: Path, api: ApiClient) -> None:
    observer = api.store.create_api_key("UA", Role.OBSERVER)[1]
    forwarder, transport = forwarder_for(tmp_path / "node", api, observer)
    forwarder.outbox.store.add_observations([obs("waits")])
    with forwarder.client() as client, pytest.raises(HubUnavailable, match="may not write observations"):
        forwarder.drain_once(client)
    assert forwarder.outbox.states() == {"waits": "pending"} and transport.posts == 0
    assert "may not write" in (forwarder.status().last_error or "")
    forwarder.outbox.store.close()


def test_the_hub_register_shows_nodes_to_coalition_staff_only(api: ApiClient) -> None:
    key = hub_key(api, "UA")
    report = {"node": "ua-1", "pending": 3, "oldest_pending_age_s": 12.5, "refused": 0, "sent": 7}
    assert api.client.put("/api/v1/nodes/self", json=report, headers={"Authorization": f"Bearer {key}"}).status_code == 204
    bad = api.client.put("/api/v1/nodes/self", json={**report, "pending": -1}, headers={"Authorization": f"Bearer {key}"})
    assert bad.status_code == 422
    assert api.client.get("/api/v1/nodes", headers={"Authorization": f"Bearer {key}"}).status_code == 403
    [row] = api.client.get("/api/v1/nodes", headers=api.auth).json()["nodes"]
    assert (row["org"], row["node"], row["pending"], row["contacts"]) == ("UA", "ua-1", 3, 1)
    assert api.client.get("/api/v1/outbox", headers=api.auth).status_code == 404  # this server has no upstream


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--upstream", "ftp://hub/api/v1"], "not an http(s) URL"),
        (["--upstream", "http://hub:8000/"], "ending in /api/v1"),
        (["--upstream", "http://hub:8000/api/v1"], "needs --upstream-key"),
        (["--upstream-key", "k"], "needs --upstream URL"),
    ],
)
def test_serve_refuses_bad_upstream_options(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli_app, ["serve", "--data-dir", str(tmp_path / "d"), *args])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "d").exists()  # refused before anything was created


def test_the_coalition_picture_is_pulled_with_the_nations_key_kept_on_disk_and_shown_to_that_nation(tmp_path: Path, api: ApiClient) -> None:
    api.store.set_organisation("UA", ["COALITION"])
    api.store.add_observations([obs("ua-1"), obs("fr-1", org="FR"), obs("fr-secret", org="FR", releasable_to=["FR"])])
    picture = CoalitionPicture(tmp_path / "node", every_s=30)
    (tmp_path / "node").mkdir()
    forwarder, _ = forwarder_for(tmp_path / "node", api, hub_key(api, "UA"))
    forwarder.picture = picture
    with forwarder.client() as client:
        forwarder.drain_once(client)
    fused = eventually_fused(api)
    assert fused
    with forwarder.client() as client:
        picture._last_pull = 0.0
        forwarder.drain_once(client)
    kept = CoalitionPicture(tmp_path / "node", every_s=30).latest  # what a restarted node shows first
    assert kept is not None and kept["nation"] == "UA"
    seen = {i for f in kept["incidents"]["features"] for i in f["properties"]["observation_ids"]}
    assert {"ua-1", "fr-1"} <= seen and "fr-secret" not in seen  # the hub filtered for UA's key
    api.client.app.state.forwarder = forwarder  # serve it from this app as a node would
    fr_key = api.store.create_api_key("FR", Role.OBSERVER)[1]
    ua_key = api.store.create_api_key("UA", Role.OBSERVER)[1]
    assert api.client.get("/api/v1/coalition", headers={"Authorization": f"Bearer {fr_key}"}).status_code == 403
    assert api.client.get("/api/v1/coalition", headers={"Authorization": f"Bearer {ua_key}"}).json()["nation"] == "UA"
    api.client.app.state.forwarder = None
    forwarder.outbox.store.close()


def eventually_fused(api: ApiClient) -> list[dict[str, object]]:
    """Fuse the hub's store now (the test app's fusion thread may not have run yet)."""
    api.client.app.state.fusion.run_until_idle()
    return list(api.client.get("/api/v1/incidents", headers=api.auth).json()["features"])
