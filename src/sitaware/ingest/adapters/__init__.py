"""The adapter registry: one dict from kind to class. It also gives the kinds the API and admin offer."""

from __future__ import annotations

from sitaware.ingest.adapters.base import Adapter, AdapterError, BadInput, Batch, Incoming, PermanentError, Rejected
from sitaware.ingest.adapters.base import TransientError as TransientError
from sitaware.ingest.adapters.mastodon import MastodonAdapter
from sitaware.ingest.adapters.mqtt import MqttAdapter
from sitaware.ingest.adapters.openrosa import OpenRosaAdapter
from sitaware.ingest.adapters.rss import RssAdapter
from sitaware.ingest.adapters.sms import SmsAdapter
from sitaware.ingest.adapters.tak import TakAdapter
from sitaware.ingest.adapters.telegram import TelegramExportAdapter

ADAPTERS: dict[str, type[Adapter]] = {
    cls.kind: cls for cls in (RssAdapter, OpenRosaAdapter, SmsAdapter, TelegramExportAdapter, MqttAdapter,
                              TakAdapter, MastodonAdapter)
}
KINDS: list[tuple[str, str]] = [(kind, cls.label) for kind, cls in ADAPTERS.items()]

__all__ = ["ADAPTERS", "KINDS", "Adapter", "AdapterError", "BadInput", "Batch", "Incoming", "PermanentError",
           "Rejected", "TransientError", "adapter_for"]


def adapter_for(source) -> Adapter:  # a Source; imported lazily by callers
    try:
        cls = ADAPTERS[source.kind]
    except KeyError:
        raise PermanentError(f"no adapter for kind {source.kind!r}; known: {', '.join(ADAPTERS)}") from None
    return cls(source)
