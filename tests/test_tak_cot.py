"""Cursor-on-Target, the pure part: events read safely (malformed, oversize, no point, bad times refused with a
reason), the `</event>` stream framer (split, joined, garbage, oversize), and accepted alerts written as CoT."""

from __future__ import annotations

import datetime as dt

import pytest

from sitaware.ingest.tak import cot
from sitaware.ingest.tak.framing import Framer

NOW = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)


def position(uid: str = "ANDROID-hq1", *, lat: str = "4.3612", lon: str = "18.5550", time: dt.datetime = NOW,
             stale_s: int = 120, cot_type: str = "a-f-G-U-C", extra: str = "", point: str | None = None) -> bytes:
    t = cot.cot_time(time)
    s = cot.cot_time(time + dt.timedelta(seconds=stale_s))
    pt = point if point is not None else f'<point lat="{lat}" lon="{lon}" hae="380.0" ce="8.5" le="12.0"/>'
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<event version="2.0" uid="{uid}" '
            f'type="{cot_type}" how="m-g" time="{t}" start="{t}" stale="{s}">{pt}<detail>'
            f'<contact callsign="HQ-1 Bravo"/><__group name="Cyan" role="Team Member"/>{extra}</detail></event>'
            ).encode()


PING = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes" ?>\n<event version="2.0" type="t-x-d-d" '
        b'uid="takPing" how="m-g" time="2026-11-30T08:00:00.000Z" start="2026-11-30T08:00:00.000Z" '
        b'stale="2026-11-30T08:02:00.000Z"><point lat="0.0" lon="0.0" hae="9999999.0" ce="9999999.0" '
        b'le="9999999.0" /><detail><_flow-tags_ pytak-vm-pytak="2026-11-30T08:00:00Z" /></detail></event>')


# ---------------------------------------------------------------- reading


def test_it_reads_a_unit_position():
    event = cot.parse_event(position(), now=NOW)
    assert (event.uid, event.type, event.callsign) == ("ANDROID-hq1", "a-f-G-U-C", "HQ-1 Bravo")
    assert (event.lat, event.lon, event.ce, event.le) == (4.3612, 18.5550, 8.5, 12.0)
    assert event.time == NOW and event.is_position and not event.is_ping


def test_it_tolerates_the_pytak_ping_whose_point_is_zero_zero():
    event = cot.parse_event(PING, now=NOW)
    assert event.is_ping and not event.is_position


@pytest.mark.parametrize(("data", "reason"), [
    (b"<event uid='x' type='a-f-G' ", "malformed XML"),
    (b"\xff\xfe<event/>", "malformed XML"),
    (b"<evnt uid='x'/>", "not <event>"),
    (b'<?xml version="1.0"?><!DOCTYPE event [<!ENTITY a "aaaa">]><event uid="&a;"/>', "DTDs and entities"),
    (position(uid=""), "no uid"),
    (position(cot_type="a f G"), "not a CoT type"),
    (position(point=""), "no <point>"),
    (position(lat="91"), "outside WGS84"),
    (position(lon="nan"), "not a finite number"),
    (position(lat="north"), "not a number"),
    (position(lat="0", lon="0"), "no position fix"),
    (position(point='<point lat="4.3" lon="18.5" ce="-1"/>'), "cannot be negative"),
    (position(time=NOW + dt.timedelta(hours=1)), "in the future"),
    (position(time=NOW - dt.timedelta(days=2), stale_s=3 * 86400), "old"),
    (position(time=NOW - dt.timedelta(minutes=10), stale_s=60), "went stale"),
    (position(stale_s=-60), "before start"),
    (position().replace(b'Z"', b'"'), "no time zone"),
    (position().replace(b'time="', b'time="yesterday'), "not an ISO 8601 time"),
])
def test_it_refuses_unusable_events_with_a_reason(data, reason):
    with pytest.raises(cot.CotError, match=reason):
        cot.parse_event(data, now=NOW)


def test_it_refuses_an_oversize_event_before_parsing_it():
    big = position(extra=f"<remarks>{'x' * 70_000}</remarks>")
    with pytest.raises(cot.CotError, match="larger than the 65,536 allowed"):
        cot.parse_event(big, now=NOW)
    assert cot.parse_event(big, now=NOW, max_bytes=100_000).uid == "ANDROID-hq1"


def test_a_billion_laughs_is_refused_without_expanding():
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
            b'<event uid="&lol2;" type="a-f-G" time="x" start="x" stale="x"/>')
    with pytest.raises(cot.CotError, match="refused XML construct"):
        cot.parse_event(bomb, now=NOW)


# ---------------------------------------------------------------- framing


def test_an_event_split_into_single_bytes_comes_out_whole():
    framer = Framer()
    data = PING + position()
    frames = [f for b in data for f in framer.feed(bytes([b]))]
    assert [f.kind for f in frames] == ["event", "event"]
    assert frames[0].data == PING and frames[1].data == position()
    assert not framer.buffer


def test_joined_events_and_garbage_between_them_are_separated():
    framer = Framer()
    junk = b"GET / HTTP/1.1\r\n\r\n"
    frames = framer.feed(position("a") + junk + position("b") + b"\n\n" + position("c")[:50])
    assert [f.kind for f in frames] == ["event", "garbage", "event"]
    assert frames[1].data == junk
    assert [cot.parse_event(f.data, now=NOW).uid for f in frames if f.kind == "event"] == ["a", "b"]
    frames = framer.feed(position("c")[50:])
    assert [cot.parse_event(f.data, now=NOW).uid for f in frames] == ["c"]


def test_a_broken_event_does_not_swallow_the_next_one():
    framer = Framer()
    frames = framer.feed(b'<event uid="broken" type="a-f-G" <<' + position("good"))
    assert [f.kind for f in frames] == ["garbage", "event"]
    assert cot.parse_event(frames[1].data, now=NOW).uid == "good"


def test_an_endless_event_is_dropped_at_the_cap_and_the_stream_recovers():
    framer = Framer(max_bytes=4096)
    frames = framer.feed(b"<event uid='x' type='a-f-G'>" + b"<detail>" + b"y" * 5000)
    assert [f.kind for f in frames] == ["oversize"] and not framer.buffer
    # The tail of the dropped event ends it; the next event is read normally.
    frames = framer.feed(b"y" * 100 + b"</detail></event>" + position("next"))
    assert [f.kind for f in frames] == ["event"]
    assert cot.parse_event(frames[0].data, now=NOW).uid == "next"


def test_a_complete_event_over_the_cap_is_reported_oversize():
    framer = Framer(max_bytes=2048)
    frames = framer.feed(position(extra=f"<remarks>{'z' * 3000}</remarks>"))
    assert [f.kind for f in frames] == ["oversize"]


# ---------------------------------------------------------------- writing


def marker(**overrides) -> cot.AlertMarker:
    data = {"uid": "sitaware-alert-0f7e", "alert_id": "a2", "cap_identifier": "sitaware.unpol.alert.a2",
            "msg_type": "Update", "title": "Alert: police.armed_robbery",
            "remarks": "sitaware early-warning alert (Update), accepted: 24 events where 3.1 expected.",
            "lat": 4.36121, "lon": 18.55502, "radius_m": 1240.0, "start": NOW,
            "stale": NOW + dt.timedelta(days=14), "link": "https://sitaware.example/alerts/a2/cap.xml"}
    data.update(overrides)
    return cot.AlertMarker(**data)


def test_an_alert_is_written_as_a_valid_cot_event_that_reads_back():
    from defusedxml import ElementTree as ET

    data = cot.build_alert_event(marker(), now=NOW)
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"') and data.endswith(b"</event>")
    event = cot.parse_event(data, now=NOW)
    assert (event.uid, event.type, event.how) == ("sitaware-alert-0f7e", "b-m-p-s-m", "h-e")
    assert (round(event.lat, 5), round(event.lon, 5), event.ce) == (4.36121, 18.55502, 1240.0)
    assert event.le == cot.UNKNOWN and event.start == NOW and event.stale == NOW + dt.timedelta(days=14)
    root = ET.fromstring(data)
    assert "24 events" in root.find("detail/remarks").text
    assert root.find("detail/link").get("url").endswith("/alerts/a2/cap.xml")
    ours = root.find("detail/__sitaware")
    assert (ours.get("alert"), ours.get("cap"), ours.get("msgType")) == ("a2", "sitaware.unpol.alert.a2", "Update")
    # The framer cuts it as a TAK client's reader would.
    assert [f.kind for f in Framer().feed(data + data)] == ["event", "event"]


def test_the_alert_type_is_configurable_and_checked():
    assert b'type="a-h-G"' in cot.build_alert_event(marker(cot_type="a-h-G"), now=NOW)
    with pytest.raises(ValueError, match="not a CoT type"):
        cot.build_alert_event(marker(cot_type="<script>"), now=NOW)


def test_text_in_an_alert_is_escaped_not_injected():
    data = cot.build_alert_event(marker(remarks='</remarks></detail></event><event uid="evil">'), now=NOW)
    assert [f.kind for f in Framer().feed(data)] == ["event"]
    assert data.count(b"<event ") == 1 and b"&lt;/remarks&gt;" in data
    assert cot.parse_event(data, now=NOW).uid == "sitaware-alert-0f7e"
