"""RSS/Atom adapter against a real HTTP server on loopback: dedupe, conditional GET, GeoRSS, bad input."""

from __future__ import annotations

import logging

import pytest

from sitaware.ingest import services
from sitaware.ingest.models import IntakeItem, Source
from tests.test_ingest_support import Route, free_port, make_source, rss

pytest_plugins = ["tests.test_ingest_support"]

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:georss="http://www.georss.org/georss">
  <title>OCHA flash updates</title><id>urn:ocha:car</id><updated>2026-11-28T10:00:00Z</updated>
  <entry><id>urn:ocha:car:1</id><title>Displacement near Kaga-Bandoro</title>
    <updated>2026-11-28T08:00:00Z</updated><summary>About 2,000 people fled.</summary>
    <georss:point>6.9897 19.1869</georss:point></entry>
</feed>"""


@pytest.fixture
def feed(world, feed_server):
    feed_server.routes["/feed.xml"] = Route(rss(("a1", "Roadblock at PK12"), ("a2", "Market fire in Bria")),
                                            etag='"v1"', last_modified="Sat, 28 Nov 2026 10:00:00 GMT")
    return make_source(world, "rss", "ndeke-luka", config={"url": feed_server.url("/feed.xml")})


def test_it_stores_each_entry_once_however_often_it_polls(feed, feed_server):
    first = services.poll_source(feed)
    assert (first.stored, first.duplicates) == (2, 0)
    # The feed changes (new ETag) and repeats its two entries beside a new one.
    feed_server.routes["/feed.xml"] = Route(rss(("a1", "Roadblock at PK12"), ("a2", "Market fire in Bria"),
                                                ("a3", "Shots heard in Boy-Rabe")), etag='"v2"')
    second = services.poll_source(Source.objects.get(pk=feed.pk))
    assert (second.stored, second.duplicates) == (1, 2)
    assert sorted(IntakeItem.objects.values_list("external_id", flat=True)) == ["a1", "a2", "a3"]


def test_it_keeps_the_raw_entry_and_its_provenance(feed, feed_server):
    services.poll_source(feed)
    item = IntakeItem.objects.get(external_id="a1")
    assert item.title == "Roadblock at PK12"
    assert item.occurred_at.isoformat() == "2026-11-28T09:30:00+00:00"
    assert b"Roadblock at PK12" in bytes(item.raw) and item.content_type.startswith("application/json")
    assert item.provenance["feed_url"] == feed_server.url("/feed.xml")
    assert item.provenance["link"] == "https://example.org/a1"
    assert item.organisation_id == feed.organisation_id and len(item.raw_sha256) == 64


def test_conditional_get_sends_validators_and_handles_304(feed, feed_server):
    services.poll_source(feed)
    feed = Source.objects.get(pk=feed.pk)
    assert feed.state["etag"] == '"v1"'
    outcome = services.poll_source(feed)
    assert outcome.ok and outcome.not_modified and outcome.stored == 0
    second = feed_server.hits("/feed.xml")[1]
    assert second["if-none-match"] == '"v1"'
    assert second["if-modified-since"] == "Sat, 28 Nov 2026 10:00:00 GMT"
    feed.refresh_from_db()
    assert feed.consecutive_failures == 0 and feed.last_success_at is not None


def test_last_modified_alone_also_gives_304(world, feed_server):
    feed_server.routes["/lm.xml"] = Route(rss(("b1", "Patrol ambushed")), last_modified="Fri, 27 Nov 2026 06:00:00 GMT")
    source = make_source(world, "rss", "lm-only", config={"url": feed_server.url("/lm.xml")})
    services.poll_source(source)
    outcome = services.poll_source(Source.objects.get(pk=source.pk))
    assert outcome.not_modified
    assert feed_server.hits("/lm.xml")[1]["if-modified-since"] == "Fri, 27 Nov 2026 06:00:00 GMT"


def test_georss_points_become_latitude_and_longitude(world, feed_server):
    feed_server.routes["/atom.xml"] = Route(ATOM, content_type="application/atom+xml")
    feed_server.routes["/geo.xml"] = Route(rss(("g1", "Clash in Ndele"), point="8.4109 20.6473"))
    atom = make_source(world, "rss", "ocha", config={"url": feed_server.url("/atom.xml")})
    georss = make_source(world, "rss", "geo", config={"url": feed_server.url("/geo.xml")})
    services.poll_source(atom)
    services.poll_source(georss)
    item = IntakeItem.objects.get(source=atom)
    assert (item.latitude, item.longitude) == (6.9897, 19.1869)
    assert item.occurred_at.isoformat() == "2026-11-28T08:00:00+00:00"
    item = IntakeItem.objects.get(source=georss)
    assert (item.latitude, item.longitude) == (8.4109, 20.6473)


@pytest.mark.parametrize(("body", "reason"), [
    (b"<rss><channel><item><title>unclosed", "not a readable RSS or Atom document"),
    (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><rss>&b;</rss>',
     "declares XML entities"),
    (b"just some text, no feed at all", "not"),
])
def test_it_rejects_malformed_feeds_with_a_logged_reason(world, feed_server, caplog, body, reason):
    feed_server.routes["/bad.xml"] = Route(body)
    source = make_source(world, "rss", "bad", config={"url": feed_server.url("/bad.xml")})
    with caplog.at_level(logging.WARNING, logger="sitaware.ingest"):
        outcome = services.poll_source(source)
    assert not outcome.ok and outcome.rejected == 1 and reason in outcome.reasons[0]
    assert reason in caplog.text
    source.refresh_from_db()
    assert source.rejected_count == 1 and reason in source.last_error
    assert not IntakeItem.objects.exists()
    # A rejected document leaves no validators behind: the next poll fetches it again.
    assert "etag" not in source.state


@pytest.mark.parametrize("send_length", [True, False])
def test_it_refuses_a_feed_larger_than_the_cap(world, feed_server, send_length):
    entries = [(f"big{i}", "x" * 200) for i in range(200)]
    feed_server.routes["/big.xml"] = Route(rss(*entries), send_length=send_length)
    source = make_source(world, "rss", "big", config={"url": feed_server.url("/big.xml"), "max_bytes": 10_000})
    outcome = services.poll_source(source)
    assert outcome.rejected == 1 and "larger than the 10,000 bytes allowed" in outcome.reasons[0]
    assert not IntakeItem.objects.exists()


def test_a_feed_in_the_wrong_encoding_is_read_in_the_encoding_it_really_has(world, feed_server):
    # Declared UTF-8, sent as Windows-1252: feedparser notices and re-reads it; provenance says so.
    body = rss(("e1", "Émeute à Bangui")).decode().encode("cp1252")
    feed_server.routes["/latin.xml"] = Route(body)
    source = make_source(world, "rss", "latin", config={"url": feed_server.url("/latin.xml")})
    outcome = services.poll_source(source)
    assert outcome.ok and outcome.stored == 1
    item = IntakeItem.objects.get(source=source)
    assert item.title == "Émeute à Bangui" and item.provenance["encoding"] == "windows-1252"


def test_bytes_that_are_no_text_in_any_encoding_are_refused(world, feed_server):
    feed_server.routes["/binary.xml"] = Route(bytes(range(256)) * 4)
    source = make_source(world, "rss", "binary", config={"url": feed_server.url("/binary.xml")})
    outcome = services.poll_source(source)
    assert outcome.rejected == 1 and not IntakeItem.objects.exists()


def test_transient_errors_are_retried_with_exponential_backoff(world, feed_server):
    feed_server.routes["/flaky.xml"] = Route(rss(("f1", "Checkpoint dispute")), failures=[503, 502])
    source = make_source(world, "rss", "flaky", config={"url": feed_server.url("/flaky.xml"), "retries": 3,
                                                        "backoff_seconds": 0.5})
    waits: list[float] = []
    outcome = services.poll_source(source, sleep=waits.append)
    assert outcome.ok and outcome.stored == 1
    assert waits == [0.5, 1.0]


def test_a_permanent_error_is_not_retried_and_backs_off_across_polls(world, feed_server):
    source = make_source(world, "rss", "gone", config={"url": feed_server.url("/missing.xml"), "retries": 3},
                         poll_interval=60)
    waits: list[float] = []
    outcome = services.poll_source(source, sleep=waits.append)
    assert "HTTP 404" in outcome.error and waits == []
    services.poll_source(Source.objects.get(pk=source.pk), sleep=waits.append)
    source.refresh_from_db()
    assert source.consecutive_failures == 2
    gap = (source.next_poll_at - source.last_poll_at).total_seconds()
    assert 239 <= gap <= 241  # 60 s doubled per failure


def test_an_unreachable_host_is_a_transient_failure(world):
    source = make_source(world, "rss", "down", config={"url": f"http://127.0.0.1:{free_port()}/feed.xml",
                                                       "retries": 1, "backoff_seconds": 0})
    outcome = services.poll_source(source, sleep=lambda s: None)
    assert "cannot reach" in outcome.error
    source.refresh_from_db()
    assert source.last_error_at is not None and source.last_success_at is None
