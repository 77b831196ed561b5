"""MQTT sensors against the real Mosquitto broker on 127.0.0.1:1883: persistent session, QoS 1, manual acks,
sensor registry, threshold rule, and no reading lost across a client disconnect or a failed write."""

from __future__ import annotations

import json
import socket
import uuid

import paho.mqtt.client as mqtt
import pytest

from sitaware.ingest import services
from sitaware.ingest.models import IntakeItem, ItemStatus, Source
from sitaware.records.models import Record
from tests.test_ingest_support import free_port, make_source

BROKER = ("127.0.0.1", 1883)


def _broker_up() -> bool:
    try:
        with socket.create_connection(BROKER, timeout=1):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not _broker_up(), reason="no MQTT broker at 127.0.0.1:1883")


def publish(messages: list[tuple[str, bytes]]) -> None:
    """Publish with QoS 1 from a separate client, waiting until the broker has every message."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}")
    client.connect(*BROKER)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(timeout=5)
            assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


def forget_session(client_id: str) -> None:
    """Connecting once with a clean session makes the broker drop the persistent one."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True,
                         protocol=mqtt.MQTTv311)
    client.connect(*BROKER)
    client.loop(timeout=0.2)
    client.disconnect()


def reading(sensor: str, value, n: int, metric: str = "water_level_m") -> bytes:
    return json.dumps({"sensor": sensor, "metric": metric, "value": value, "time": 1764322200 + n,
                       "id": f"{sensor}-{n}"}).encode()


@pytest.fixture
def sensors(world):
    prefix = f"test/{uuid.uuid4().hex[:10]}"
    client_id = f"sitaware-test-{uuid.uuid4().hex[:10]}"
    source = make_source(world, "mqtt", "river-gauges", config={
        "host": BROKER[0], "port": BROKER[1], "topics": [f"{prefix}/#"], "client_id": client_id,
        "collect_seconds": 1.5,
        "sensors": {"gauge-12": {"label": "Oubangui gauge, Bangui", "lat": 4.3533, "lon": 18.5847,
                                 "thresholds": {"water_level_m": 6.5}}},
        "rule": {"author": "ana"},
    })
    # The first poll makes the persistent session and its subscription: from now on the broker keeps
    # our readings while we are away.
    assert services.poll_source(source).ok
    yield source, prefix
    forget_session(client_id)


def test_readings_sent_while_disconnected_all_arrive_once(sensors):
    source, prefix = sensors
    publish([(f"{prefix}/gauge-12", reading("gauge-12", 3.0 + i / 100, i)) for i in range(30)])
    outcome = services.poll_source(Source.objects.get(pk=source.pk))
    assert outcome.ok and outcome.stored == 30, outcome
    item = IntakeItem.objects.get(external_id="gauge-12-0")
    assert (item.latitude, item.longitude) == (4.3533, 18.5847)
    assert item.provenance["sensor"] == "gauge-12" and item.occurred_at.timestamp() == 1764322200
    # Acknowledged after storage: nothing comes back on the next connection.
    again = services.poll_source(Source.objects.get(pk=source.pk))
    assert again.ok and again.stored == 0 and again.duplicates == 0


def test_nothing_is_lost_when_storing_fails_mid_stream(sensors, monkeypatch):
    source, prefix = sensors
    publish([(f"{prefix}/gauge-12", reading("gauge-12", 2.0, i)) for i in range(10)])
    real_store = services.store_item
    calls = {"n": 0}

    def failing_store(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("database went away")
        return real_store(*args, **kwargs)

    monkeypatch.setattr(services, "store_item", failing_store)
    broken = services.poll_source(Source.objects.get(pk=source.pk))
    assert not broken.ok and "could not be stored" in broken.error and broken.stored == 3
    monkeypatch.setattr(services, "store_item", real_store)
    # The unacknowledged readings are still with the broker and come again; the three stored ones, if
    # they come again, are recognised.
    recovered = services.poll_source(Source.objects.get(pk=source.pk))
    assert recovered.ok
    assert IntakeItem.objects.filter(source=source).count() == 10


def test_a_reading_over_its_threshold_becomes_a_draft_record_for_review(world, sensors):
    source, prefix = sensors
    publish([(f"{prefix}/gauge-12", reading("gauge-12", 5.9, 1)), (f"{prefix}/gauge-12", reading("gauge-12", 7.2, 2))])
    outcome = services.poll_source(Source.objects.get(pk=source.pk))
    assert outcome.stored == 2
    high = IntakeItem.objects.get(external_id="gauge-12-2")
    low = IntakeItem.objects.get(external_id="gauge-12-1")
    assert low.status == ItemStatus.NEW and low.record_id is None
    assert high.status == ItemStatus.TURNED_INTO_RECORD
    record = Record.objects.get(pk=high.record_id)
    assert record.status == "draft" and record.source_type == "sensor"
    assert record.category == "humanitarian.natural_hazard" and record.created_by_id == world.users["ana"].pk
    assert (record.latitude, record.longitude) == (4.3533, 18.5847)


def test_unknown_sensors_and_bad_payloads_are_rejected_and_acknowledged(sensors):
    source, prefix = sensors
    publish([(f"{prefix}/gauge-99", reading("gauge-99", 1.0, 1)),
             (f"{prefix}/gauge-12", b"{not json"),
             (f"{prefix}/gauge-12", b"\xff\xfe\x00"),
             (f"{prefix}/gauge-12", json.dumps({"sensor": "gauge-12", "value": "high"}).encode()),
             (f"{prefix}/gauge-12/water_level_m", b"4.2")])
    outcome = services.poll_source(Source.objects.get(pk=source.pk))
    assert (outcome.stored, outcome.rejected) == (1, 4)
    assert any("unknown sensor 'gauge-99'" in r for r in outcome.reasons)
    assert IntakeItem.objects.get(source=source).provenance["value"] == 4.2
    # Rejected messages were acknowledged too: they do not come back forever.
    assert services.poll_source(Source.objects.get(pk=source.pk)).rejected == 0


def test_a_broker_that_is_away_is_a_transient_failure(world):
    source = make_source(world, "mqtt", "no-broker", config={"port": free_port(), "collect_seconds": 0.2})
    outcome = services.poll_source(source)
    assert "cannot reach the MQTT broker" in outcome.error
