"""MQTT intake against the machine's real Mosquitto (127.0.0.1:1883) and a real `truceline serve --mqtt`.

Every test uses its own topic prefix and data directory (hence its own broker client id), so parallel
runs do not see each other's messages; the server's broker session is removed at the end.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import paho.mqtt.client as mqtt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from typer.testing import CliRunner

from conftest import ApiClient, LiveServer, eventually, native, start_server
from truceline.cli import app as cli_app
from truceline.service.mqtt_intake import (
    REJECTED_PREFIX,
    MqttConfig,
    MqttIntake,
    client_id_for,
    parse_broker_url,
)

BROKER = "mqtt://127.0.0.1:1883"
WAIT_S = 30.0


class Publisher:
    """A separate paho client, as a field sensor would be; also listens to the rejection reports."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.rejections: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:12]}", protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.connect("127.0.0.1", 1883)
        self.client.loop_start()
        self.client.subscribe(f"{REJECTED_PREFIX}/{prefix}/#", qos=1)
        assert subscribed.wait(WAIT_S), "the broker did not confirm the subscription to rejection reports"

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.rejections.append(orjson.loads(message.payload))

    def publish(self, payload: bytes, sub: str = "sensor-1") -> None:
        info = self.client.publish(f"{self.prefix}/{sub}", payload, qos=1)
        info.wait_for_publish(timeout=WAIT_S)
        assert info.is_published()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _forget_session(data_dir: Path) -> None:
    """Remove the server's persistent session from the broker (clean start, expiry 0)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id_for(data_dir), protocol=mqtt.MQTTv5)
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 0
    client.connect("127.0.0.1", 1883, clean_start=True, properties=properties)
    client.loop_start()
    time.sleep(0.2)
    client.disconnect()
    client.loop_stop()


def _serve(data_dir: Path, prefix: str, org: str = "UA") -> LiveServer:
    server = start_server(data_dir, ["--mqtt", BROKER, "--mqtt-org", org, "--mqtt-topic", f"{prefix}/#"])
    eventually("the MQTT subscription", lambda: httpx.get(server.url + "/api/v1/status", headers={"Authorization": f"Bearer {server.key}"}).json().get("mqtt", {}).get("connected"))
    return server


def _stop(server: LiveServer) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        server.process.wait(timeout=30)


def _ids(server: LiveServer) -> list[str]:
    response = httpx.get(server.url + "/api/v1/observations", params={"limit": 1000}, headers={"Authorization": f"Bearer {server.key}"})
    response.raise_for_status()
    return [item["id"] for item in response.json()["items"]]


def _metric(server: LiveServer, outcome: str) -> float:
    for line in httpx.get(server.url + "/metrics", headers={"Authorization": f"Bearer {server.key}"}).text.splitlines():
        if line.startswith(f'truceline_mqtt_messages_total{{outcome="{outcome}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.fixture
def prefix() -> str:
    return f"truceline/obs/test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def mqtt_server(tmp_path: Path, prefix: str) -> Iterator[LiveServer]:
    data_dir = tmp_path / "live"
    server = _serve(data_dir, prefix)
    yield server
    _stop(server)
    _forget_session(data_dir)


@pytest.fixture
def publisher(prefix: str) -> Iterator[Publisher]:
    pub = Publisher(prefix)
    yield pub
    pub.close()


def test_messages_are_stored_once_even_when_sent_twice(mqtt_server: LiveServer, publisher: Publisher) -> None:
    first = native(id="mqtt-a")
    publisher.publish(orjson.dumps(first))
    publisher.publish(orjson.dumps(first))  # redelivery or a sensor re-sending: harmless
    publisher.publish(orjson.dumps([native(id="mqtt-b"), native(id="mqtt-c", kind="impact")]), sub="sensor-2")
    eventually("three observations", lambda: len(_ids(mqtt_server)) >= 3)
    assert sorted(_ids(mqtt_server)) == ["mqtt-a", "mqtt-b", "mqtt-c"]
    eventually("the duplicate to be counted", lambda: _metric(mqtt_server, "duplicate") >= 1)
    assert _metric(mqtt_server, "stored") == 2  # two messages stored something new
    assert len(_ids(mqtt_server)) == 3


def test_bad_messages_are_refused_and_the_next_good_one_is_taken(mqtt_server: LiveServer, publisher: Publisher) -> None:
    bad: list[tuple[bytes, str]] = [
        (b'{"id": "broken", "time": ', "malformed_json"),
        (orjson.dumps(native(id="nan-1"))[:-1] + b', "time_uncertainty_s": NaN}', "invalid"),  # names the field (issue 20)
        (b"[" * 5000 + b"]" * 5000, "malformed_json"),  # nested beyond the parser's depth limit
        (orjson.dumps([native(id="good-in-bad-batch"), native(id="bad-lat", location={"lat": 100, "lon": 37})]), "invalid"),
        (orjson.dumps(native(id="ru-1", source={"id": "ru-radar", "type": "radar", "org": "RU"})), "foreign_org"),
        (b"[]", "empty"),
        (b'{"id": "x", "pad": "' + b"a" * (1024 * 1024) + b'"}', "too_large"),
    ]
    for payload, _ in bad:
        publisher.publish(payload)
    publisher.publish(orjson.dumps(native(id="after-the-bad-ones")))
    eventually("the good message", lambda: "after-the-bad-ones" in _ids(mqtt_server))
    assert _ids(mqtt_server) == ["after-the-bad-ones"]  # nothing of a refused message, not even its good items
    reports = eventually("all rejection reports", lambda: publisher.rejections if len(publisher.rejections) >= len(bad) else None)
    assert sorted(r["reason"] for r in reports) == sorted(reason for _, reason in bad)
    assert all(r["topic"] == f"{publisher.prefix}/sensor-1" for r in reports)
    invalid = sorted((r["errors"][0]["index"], r["errors"][0]["field"]) for r in reports if r["reason"] == "invalid")
    assert invalid == [(0, "time_uncertainty_s"), (1, "location.lat")]
    malformed = [r["detail"] for r in reports if r["reason"] == "malformed_json"]
    assert all("line 1 column" in detail for detail in malformed)
    assert any("depth limit" in detail for detail in malformed)
    assert _metric(mqtt_server, "malformed_json") == 2
    assert _metric(mqtt_server, "foreign_org") == 1
    assert httpx.get(mqtt_server.url + "/api/v1/status", headers={"Authorization": f"Bearer {mqtt_server.key}"}).json()["mqtt"]["connected"] is True


def test_messages_published_while_the_server_is_down_arrive_after_restart(tmp_path: Path, prefix: str, publisher: Publisher) -> None:
    data_dir = tmp_path / "live"
    server = _serve(data_dir, prefix)
    try:
        publisher.publish(orjson.dumps(native(id="before-stop")))
        eventually("the first message", lambda: "before-stop" in _ids(server))
        _stop(server)
        publisher.publish(orjson.dumps(native(id="while-down")))  # QoS 1: the broker keeps it for the session
        server = _serve(data_dir, prefix)
        eventually("the message queued while down", lambda: "while-down" in _ids(server))
        assert sorted(_ids(server)) == ["before-stop", "while-down"]
    finally:
        _stop(server)
        _forget_session(data_dir)


def test_serve_refuses_mqtt_without_an_organisation(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli_app, ["serve", "--data-dir", str(tmp_path / "d"), "--mqtt", BROKER])
    assert result.exit_code == 2
    assert "--mqtt-org" in result.output
    result = CliRunner().invoke(cli_app, ["serve", "--data-dir", str(tmp_path / "d"), "--mqtt", "http://x", "--mqtt-org", "UA"])
    assert result.exit_code == 2
    assert "mqtt://" in result.output


def test_broker_urls() -> None:
    address = parse_broker_url("mqtts://sensor%40ua:p%3Ass@broker.example:8884")
    assert (address.host, address.port, address.tls, address.username, address.password) == ("broker.example", 8884, True, "sensor@ua", "p:ss")
    assert parse_broker_url("mqtt://127.0.0.1").port == 1883
    with pytest.raises(ValueError, match="no host"):
        parse_broker_url("mqtt://")
    assert client_id_for(Path("/a")) != client_id_for(Path("/b"))
    assert client_id_for(Path("/a")) == client_id_for(Path("/a/../a"))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.one_of(
    st.binary(max_size=200),
    st.recursive(st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=10) | st.integers(-(2**63), 2**63 - 1),
                 lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(list(native())), inner, max_size=4),
                 max_leaves=20).map(orjson.dumps),
))
def test_fuzz_message_handling_never_raises_and_stores_only_whole_valid_messages(api: ApiClient, payload: bytes) -> None:
    """Without a broker: whatever the payload, ``handle`` returns an outcome, and refused messages store nothing."""
    intake = MqttIntake(api.client.app.state, MqttConfig(url=BROKER, org="UA", client_id="fuzz", max_payload_bytes=150))
    before = api.store.count_observations()
    outcome = intake.handle("truceline/obs/fuzz", payload)
    assert outcome.status in ("stored", "duplicate", "rejected")
    if outcome.status == "rejected":
        assert outcome.reason and api.store.count_observations() == before
