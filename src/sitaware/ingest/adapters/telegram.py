"""Telegram Desktop channel exports (`result.json`): one message is one item, deduped on channel and message id.

Times come from `date_unixtime`: `date` is the exporting computer's local time without a zone. An export is
read from a drop folder (config `path`, polled) or uploaded through the API.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from sitaware.ingest.adapters.base import (
    DEFAULT_MAX_BYTES,
    Adapter,
    BadInput,
    Batch,
    Incoming,
    PermanentError,
    Rejected,
    clip,
    decode_utf8,
)

# A channel export with years of history is large; items are small.
EXPORT_MAX_BYTES = 50 * 1024 * 1024


class TelegramExportAdapter(Adapter):
    kind = "telegram_export"
    label = "Telegram channel export (result.json)"
    pull = True

    @property
    def max_bytes(self) -> int:
        return int(self.config.get("max_bytes") or max(EXPORT_MAX_BYTES, DEFAULT_MAX_BYTES))

    def fetch(self) -> Batch:
        if not self.config.get("path"):
            # Upload-only sources have nothing to poll.
            return Batch(not_modified=True)
        path = Path(str(self.config["path"]))
        if not path.is_file():
            raise PermanentError(f"no export file at {path}")
        stat = path.stat()
        if stat.st_size > self.max_bytes:
            raise BadInput(f"the export is {stat.st_size:,} bytes, more than the {self.max_bytes:,} allowed")
        marker = f"{stat.st_size}:{stat.st_mtime_ns}"
        if self.state.get("file") == marker:
            return Batch(not_modified=True)
        batch = self.parse(path.read_bytes(), "application/json", {"filename": path.name})
        self.state["file"] = marker
        return batch

    def parse(self, body: bytes, content_type: str, meta: dict[str, Any] | None = None) -> Batch:
        self.check_size(body)
        text = decode_utf8(body, "the export")
        try:
            export = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadInput(f"not valid JSON: {exc.msg} at line {exc.lineno}") from None
        if not isinstance(export, dict) or not isinstance(export.get("messages"), list):
            raise BadInput("not a Telegram export: expected an object with a 'messages' list (result.json)")
        channel = str(export.get("id") or export.get("name") or "")
        if not channel:
            raise BadInput("the export names no channel (no 'id' or 'name')")
        provenance = {"channel": export.get("name", ""), "channel_id": channel, "channel_type": export.get("type", ""),
                      "file": (meta or {}).get("filename", "")}
        batch = Batch()
        for message in export["messages"]:
            if not isinstance(message, dict) or message.get("type") != "message":
                continue  # service messages (joins, pins) are not reports
            try:
                batch.items.append(_item(message, channel, provenance))
            except BadInput as exc:
                batch.rejected.append(Rejected(str(exc), f"{channel}:{message.get('id', '')}"))
        return batch


def message_text(value: Any) -> str:
    """`text` is a string, or a list of strings and entity objects ({type, text})."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(part if isinstance(part, str) else str(part.get("text", "")) for part in value
                       if isinstance(part, (str, dict)))
    return ""


def _item(message: dict[str, Any], channel: str, provenance: dict[str, Any]) -> Incoming:
    if message.get("id") in (None, ""):
        raise BadInput("a message without an id")
    stamp = str(message.get("date_unixtime") or "")
    if not stamp.isdigit():
        raise BadInput("a message without date_unixtime (export again with a current Telegram Desktop)")
    occurred = dt.datetime.fromtimestamp(int(stamp), dt.UTC)
    body = message_text(message.get("text"))
    personal: dict[str, Any] = {}
    about = {**provenance, "message_id": message["id"], "edited_unixtime": message.get("edited_unixtime")}
    author_id = str(message.get("from_id") or "")
    if author_id.startswith("user"):
        # A person posting in a group: their name and id are personal data; a channel's own posts are not.
        personal = {"from": message.get("from", ""), "from_id": author_id}
        about["personal_data_fields"] = ["from", "from_id"]
    else:
        about["from"] = message.get("from", "")
    return Incoming(
        external_id=f"{channel}:{message['id']}"[:255],
        raw=json.dumps(message, ensure_ascii=False, sort_keys=True).encode(),
        content_type="application/json; profile=telegram-export-message",
        title=clip(body.splitlines()[0] if body.strip() else "", 120),
        text=clip(body, 20_000),
        occurred_at=occurred,
        provenance=about,
        personal_data=personal,
    )
