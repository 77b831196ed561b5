"""Mastodon adapter against a real mastodon-mock server on loopback, statuses posted with Mastodon.py.

mastodon-mock is a stateful Mastodon REST API (FastAPI + SQLite). It lives in its own virtual environment
(its uvicorn[standard] extras are not the application's): `make test` installs it into
`.venv-tools/mastodon-mock` and names it in SITAWARE_MASTODON_MOCK; one on PATH also works. Without it these tests
skip (and fail when CI is set).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from django.utils import timezone

from sitaware.ingest import services
from sitaware.ingest.adapters.mastodon import MastodonAdapter, html_to_text, link_params
from sitaware.ingest.models import IntakeItem, Source
from sitaware.records.errors import RecordValidationError
from tests.conftest import skip_or_fail
from tests.test_ingest_support import free_port, make_source

pytest_plugins = ["tests.test_ingest_support"]

REPO = Path(__file__).resolve().parents[1]
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5E"
                       "rkJggg==")


def mock_executable() -> str:
    for candidate in (os.environ.get("SITAWARE_MASTODON_MOCK"),
                      str(REPO / ".venv-tools" / "mastodon-mock" / "bin" / "mastodon_mock"),
                      shutil.which("mastodon_mock")):
        if candidate and Path(candidate).is_file():
            return candidate
    skip_or_fail("mastodon-mock is not installed: run `make test-tools` (or set SITAWARE_MASTODON_MOCK)")


class MockServer:
    """One `mastodon_mock serve --in-memory` process on a free loopback port."""

    def __init__(self, executable: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(  # noqa: S603 - our own test tool, fixed arguments
            [executable, "serve", "--in-memory", "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                self.call("GET", "/api/v1/instance")
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("mastodon-mock did not start within 30 s")

    def call(self, method: str, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method,  # noqa: S310 - loopback
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback
            return json.loads(answer.read() or b"null")

    def client(self, username: str):
        """A Mastodon.py client logged in as a (new) local account."""
        from mastodon import Mastodon

        token = self.call("POST", "/api/v1/_mock/dev_user", {"username": username})["access_token"]
        return Mastodon(access_token=token, api_base_url=self.base, version_check_mode="none")

    def fault(self, path: str, effect: dict, count: int = 1) -> None:
        self.call("POST", "/api/v1/_mock/faults", {"match": {"path": path}, "effect": effect, "count": count})

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@pytest.fixture(scope="module")
def mock_server():
    server = MockServer(mock_executable())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mastodon(mock_server):
    mock_server.call("POST", "/api/v1/_mock/reset")
    return mock_server


def tag_source(world, server, name="bangui-tag", **config):
    return make_source(world, "mastodon", name, config={"instance": server.base, "hashtag": "bangui", **config})


def poll(source):
    return services.poll_source(Source.objects.get(pk=source.pk), sleep=lambda s: None)


def test_each_status_becomes_one_item_whatever_the_polls(world, mastodon):
    author = mastodon.client("witness")
    posted = [author.status_post(f"Shots heard near PK5 #bangui ({i})") for i in range(3)]
    author.status_post("Nothing to do with the tag")
    source = tag_source(world, mastodon)
    first = poll(source)
    assert (first.ok, first.stored, first.duplicates) == (True, 3, 0)
    assert sorted(IntakeItem.objects.values_list("external_id", flat=True)) == sorted(str(s.id) for s in posted)
    # Nothing new: the next poll asks for statuses above the cursor and gets none.
    assert poll(source).stored == 0
    newer = [author.status_post(f"Roadblock at PK12 #bangui ({i})") for i in range(2)]
    second = poll(source)
    assert (second.stored, second.duplicates) == (2, 0)
    # A lost cursor (state reset) reads the timeline again: every status is a duplicate, none a new item.
    Source.objects.filter(pk=source.pk).update(state={})
    again = poll(source)
    assert (again.stored, again.duplicates) == (0, 5)
    assert IntakeItem.objects.filter(source=source).count() == 5
    assert set(IntakeItem.objects.values_list("external_id", flat=True)) == {str(s.id) for s in posted + newer}


def test_it_pages_forward_and_back_over_several_pages(world, mastodon):
    author = mastodon.client("ndeke")
    old = [author.status_post(f"Report {i} #bangui") for i in range(5)]
    # First poll: two pages of two, walking back from the newest (Link rel="next", max_id).
    source = tag_source(world, mastodon, limit=2, backfill_pages=2)
    first = poll(source)
    assert first.stored == 4
    stored = set(IntakeItem.objects.values_list("external_id", flat=True))
    assert stored == {str(s.id) for s in old[1:]}
    # Seven new statuses: the next poll walks forward (Link rel="prev", min_id) over four pages.
    new = [author.status_post(f"Update {i} #bangui") for i in range(7)]
    second = poll(source)
    assert (second.stored, second.duplicates) == (7, 0)
    assert Source.objects.get(pk=source.pk).state["since"] == str(new[-1].id)
    # max_pages bounds one poll; the rest comes at the next one, nothing skipped.
    more = [author.status_post(f"Late {i} #bangui") for i in range(5)]
    capped = make_source(world, "mastodon", "capped", config={"instance": mastodon.base, "hashtag": "bangui",
                                                              "limit": 2, "max_pages": 1})
    Source.objects.filter(pk=capped.pk).update(state={"since": str(new[-1].id)})
    assert poll(capped).stored == 2
    assert poll(capped).stored == 2
    assert poll(capped).stored == 1
    assert set(IntakeItem.objects.filter(source=capped).values_list("external_id", flat=True)) == {
        str(s.id) for s in more}


def test_account_timelines_keep_the_accounts_own_statuses(world, mastodon):
    minusca = mastodon.client("minusca")
    other = mastodon.client("someone")
    own = minusca.status_post("Patrol in Bria this morning, calm situation.")
    other.status_post("Not from the monitored account")
    source = make_source(world, "mastodon", "minusca", config={"instance": mastodon.base, "account": "@minusca"})
    assert Source.objects.get(pk=source.pk).config["account"] == "minusca"
    outcome = poll(source)
    assert outcome.stored == 1
    item = IntakeItem.objects.get(source=source)
    assert item.external_id == str(own.id)
    assert item.provenance["author"] == "minusca" and item.personal_data == {}
    assert item.provenance["timeline"] == "account:minusca"
    assert Source.objects.get(pk=source.pk).state["account_id"] == str(own.account.id)
    # A reblog by the account: the original's text; its author is a person, kept as personal data.
    boosted = other.status_post("Bridge at Sibut washed away, road closed.")
    minusca.status_reblog(boosted)
    assert poll(source).stored == 1
    reblog = IntakeItem.objects.filter(source=source).exclude(external_id=str(own.id)).get()
    assert reblog.text == "Bridge at Sibut washed away, road closed."
    assert reblog.personal_data["acct"] == "someone" and reblog.personal_data["reblog_of"] == boosted.uri
    assert "author" not in reblog.provenance and reblog.provenance["author_pseudonym"].startswith("mastodon:")
    # An unknown account is a permanent error with a reason, on that source only.
    ghost = make_source(world, "mastodon", "ghost", config={"instance": mastodon.base, "account": "nobody"})
    failed = poll(ghost)
    assert not failed.ok and "404" in failed.error


def test_it_keeps_the_status_text_media_place_and_provenance(world, mastodon):
    author = mastodon.client("reporter")
    media = author.media_post(PNG, mime_type="image/png", description="Burnt market stalls")
    status = author.status_post("Market fire in Bria & Ndele geo:6.5423,21.9863 #bangui",
                                media_ids=[media], spoiler_text="Fire", language="fr")
    source = tag_source(world, mastodon)
    poll(source)
    item = IntakeItem.objects.get(source=source)
    assert item.title == "Fire"
    # The server's HTML (<p>, &amp;) becomes text; the raw status keeps the HTML as sent.
    assert item.text.startswith("Fire\n\nMarket fire in Bria & Ndele") and "<p>" not in item.text
    assert json.loads(bytes(item.raw))["content"].startswith("<p>")
    assert (round(item.latitude, 4), round(item.longitude, 4)) == (6.5423, 21.9863)
    assert item.occurred_at == status.created_at
    assert item.provenance["language"] == "fr" and item.provenance["tags"] == ["bangui"]
    assert item.provenance["media"][0]["description"] == "Burnt market stalls"
    assert item.provenance["media"][0]["url"].startswith(mastodon.base)
    assert item.provenance["status_id"] == str(status.id) and item.provenance["instance"] == mastodon.base
    # A person posting under a hashtag: their name (and the status address, which carries it) is personal
    # data; provenance keeps a pseudonym.
    assert item.personal_data["acct"] == "reporter" and item.personal_data["uri"] == status.uri
    assert item.provenance["author_pseudonym"].startswith("mastodon:") and "reporter" not in json.dumps(
        item.provenance)
    raw = json.loads(bytes(item.raw))
    assert raw["id"] == str(status.id) and raw["spoiler_text"] == "Fire"
    assert item.content_type.startswith("application/json")


def test_mastodon_html_becomes_text():
    html = ('<p>Shots near <a href="https://m.example/tags/pk5" class="mention hashtag" rel="tag">#<span>PK5'
            '</span></a> &amp; <span class="h-card"><a href="https://m.example/@ocha" class="u-url mention">@'
            '<span>ocha</span></a></span><br>see <a href="https://example.org/a/very/long/path"><span '
            'class="invisible">https://</span><span class="ellipsis">example.org/a/ve</span><span '
            'class="invisible">ry/long/path</span></a></p><p>Second paragraph</p>')
    assert html_to_text(html) == ("Shots near #PK5 & @ocha\nsee https://example.org/a/very/long/path\n\n"
                                  "Second paragraph")


def test_link_headers_are_read_as_mastodon_py_reads_them():
    header = ('<https://m.example/api/v1/timelines/tag/x?max_id=108&limit=2>; rel="next", '
              '<https://m.example/api/v1/timelines/tag/x?min_id=110&limit=2>; rel="prev"')
    assert link_params(header, "next") == {"max_id": "108"}
    assert link_params(header, "prev") == {"min_id": "110"}
    assert link_params("", "next") == {}


def test_a_server_that_goes_away_fails_alone(world, mastodon, caplog):
    mastodon.client("witness").status_post("Calm in Bangui #bangui")
    live = tag_source(world, mastodon, name="live")
    dead = make_source(world, "mastodon", "dead", config={"instance": f"http://127.0.0.1:{free_port()}",
                                                          "hashtag": "bangui"})
    with caplog.at_level(logging.WARNING, logger="sitaware.ingest"):
        results = dict((s.name, o) for s, o in services.poll_due(sleep=lambda s: None))
    assert results["live"].ok and results["live"].stored == 1
    assert not results["dead"].ok and "cannot reach" in results["dead"].error
    dead = Source.objects.get(pk=dead.pk)
    assert services.health(dead)["state"] == "failing" and dead.consecutive_failures == 1
    assert services.health(Source.objects.get(pk=live.pk))["state"] == "ok"
    assert any("dead" in r.getMessage() and "failed" in r.getMessage() for r in caplog.records)


def test_a_server_stopped_mid_life_is_reported_and_recovers_nothing_lost(world):
    server = MockServer(mock_executable())
    try:
        author = server.client("witness")
        source = tag_source(world, server)
        author.status_post("First #bangui")
        assert poll(source).stored == 1
    finally:
        server.stop()
    outcome = poll(source)
    assert not outcome.ok and "cannot reach" in outcome.error
    source = Source.objects.get(pk=source.pk)
    assert services.health(source)["state"] == "failing" and source.last_error
    assert source.state["since"]  # the cursor of the last good poll is kept
    assert IntakeItem.objects.filter(source=source).count() == 1


def test_malformed_json_is_rejected_with_a_reason_and_nothing_half_written(world, mastodon):
    author = mastodon.client("witness")
    author.status_post("One #bangui")
    source = tag_source(world, mastodon)
    mastodon.fault("/api/v1/timelines/tag/bangui", {"type": "malformed"})
    bad = poll(source)
    assert not bad.ok and "not valid JSON" in bad.error and bad.stored == 0
    source = Source.objects.get(pk=source.pk)
    assert source.rejected_count == 1 and source.state == {} and IntakeItem.objects.count() == 0
    # The fault is gone: the next poll reads the same statuses, once.
    assert poll(source).stored == 1
    # A 200 answer that is not a list (an error object) is refused too.
    mastodon.fault("/api/v1/timelines/tag/bangui", {"type": "status", "status": 200, "body": {"error": "nope"}})
    refused = poll(source)
    assert not refused.ok and "expected a list of statuses" in refused.error and "nope" in refused.error


def test_transient_errors_are_retried_with_backoff(world, mastodon):
    mastodon.client("witness").status_post("Two #bangui")
    source = tag_source(world, mastodon, retries=2, backoff_seconds=1.5)
    mastodon.fault("/api/v1/timelines/tag/bangui", {"type": "status", "status": 503}, count=2)
    waits: list[float] = []
    outcome = services.poll_source(Source.objects.get(pk=source.pk), sleep=waits.append)
    assert outcome.ok and outcome.stored == 1 and waits == [1.5, 3.0]
    # A rate limit is transient too: retried, then recorded as a failure if it persists.
    mastodon.fault("/api/v1/timelines/tag/bangui", {"type": "ratelimit"}, count=5)
    limited = services.poll_source(Source.objects.get(pk=source.pk), sleep=lambda s: None)
    assert not limited.ok and "429" in limited.error


def test_bad_statuses_are_rejected_alone_and_huge_answers_refused(world, mastodon):
    source = tag_source(world, mastodon)
    adapter = MastodonAdapter(source)
    page = json.dumps([{"id": "1", "created_at": "2026-11-28T09:30:00Z", "content": "<p>ok</p>"},
                       {"content": "<p>no id</p>", "created_at": "2026-11-28T09:30:00Z"},
                       {"id": "3", "created_at": "yesterday", "content": "x"}, "not a status"]).encode()
    batch = adapter.parse(page, "application/json")
    assert [i.external_id for i in batch.items] == ["1"]
    assert sorted(r.reason for r in batch.rejected) == sorted([
        "a status without an id", "a status whose created_at is not a date ('yesterday')",
        "a status that is not an object (str)"])
    outcome = services.receive(source, b"\xff\xfe[]", "application/json")
    assert outcome.rejected == 1 and "UTF-8" in outcome.reasons[0]
    for i in range(3):
        mastodon.client(f"w{i}").status_post("A long report " + "x" * 400 + " #bangui")
    small = tag_source(world, mastodon, name="small", max_bytes=1000)
    too_big = poll(small)
    assert not too_big.ok and "larger than the 1,000 bytes allowed" in too_big.error
    assert IntakeItem.objects.filter(source=small).count() == 0


def test_a_silent_timeline_raises_the_alarm_once_and_an_item_clears_it(world, mastodon):
    source = tag_source(world, mastodon, name="quiet")
    Source.objects.filter(pk=source.pk).update(silence_threshold=60)
    later = timezone.now() + dt.timedelta(seconds=120)
    assert poll(source).stored == 0
    assert [s.name for s in services.check_silence(now=later)] == ["quiet"]
    assert services.check_silence(now=later + dt.timedelta(seconds=60)) == []
    assert services.health(Source.objects.get(pk=source.pk))["state"] == "silent"
    mastodon.client("witness").status_post("Back #bangui")
    assert poll(source).stored == 1
    assert Source.objects.get(pk=source.pk).silent_since is None


def test_config_is_checked_when_the_source_is_made(world):
    for config, words in (({"hashtag": "x"}, "config.instance"),
                          ({"instance": "ftp://m.example", "hashtag": "x"}, "config.instance"),
                          ({"instance": "https://m.example"}, "either config.hashtag"),
                          ({"instance": "https://m.example", "hashtag": "x", "account": "y"}, "not both"),
                          ({"instance": "https://m.example", "hashtag": "a/b"}, "not a hashtag"),
                          ({"instance": "https://m.example", "hashtag": "x", "limit": 80}, "between 1 and 40")):
        with pytest.raises(RecordValidationError) as err:
            make_source(world, "mastodon", "bad", config=config)
        assert words in str(err.value), config
    source = make_source(world, "mastodon", "good", config={"instance": "https://m.example/", "hashtag": "#Bambari",
                                                            "access_token": "s3cret"})
    assert source.config["instance"] == "https://m.example" and source.config["hashtag"] == "Bambari"
    assert services.public_config(source)["access_token"] == "********"


def test_an_item_becomes_a_draft_record_from_social_media(world, mastodon, actor):
    mastodon.client("witness").status_post("Armed men seen near PK5 market #bangui")
    source = tag_source(world, mastodon)
    poll(source)
    item = IntakeItem.objects.get(source=source)
    done = services.turn_into_record(actor("ana"), item.pk, {"category": "police.armed_robbery", "kind": "incident",
                                                             "taxonomy_version": "sitaware-default@1.0",
                                                             "latitude": 4.36, "longitude": 18.55})
    assert done.record.source_type == "social_media" and done.record.status == "draft"
