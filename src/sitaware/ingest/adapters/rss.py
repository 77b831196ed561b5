"""RSS and Atom feeds (feedparser), polled with conditional GET; GeoRSS and W3C geo points kept."""

from __future__ import annotations

import calendar
import datetime as dt
import json
from typing import Any

import feedparser

from sitaware.ingest.adapters import http
from sitaware.ingest.adapters.base import Adapter, BadInput, Batch, Incoming, Rejected, clip, coordinates, digest

# Entity declarations are how XML bombs and external-entity reads start; a news feed never needs them.
FORBIDDEN_MARKUP = (b"<!ENTITY", b"<!entity")
# feedparser sets `bozo` for small sins too; these still give a faithful reading of the feed.
TOLERATED = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)


class RssAdapter(Adapter):
    kind = "rss"
    label = "RSS / Atom feed"
    pull = True

    @classmethod
    def prepare_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        if not str(config.get("url") or "").lower().startswith(("http://", "https://")):
            raise ValueError("give the feed's http(s) address as config.url")
        return config

    def fetch(self) -> Batch:
        url = str(self.config.get("url") or "")
        answer = http.get(url, etag=self.state.get("etag"), modified=self.state.get("modified"),
                          max_bytes=self.max_bytes, timeout=float(self.config.get("timeout", 20)))
        if answer.status == 304:
            return Batch(not_modified=True)
        batch = self.parse(answer.body, answer.headers.get("content-type", "application/xml"),
                           {"url": answer.url or url, "headers": answer.headers})
        # Remember validators only from a good read, so a broken document is fetched again next time.
        self.state["etag"] = answer.headers.get("etag") or None
        self.state["modified"] = answer.headers.get("last-modified") or None
        return batch

    def parse(self, body: bytes, content_type: str, meta: dict[str, Any] | None = None) -> Batch:
        meta = meta or {}
        self.check_size(body)
        if any(marker in body for marker in FORBIDDEN_MARKUP):
            raise BadInput("the feed declares XML entities; refused (entity expansion and external entities)")
        # No content-location: feedparser would resolve a relative guid against the feed URL, and the
        # dedupe key must be the feed's own id, unchanged if the feed moves.
        parsed = feedparser.parse(body, response_headers={"content-type": content_type})
        problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
        if problem is not None and not isinstance(problem, TOLERATED):
            raise BadInput(f"not a readable RSS or Atom document: {problem}")
        if not parsed.get("version") and not parsed.entries:
            raise BadInput("not an RSS or Atom document (no feed, no entries)")
        feed_title = parsed.feed.get("title", "")
        batch = Batch()
        for entry in parsed.entries:
            try:
                batch.items.append(self._item(entry, feed_title, meta.get("url", ""), parsed.get("encoding", "")))
            except (ValueError, TypeError) as exc:
                batch.rejected.append(Rejected(f"unreadable entry: {exc}", str(entry.get("id", ""))[:255]))
        return batch

    def _item(self, entry: Any, feed_title: str, url: str, encoding: str) -> Incoming:
        # The feed's own id first; a feed without ids falls back to the link, then to the content.
        external_id = entry.get("id") or entry.get("link") or digest(entry.get("title", ""), entry.get("summary", ""))
        when = entry.get("published_parsed") or entry.get("updated_parsed")
        occurred = dt.datetime.fromtimestamp(calendar.timegm(when), dt.UTC) if when else None
        lat, lon = _point(entry)
        # The entry as feedparser read it is the raw item: the feed document holds many items, and keeping
        # the whole document per item would multiply it by the number of entries.
        raw = json.dumps(_plain(entry), ensure_ascii=False, sort_keys=True, default=str).encode()
        return Incoming(
            external_id=str(external_id)[:255],
            raw=raw,
            content_type="application/json; profile=feedparser-entry",
            title=clip(entry.get("title", ""), 200),
            text=clip(_text(entry), 20_000),
            occurred_at=occurred,
            latitude=lat,
            longitude=lon,
            provenance={"feed_url": url, "feed_title": feed_title, "link": entry.get("link", ""),
                        "author": entry.get("author", ""), "encoding": encoding},
        )


def _text(entry: Any) -> str:
    for content in entry.get("content") or []:
        if content.get("value"):
            return content["value"]
    return entry.get("summary", "")


def _point(entry: Any) -> tuple[float | None, float | None]:
    where = entry.get("where")
    if where and where.get("type") == "Point":
        lon, lat = where["coordinates"][:2]  # GeoJSON order
        return coordinates(lat, lon)
    if entry.get("georss_point"):
        parts = str(entry["georss_point"]).split()
        if len(parts) >= 2:
            return coordinates(parts[0], parts[1])
    if entry.get("geo_lat") and (entry.get("geo_long") or entry.get("geo_lon")):
        return coordinates(entry["geo_lat"], entry.get("geo_long") or entry.get("geo_lon"))
    return None, None


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if not k.endswith("_parsed")}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
