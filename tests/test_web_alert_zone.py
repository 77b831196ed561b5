"""The alert zone in the review queue (issue 4): a pending early-warning alert shows its cells on a small offline
map beside the same facts in a table (window, observed vs expected, relative risk, p-value, recurrence interval,
cells, records); scope decides who sees it; the decision form is the queue's own; EN/FR; a browser draws it and
axe-core finds no critical or serious violation."""

from __future__ import annotations

import json
import re

import pytest

from tests.test_alerts_support import background, hotspot, load, make_detector, run, switch_on
from tests.web_browser_support import (  # noqa: F401
    PASSWORD,
    browser_fixture,
    live_server_fixture,
    new_page,
    screenshots_dir,
    serious_axe_violations,
    sign_in,
)


@pytest.fixture
def alert(world, actor):
    from sitaware.alerts.models import Alert

    switch_on(actor)
    load(actor, background(90, 1) + hotspot(24, 2))
    finished = run(actor, make_detector(actor))
    assert finished.status == "succeeded", finished.error
    return Alert.objects.filter(detector__organisation=world.unpol).order_by("-observed").first()


def _queue(client, user) -> str:
    client.force_login(user)
    response = client.get("/review/")
    assert response.status_code == 200
    return response.content.decode()


def _spec(html: str, rec_id) -> dict:
    return json.loads(html.split(f'<script id="zone-{rec_id}" type="application/json">')[1].split("</script>")[0])


def test_the_queue_shows_the_zone_on_a_map_beside_the_same_facts(client, world, alert):
    rec = alert.recommendation
    html = _queue(client, world.users["sam"])
    assert f'data-mapkit="zone-{rec.id}"' in html and 'role="region"' in html
    spec = _spec(html, rec.id)
    # Only the cell ids are shipped (hexagons are drawn in the browser), exactly the alert's cells.
    assert [row[0] for row in spec["sources"]["zone"]["cells"]] == alert.cells
    assert spec["basemap"]["type"] == "geojson" and spec["basemap"]["url"].startswith("/map/basemap.geojson")
    assert {layer["source"] for layer in spec["layers"]} == {"zone"}
    # The facts stay in text: window, observed vs expected, relative risk, p-value, recurrence, cells, records.
    section = html.split(f'id="zone-title-{rec.id}"')[1].split("</section>")[0]
    assert f"{alert.window_start:%Y-%m-%d} \u2013 {alert.window_end:%Y-%m-%d}" in section
    assert re.search(rf'Observed events</th><td class="num">{alert.observed}</td>', section)
    assert re.search(rf'Expected events</th><td class="num">{alert.expected:.1f}</td>', section)
    assert f"{alert.relative_risk:.2f}" in section and f"{alert.p_value:.4f}" in section
    assert f"{alert.recurrence_days:.0f} days" in section
    assert f"{len(alert.cells)} cell" in section and "H3 resolution 8" in section
    assert re.search(rf'Records in the cluster</th><td class="num">{len(alert.record_ids)}</td>', section)
    assert all(cell in section for cell in alert.cells)  # the cell ids, for keyboard and screen-reader users
    # The map library is loaded from this server only (vendored), and the decision form is the queue's.
    for asset in ("web/vendor/maplibre-gl/maplibre-gl.js", "web/vendor/h3-js/h3-js.umd.js", "web/mapkit.js"):
        assert f'src="/static/{asset}"' in html
    assert "https://" not in html and "http://" not in html
    assert f'action="/review/{rec.id}/decide"' in html and " checked" not in html


def test_another_organisation_never_sees_the_zone(client, world, alert):
    html = _queue(client, world.users["hugo"])
    assert str(alert.recommendation_id) not in html and "data-mapkit" not in html
    assert not any(cell in html for cell in alert.cells)
    assert "maplibre-gl.js" not in html  # no map library for a queue without zones


def test_a_queue_without_alerts_loads_no_map_library(client, world):
    assert "maplibre-gl.js" not in _queue(client, world.users["sam"])


def test_the_queue_denies_by_default(client, world):
    from django.contrib.auth import get_user_model

    response = client.get("/review/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client.force_login(get_user_model().objects.create_user(username="stranger", password=PASSWORD))
    assert client.get("/review/").status_code == 403


def test_the_zone_speaks_french(client, world, alert):
    client.force_login(world.users["sam"])
    client.post("/i18n/setlang/", {"language": "fr", "next": "/review/"})
    html = client.get("/review/").content.decode()
    assert 'lang="fr"' in html
    for french in ("Zone de l\u2019alerte", "Fenêtre temporelle", "Événements observés", "Événements attendus",
                   "Risque relatif", "Intervalle de récurrence", "Fiches de l\u2019agr\u00e9gat",
                   "Cellules de la zone"):
        assert french in html, french
    assert "La carte de la zone" in html or "Carte de la zone" in html


def test_deciding_returns_to_the_page_it_was_made_from_and_never_to_another_site(client, world, alert):
    rec = alert.recommendation
    client.force_login(world.users["sam"])
    response = client.post(f"/review/{rec.id}/decide", {"outcome": "reject", "reason": "already known",
                                                        "next": "https://example.org/"})
    assert response.status_code == 302 and response["Location"] == "/review/"
    rec.refresh_from_db()
    assert rec.status == "rejected"
    assert str(rec.id) not in client.get("/review/").content.decode()  # decided: it left the queue


def test_the_browser_draws_the_zone_and_axe_finds_nothing_serious(live_server_url, alert, browser):
    rec = alert.recommendation
    out = screenshots_dir()
    for language in ("en", "fr"):
        page = new_page(browser, locale="fr-FR" if language == "fr" else "en-GB")
        sign_in(page, live_server_url, "sam", "/review/")
        if language == "fr":
            with page.expect_navigation():  # the language form posts and comes back to this page
                page.select_option("select[name=language]", "fr")
            assert page.locator("html").get_attribute("lang") == "fr"
        box = page.locator(f'[data-mapkit="zone-{rec.id}"]')
        box.scroll_into_view_if_needed()
        page.wait_for_function(f"document.querySelector('[data-mapkit=\"zone-{rec.id}\"]').dataset.mapkitState "
                               "=== 'drawn'", timeout=30_000)
        drawn = page.evaluate(f"""() => document.querySelector('[data-mapkit="zone-{rec.id}"]').sitawareMap
            .queryRenderedFeatures({{layers: ['zone-fill']}}).length""")
        assert drawn >= 1, drawn  # the zone's hexagons are on the map, in view (fitted to them)
        page.wait_for_timeout(800)  # the basemap finishes drawing
        page.locator(f"#rec-{rec.id}").screenshot(path=str(out / f"review-alert-{language}.png"))
        assert serious_axe_violations(page) == []
        assert page.outside_requests == []
        assert (out / f"review-alert-{language}.png").stat().st_size > 10_000
        page.context.close()
