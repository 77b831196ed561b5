"""Shared pieces of the intake tests: a real HTTP server on loopback and source factories (no tests here)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    etag: str | None = None
    last_modified: str | None = None
    # Statuses to answer first, one per request, before the normal answer (e.g. [503, 503]).
    failures: list[int] = field(default_factory=list)
    # False: no Content-Length, the body ends when the connection closes (HTTP/1.0).
    send_length: bool = True


class FeedServer:
    """A real HTTP server thread serving feed files, honouring If-None-Match / If-Modified-Since with 304."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                route = server.routes.get(self.path)
                if route is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                if route.failures:
                    self.send_response(route.failures.pop(0))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                fresh = (route.etag and self.headers.get("If-None-Match") == route.etag) or (
                    route.last_modified and not route.etag
                    and self.headers.get("If-Modified-Since") == route.last_modified)
                if fresh:
                    self.send_response(304)
                    if route.etag:
                        self.send_header("ETag", route.etag)
                    self.end_headers()
                    return
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                if route.send_length:
                    self.send_header("Content-Length", str(len(route.body)))
                if route.etag:
                    self.send_header("ETag", route.etag)
                if route.last_modified:
                    self.send_header("Last-Modified", route.last_modified)
                self.end_headers()
                self.wfile.write(route.body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def hits(self, path: str) -> list[dict[str, str]]:
        return [headers for p, headers in self.requests if p == path]


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


def free_port() -> int:
    """A loopback port with nothing listening (bound then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_source(world, kind: str, name: str, *, org=None, **fields):
    from sitaware.core.scope import system_actor
    from sitaware.ingest import services

    config = fields.pop("config", {})
    config.setdefault("retries", 0)
    return services.create_source(system_actor("test"), kind=kind, name=name, config=config,
                                  organisation_id=(org or world.unpol).pk, **fields)


RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:georss="http://www.georss.org/georss">
<channel><title>Radio Ndeke Luka</title><link>https://example.org/</link><description>news</description>
{items}
</channel></rss>"""

RSS_ITEM = """<item><title>{title}</title><link>https://example.org/{guid}</link><guid>{guid}</guid>
<description>{text}</description><pubDate>Sat, 28 Nov 2026 09:30:00 GMT</pubDate>{extra}</item>"""


def rss(*entries: tuple[str, str], point: str | None = None) -> bytes:
    items = "".join(RSS_ITEM.format(guid=guid, title=title, text=f"{title}, reported by residents.",
                                    extra=f"<georss:point>{point}</georss:point>" if point else "")
                    for guid, title in entries)
    return RSS.format(items=items).encode("utf-8")
