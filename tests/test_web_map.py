"""The operations map: its page, its data (hexagon counts or capped points) and the record panel's data,
always within the viewer's scope."""

from __future__ import annotations

import json

import h3
import pytest

PASSWORD = "correct horse battery staple"
BANGUI_BBOX = "18.4,4.2,18.7,4.5"


@pytest.fixture
def signed_in(client, world):
    def login(name: str):
        client.force_login(world.users[name])
        return client

    return login


def _data(client, **params) -> dict:
    response = client.get("/map/data", params)
    assert response.status_code == 200, response.content
    return response.json()


def _ids(data: dict) -> set[str]:
    assert data["mode"] == "points"
    return {row[0] for row in data["rows"]}


def _cell_total(data: dict) -> int:
    assert data["mode"] == "cells"
    return sum(n for _cell, n in data["cells"])


# ---------------------------------------------------------------- page


def test_the_map_page_needs_a_sign_in_and_then_shows_the_map_and_filters(client, world):
    response = client.get("/map/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client.post("/accounts/login/", {"username": "ana", "password": PASSWORD})
    page = client.get("/map/")
    assert page.status_code == 200
    html = page.content.decode()
    for needle in ("maplibre-gl.js", "h3-js.umd.js", "web/map.js", 'id="map"', 'id="feed"', 'name="kind"',
                   'name="category"', 'name="status"', 'name="source_type"', 'name="unit"', 'name="sensitivity"',
                   'type="range"', "Live feed"):
        assert needle in html, needle
    # No tile server, CDN or font service is named anywhere in the page.
    assert "https://" not in html and "http://" not in html
    config = json.loads(html.split('<script id="map-config" type="application/json">')[1].split("</script>")[0])
    assert config["dataUrl"] == "/map/data" and config["streamUrl"] == "/live/stream"
    # Ana's clearance is confidential (2): strictly confidential is not offered.
    assert 'name="sensitivity" value="3"' not in html and 'name="sensitivity" value="2"' in html


def test_the_map_page_speaks_french(client, world):
    client.force_login(world.users["ana"])
    client.post("/i18n/setlang/", {"language": "fr", "next": "/map/"})
    html = client.get("/map/").content.decode()
    assert 'lang="fr"' in html
    for french in ("Carte des opérations", "Fil en direct", "Période", "Catégorie", "Statut", "Type de source",
                   "Unité déclarante", "Sensibilité", "Effacer les filtres", "Incident", "En cours de revue"):
        assert french in html, french
    config = json.loads(html.split('<script id="map-config" type="application/json">')[1].split("</script>")[0])
    assert config["strings"]["live_connected"] == "Direct : connecté."
    assert config["labels"]["status"]["published"] == "Publié"


def test_the_offline_basemap_is_served_locally_and_a_mission_geojson_replaces_it(client, world, settings, tmp_path):
    from pathlib import Path

    import sitaware.web

    assert client.get("/map/basemap.geojson").status_code == 302  # to the login page
    client.force_login(world.users["ana"])
    response = client.get("/map/basemap.geojson")
    assert response.status_code == 302 and response["Location"].endswith(
        "/static/web/vendor/world-atlas/countries-50m.geojson")
    shipped = Path(sitaware.web.__file__).parent / "static/web/vendor/world-atlas/countries-50m.geojson"
    countries = json.loads(shipped.read_text())
    assert countries["type"] == "FeatureCollection" and len(countries["features"]) > 200
    assert any(f["properties"]["name"] == "Central African Rep." for f in countries["features"])
    mission = tmp_path / "mission.geojson"
    mission.write_text(json.dumps({"type": "FeatureCollection", "features": [], "name": "mission"}))
    settings.SITAWARE_BASEMAP = str(mission)
    response = client.get("/map/basemap.geojson")
    assert response["Content-Type"] == "application/geo+json" and response.json()["name"] == "mission"
    # A tile basemap (here a missing file: the system check names it) is drawn from /map/tiles/, not from here.
    settings.SITAWARE_BASEMAP = str(tmp_path / "mission.pmtiles")
    assert client.get("/map/basemap.geojson").status_code == 302


def test_the_vendored_libraries_ship_with_their_licences():
    from pathlib import Path

    import sitaware.web

    vendor = Path(sitaware.web.__file__).parent / "static/web/vendor"
    for name in ("maplibre-gl/maplibre-gl.js", "maplibre-gl/maplibre-gl.css", "maplibre-gl/LICENSE.txt",
                 "h3-js/h3-js.umd.js", "h3-js/LICENSE", "world-atlas/LICENSE", "world-atlas/countries-50m.geojson"):
        assert (vendor / name).is_file(), name
    assert "sourceMappingURL" not in (vendor / "maplibre-gl/maplibre-gl.js").read_text()[-300:]


def test_province_lines_ship_with_the_countries_and_are_served_gzipped_to_members_only(client, world, settings,
                                                                                   tmp_path):
    import gzip as gzip_module
    from pathlib import Path

    import sitaware.web
    from sitaware.web import views

    shipped = Path(sitaware.web.__file__).parent / "static/web/vendor/natural-earth"
    assert (shipped / "LICENSE").is_file()
    lines = json.loads((shipped / "admin1-lines.geojson").read_text())["features"][0]["geometry"]["coordinates"]
    # The Central African Republic's prefecture boundaries are there (points inside the country, away from its edge).
    inside_car = [pt for line in lines for pt in line if 16.0 < pt[0] < 24.0 and 4.5 < pt[1] < 9.0]
    assert len(inside_car) > 50
    assert client.get("/map/admin1.geojson").status_code in (302, 401, 403)  # not for strangers
    client.force_login(world.users["ana"])
    config = views.basemap_config()
    assert config["admin1"].startswith("/map/admin1.geojson?v=")
    answer = client.get(config["admin1"], HTTP_ACCEPT_ENCODING="gzip")
    assert answer.status_code == 200 and answer["Content-Encoding"] == "gzip"
    assert "immutable" in answer["Cache-Control"]
    assert json.loads(gzip_module.decompress(answer.content))["features"][0]["geometry"]["type"] == "MultiLineString"
    assert client.get(config["admin1"], HTTP_ACCEPT_ENCODING="gzip",
                      HTTP_IF_NONE_MATCH=answer["ETag"]).status_code == 304
    # The basemap answer is still the countries' (one cache entry per file, not one for both).
    basemap = client.get(views.basemap_url(), HTTP_ACCEPT_ENCODING="gzip")
    assert json.loads(gzip_module.decompress(basemap.content))["features"][0]["geometry"]["type"] != "MultiLineString"
    # A mission's own basemap stands alone: no Natural Earth provinces drawn over it.
    mission = tmp_path / "mission.geojson"
    mission.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    settings.SITAWARE_BASEMAP = str(mission)
    assert "admin1" not in views.basemap_config()


# ---------------------------------------------------------------- data: scope


def test_anonymous_and_memberless_callers_get_json_errors_not_data(client, world):
    from django.contrib.auth import get_user_model

    assert client.get("/map/data").status_code == 401
    stranger = get_user_model().objects.create_user(username="stranger", password=PASSWORD)
    client.force_login(stranger)
    assert client.get("/map/data").status_code == 403


def test_an_outsider_never_sees_another_organisations_restricted_record_in_points_or_counts(signed_in, make_record):
    # UNPOL shares nothing with HSP; HSP shares verified/published records up to restricted with UNPOL.
    unpol_secret = make_record("ana", status="published", sensitivity="restricted")
    hsp_shared = make_record("hugo", status="published", sensitivity="restricted")
    hsp_confidential = make_record("hugo", status="published", sensitivity="confidential")
    hsp_draft = make_record("hugo", sensitivity="public")

    hugo = signed_in("hugo")
    seen = _ids(_data(hugo, bbox=BANGUI_BBOX))
    assert str(unpol_secret.id) not in seen
    assert seen == {str(hsp_shared.id), str(hsp_confidential.id), str(hsp_draft.id)}
    cells = _data(hugo, bbox=BANGUI_BBOX, mode="cells", zoom=12)
    assert cells["total"] == 3 and _cell_total(cells) == 3

    ana = signed_in("ana")
    seen = _ids(_data(ana, bbox=BANGUI_BBOX))
    assert seen == {str(unpol_secret.id), str(hsp_shared.id)}  # not HSP's confidential record nor its draft
    assert _cell_total(_data(ana, mode="cells", zoom=3)) == 2


def test_a_reporter_sees_no_other_units_drafts_on_the_map(signed_in, make_record):
    mine = make_record("rita")
    bria_draft = make_record("rex")
    seen = _ids(_data(signed_in("rita")))
    assert str(mine.id) in seen and str(bria_draft.id) not in seen
    assert _data(signed_in("rita"), mode="cells")["total"] == 1


def test_records_whose_place_an_agreement_withholds_stay_off_the_map(signed_in, make_record, world):
    shared = make_record("hugo", status="published", sensitivity="restricted")
    assert str(shared.id) in _ids(_data(signed_in("ana")))
    world.agreement.redacted_fields = ["narrative", "latitude", "longitude"]
    world.agreement.save()
    data = _data(signed_in("ana"))
    assert str(shared.id) not in _ids(data) and data["total"] == 0
    assert _data(signed_in("ana"), mode="cells")["cells"] == []


def test_an_agreement_that_withholds_the_category_sends_it_as_null(signed_in, make_record, world):
    shared = make_record("hugo", status="published", sensitivity="restricted")
    world.agreement.redacted_fields = ["category"]
    world.agreement.save()
    [row] = [r for r in _data(signed_in("ana"))["rows"] if r[0] == str(shared.id)]
    assert row[4] is None


# ---------------------------------------------------------------- data: counts, cells, points


def _spread_records(make_record, n: int = 7) -> list:
    places = [(4.3612, 18.5550), (4.3700, 18.5600), (4.3900, 18.5200), (5.7600, 20.6700), (6.4900, 21.9800),
              (4.3620, 18.5560), (7.2000, 19.1000)]
    made = []
    for i in range(n):
        lat, lon = places[i % len(places)]
        made.append(make_record("ana", status="published" if i % 2 else "verified", latitude=lat, longitude=lon,
                                kind="incident" if i % 3 else "event",
                                category="police.armed_robbery" if i % 3 else "conflict.battles.armed_clash"))
    return made


@pytest.mark.parametrize("params", [
    {},
    {"bbox": BANGUI_BBOX},
    {"status": "published"},
    {"kind": "incident", "status": "verified,published"},
    {"category": "conflict.battles"},
    {"sensitivity": "restricted", "source_type": "field_report", "unit": "bangui-hq"},
])
def test_hexagon_counts_equal_the_record_list_count_for_the_same_filter(signed_in, make_record, actor, params):
    from django.test import RequestFactory

    from sitaware.records import services
    from sitaware.web.views import parse_map_query

    _spread_records(make_record)
    make_record("hugo", status="published", latitude=4.37, longitude=18.56)  # shared with UNPOL
    client = signed_in("ana")
    flt = parse_map_query(RequestFactory().get("/map/data", params)).flt
    expected = services.count_records(actor("ana"), flt)
    listed = len(services.list_records(actor("ana"), flt, limit=500).items)
    assert expected == listed
    for zoom in (2, 6, 9, 12):
        cells = _data(client, mode="cells", zoom=zoom, **params)
        assert cells["total"] == expected and _cell_total(cells) == expected, (zoom, cells)
    points = _data(client, mode="points", **params)
    assert points["total"] == expected and len(points["rows"]) == expected


def test_cells_are_the_h3_parents_of_the_records_at_the_zooms_resolution(signed_in, make_record):
    from sitaware.web.services import resolution_for_zoom

    made = _spread_records(make_record)
    client = signed_in("ana")
    for zoom in (1, 4, 6, 7.5, 9, 10.5, 12, 13.5, 15):
        resolution = resolution_for_zoom(zoom)
        data = _data(client, mode="cells", zoom=zoom)
        assert data["resolution"] == resolution
        expected: dict[str, int] = {}
        for r in made:
            cell = h3.cell_to_parent(h3.latlng_to_cell(r.latitude, r.longitude, 9), resolution)
            expected[cell] = expected.get(cell, 0) + 1
        assert dict(data["cells"]) == expected


def test_auto_mode_sends_points_when_few_and_cells_when_dense(signed_in, make_record, monkeypatch):
    from sitaware.web import services

    _spread_records(make_record)
    client = signed_in("ana")
    assert _data(client, zoom=5)["mode"] == "points"
    monkeypatch.setattr(services, "POINT_CAP", 3)
    dense = _data(client, zoom=5)
    assert dense["mode"] == "cells" and dense["total"] == 7
    # Zoomed far in, a dense view still gets points: the newest POINT_CAP, flagged as truncated.
    close = _data(client, zoom=15)
    assert close["mode"] == "points" and len(close["rows"]) == 3 and close["truncated"] and close["total"] == 7
    newest = sorted(close["rows"], key=lambda row: -row[7])
    assert close["rows"] == newest


def test_too_many_cells_step_to_a_coarser_resolution(signed_in, make_record, monkeypatch):
    from sitaware.web import services

    _spread_records(make_record)
    monkeypatch.setattr(services, "MAX_CELLS", 2)
    data = _data(signed_in("ana"), mode="cells", zoom=12)
    assert len(data["cells"]) <= 2 and data["resolution"] < services.resolution_for_zoom(12)
    assert _cell_total(data) == 7


def test_points_are_capped_and_the_answer_stays_under_200_kb_at_the_caps():
    """Worst case, without a database: POINT_CAP points with long values, and MAX_CELLS cells."""
    import datetime as dt
    import types
    import uuid

    from sitaware.records import vocab
    from sitaware.web import services

    class FakeRows(list):
        def order_by(self, *args):
            return self

        def only(self, *args):
            return self

        def annotate(self, **kwargs):
            return self

        def values_list(self, *names):
            return FakeRows(tuple(getattr(r, n) for n in names) for r in self)

    now = dt.datetime.now(dt.UTC)
    rows = FakeRows(
        types.SimpleNamespace(id=uuid.uuid4(), latitude=-45.123456789 + i * 1e-5, longitude=-179.123456789,
                              kind="activity", category=f"category.with_a_rather_long_code_{i % 300:03d}",
                              status="in_review", sensitivity=3, occurred_at=now, organisation_id=None,
                              created_by_id=None, reporting_unit_id=None)
        for i in range(services.POINT_CAP + 500)
    )

    class Everything:
        actor = types.SimpleNamespace(system=True)

        def hidden_fields(self, record):
            return []

    original = services.records.Redactor.for_actor
    services.records.Redactor.for_actor = classmethod(lambda cls, actor: Everything())
    try:
        points = services.points_payload(None, rows, len(rows))
    finally:
        services.records.Redactor.for_actor = original
    assert len(points["rows"]) == services.POINT_CAP and points["truncated"]
    assert len(json.dumps(points, separators=(",", ":"))) < 200_000
    assert vocab.KINDS[points["rows"][0][3]] == "activity"

    cell = h3.latlng_to_cell(-45.1, -179.1, 9)
    cells = {"mode": "cells", "total": 10**9, "resolution": 9,
             "cells": [[cell, 10**6]] * services.MAX_CELLS}
    assert len(json.dumps(cells, separators=(",", ":"))) < 200_000


def test_a_real_answer_is_compact(signed_in, make_record):
    _spread_records(make_record)
    response = signed_in("ana").get("/map/data", {"mode": "points"})
    assert len(response.content) < 200 * 7 + 400  # a few hundred bytes a point at most


def test_bad_parameters_are_named_with_400(signed_in):
    client = signed_in("ana")
    response = client.get("/map/data", {"bbox": "1,2,3", "kind": "murder", "zoom": "far", "colour": "red",
                                        "since": "2026-01-01T00:00:00"})
    assert response.status_code == 400
    fields = {p["field"] for p in response.json()["errors"]}
    assert fields == {"bbox", "kind", "zoom", "colour", "since"}


def test_time_range_filters_by_occurrence(signed_in, make_record):
    import datetime as dt

    old = make_record("ana", occurred_at=(dt.datetime.now(dt.UTC) - dt.timedelta(days=40)).isoformat())
    recent = make_record("ana")
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(days=7)).isoformat()
    seen = _ids(_data(signed_in("ana"), since=since))
    assert str(recent.id) in seen and str(old.id) not in seen


# ---------------------------------------------------------------- record panel


def test_the_record_panel_reads_the_record_its_history_and_its_recommendations(signed_in, make_record, actor):
    from sitaware.oversight import services as oversight
    from sitaware.oversight.suggest_category import suggest_category
    from sitaware.records import services as records

    oversight.ensure_builtin_components()
    record = make_record("ana", title="Shots fired near the market", narrative="Armed men robbed a shop.")
    records.update_record(actor("ana"), record.id, {"base_version": 1, "title": "Shots fired at PK5",
                                                    "reason": "place confirmed"})
    rec = suggest_category(actor("ana"), record.id)
    client = signed_in("ana")
    assert client.get(f"/api/v1/records/{record.id}").json()["title"] == "Shots fired at PK5"
    revisions = client.get(f"/api/v1/records/{record.id}/revisions").json()["items"]
    assert [r["version"] for r in revisions] == [1, 2] and revisions[1]["reason"] == "place confirmed"
    linked = client.get(f"/map/records/{record.id}/recommendations").json()["items"]
    assert [r["id"] for r in linked] == [str(rec.id)]


def test_an_outsider_gets_404_for_another_organisations_record_recommendations(signed_in, make_record):
    record = make_record("ana", **{"sensitivity": "restricted"})
    assert signed_in("hugo").get(f"/map/records/{record.id}/recommendations").status_code == 404
    assert signed_in("hugo").get("/map/records/not-a-uuid/recommendations").status_code == 404



@pytest.mark.parametrize("stored", [7, 9, 11])
def test_the_parent_bit_arithmetic_holds_for_any_stored_resolution(stored):
    from sitaware.web.services import _INT64_MAX, _RES_MASK, _RES_SHIFT, _digit_mask

    for lat, lon in ((4.3612, 18.555), (-33.9, 151.2), (64.1, -21.9), (0.0001, -179.9)):
        cell = h3.str_to_int(h3.latlng_to_cell(lat, lon, stored))
        for resolution in range(stored + 1):
            parent = ((cell | _digit_mask(resolution)) & (_INT64_MAX & ~_RES_MASK)) | (resolution << _RES_SHIFT)
            assert parent == h3.str_to_int(h3.cell_to_parent(h3.int_to_str(cell), resolution))


# ---------------------------------------------------------------- performance changes (issue 3)


def test_the_basemap_is_sent_gzipped_with_an_etag_and_cached_for_good_under_the_pages_url(client, world, settings,
                                                                                         tmp_path):
    import gzip
    from pathlib import Path

    import sitaware.web

    client.force_login(world.users["ana"])
    html = client.get("/map/").content.decode()
    config = json.loads(html.split('<script id="map-config" type="application/json">')[1].split("</script>")[0])
    url = config["basemapUrl"]
    assert url.startswith("/map/basemap.geojson?v=")
    shipped = Path(sitaware.web.__file__).parent / "static/web/vendor/world-atlas/countries-50m.geojson"
    response = client.get(url, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert response.status_code == 200 and response["Content-Encoding"] == "gzip"
    assert response["Content-Type"] == "application/geo+json" and "Accept-Encoding" in response["Vary"]
    assert gzip.decompress(response.content) == shipped.read_bytes()
    assert len(response.content) < shipped.stat().st_size / 2
    assert "immutable" in response["Cache-Control"] and "private" in response["Cache-Control"]
    etag = response["ETag"]
    assert url.endswith("?v=" + etag.strip('"'))
    # Revalidation without the version: 304, no body.
    again = client.get("/map/basemap.geojson", headers={"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert again.status_code == 304 and not again.content
    assert "immutable" not in client.get("/map/basemap.geojson", headers={"Accept-Encoding": "gzip"})[
        "Cache-Control"]
    # Refusing gzip (q=0) is not taking it: the plain static file, as before.
    assert client.get(url, headers={"Accept-Encoding": "gzip;q=0, identity"}).status_code == 302
    # A mission's file: gzipped too, and a new version when it changes.
    mission = tmp_path / "mission.geojson"
    mission.write_text(json.dumps({"type": "FeatureCollection", "features": [], "name": "mission"}))
    settings.SITAWARE_BASEMAP = str(mission)
    zipped = client.get("/map/basemap.geojson", headers={"Accept-Encoding": "gzip"})
    assert json.loads(gzip.decompress(zipped.content))["name"] == "mission" and zipped["ETag"] != etag
    mission.write_text(json.dumps({"type": "FeatureCollection", "features": [], "name": "changed"}))
    changed = client.get("/map/basemap.geojson", headers={"Accept-Encoding": "gzip", "If-None-Match": zipped["ETag"]})
    assert changed.status_code == 200 and json.loads(gzip.decompress(changed.content))["name"] == "changed"


def test_points_are_the_newest_in_order_on_both_query_paths(signed_in, make_record, monkeypatch):
    """The points are read unordered and sorted in Python (all matches) or sorted on an expression (a capped
    answer); both must give exactly the newest, newest first, as ORDER BY occurred_at DESC, id DESC does."""
    import datetime as dt

    from sitaware.core.scope import actor_for
    from sitaware.records import services as records
    from sitaware.web import services

    base = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    for i in range(12):
        make_record("ana", occurred_at=base + dt.timedelta(hours=i % 5), latitude=4.36 + i * 1e-3, longitude=18.55)
    client = signed_in("ana")
    actor = actor_for(client.session and __import__("django.contrib.auth", fromlist=["get_user_model"])
                      .get_user_model().objects.get(username="ana"))
    qs = services.mappable(actor, records.RecordFilter())
    expected = [str(i) for i in qs.order_by("-occurred_at", "-id").values_list("id", flat=True)]
    everything = services.points_payload(actor, qs, qs.count())
    assert [row[0] for row in everything["rows"]] == expected and not everything["truncated"]
    monkeypatch.setattr(services, "POINT_CAP", 5)
    capped = services.points_payload(actor, qs, qs.count())
    assert [row[0] for row in capped["rows"]] == expected[:5] and capped["truncated"]
    monkeypatch.setattr(services, "SORT_AFTER_FILTER", 0)  # the time-index path gives the same answer
    assert services.points_payload(actor, qs, qs.count())["rows"] == capped["rows"]
