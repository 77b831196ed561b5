"""The live feed as Server-Sent Events: polls the change log from a cursor and yields what the viewer may see.

The browser's EventSource reconnects by itself and sends the last `id:` it saw as Last-Event-ID; ids are
change-log seqs, so a resumed stream starts exactly after the last event delivered: nothing missed, nothing
twice. Streams end after LIFETIME so scope (role, clearance, agreements, a disabled account) is re-read on
the reconnect that follows.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from asgiref.sync import sync_to_async

from sitaware.core.models import ChangeEntry
from sitaware.core.scope import Actor
from sitaware.web import services

POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0
LIFETIME_SECONDS = 300.0
RETRY_MS = 1000
BATCH = 200

logger = logging.getLogger("sitaware.web.stream")


def _exists_up_to(seq: int) -> bool:
    return seq == 0 or ChangeEntry.objects.filter(seq__gte=seq).exists()


def poll(actor: Actor, scan: int) -> services.FeedBatch:
    """Events after `scan`, and where to read next."""
    # One index lookup: the common case (nothing new anywhere) costs no scope query, and viewers of one scope
    # group at the same cursor and head share one read (services.feed_batch).
    head = services.current_head()
    if head <= scan:
        return services.FeedBatch([], scan, more=False)
    return services.feed_batch(actor, scan, limit=BATCH, head=head)


async def event_stream(
    actor: Actor,
    cursor: int,
    *,
    poll_seconds: float | None = None,
    keepalive_seconds: float | None = None,
    lifetime_seconds: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> AsyncIterator[str]:
    """SSE text chunks. `cursor` < 0 starts from the viewer's newest entry (live only)."""
    # Read at call time, not definition time, so a deployment (or a test) can tune the module's values.
    poll_seconds = POLL_SECONDS if poll_seconds is None else poll_seconds
    keepalive_seconds = KEEPALIVE_SECONDS if keepalive_seconds is None else keepalive_seconds
    lifetime_seconds = LIFETIME_SECONDS if lifetime_seconds is None else lifetime_seconds
    yield f"retry: {RETRY_MS}\n\n"
    if cursor < 0 or not await sync_to_async(_exists_up_to)(cursor):
        # No cursor, or one from the future (a restored database): start from the viewer's newest entry.
        cursor = await sync_to_async(services.feed_start)(actor)
        # Tell the browser where it stands, so a reconnect before the first event resumes from here.
        yield f"id: {cursor}\n\n"
    # The browser only ever learns seqs of entries it may see (event ids); where the server has read up to,
    # past entries it may not see, stays here. A reconnect re-reads those: cheap, and nothing leaks.
    scan = cursor
    sent = 0
    started = quiet_since = clock()
    try:
        while clock() - started < lifetime_seconds:
            batch = await sync_to_async(poll)(actor, scan)
            scan = batch.scan
            for event in batch.events:
                yield services.sse_message(event)
            sent += len(batch.events)
            if batch.events:
                quiet_since = clock()
            elif clock() - quiet_since >= keepalive_seconds:
                # A comment line: keeps proxies from closing an idle connection; the browser ignores it.
                yield ": keepalive\n\n"
                quiet_since = clock()
            if not batch.more:
                await sleep(poll_seconds)
    finally:
        # Reached on the lifetime's end and when the server cancels the stream of a client that went away.
        logger.debug("live stream of %s ended after %d events", actor.username, sent)


def stream_cursor(last_event_id: str | None, after: str | None) -> int:
    """Where a (re)connecting stream resumes: the browser's Last-Event-ID wins over the page's `after`."""
    for text in (last_event_id, after):
        if text is not None and text.strip().isdigit():
            return int(text.strip())
    return -1  # unknown: start from the viewer's newest entry
