"""Mastodon hashtag and account timelines, read through the public REST API with Mastodon.py's paging.

One status is one item, deduped on the status id the instance gives (one status never becomes two items;
an edit of a status already stored is not a new item). Paging follows Mastodon.py: the server's `Link` header
gives `max_id` (older page) and `min_id` (newer page), re-issued against the same endpoint, never followed
to another host. The first poll takes the newest `backfill_pages` pages walking back with `max_id`; later
polls walk forward from the last status stored with `min_id` (gap-free, oldest page first), at most
`max_pages` pages a poll. The cursor is saved only after a successful poll, so a failed poll loses nothing.

Plain HTTP through the project's helper rather than the Mastodon.py client: the adapter needs the response
capped in size, errors classified for the retry loop, malformed JSON refused with a reason, and the status as
the server sent it (Mastodon.py converts ids and dates and may sleep on rate limits).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from sitaware.ingest.adapters import http
from sitaware.ingest.adapters.base import (
    Adapter,
    BadInput,
    Batch,
    Incoming,
    PermanentError,
    Rejected,
    clip,
    coordinates,
    decode_utf8,
)

# Mastodon serves at most 40 statuses a page.
PAGE_LIMIT = 40
MAX_PAGES = 10
BACKFILL_PAGES = 1
# A geo URI (RFC 5870) or an OpenStreetMap link in a status is the only place a Mastodon status can carry.
GEO_URI = re.compile(r"\bgeo:(-?\d{1,2}(?:\.\d+)?),(-?\d{1,3}(?:\.\d+)?)")
OSM_LINK = re.compile(r"openstreetmap\.org/[^\s\"'<>]*?(?:mlat=(-?[\d.]+)&(?:amp;)?mlon=(-?[\d.]+)|"
                      r"#map=\d+/(-?[\d.]+)/(-?[\d.]+))")
HASHTAG = re.compile(r"[^\s#/?&%]+")


class MastodonAdapter(Adapter):
    kind = "mastodon"
    label = _("Mastodon timeline (hashtag or account)")
    pull = True

    @classmethod
    def prepare_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        instance = str(config.get("instance") or "").rstrip("/")
        if not instance.lower().startswith(("http://", "https://")) or urlsplit(instance).path not in ("", "/"):
            raise ValueError("give the instance's http(s) address as config.instance (https://mastodon.example)")
        hashtag = str(config.get("hashtag") or "").strip().lstrip("#")
        account = str(config.get("account") or "").strip().lstrip("@")
        if bool(hashtag) == bool(account):
            raise ValueError("give either config.hashtag (a tag, without #) or config.account (user or "
                             "user@domain), not both")
        if hashtag and not HASHTAG.fullmatch(hashtag):
            raise ValueError(f"{hashtag!r} is not a hashtag")
        limit = int(config.get("limit") or PAGE_LIMIT)
        if not 1 <= limit <= PAGE_LIMIT:
            raise ValueError(f"config.limit is between 1 and {PAGE_LIMIT} (statuses a page)")
        out = {**config, "instance": instance, "limit": limit}
        out.pop("hashtag" if account else "account", None)
        if hashtag:
            out["hashtag"] = hashtag
        else:
            out["account"] = account
        return out

    # ------------------------------------------------------------ HTTP

    @property
    def instance(self) -> str:
        return str(self.config.get("instance") or "").rstrip("/")

    def _get(self, path: str, params: dict[str, Any]) -> tuple[Any, dict[str, str]]:
        """GET one API page; (parsed JSON, headers). Malformed or oversized answers are BadInput."""
        url = f"{self.instance}{path}" + (f"?{urlencode(params)}" if params else "")
        headers = {"Accept": "application/json"}
        if self.config.get("access_token"):
            headers["Authorization"] = f"Bearer {self.config['access_token']}"
        answer = http.get(url, max_bytes=self.max_bytes, timeout=float(self.config.get("timeout", 20)),
                          extra_headers=headers)
        text = decode_utf8(answer.body, "the server's answer")
        try:
            return json.loads(text), answer.headers
        except json.JSONDecodeError as exc:
            raise BadInput(f"the server's answer to {path} is not valid JSON: {exc.msg} at line {exc.lineno}, "
                           f"column {exc.colno}") from None

    def _timeline(self) -> str:
        if self.config.get("hashtag"):
            return f"/api/v1/timelines/tag/{quote(str(self.config['hashtag']), safe='')}"
        return f"/api/v1/accounts/{quote(self._account_id(), safe='')}/statuses"

    def _account_id(self) -> str:
        """The account's id on this instance, looked up once (Mastodon.py's account_lookup) and remembered."""
        acct = str(self.config["account"])
        if self.state.get("account") == acct and self.state.get("account_id"):
            return str(self.state["account_id"])
        found, _headers = self._get("/api/v1/accounts/lookup", {"acct": acct})
        if not isinstance(found, dict) or not found.get("id"):
            raise PermanentError(f"the instance does not know the account {acct!r}")
        self.state.update(account=acct, account_id=str(found["id"]))
        return str(found["id"])

    def _params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": int(self.config.get("limit") or PAGE_LIMIT)}
        if self.config.get("hashtag") and self.config.get("local_only"):
            params["local"] = "true"
        for key in ("exclude_replies", "exclude_reblogs", "only_media"):
            if self.config.get(key):
                params[key] = "true"
        return params

    def _page(self, path: str, params: dict[str, Any]) -> tuple[list[Any], dict[str, str]]:
        body, headers = self._get(path, params)
        if not isinstance(body, list):
            what = f"an error: {str(body.get('error'))[:200]}" if isinstance(body, dict) and "error" in body \
                else f"a {type(body).__name__}"
            raise BadInput(f"expected a list of statuses from {path}, got {what}")
        return body, headers

    # ------------------------------------------------------------ polling

    def fetch(self) -> Batch:
        path = self._timeline()
        base = self._params()
        statuses: list[Any] = []
        cursor = self.state.get("since")
        if cursor is None:
            # First poll: the newest pages, walking back (Link rel="next", max_id).
            params = dict(base)
            for _ in range(int(self.config.get("backfill_pages") or BACKFILL_PAGES)):
                page, headers = self._page(path, params)
                statuses.extend(page)
                older = link_params(headers.get("link", ""), "next").get("max_id") or _oldest(page)
                if not page or len(page) < base["limit"] or not older:
                    break
                params = {**base, "max_id": older}
        else:
            # Later polls: forward from the cursor (Link rel="prev", min_id), the page just above it first.
            after = str(cursor)
            for _ in range(int(self.config.get("max_pages") or MAX_PAGES)):
                page, headers = self._page(path, {**base, "min_id": after})
                statuses.extend(page)
                newer = link_params(headers.get("link", ""), "prev").get("min_id") or _newest(page)
                if not page or len(page) < base["limit"] or not newer or order(newer) <= order(after):
                    break
                after = newer
        batch = self.parse_statuses(statuses)
        ids = [str(s["id"]) for s in statuses if isinstance(s, dict) and s.get("id") not in (None, "")]
        if ids:
            newest = max(ids, key=order)
            if cursor is None or order(newest) > order(str(cursor)):
                self.state["since"] = newest
        return batch

    def parse(self, body: bytes, content_type: str, meta: dict[str, Any] | None = None) -> Batch:
        """A saved timeline page (a JSON list of statuses), for tests and manual loads."""
        self.check_size(body)
        try:
            statuses = json.loads(decode_utf8(body, "the page"))
        except json.JSONDecodeError as exc:
            raise BadInput(f"not valid JSON: {exc.msg} at line {exc.lineno}") from None
        if not isinstance(statuses, list):
            raise BadInput("expected a JSON list of Mastodon statuses")
        return self.parse_statuses(statuses)

    def parse_statuses(self, statuses: list[Any]) -> Batch:
        batch = Batch()
        seen: set[str] = set()
        for status in statuses:
            try:
                item = self._item(status)
            except BadInput as exc:
                sid = str(status.get("id", ""))[:255] if isinstance(status, dict) else ""
                batch.rejected.append(Rejected(str(exc), sid))
                continue
            # Overlapping pages may repeat a status: it is still one item.
            if item.external_id not in seen:
                seen.add(item.external_id)
                batch.items.append(item)
        return batch

    def _item(self, status: Any) -> Incoming:
        if not isinstance(status, dict):
            raise BadInput(f"a status that is not an object ({type(status).__name__})")
        if status.get("id") in (None, "") or not isinstance(status.get("id"), (str, int)):
            raise BadInput("a status without an id")
        occurred = _time(status.get("created_at"))
        shown = status["reblog"] if isinstance(status.get("reblog"), dict) else status
        text = html_to_text(str(shown.get("content") or ""))
        warning = str(shown.get("spoiler_text") or "").strip()
        if warning:
            text = f"{warning}\n\n{text}" if text else warning
        author = shown.get("account") if isinstance(shown.get("account"), dict) else {}
        acct = str(author.get("acct") or "")
        about: dict[str, Any] = {
            "instance": self.instance,
            "timeline": (f"tag:{self.config['hashtag']}" if self.config.get("hashtag")
                         else f"account:{self.config.get('account')}"),
            "status_id": str(status["id"]),
            "language": shown.get("language") or "", "visibility": status.get("visibility", ""),
            "in_reply_to_id": status.get("in_reply_to_id"), "edited_at": shown.get("edited_at"),
            "tags": [t.get("name") for t in shown.get("tags") or [] if isinstance(t, dict)],
            "media": [_media(m) for m in shown.get("media_attachments") or [] if isinstance(m, dict)],
        }
        addresses = {"uri": status.get("uri", ""), "link": status.get("url") or ""}
        if shown is not status:
            addresses["reblog_of"] = shown.get("uri", "")
        personal: dict[str, Any] = {}
        if acct and acct.lower() != str(self.config.get("account") or "").lower():
            # A person posting under a hashtag (or reblogged by the account): their name is personal data, and
            # so are the status addresses, which carry it (https://host/@name/id).
            personal = {"acct": acct, "display_name": author.get("display_name", ""),
                        "account_url": author.get("url", ""), **addresses}
            about["author_pseudonym"] = pseudonym(f"{acct}@{urlsplit(self.instance).hostname}")
            about["personal_data_fields"] = sorted(personal)
        else:
            about.update(author=acct, **addresses)
        lat, lon = _place(shown, str(shown.get("content") or ""))
        return Incoming(
            external_id=str(status["id"])[:255],
            raw=json.dumps(status, ensure_ascii=False, sort_keys=True).encode(),
            content_type="application/json; profile=mastodon-status",
            title=clip(warning or (text.splitlines()[0] if text.strip() else ""), 120),
            text=clip(text, 20_000),
            occurred_at=occurred,
            latitude=lat,
            longitude=lon,
            provenance=about,
            personal_data=personal,
        )


# ---------------------------------------------------------------- helpers


def order(status_id: str) -> tuple[int, str]:
    """Mastodon ids are numbers as strings (snowflakes); Pleroma's are fixed-length flakes: both sort so."""
    return len(status_id), status_id


def _newest(page: list[Any]) -> str | None:
    ids = [str(s["id"]) for s in page if isinstance(s, dict) and s.get("id") not in (None, "")]
    return max(ids, key=order) if ids else None


def _oldest(page: list[Any]) -> str | None:
    ids = [str(s["id"]) for s in page if isinstance(s, dict) and s.get("id") not in (None, "")]
    return min(ids, key=order) if ids else None


def link_params(header: str, rel: str) -> dict[str, str]:
    """The paging parameters of one relation of a Link header, as Mastodon.py reads them (max_id, min_id...)."""
    for part in header.split(","):
        url, _sep, attrs = part.partition(";")
        if re.search(rf'rel="?{rel}"?', attrs):
            query = parse_qs(urlsplit(url.strip().strip("<>")).query)
            return {k: v[0] for k, v in query.items() if k in ("max_id", "min_id", "since_id") and v}
    return {}


def pseudonym(acct: str) -> str:
    """Same author, same pseudonym within one installation; not reversible without the secret key."""
    return "mastodon:" + hmac.new(settings.SECRET_KEY.encode(), acct.lower().encode(), hashlib.sha256).hexdigest()[:16]


def _time(value: Any) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(f"a status whose created_at is not a date ({str(value)[:40]!r})") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _media(media: dict[str, Any]) -> dict[str, Any]:
    # References only: the files stay on the instance (nothing is downloaded at poll time).
    return {k: media.get(k) for k in ("id", "type", "url", "remote_url", "preview_url", "description", "blurhash")}


def _place(status: dict[str, Any], html: str) -> tuple[float | None, float | None]:
    """Mastodon has no location field: a geo: URI or an OpenStreetMap link in the status is taken as one."""
    for candidate in (status.get("location"), status.get("geo")):  # some fediverse servers add one
        if isinstance(candidate, dict):
            lat, lon = coordinates(candidate.get("latitude", candidate.get("lat")),
                                   candidate.get("longitude", candidate.get("lon")))
            if lat is not None:
                return lat, lon
    found = GEO_URI.search(html)
    if found:
        return coordinates(found.group(1), found.group(2))
    found = OSM_LINK.search(html)
    if found:
        lat, lon = (found.group(1), found.group(2)) if found.group(1) else (found.group(3), found.group(4))
        return coordinates(lat, lon)
    return None, None


class _Text(HTMLParser):
    """Mastodon's status HTML (p, br, a, span) as plain text: paragraphs as blank lines, links' full text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.skip += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in ("p", "li", "blockquote") and self.parts:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self.skip:
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
