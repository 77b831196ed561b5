"""The live feed: Server-Sent Events from the change log in the viewer's scope, resumable by Last-Event-ID."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync


class FakeTime:
    """A clock that only moves when the stream sleeps, so tests run instantly and deterministically."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps = 0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds


def run_stream(actor, cursor: int, *, polls: int = 3, keepalive: float = 60.0, between=None) -> list[str]:
    """Every chunk a stream yields over `polls` polls. `between(n)` runs (in the stream's thread) after poll n."""
    from sitaware.web import stream

    time = FakeTime()

    async def sleep(seconds: float) -> None:
        if between is not None:
            from asgiref.sync import sync_to_async

            await sync_to_async(between)(time.sleeps)
        await time.sleep(seconds)

    async def collect() -> list[str]:
        chunks = []
        async for chunk in stream.event_stream(actor, cursor, poll_seconds=1.0, keepalive_seconds=keepalive,
                                               lifetime_seconds=float(polls), clock=time.clock, sleep=sleep):
            chunks.append(chunk)
        return chunks

    # async_to_sync keeps the stream's database calls on this thread, inside the test's transaction.
    return async_to_sync(collect)()


def events_of(chunks: list[str]) -> list[dict]:
    out = []
    for chunk in chunks:
        fields = dict(line.split(": ", 1) for line in chunk.strip().splitlines() if not line.startswith(":"))
        if fields.get("event") == "record":
            data = json.loads(fields["data"])
            assert int(fields["id"]) == data["seq"]
            out.append(data)
    return out


def entries_about(record_ids) -> list[int]:
    from sitaware.core.models import ChangeEntry

    ids = [r.id for r in record_ids]
    return list(ChangeEntry.objects.filter(record_id__in=ids).order_by("seq").values_list("seq", flat=True))


def test_the_stream_yields_the_events_after_the_cursor_in_order(make_record, actor):
    from sitaware.web import services

    before = make_record("ana")
    cursor = services.feed_start(actor("ana"))
    first = make_record("ana", title="Roadblock on the Bria road")
    second = make_record("ana", status="in_review")
    chunks = run_stream(actor("ana"), cursor)
    assert chunks[0].startswith("retry: ")
    events = events_of(chunks)
    assert [e["seq"] for e in events] == entries_about([first, second])
    assert all(e["seq"] > cursor for e in events)
    assert str(before.id) not in {e["record"]["id"] for e in events}
    created = events[0]
    assert created["action"] == "record.create" and created["actor"] == "ana"
    assert created["record"]["title"] == "Roadblock on the Bria road"
    assert created["record"]["lat"] == pytest.approx(4.3612) and created["record"]["unit"] == "bangui-hq"
    assert [e["action"] for e in events[1:]] == ["record.create", "record.status"]


def test_a_resumed_stream_misses_nothing_and_repeats_nothing(make_record, actor):
    from sitaware.web import services, stream

    ana = actor("ana")
    start = services.feed_start(ana)
    made = [make_record("ana", status="verified") for _ in range(3)]  # three entries each
    everything = entries_about(made)
    # The connection drops after the fourth event: the browser kept that event's id.
    first_part = events_of(run_stream(ana, start))[:4]
    last_event_id = str(first_part[-1]["seq"])
    more = make_record("ana")  # written while disconnected
    resumed_from = stream.stream_cursor(last_event_id, str(start))  # Last-Event-ID wins over ?after=
    assert resumed_from == int(last_event_id)
    second_part = events_of(run_stream(ana, resumed_from))
    seqs = [e["seq"] for e in first_part + second_part]
    assert seqs == everything + entries_about([more])
    assert len(seqs) == len(set(seqs))


def test_records_written_while_connected_arrive_on_the_next_poll(make_record, actor):
    from sitaware.web import services

    ana = actor("ana")
    cursor = services.feed_start(ana)
    made = []

    def write(poll: int) -> None:
        if poll == 1:
            made.append(make_record("ana", title="Live one"))

    events = events_of(run_stream(ana, cursor, polls=4, between=write))
    assert [e["record"]["title"] for e in events] == ["Live one"]
    assert events[0]["record"]["id"] == str(made[0].id)


def test_an_outsider_gets_no_event_about_another_organisations_record(make_record, actor):
    from sitaware.web import services

    start_hugo = services.feed_start(actor("hugo"))
    start_ana = services.feed_start(actor("ana"))
    unpol = make_record("ana", status="published", sensitivity="restricted")
    hsp_shared = make_record("hugo", status="published", sensitivity="restricted")
    hsp_draft = make_record("hugo", sensitivity="public")
    hugo_ids = {e["record"]["id"] for e in events_of(run_stream(actor("hugo"), start_hugo))}
    assert hugo_ids == {str(hsp_shared.id), str(hsp_draft.id)}
    ana_events = events_of(run_stream(actor("ana"), start_ana))
    assert {e["record"]["id"] for e in ana_events} == {str(unpol.id), str(hsp_shared.id)}
    # A partner's record arrives only as the agreement shows it: its earlier states (draft, in review) were not
    # shared, so only the entries since it became visible... are visible at all once it is published.
    shared = [e for e in ana_events if e["record"]["id"] == str(hsp_shared.id)]
    assert shared and all(e["record"]["status"] == "published" for e in shared)


def test_the_feed_start_is_the_viewers_newest_entry_not_the_chains_head(make_record, actor):
    from sitaware.core.models import ChangeEntry
    from sitaware.web import services

    mine = make_record("hugo", status="published")
    make_record("ana", sensitivity="restricted")  # after hugo's: the head moves, hugo's start does not
    head = ChangeEntry.objects.order_by("-seq").values_list("seq", flat=True).first()
    assert services.feed_start(actor("hugo")) == entries_about([mine])[-1] < head
    assert services.feed_start(actor("ana")) == head


def test_a_quiet_stream_sends_keepalive_comments(world, actor):
    chunks = run_stream(actor("ana"), 0, polls=5, keepalive=2.0)
    assert chunks.count(": keepalive\n\n") == 2
    assert not events_of(chunks)


def test_a_stream_without_a_cursor_starts_at_the_viewers_newest_entry(make_record, actor):
    make_record("ana")
    chunks = run_stream(actor("ana"), -1, polls=2)
    from sitaware.web import services

    assert chunks[1] == f"id: {services.feed_start(actor('ana'))}\n\n"
    assert not events_of(chunks)


def test_entries_not_about_records_are_skipped_without_giving_their_seq_away(make_record, actor):
    """An oversight officer may read entries that are not about records (e.g. the kill switch); the map's feed
    skips them, sends no id for them, and goes on to the next record entry."""
    from sitaware.core.models import ChangeEntry
    from sitaware.oversight import services as oversight
    from sitaware.web import services

    oversight.ensure_builtin_components()
    otto = actor("otto")
    start = services.feed_start(otto)
    made = []

    def write(poll: int) -> None:
        if poll == 0:
            oversight.set_enabled(actor("adam"), oversight.list_components(otto)[0].key, False, reason="test")
        if poll == 2:
            made.append(make_record("ana", status="in_review"))

    chunks = run_stream(otto, start, polls=5, between=write)
    switch = ChangeEntry.objects.filter(record_id__isnull=True).order_by("-seq").first()
    assert switch.seq > start and f"id: {switch.seq}" not in "".join(chunks)
    assert [e["seq"] for e in events_of(chunks)] == entries_about(made)


def _walk(actor, limit: int) -> list[int]:
    from sitaware.web import services

    seqs, scan = [], 0
    while True:
        batch = services.feed_batch(actor, scan, limit=limit)
        seqs += [e["seq"] for e in batch.events]
        if batch.scan == scan and not batch.more:
            return seqs
        scan = batch.scan


@pytest.mark.parametrize("name", ["rita", "rex", "ana", "cora", "otto", "hugo", "hana"])
def test_the_feed_shows_exactly_the_record_entries_changes_for_gives(world, make_record, actor, name):
    """The stream checks scope per new entry (cheap) or, far behind, through changes_for (one query): both
    must agree with changes_for, the change log in the viewer's scope."""
    from sitaware.core.services import changes_for

    writes = [("ana", "published", "restricted"), ("rita", None, "public"), ("rex", "in_review", "public"),
              ("hugo", "verified", "restricted"), ("hugo", None, "public"), ("hugo", "published", "confidential"),
              ("ana", "verified", "confidential"), ("sam", "archived", "strictly_confidential")]
    for author, status, sensitivity in writes:
        make_record(author, status=status, sensitivity=sensitivity)
    expected = [e.seq for e in changes_for(actor(name), after=0, limit=1000) if e.record_id is not None]
    assert _walk(actor(name), limit=200) == expected  # a few entries behind: per-record checks
    assert _walk(actor(name), limit=2) == expected  # far behind (backlog > 2 x limit): changes_for catch-up


def test_feed_start_falls_back_to_the_exact_query_for_a_viewer_with_nothing_recent(make_record, actor,
                                                                                      monkeypatch):
    from sitaware.web import services

    mine = make_record("hugo", status="published")
    for _ in range(3):
        make_record("ana", status="verified")  # nine entries hugo may not see
    monkeypatch.setattr(services, "UNION_CHUNK", 2)
    monkeypatch.setattr(services, "START_WINDOW", 4)
    assert services.feed_start(actor("hugo")) == entries_about([mine])[-1]


def test_a_cursor_from_the_future_restarts_at_the_viewers_newest_entry(make_record, actor):
    from sitaware.web import services

    make_record("ana")
    chunks = run_stream(actor("ana"), 10**9, polls=1)
    assert chunks[1] == f"id: {services.feed_start(actor('ana'))}\n\n"


def test_stream_cursor_prefers_last_event_id_and_ignores_junk():
    from sitaware.web.stream import stream_cursor

    assert stream_cursor("42", "7") == 42
    assert stream_cursor(None, "7") == 7
    assert stream_cursor("nonsense", "7") == 7
    assert stream_cursor(None, None) == -1
    assert stream_cursor("-5", "x") == -1


# ---------------------------------------------------------------- the HTTP endpoint


def test_the_stream_endpoint_needs_a_session(client, world):
    assert client.get("/live/stream").status_code == 401


def test_the_stream_endpoint_speaks_sse_and_resumes_from_last_event_id(client, world, make_record, actor,
                                                                       monkeypatch):
    from sitaware.web import services, stream

    monkeypatch.setattr(stream, "LIFETIME_SECONDS", 0.3)  # the sync test client reads the stream to its end
    monkeypatch.setattr(stream, "POLL_SECONDS", 0.1)
    start = services.feed_start(actor("ana"))
    first, second = make_record("ana"), make_record("ana")
    client.force_login(world.users["ana"])
    response = client.get(f"/live/stream?after={start}", headers={"Last-Event-ID": str(entries_about([first])[0])})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream" and response["Cache-Control"] == "no-cache"
    assert response["Content-Encoding"] == "identity"  # so GZipMiddleware does not hold events back
    async def read() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    body = async_to_sync(read)().decode()
    chunks = [c + "\n\n" for c in body.split("\n\n") if c]
    assert [e["record"]["id"] for e in events_of(chunks)] == [str(second.id)]


# ---------------------------------------------------------------- the page's sealed start


def _page_config(client) -> dict:
    html = client.get("/map/").content.decode()
    return json.loads(html.split('<script id="map-config" type="application/json">')[1].split("</script>")[0])


def _read_all(response) -> list[str]:
    async def read() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    return [c + "\n\n" for c in async_to_sync(read)().decode().split("\n\n") if c]


def test_the_map_page_does_not_wait_for_feed_start_and_never_shows_the_chains_head(client, world, make_record,
                                                                                    monkeypatch):
    from sitaware.core.models import ChangeEntry
    from sitaware.web import services

    make_record("ana", sensitivity="restricted")  # hugo cannot see it: the head is not his to know
    head = ChangeEntry.objects.order_by("-seq").values_list("seq", flat=True).first()

    def not_on_the_page(actor):
        raise AssertionError("the map page must not compute feed_start")

    monkeypatch.setattr(services, "feed_start", not_on_the_page)
    client.force_login(world.users["hugo"])
    config = _page_config(client)
    assert "after" not in config
    # The same length whatever the head: the token's size says nothing either.
    assert len(config["start"]) == len(services.feed_token(world.users["hugo"].pk, head=10**15))
    assert services.read_feed_token(config["start"], world.users["hugo"].pk) == head
    # Two pages get different tokens for the same head (a random nonce): equal tokens tell nothing either.
    assert _page_config(client)["start"] != config["start"]


def test_a_sealed_start_cannot_be_read_forged_or_used_by_another_account(world):
    from sitaware.web import services

    hugo, ana = world.users["hugo"].pk, world.users["ana"].pk
    token = services.feed_token(hugo, head=12345)
    assert services.read_feed_token(token, hugo) == 12345
    assert services.read_feed_token(token, ana) is None  # bound to the account
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert services.read_feed_token(flipped, hugo) is None
    middle = len(token) // 2
    tampered = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1:]
    assert services.read_feed_token(tampered, hugo) is None
    for junk in ("", "12345", "not base64 !!", "A" * 200, None):
        assert services.read_feed_token(junk, hugo) is None


def test_the_stream_starts_at_the_pages_sealed_head_without_sending_it(client, world, make_record, monkeypatch):
    """What the page's first map answer may have missed (written after the page was made) is streamed; what
    was there before is not sent again; the first chunk after `retry` is an event, never a bare id."""
    from sitaware.web import stream

    monkeypatch.setattr(stream, "LIFETIME_SECONDS", 0.3)
    monkeypatch.setattr(stream, "POLL_SECONDS", 0.1)
    before = make_record("ana")
    client.force_login(world.users["ana"])
    config = _page_config(client)
    hidden = make_record("hugo", sensitivity="restricted")  # noqa: F841 - ana may see it or not: scope decides
    after = make_record("ana")
    response = client.get(f"/live/stream?start={config['start']}")
    assert response.status_code == 200
    chunks = _read_all(response)
    events = events_of(chunks)
    ids = [e["record"]["id"] for e in events]
    assert str(after.id) in ids and str(before.id) not in ids
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert all(c.startswith(("retry:", "event:", "id: ")) for c in chunks)
    bare_ids = [c for c in chunks if c.startswith("id: ") and "event:" not in c]
    assert bare_ids == []  # the sealed head is never sent back


def test_a_reconnect_before_any_event_resumes_from_the_same_sealed_head(client, world, make_record, monkeypatch):
    from sitaware.web import stream

    monkeypatch.setattr(stream, "LIFETIME_SECONDS", 0.2)
    monkeypatch.setattr(stream, "POLL_SECONDS", 0.1)
    client.force_login(world.users["ana"])
    config = _page_config(client)
    first = _read_all(client.get(f"/live/stream?start={config['start']}"))
    assert events_of(first) == []
    written = make_record("ana")  # while the browser was reconnecting
    again = events_of(_read_all(client.get(f"/live/stream?start={config['start']}")))
    assert [e["record"]["id"] for e in again] == [str(written.id)]
    # Once an event was seen, Last-Event-ID wins over the page's start: nothing is sent twice.
    resumed = client.get(f"/live/stream?start={config['start']}", headers={"Last-Event-ID": str(again[-1]["seq"])})
    assert events_of(_read_all(resumed)) == []


def test_someone_elses_or_a_forged_start_falls_back_to_the_viewers_own_newest_entry(client, world, make_record,
                                                                                   actor, monkeypatch):
    from sitaware.web import services, stream

    monkeypatch.setattr(stream, "LIFETIME_SECONDS", 0.2)
    monkeypatch.setattr(stream, "POLL_SECONDS", 0.1)
    make_record("hugo")
    make_record("ana", sensitivity="restricted")
    client.force_login(world.users["ana"])
    anas = _page_config(client)["start"]
    client.force_login(world.users["hugo"])
    for start in (anas, "forged"):
        chunks = _read_all(client.get(f"/live/stream?start={start}"))
        assert chunks[1] == f"id: {services.feed_start(actor('hugo'))}\n\n"
