"""The national node's forwarder: drains the outbox to the coalition hub over its ordinary HTTP API.

Why over the hub's ``POST /observations`` and nothing else: that path already authenticates the nation's
key, refuses observations of another organisation (403, nothing stored), validates, stores atomically and
is idempotent by id. So the forwarder can be simple and still exactly-once in effect: send the oldest
pending rows, mark them only after a 201, and send again after anything else; a reply lost on the way
becomes a duplicate the hub ignores.

Failures, and what each does:
- no answer (refused connection, time-out of a hub that hangs, 5xx, 408, 429, 404 of a wrong URL, a key
  the hub refuses): the rows stay pending, the error is kept, and the forwarder backs off (doubling, with
  jitter, up to ``max_backoff_s``). Connect and read time-outs bound every call, and all of this runs in
  its own thread: the node's request path never waits for the hub.
- a 4xx about content (403 foreign organisation, 422 invalid, 413 too large): the batch is split in halves
  until the refused rows are alone; those are marked ``refused`` with the hub's words and never retried
  on their own (an operator requeues them), the others go through.
- a 201 naming an id as a conflict (the hub holds a different observation under it): ``refused`` too.

The node's nation is the organisation of its upstream key, as the hub's ``whoami`` says; nothing is sent
before it is known, and a row releasable to that nation alone is marked ``local`` and never sent.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from truceline.federate.coalition import CoalitionPicture
from truceline.service.feeds import Backoff
from truceline.store.outbox import LOCAL, REFUSED, SENT, Outbox, OutboxItem, OutboxStatus, leaves_owner

log = logging.getLogger("truceline.federate")

#: Header by which the hub's register tells a node's report from any other contributor's call.
NODE_HEADER = "X-Truceline-Node"


@dataclass(frozen=True)
class UpstreamConfig:
    """Where the hub is, the key to it, and how patiently to talk to it."""

    url: str  # the hub's /api/v1, without a trailing slash
    key: str = field(repr=False)
    node: str = "node"
    alert_after_s: float = 300.0
    batch_size: int = 200
    connect_timeout_s: float = 3.0
    read_timeout_s: float = 20.0
    min_backoff_s: float = 0.5
    max_backoff_s: float = 10.0
    idle_poll_s: float = 1.0
    heartbeat_s: float = 5.0
    pull_every_s: float = 30.0  # pull the coalition picture back this often (0: never)


class HubUnavailable(RuntimeError):
    """The hub did not settle anything this time (unreachable, hung, busy, or refusing the key)."""


class Forwarder:
    """One background thread that keeps the outbox drained. ``notify`` wakes it when rows arrive."""

    def __init__(
        self, outbox: Outbox, config: UpstreamConfig, transport: httpx.BaseTransport | None = None, picture: CoalitionPicture | None = None
    ) -> None:
        self.outbox = outbox
        self.picture = picture
        self.config = config
        self._transport = transport
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._watch_thread: threading.Thread | None = None
        self._alert_lock = threading.Lock()
        self.nation: str | None = None
        self.alerting = False
        self._failures = 0
        self._backoff = Backoff(initial_s=config.min_backoff_s, maximum_s=config.max_backoff_s)  # the feeds' doubling, jittered
        self._last_heartbeat = 0.0

    # -- life cycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the thread (a daemon: a hung hub call never keeps the process alive)."""
        self._thread = threading.Thread(target=self._run, name="truceline-forwarder", daemon=True)
        self._thread.start()
        # The alert must sound while a call to a hung hub blocks the forwarding thread (up to its read
        # time-out), so a thread of its own watches the backlog's age.
        self._watch_thread = threading.Thread(target=self._watch, name="truceline-outbox-alert", daemon=True)
        self._watch_thread.start()

    def stop(self, timeout_s: float = 3.0) -> None:
        """Ask the thread to end and wait a little; rows in flight stay pending and go again next start."""
        self._stop.set()
        self._wake.set()
        for thread in (self._thread, self._watch_thread):
            if thread is not None:
                thread.join(timeout_s)

    def notify(self) -> None:
        """New rows may be pending: look now rather than at the next poll."""
        self._wake.set()

    def status(self) -> OutboxStatus:
        """The outbox's figures (see :class:`~truceline.store.outbox.OutboxStatus`)."""
        return self.outbox.status()

    def is_late(self, status: OutboxStatus | None = None) -> bool:
        """Whether the oldest pending row waited longer than the alert threshold."""
        age = self.outbox.oldest_pending_age_s() if status is None else status.oldest_pending_age_s
        return age is not None and age > self.config.alert_after_s

    # -- the loop --------------------------------------------------------------------------------------
    def client(self) -> httpx.Client:
        """An HTTP client for the hub: the key, the node header, and time-outs on connect and on every read."""
        timeout = httpx.Timeout(self.config.read_timeout_s, connect=self.config.connect_timeout_s)
        headers = {"Authorization": f"Bearer {self.config.key}", NODE_HEADER: self.config.node}
        return httpx.Client(timeout=timeout, headers=headers, transport=self._transport)

    def _run(self) -> None:
        with self.client() as client:
            while not self._stop.is_set():
                try:
                    settled = self.drain_once(client)
                    self._failures = 0
                except HubUnavailable as exc:
                    self._failures += 1
                    self._check_alert()
                    delay = self._backoff.delay(self._failures - 1)
                    log.debug("hub unavailable (%s); next try in %.1f s", exc, delay)
                    self._stop.wait(delay)
                    continue
                except Exception:  # a bug or a closed store must not kill the thread silently
                    if self._stop.is_set():
                        return
                    log.exception("forwarder cycle failed")
                    self._failures += 1
                    self._stop.wait(self.config.max_backoff_s)
                    continue
                self._check_alert()
                if settled == 0:
                    self._wake.wait(self.config.idle_poll_s)
                    self._wake.clear()

    def drain_once(self, client: httpx.Client) -> int:
        """One round: learn the nation, send up to a batch, report to the hub, pull the coalition picture
        when due. Returns rows settled."""
        if self.nation is None:
            self.nation = self._learn_nation(client)
        self.outbox.catch_up()
        items = self.outbox.pending(self.config.batch_size)
        nation = self.nation
        local = [item.seq for item in items if not leaves_owner(nation, item.labels)]
        self.outbox.mark(local, LOCAL, f"releasable to {nation} alone: never leaves the node")
        outgoing = [item for item in items if leaves_owner(nation, item.labels)]
        if outgoing:
            self._send(client, outgoing)
        if time.monotonic() - self._last_heartbeat >= (1.0 if items else self.config.heartbeat_s):  # at most 1/s while draining
            self._heartbeat(client)
        if self.picture is not None and self.picture.due():
            self.picture.pull(lambda method, path, **kw: self._call(client, method, path, **kw), self.config.url, nation)
        return len(items)

    # -- talking to the hub ----------------------------------------------------------------------------
    def _call(self, client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return client.request(method, self.config.url + path, **kwargs)
        except httpx.HTTPError as exc:  # connect/read time-outs, refused or reset connections
            message = f"{method} {path}: {type(exc).__name__}: {exc or 'no detail'}"
            raise HubUnavailable(message) from exc

    def _learn_nation(self, client: httpx.Client) -> str:
        """The upstream key's organisation, and proof that it may write; else the key is the problem."""
        try:
            response = self._call(client, "GET", "/whoami")
            if response.status_code != 200:
                raise HubUnavailable(f"GET /whoami: hub answered {response.status_code}: {_detail(response)}")
            me = response.json()
            if "write-observations" not in me.get("permissions", []):
                raise HubUnavailable(f"the upstream key ({me.get('org')} {me.get('role')}) may not write observations at the hub")
        except HubUnavailable as exc:
            self.outbox.record_error(str(exc))
            raise
        nation = str(me["org"])
        self.outbox.set_nation(nation)
        log.info("upstream %s: this node forwards as %s", self.config.url, nation)
        return nation

    def _send(self, client: httpx.Client, items: list[OutboxItem]) -> None:
        """POST ``items`` as one batch; settle them by the answer, splitting a batch the hub refused."""
        seqs = [item.seq for item in items]
        body = orjson.dumps([item.document for item in items])
        try:
            response = self._call(client, "POST", "/observations", content=body, headers={"Content-Type": "application/json"})
        except HubUnavailable as exc:
            self.outbox.count_attempt(seqs, str(exc))
            raise
        code = response.status_code
        if code == 201:
            conflicts = set(response.json().get("conflicts", []))
            self.outbox.mark([i.seq for i in items if i.id not in conflicts], SENT)
            reason = "the hub holds a different observation under this id (conflict): not overwritten"
            self.outbox.mark([i.seq for i in items if i.id in conflicts], REFUSED, reason)
            return
        if code in (400, 403, 413, 422):  # about the content: find the rows the hub refuses
            if len(items) > 1:
                half = len(items) // 2
                self._send(client, items[:half])
                self._send(client, items[half:])
                return
            reason = f"hub answered {code}: {_detail(response)}"
            log.warning("observation %s refused by the hub for good: %s", items[0].id, reason)
            self.outbox.mark(seqs, REFUSED, reason)
            return
        error = f"POST /observations: hub answered {code}: {_detail(response)}"
        self.outbox.count_attempt(seqs, error)
        if code == 401:
            self.nation = None  # re-check the key before sending again
        raise HubUnavailable(error)

    def _heartbeat(self, client: httpx.Client) -> None:
        """Tell the hub this node is alive and how its outbox stands (the hub's ``/nodes`` register)."""
        figures = self.outbox.status()
        report = {
            "node": self.config.node,
            "pending": figures.pending,
            "oldest_pending_age_s": figures.oldest_pending_age_s,
            "refused": figures.refused,
            "sent": figures.sent,
        }
        response = self._call(client, "PUT", "/nodes/self", json=report)
        if response.status_code >= 300:
            log.debug("hub did not take the node report: %s %s", response.status_code, _detail(response))
        self._last_heartbeat = time.monotonic()

    def _watch(self) -> None:
        """Check the backlog's age every second (or a quarter of the threshold) until stopped."""
        interval = max(0.05, min(1.0, self.config.alert_after_s / 4))
        while not self._stop.wait(interval):
            try:
                self._check_alert()
            except Exception:  # a closed store at shutdown; the forwarding thread reports real failures
                if self._stop.is_set():
                    return
                log.debug("outbox alert check failed", exc_info=True)

    def _check_alert(self) -> None:
        """Log once when the oldest pending row crosses the threshold, and once when it is back under."""
        with self._alert_lock:
            late = self.is_late()
            if late == self.alerting:
                return
            figures = self.outbox.status()
            if late:
                log.warning(
                    "ALERT outbox: the oldest observation pending for the hub has waited %.0f s (threshold %.0f s); %d pending; last error: %s",
                    figures.oldest_pending_age_s or 0.0, self.config.alert_after_s, figures.pending, figures.last_error,
                )
            else:
                log.warning("outbox recovered: oldest pending now %s s, %d pending", figures.oldest_pending_age_s, figures.pending)
            self.alerting = late


def _detail(response: httpx.Response) -> str:
    """The hub's own words about a refusal, short."""
    try:
        payload = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(payload, dict) and isinstance(payload.get("detail"), str):
        extra = payload.get("errors")
        return payload["detail"] + (f" {orjson.dumps(extra[:3]).decode()}" if isinstance(extra, list) and extra else "")
    return orjson.dumps(payload).decode()[:300]
