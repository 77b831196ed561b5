"""SMS gateway webhook (RapidPro/Textit, SMSSync, Twilio-style): sender, text and time per message.

The sender's number is personal data: it is kept in the item's `personal_data` (withheld from most readers,
erasable), and only a keyed pseudonym goes into provenance so messages from one sender can still be grouped.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import parse_qs

from django.conf import settings

from sitaware.ingest.adapters.base import Adapter, BadInput, Batch, Incoming, Rejected, clip, decode_utf8, digest

# Field names gateways use, in the order we look for them.
SENDER_KEYS = ("sender", "from", "From", "phone", "urn")
TEXT_KEYS = ("text", "message", "Body", "body")
TIME_KEYS = ("time", "sent_at", "sent_timestamp", "timestamp", "date")
ID_KEYS = ("id", "message_id", "MessageSid", "uuid")
SMS_MAX_BYTES = 64 * 1024


def pseudonym(number: str) -> str:
    """Same sender, same pseudonym, within one installation; not reversible without the secret key."""
    key = settings.SECRET_KEY.encode()
    return "sms:" + hmac.new(key, number.encode(), hashlib.sha256).hexdigest()[:16]


class SmsAdapter(Adapter):
    kind = "sms"
    label = "SMS gateway webhook"
    pull = False

    @property
    def max_bytes(self) -> int:
        return int(self.config.get("max_bytes") or SMS_MAX_BYTES)

    @classmethod
    def prepare_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        # The gateway's shared secret is kept only as a hash (the webhook compares hashes).
        secret = config.pop("secret", None)
        if secret:
            config["secret_sha256"] = hashlib.sha256(str(secret).encode("utf-8")).hexdigest()
        return config

    def parse(self, body: bytes, content_type: str, meta: dict[str, Any] | None = None) -> Batch:
        self.check_size(body)
        text = decode_utf8(body, "the message")
        if content_type.startswith("application/json"):
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise BadInput(f"not valid JSON: {exc.msg} at line {exc.lineno}") from None
        else:
            try:
                # strict: a percent-encoded Latin-1 byte is a wrong encoding, not a character to guess.
                data = {k: v[0] for k, v in parse_qs(text, keep_blank_values=True, errors="strict").items()}
            except UnicodeDecodeError:
                raise BadInput("the form-encoded message is not valid UTF-8 once decoded; send UTF-8") from None
        messages = data if isinstance(data, list) else [data]
        batch = Batch()
        for message in messages:
            if not isinstance(message, dict):
                batch.rejected.append(Rejected("each message must be an object with sender, text and time"))
                continue
            # One message per request (the usual webhook) keeps the request body itself as the raw item.
            verbatim = body if len(messages) == 1 else None
            try:
                batch.items.append(self._item(message, content_type, verbatim))
            except BadInput as exc:
                batch.rejected.append(Rejected(str(exc), str(_first(message, ID_KEYS))[:255]))
        return batch

    def _item(self, message: dict[str, Any], content_type: str, verbatim: bytes | None) -> Incoming:
        sender = str(_first(message, SENDER_KEYS) or "").strip()
        body = _first(message, TEXT_KEYS)
        if not sender or not isinstance(body, str) or not body.strip():
            raise BadInput("a message needs a sender and a text")
        when = _time(_first(message, TIME_KEYS))
        given_id = _first(message, ID_KEYS)
        # Gateways that give no id retry with the same sender, time and text: that triple is the id.
        external_id = str(given_id) if given_id else digest(sender, when.isoformat() if when else "", body)
        if verbatim is not None:
            raw, raw_type = verbatim, content_type[:120]
        else:
            raw, raw_type = json.dumps(message, ensure_ascii=False, sort_keys=True).encode(), "application/json"
        return Incoming(
            external_id=external_id[:255],
            raw=raw,
            content_type=raw_type,
            title=clip(body.splitlines()[0] if body.strip() else "", 120),
            text=clip(body, 20_000),
            occurred_at=when,
            provenance={"gateway": self.config.get("gateway", ""), "sender_pseudonym": pseudonym(sender),
                        "personal_data_fields": ["sender"]},
            personal_data={"sender": sender},
        )


def _first(message: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if message.get(key) not in (None, ""):
            return message[key]
    return None


def _time(value: Any) -> dt.datetime | None:
    if value in (None, ""):
        return None
    text = str(value).strip()
    if text.isdigit():
        number = int(text)
        # Gateways send seconds or milliseconds since the epoch.
        return dt.datetime.fromtimestamp(number / 1000 if number > 10**11 else number, dt.UTC)
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(f"unreadable time {text[:40]!r}; send ISO 8601 with a zone or epoch seconds") from None
    if parsed.tzinfo is None:
        raise BadInput(f"the time {text[:40]!r} has no zone")
    return parsed
