"""The TAK listener against the real `pytak` client (PyPI) on loopback: positions land on the mapped patrol
(and in the change log), accepted alerts reach TAK clients as valid CoT once per version (and later joiners get
the current ones), unknown uids and broken input are rejected with a logged reason while the connection and the
other clients go on, and pytak's ping is tolerated."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sitaware.ingest.tak import cot
from sitaware.ingest.tak.framing import Framer
from sitaware.ingest.tak.listener import TakListener
from tests.conftest import skip_or_fail
from tests.test_planning_plans_support import payload
from tests.test_planning_plans_support import switch_on as planning_on

# The pytak installed beside this Python (the project's venv), else one on the PATH.
PYTAK = str(Path(sys.executable).with_name("pytak")) if Path(sys.executable).with_name("pytak").exists() else (
    shutil.which("pytak") or "")
MAPPED, STRANGER = "ANDROID-5c2e9a-hq1", "ANDROID-ffff-stranger"


def position(uid: str, lat: float, lon: float, *, at: dt.datetime | None = None, callsign: str = "HQ-1") -> bytes:
    at = at or dt.datetime.now(dt.UTC)
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<event version="2.0" uid="{uid}" '
            f'type="a-f-G-U-C" how="m-g" time="{cot.cot_time(at)}" start="{cot.cot_time(at)}" '
            f'stale="{cot.cot_time(at + dt.timedelta(minutes=2))}"><point lat="{lat}" lon="{lon}" hae="380" '
            f'ce="9.0" le="12.0"/><detail><contact callsign="{callsign}"/></detail></event>').encode()


def wait_for(check, timeout: float = 15.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Running:
    """The real listener on a loopback port, in a thread with its own event loop (as `sitaware tak serve`)."""

    def __init__(self, source: str):
        self.listener = TakListener(source, "127.0.0.1", 0, poll_seconds=0.3, batch_seconds=0.2,
                                    health_seconds=0.5)
        self.loop = asyncio.new_event_loop()
        self.stop_event: asyncio.Event | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self.stop_event = asyncio.Event()
            await self.listener.run(self.stop_event)

        try:
            self.loop.run_until_complete(main())
        except BaseException as exc:  # surfaced by the fixture
            self.error = exc

    def start(self) -> Running:
        self.thread.start()
        wait_for(lambda: self.listener.ready.is_set() or self.error, what="the listener to start")
        assert self.error is None, self.error
        return self

    def stop(self) -> None:
        if self.stop_event is not None:
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(timeout=20)
        assert not self.thread.is_alive()
        assert self.error is None, self.error

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.listener.port}"


class Pytak:
    """The pytak command-line client: what we write goes to its stdin, what the server pushes is on its stdout."""

    def __init__(self, url: str):
        self.proc = subprocess.Popen([PYTAK, url], stdin=subprocess.PIPE,  # noqa: S603 - our loopback URL
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.out = bytearray()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while chunk := self.proc.stdout.read1(65536):
            self.out += chunk

    def send(self, data: bytes) -> None:
        self.proc.stdin.write(data + b"\n")
        self.proc.stdin.flush()

    def events(self) -> list[cot.Event]:
        frames = Framer().feed(bytes(self.out))
        return [cot.parse_event(f.data) for f in frames if f.kind == "event"]

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.reader.join(timeout=5)


@pytest.fixture
def clients():
    if not PYTAK:
        skip_or_fail("the pytak client is not installed (pip install pytak: a dev dependency)")
    made: list[Pytak] = []

    def make(url: str) -> Pytak:
        made.append(Pytak(url))
        return made[-1]

    yield make
    for client in made:
        client.close()


@pytest.fixture
def plan(transactional_db, world, actor):
    from sitaware.planning import services

    planning_on(actor)
    proposed = services.propose_plan(actor("ana"), payload())
    return services.decide_plan(actor("sam"), proposed.id, "approve", "ok for the morning shift")


@pytest.fixture
def source(world, plan):
    """A TAK source acting as `tak-gw`, a service account (analyst) of UNPOL, with one device mapped."""
    from django.contrib.auth import get_user_model

    from sitaware.core.models import Membership
    from tests.test_ingest_support import make_source

    user = get_user_model().objects.create_user(username="tak-gw", password="unused but required here")
    Membership.objects.create(user=user, organisation=world.unpol, unit=world.hq, role="analyst", clearance=2)
    return make_source(world, "tak", "tak-bangui", config={
        "actor": "tak-gw", "uids": {MAPPED: {"plan": str(plan.id), "patrol": "hq-1"}},
        "base_url": "https://sitaware.example"})


@pytest.fixture
def listener(source):
    running = Running(source.name).start()
    yield running
    running.stop()


def test_a_position_from_pytak_lands_on_the_mapped_patrol_and_in_the_change_log(listener, plan, source, clients):
    from sitaware.core.models import ChangeEntry
    from sitaware.planning.models import PositionReport

    client = clients(listener.url)
    at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    client.send(position(MAPPED, 4.3571, 18.5512, at=at))
    stored = wait_for(lambda: list(PositionReport.objects.filter(plan=plan)), what="the position")
    assert len(stored) == 1
    p = stored[0]
    assert (p.patrol, p.source, p.latitude, p.longitude, p.at) == ("hq-1", "cot", 4.3571, 18.5512, at)
    assert p.reported_by.username == "tak-gw"
    entry = ChangeEntry.objects.get(action="plan.positions", object_id=str(plan.id))
    assert entry.actor_label == "tak-gw" and '"source":"cot"' in entry.data and '"points":1' in entry.data
    # pytak's t-x-d-d ping on connect was taken as a keepalive, not refused.
    wait_for(lambda: listener.listener.stats.pings >= 1, what="the ping")
    assert listener.listener.stats.rejected == 0
    # The same report again is not stored twice.
    client.send(position(MAPPED, 4.3571, 18.5512, at=at))
    time.sleep(1.0)
    assert PositionReport.objects.filter(plan=plan).count() == 1
    # Health, as for every intake source, plus the listener's own figures.
    source.refresh_from_db()
    wait_for(lambda: (source.refresh_from_db() or (source.state.get("live") or {}).get("positions") == 1),
             what="health saved")
    live = source.state["live"]
    assert live["clients"] == 1 and live["pings"] >= 1 and live["last_position_at"] == at.isoformat()
    assert source.last_item_at is not None and source.last_success_at is not None
    from sitaware.ingest import services

    health = services.health(source)  # what GET /api/v1/ingest/sources/{id} shows
    assert health["state"] == "ok" and health["live"]["positions"] == 1 and health["live"]["clients"] == 1


def test_an_unknown_uid_and_broken_input_are_rejected_and_everyone_goes_on(listener, plan, source, clients,
                                                                         caplog):
    from sitaware.planning.models import PositionReport

    caplog.set_level(logging.WARNING, logger="sitaware.ingest.tak")
    good = clients(listener.url)
    # A broken client on a raw socket: malformed XML, garbage, a position from an unmapped device, an event
    # cut in half when it dies; and between them, its own good position on the same connection.
    with socket.create_connection(("127.0.0.1", listener.listener.port), timeout=5) as broken:
        broken.sendall(b'<event uid="x" type="a-f-G" time=<<>></event>')
        broken.sendall(b"\x00\x01 not xml at all \xff")
        broken.sendall(position(STRANGER, 4.35, 18.55, callsign="Unknown 1"))
        broken.sendall(position(MAPPED, 4.3600, 18.5600))
        broken.sendall(position(MAPPED, 4.3601, 18.5601)[:80])
        wait_for(lambda: PositionReport.objects.filter(plan=plan, latitude=4.36).exists(),
                 what="the broken client's good position")
    # The other client was never disturbed.
    good.send(position(MAPPED, 4.3700, 18.5700))
    wait_for(lambda: PositionReport.objects.filter(plan=plan, latitude=4.37).exists(), what="the good client")
    assert PositionReport.objects.filter(plan=plan).count() == 2
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "malformed XML" in logged
    assert f"unknown uid '{STRANGER}' (callsign 'Unknown 1')" in logged and "sitaware tak map" in logged
    assert "not a CoT event" in logged
    stats = listener.listener.stats
    assert stats.unknown_uids == {STRANGER: 1} and stats.rejected == 3
    wait_for(lambda: (source.refresh_from_db() or source.rejected_count == 3), what="rejects on the source")
    assert source.state["live"]["unknown_uids"] == {STRANGER: 1}


def test_a_position_for_a_plan_that_is_not_live_is_refused_with_its_reason(world, actor, plan, source, clients,
                                                                            caplog):
    from sitaware.planning import services
    from sitaware.planning.models import PositionReport

    proposed = services.propose_plan(actor("ana"), payload())  # never approved
    config = dict(source.config)
    config["uids"] = {**config["uids"], "ANDROID-proposed": {"plan": str(proposed.id), "patrol": "hq-2"}}
    type(source).objects.filter(pk=source.pk).update(config=config)
    caplog.set_level(logging.WARNING, logger="sitaware.ingest.tak")
    running = Running(source.name).start()
    try:
        client = clients(running.url)
        client.send(position("ANDROID-proposed", 4.36, 18.55))
        wait_for(lambda: "only an approved plan is tracked" in caplog.text, what="the refusal")
        assert not PositionReport.objects.filter(plan=proposed).exists()
        wait_for(lambda: (source.refresh_from_db() or source.consecutive_failures >= 1), what="failing health")
        assert "only an approved plan is tracked" in source.last_error
    finally:
        running.stop()


# ---------------------------------------------------------------- alerts out


@pytest.fixture
def accepted(transactional_db, world, actor):
    from sitaware.alerts.models import Alert
    from sitaware.oversight import services as oversight
    from tests.test_alerts_support import background, hotspot, load, make_detector, run
    from tests.test_alerts_support import switch_on as alerts_on

    alerts_on(actor)
    load(actor, background(90, 1) + hotspot(24, 2))
    detector = make_detector(actor)
    run(actor, detector)
    alert = Alert.objects.filter(detector=detector).order_by("created_at", "id").first()
    oversight.decide(actor("sam"), alert.recommendation_id, "accept", reason="checked with the sector")
    alert.refresh_from_db()
    assert alert.state == "accepted"
    return alert


def test_an_accepted_alert_reaches_pytak_clients_as_cot_once_per_version(accepted, actor, source, clients):
    import h3

    from sitaware.alerts.models import Alert
    from sitaware.oversight import services as oversight
    from tests.test_alerts_support import AT, hotspot, load, run

    running = Running(source.name).start()
    try:
        early = clients(running.url)
        events = wait_for(lambda: early.events(), what="the alert on the first client")
        assert len(events) == 1
        event = events[0]
        assert event.uid == f"sitaware-alert-{accepted.id}" and event.type == "b-m-p-s-m"
        centre = [h3.cell_to_latlng(c) for c in accepted.cells]
        assert abs(event.lat - sum(c[0] for c in centre) / len(centre)) < 1e-4
        assert abs(event.lon - sum(c[1] for c in centre) / len(centre)) < 1e-4
        assert 100 < event.ce < 20_000 and event.stale > dt.datetime.now(dt.UTC) + dt.timedelta(days=13)
        text = early.out.decode()
        assert str(accepted.id) in text and accepted.cap_identifier in text
        assert f"https://sitaware.example/alerts/{accepted.id}/cap.xml" in text
        # Nothing from the records behind the alert: no narrative, no source identity.
        assert "Two armed men" not in text and "informant" not in text
        # Polls go on; the same version is not sent again.
        time.sleep(1.5)
        assert len(early.events()) == 1

        # An accepted update of the same cluster: pushed once, same marker uid (the client replaces it).
        later = AT + dt.timedelta(days=7)
        load(actor, hotspot(12, 3, before=later, days=6))
        run_result = run(actor, accepted.detector, at=later)
        assert run_result.counts["updated"] >= 1
        update = Alert.objects.get(previous=accepted)
        oversight.decide(actor("sam"), update.recommendation_id, "accept", reason="still growing")
        wait_for(lambda: len(early.events()) >= 2, what="the update")
        time.sleep(1.0)
        events = early.events()
        assert len(events) == 2 and events[1].uid == events[0].uid
        assert str(update.id) in early.out.decode().split("</event>")[1]

        # A client that connects later gets the current version only.
        late = clients(running.url)
        got = wait_for(lambda: late.events(), what="the alert on the late client")
        time.sleep(1.0)
        got = late.events()
        assert len(got) == 1 and got[0].uid == f"sitaware-alert-{accepted.id}"
        assert str(update.id) in late.out.decode() and f'alert="{accepted.id}"' not in late.out.decode()
    finally:
        running.stop()


# ---------------------------------------------------------------- the operator's mapping


def test_the_operator_maps_and_unmaps_uids_from_the_console(world, plan, source, capsys):
    from sitaware.core.models import ChangeEntry

    call_command("tak", "map", "--source", source.name, "ANDROID-new", str(plan.id), "hq-2")
    source.refresh_from_db()
    assert source.config["uids"]["ANDROID-new"] == {"plan": str(plan.id), "patrol": "hq-2"}
    entry = ChangeEntry.objects.get(action="ingest.tak.map")
    assert entry.actor_label.startswith("console:") and "ANDROID-new" in entry.data
    with pytest.raises(CommandError, match="has no patrol 'hq-9'"):
        call_command("tak", "map", "--source", source.name, "ANDROID-new", str(plan.id), "hq-9")
    with pytest.raises(CommandError, match="no plan"):
        call_command("tak", "map", "--source", source.name, "ANDROID-new", "0f0f0f0f-0000-4000-8000-000000000000",
                     "hq-1")
    call_command("tak", "unmap", "--source", source.name, "ANDROID-new")
    source.refresh_from_db()
    assert "ANDROID-new" not in source.config["uids"]
    with pytest.raises(CommandError, match="not mapped"):
        call_command("tak", "unmap", "--source", source.name, "ANDROID-new")
    call_command("tak", "status", "--source", source.name)
    assert f'"{MAPPED}"' in capsys.readouterr().out


def test_a_tak_source_needs_a_service_account_and_a_sound_mapping(world):
    from sitaware.records.errors import RecordValidationError
    from tests.test_ingest_support import make_source

    with pytest.raises(RecordValidationError, match="actor"):
        make_source(world, "tak", "no-actor", config={})
    with pytest.raises(RecordValidationError, match="not a plan id"):
        make_source(world, "tak", "bad-map", config={"actor": "ana", "uids": {"A": {"plan": "x", "patrol": "p"}}})
    with pytest.raises(RecordValidationError, match="not a CoT type"):
        make_source(world, "tak", "bad-type", config={"actor": "ana", "alert_type": "<x>"})


def test_serve_refuses_an_unknown_source_and_a_bad_network(transactional_db):
    with pytest.raises(CommandError, match="no TAK source 'nowhere'"):
        call_command("tak", "serve", "--source", "nowhere", "--port", "0")
    with pytest.raises(CommandError, match="does not appear to be an IPv4 or IPv6 network"):
        call_command("tak", "serve", "--source", "nowhere", "--allow", "not-a-network")


def test_clients_outside_the_allowed_networks_are_refused(source, plan, caplog):
    from sitaware.planning.models import PositionReport

    running = TakListener(source.name, "127.0.0.1", 0, allow=["10.0.0.0/8"], poll_seconds=0.3, batch_seconds=0.2)
    wrapper = Running(source.name)
    wrapper.listener = running
    wrapper.start()
    try:
        with socket.create_connection(("127.0.0.1", running.port), timeout=5) as sock:
            sock.sendall(position(MAPPED, 4.36, 18.55))
            try:
                answer = sock.recv(100)
            except ConnectionResetError:  # closed with our event unread: a reset rather than an end of stream
                answer = b""
            assert answer == b""  # closed by the listener, nothing sent to us
        wait_for(lambda: running.stats.refused_connections == 1, what="the refusal")
        time.sleep(0.5)
        assert not PositionReport.objects.filter(plan=plan).exists()
        assert "refused (not in the allowed networks)" in caplog.text
    finally:
        wrapper.stop()
