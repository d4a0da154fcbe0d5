"""MQTT intake: field sensors publish native observation JSON to a broker; the server subscribes and stores.

Delivery: QoS 1 on a persistent session (MQTT 5, ``clean_start`` false, session expiry) under a client id
fixed by the data directory, so messages published while the server is down wait in the broker. A message
is acknowledged only after its observations are committed (or it is refused for good): a crash in between
means redelivery, which is harmless because observation ids are idempotent.

Each message is one atomic unit, like an HTTP batch: a native observation object or an array of them.
A bad message (not JSON, NaN, too large, too deep, invalid fields, another organisation) is logged with
its topic and reason, counted in ``truceline_mqtt_messages{outcome=...}``, published to
``truceline/rejected/<topic>`` with the reason, acknowledged and dropped; the subscriber goes on.

Who may write: the broker carries no truceline keys, so one subscription writes for exactly one
organisation, named by the operator (``serve --mqtt-org``); a message whose ``source.org`` differs is
refused (``foreign_org``). Sensors of several organisations need one server or bridge per organisation, or
broker ACLs that keep each organisation to its own topics plus one ``--mqtt-org`` per subscription.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from truceline.access.policy import Principal, Role, reader_labels
from truceline.domain.observation import Observation
from truceline.ingest.native import loads_non_finite
from truceline.ingest.validation import validate_all_or_nothing, validation_context
from truceline.service.intake import ForeignOrganisation, accept_observations
from truceline.store.sqlite import StoreError

log = logging.getLogger("truceline.mqtt")

DEFAULT_TOPIC = "truceline/obs/#"
REJECTED_PREFIX = "truceline/rejected"
DEFAULT_SESSION_EXPIRY_S = 7 * 86400
DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024
_MAX_ERRORS_PUBLISHED = 20


@dataclass(frozen=True)
class BrokerAddress:
    """Where the broker is, from ``mqtt://[user:password@]host[:port]`` or ``mqtts://`` (TLS, system CAs)."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None


def parse_broker_url(url: str) -> BrokerAddress:
    """Parse a broker URL; ValueError says what is wrong with it."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ValueError(f"broker URL {url!r} must start with mqtt:// or mqtts://")
    if not parts.hostname:
        raise ValueError(f"broker URL {url!r} has no host")
    try:
        port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
    except ValueError:
        raise ValueError(f"broker URL {url!r} has an invalid port") from None
    return BrokerAddress(
        host=parts.hostname,
        port=port,
        tls=parts.scheme == "mqtts",
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def client_id_for(data_dir: Path) -> str:
    """A client id fixed by the data directory: a restart resumes the same broker session."""
    return "truceline-" + hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class MqttConfig:
    """What the subscription needs; ``org`` is the one organisation it writes for."""

    url: str
    org: str
    client_id: str
    topic: str = DEFAULT_TOPIC
    session_expiry_s: int = DEFAULT_SESSION_EXPIRY_S
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    max_items: int = 10_000
    clock_skew: timedelta = timedelta(minutes=5)
    republish_rejected: bool = True


@dataclass(frozen=True)
class Outcome:
    """What became of one message: ``stored``/``duplicate`` (acked), ``rejected`` (acked), ``retry`` (not acked)."""

    status: str
    reason: str = ""
    detail: str = ""
    errors: tuple[dict[str, Any], ...] = ()
    stored: int = 0


class MqttIntake:
    """Subscribes to the observation topics and stores each message through the server's one intake path."""

    def __init__(self, state: Any, config: MqttConfig) -> None:
        self._state = state
        self.config = config
        self.address = parse_broker_url(config.url)
        self.principal = Principal(f"mqtt:{config.client_id}", config.org, Role.CONTRIBUTOR, reader_labels(config.org, ()))
        self.connected = threading.Event()
        self._client: mqtt.Client | None = None

    # -- life cycle --------------------------------------------------------------------------------
    def start(self) -> None:
        """Connect in the background (the server starts even while the broker is down) and keep reconnecting."""
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=self.config.client_id, protocol=mqtt.MQTTv5, manual_ack=True
        )
        if self.address.username is not None:
            client.username_pw_set(self.address.username, self.address.password)
        if self.address.tls:
            client.tls_set()
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = self.config.session_expiry_s
        client.connect_async(self.address.host, self.address.port, keepalive=30, clean_start=False, properties=properties)
        client.loop_start()
        self._client = client

    def stop(self) -> None:
        """Disconnect (the broker keeps the session and queues what arrives meanwhile) and end the thread."""
        client, self._client = self._client, None
        if client is None:
            return
        client.disconnect()
        client.loop_stop()
        self.connected.clear()

    # -- paho callbacks (run in paho's network thread, never on the event loop) ---------------------
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            log.warning("MQTT broker %s:%s refused the connection: %s", self.address.host, self.address.port, reason_code)
            return
        client.subscribe(self.config.topic, qos=1)
        self.connected.set()
        log.info("MQTT subscribed to %s as %s (session present: %s)", self.config.topic, self.config.client_id, flags.session_present)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        self.connected.clear()
        if self._client is not None:
            log.warning("MQTT connection to %s:%s lost (%s); reconnecting", self.address.host, self.address.port, reason_code)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            outcome = self.handle(message.topic, message.payload)
        except Exception:  # never let one message end the subscription
            log.exception("MQTT message on %s could not be handled; left unacknowledged for redelivery", message.topic)
            self._count("error")
            return
        self._count(outcome.reason or outcome.status)
        if outcome.status == "retry":
            return  # not acknowledged: the broker sends it again after the next reconnect
        if outcome.status == "rejected":
            log.warning("MQTT message on %s rejected (%s): %s", message.topic, outcome.reason, outcome.detail)
            if self.config.republish_rejected:
                report = {"topic": message.topic, "reason": outcome.reason, "detail": outcome.detail, "errors": list(outcome.errors)}
                client.publish(f"{REJECTED_PREFIX}/{message.topic}", orjson.dumps(report), qos=1)
        client.ack(message.mid, message.qos)

    # -- the work ------------------------------------------------------------------------------------
    def handle(self, topic: str, payload: bytes | bytearray) -> Outcome:
        """Validate one message as an atomic batch and store it; nothing of a refused message is stored."""
        if len(payload) > self.config.max_payload_bytes:
            return Outcome("rejected", "too_large", f"payload of {len(payload)} bytes exceeds {self.config.max_payload_bytes}")
        try:
            doc = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            malformed = Outcome("rejected", "malformed_json", f"malformed JSON at line {exc.lineno} column {exc.colno} (byte {exc.pos}): {exc.msg}")
            try:  # NaN, Infinity or 1e999: read again so the refusal names the field, as over HTTP
                doc = loads_non_finite(bytes(payload))
            except ValueError:
                return malformed
            outcome = self._validate(doc)
            return outcome if isinstance(outcome, Outcome) else malformed
        checked = self._validate(doc)
        if isinstance(checked, Outcome):
            return checked
        return self._store(topic, checked)

    def _validate(self, doc: Any) -> Outcome | list[Observation]:
        """The observations of one decoded message, or why the message is refused as a whole."""
        items = doc if isinstance(doc, list) else [doc]
        if not items:
            return Outcome("rejected", "empty", "the message holds an empty array")
        if len(items) > self.config.max_items:
            return Outcome("rejected", "too_many_items", f"{len(items)} observations; the limit is {self.config.max_items}")
        observations, errors = validate_all_or_nothing(items, validation_context(clock_skew=self.config.clock_skew))
        if errors:
            bad = len({e.index for e in errors})
            listed = tuple(e.as_dict() for e in errors[:_MAX_ERRORS_PUBLISHED])
            first = errors[0]
            detail = f"{bad} of {len(items)} observations invalid, e.g. index {first.index} {first.field}: {first.message}"
            return Outcome("rejected", "invalid", detail, listed)
        return observations

    def _store(self, topic: str, observations: list[Observation]) -> Outcome:
        """Store a valid message through the one intake path; a store failure asks for redelivery."""
        try:
            result = accept_observations(self._state, self.principal, observations)
        except ForeignOrganisation as exc:
            return Outcome("rejected", "foreign_org", str(exc))
        except StoreError as exc:
            log.error("MQTT message on %s not stored (%s); it will be redelivered", topic, exc)
            return Outcome("retry", "store_error", str(exc))
        metrics = getattr(self._state, "metrics", None)
        if metrics is not None:
            metrics.observations_stored.inc(len(result.stored))
            metrics.observations_duplicate.inc(len(result.duplicates))
            metrics.observations_conflicting.inc(len(result.conflicts))
        return Outcome("stored" if result.stored else "duplicate", stored=len(result.stored))

    def _count(self, outcome: str) -> None:
        metrics = getattr(self._state, "metrics", None)
        if metrics is not None:
            metrics.mqtt_messages.labels(outcome).inc()
