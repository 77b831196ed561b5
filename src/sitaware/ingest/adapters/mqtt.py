"""MQTT sensors (paho-mqtt 2.x): QoS 1, a persistent session (clean_session=False, fixed client id), a sensor
registry, and a rule that turns a reading over its threshold into a draft record.

Each poll connects, takes what the broker kept for our session, and leaves. A message is acknowledged only
after its item is stored (manual acks): if the process dies between receipt and storage the broker sends it
again, and dedupe on the message's own id (or its content) makes the second copy a no-op.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from typing import Any

import paho.mqtt.client as mqtt

from sitaware.ingest.adapters.base import (
    Adapter,
    BadInput,
    Batch,
    Incoming,
    Rejected,
    TransientError,
    coordinates,
    decode_utf8,
    digest,
)

log = logging.getLogger(__name__)
MESSAGE_MAX_BYTES = 64 * 1024
DEFAULT_RULE = {"kind": "event", "category": "humanitarian.natural_hazard", "taxonomy_version": "sitaware-default@1.0",
                "source_type": "sensor", "source_reliability": "B", "information_credibility": 2}


class MqttAdapter(Adapter):
    kind = "mqtt"
    label = "MQTT sensors"
    pull = True

    @property
    def max_bytes(self) -> int:
        return int(self.config.get("max_bytes") or MESSAGE_MAX_BYTES)

    @property
    def client_id(self) -> str:
        # Fixed per source: the broker keeps our subscription and queued messages under this id.
        return str(self.config.get("client_id") or f"sitaware-{self.source.pk.hex[:16]}")

    def fetch(self) -> Batch:
        """Connect, drain what the broker holds for us for `collect_seconds`, hand each message to the sink."""
        host = str(self.config.get("host") or "127.0.0.1")
        port = int(self.config.get("port") or 1883)
        topics = [str(t) for t in (self.config.get("topics") or ["sitaware/sensors/#"])]
        window = float(self.config.get("collect_seconds", 2.0))
        batch = Batch()
        connected: dict[str, Any] = {}
        failure: list[BaseException] = []

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=False,
                             protocol=mqtt.MQTTv311, manual_ack=True)
        if self.config.get("username"):
            client.username_pw_set(str(self.config["username"]), str(self.config.get("password") or ""))

        def on_connect(client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
            connected["reason"] = reason
            connected["session_present"] = getattr(flags, "session_present", False)
            if not reason.is_failure:
                # Subscribing again is harmless with a kept session, and needed the first time.
                client.subscribe([(topic, 1) for topic in topics])

        def on_message(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
            if failure:
                return  # storage broke: leave the rest unacknowledged for the broker to send again
            try:
                incoming = self.reading(message.topic, message.payload)
            except BadInput as exc:
                self.sink.reject(Rejected(str(exc), message.topic[:255]))
                client.ack(message.mid, message.qos)
                return
            try:
                self.sink.store(incoming)
            except Exception as exc:  # recorded, the message stays with the broker
                failure.append(exc)
                return
            client.ack(message.mid, message.qos)

        client.on_connect = on_connect
        client.on_message = on_message
        try:
            client.connect(host, port, keepalive=30)
        except OSError as exc:
            raise TransientError(f"cannot reach the MQTT broker at {host}:{port}: {exc}") from None
        try:
            deadline = time.monotonic() + window
            while time.monotonic() < deadline and not failure:
                client.loop(timeout=0.1)
                reason = connected.get("reason")
                if reason is not None and reason.is_failure:
                    raise TransientError(f"the MQTT broker refused the connection: {reason}")
            if "reason" not in connected:
                raise TransientError(f"no answer from the MQTT broker at {host}:{port}")
            # Let the last acknowledgements leave before saying goodbye.
            for _ in range(5):
                client.loop(timeout=0.05)
        finally:
            client.disconnect()
            client.loop(timeout=0.1)
        if failure:
            raise TransientError(f"a reading could not be stored: {failure[0]}")
        self.state["session_present"] = bool(connected.get("session_present"))
        return batch

    # ---------------------------------------------------------------- readings

    def sensors(self) -> dict[str, dict[str, Any]]:
        return dict(self.config.get("sensors") or {})

    def reading(self, topic: str, payload: bytes) -> Incoming:
        """One message: JSON {sensor, metric, value, time[, id]} or a bare number on .../<sensor>/<metric>."""
        self.check_size(payload)
        text = decode_utf8(payload, "the reading").strip()
        parts = topic.split("/")
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            raise BadInput(f"the reading on {topic} is not JSON or a number") from None
        if not isinstance(data, dict):
            data = {"value": data}
        sensor = str(data.get("sensor") or (parts[-2] if len(parts) >= 2 else ""))
        metric = str(data.get("metric") or parts[-1])
        value = data.get("value")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BadInput(f"the reading on {topic} has no numeric value")
        registry = self.sensors()
        known = registry.get(sensor)
        if known is None and not self.config.get("accept_unknown_sensors"):
            raise BadInput(f"unknown sensor {sensor!r}: add it to the source's sensor registry first")
        known = known or {}
        when = _time(data.get("time"))
        lat, lon = coordinates(known.get("lat"), known.get("lon"))
        label = known.get("label") or sensor
        return Incoming(
            external_id=str(data.get("id") or digest(topic, payload))[:255],
            raw=payload,
            content_type="application/json",
            title=f"{label}: {metric} {value}",
            text=f"{label} reported {metric} = {value}" + (f" at {when.isoformat()}" if when else ""),
            occurred_at=when,
            latitude=lat,
            longitude=lon,
            provenance={"topic": topic, "sensor": sensor, "metric": metric, "value": value,
                        "threshold": (known.get("thresholds") or {}).get(metric), "client_id": self.client_id},
        )

    def after_store(self, item: Any, incoming: Incoming) -> None:
        """The threshold rule: a reading above its sensor's threshold becomes a draft record for review."""
        provenance = incoming.provenance
        threshold = provenance.get("threshold")
        if threshold is None or float(provenance["value"]) <= float(threshold):
            return
        rule = {**DEFAULT_RULE, **(self.config.get("rule") or {})}
        author = rule.pop("author", None)
        if not author:
            log.warning("intake source %s: reading over threshold but no rule author configured", self.source)
            return
        from sitaware.ingest import services  # the rule acts through the same service as a person would

        services.rule_turn_into_record(author, item, rule)


def _time(value: Any) -> dt.datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(float(value), dt.UTC)
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(f"unreadable time {str(value)[:40]!r}") from None
    if parsed.tzinfo is None:
        raise BadInput("the reading's time has no zone")
    return parsed
