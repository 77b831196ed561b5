"""A small HTTP GET for pull adapters: conditional (ETag / Last-Modified), size-capped, errors classified."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from sitaware.ingest.adapters.base import BadInput, PermanentError, TransientError

USER_AGENT = "sitaware-intake/1 (+https://github.com/sitaware)"
# Statuses worth retrying: the server or something in between is having a bad moment.
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    url: str = ""


class _NoRedirectToOtherSchemes(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to http(s): a feed must not redirect us into file:// or ftp://."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # urllib's signature
        if not newurl.lower().startswith(("http://", "https://")):
            raise PermanentError(f"the feed redirected to a non-HTTP address ({newurl[:80]})")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def get(url: str, *, etag: str | None = None, modified: str | None = None, max_bytes: int,
        timeout: float = 20.0, extra_headers: dict[str, str] | None = None) -> Response:
    if not url.lower().startswith(("http://", "https://")):
        raise PermanentError(f"only http and https addresses can be polled, not {url[:80]!r}")
    headers = {"User-Agent": USER_AGENT, "Accept": "application/atom+xml, application/rss+xml, application/xml, "
                                                  "text/xml;q=0.9, */*;q=0.1"}
    headers.update(extra_headers or {})  # an API adapter's Accept and Authorization (Mastodon)
    if etag:
        headers["If-None-Match"] = etag
    if modified:
        headers["If-Modified-Since"] = modified
    opener = urllib.request.build_opener(_NoRedirectToOtherSchemes())
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - scheme checked above
    try:
        with opener.open(request, timeout=timeout) as answer:
            declared = answer.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise BadInput(f"the server announced {int(declared):,} bytes, "
                               f"larger than the {max_bytes:,} bytes allowed")
            # Read one byte past the cap: a body without Content-Length can still be too long.
            body = answer.read(max_bytes + 1)
            if len(body) > max_bytes:
                raise BadInput(f"the response is larger than the {max_bytes:,} bytes allowed")
            return Response(answer.status, body, {k.lower(): v for k, v in answer.headers.items()}, answer.url)
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return Response(304, b"", {k.lower(): v for k, v in exc.headers.items()}, url)
        if exc.code in TRANSIENT_STATUSES:
            raise TransientError(f"HTTP {exc.code} from {url}") from None
        raise PermanentError(f"HTTP {exc.code} from {url}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (socket.timeout, TimeoutError, ConnectionError, OSError)):
            raise TransientError(f"cannot reach {url}: {reason}") from None
        raise PermanentError(f"cannot fetch {url}: {reason}") from None
    except (TimeoutError, ConnectionError) as exc:
        raise TransientError(f"cannot reach {url}: {exc}") from None
