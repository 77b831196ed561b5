"""The risk-map pages (issue 5): a form that asks the analytics service for a risk map (same validation, limits,
roles, kill switch and scope as the API), the map as a recommendation (cells by expected count with their range,
top cells and why, model and data cut-off) decided through the review queue's own decision path; EN/FR; a browser
draws it and axe-core finds no critical or serious violation."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from tests.conftest import record_payload
from tests.test_analytics_forecast_service import BBOX, HOT, KEY, PATROL_SPOT, _load
from tests.web_browser_support import (  # noqa: F401
    PASSWORD,
    browser_fixture,
    live_server_fixture,
    new_page,
    screenshots_dir,
    serious_axe_violations,
    sign_in,
)

FORM = {"categories": ["police.armed_robbery"], "bbox": ",".join(map(str, BBOX)), "admin1": "", "resolution": "8",
        "horizon_days": "7", "model": "default", "patrol_records": "exclude", "top_n": "10",
        "exploration_share": "0.2"}


@pytest.fixture
def switched_on(world, actor):
    from sitaware.oversight import services

    services.ensure_builtin_components()
    services.set_enabled(actor("adam"), KEY, True, reason="model card read")


def _recent(n: int, centre: tuple[float, float], seed: int, *, source: str = "community", days: float = 150,
            spread: float = 0.003) -> list[dict]:
    """Published events over the last `days` (the form forecasts from now), around `centre`."""
    rng = np.random.default_rng(seed)
    now = dt.datetime.now(dt.UTC)
    return [record_payload(occurred_at=(now - dt.timedelta(days=float(rng.uniform(0.5, days)))).isoformat(),
                           latitude=centre[0] + rng.normal(0, spread), longitude=centre[1] + rng.normal(0, spread),
                           source_type=source, status="published", external_source="test",
                           external_id=f"{seed}-{i}") for i in range(n)]


@pytest.fixture
def events(switched_on, actor):
    # A hotspot at PK5, hotter in the last month, and reports elsewhere that only patrols made (left out).
    _load(actor, "sam", _recent(45, HOT, 1) + _recent(20, HOT, 3, days=20, spread=0.002)
          + _recent(25, PATROL_SPOT, 2, source="patrol_report", spread=0.001))


def _json(html: str, element_id: str) -> dict:
    return json.loads(html.split(f'<script id="{element_id}" type="application/json">')[1].split("</script>")[0])


@pytest.fixture
def made(client, world, events):
    """A risk map requested through the page's form by the analyst; returns its page's URL."""
    client.force_login(world.users["ana"])
    response = client.post("/risk-maps/", FORM)
    assert response.status_code == 302, response.content.decode()[:2000]
    return response["Location"]


def test_the_form_requests_a_risk_map_through_the_service_and_shows_it(client, world, made):
    from sitaware.analytics.models import RiskMap

    found = RiskMap.objects.get()
    assert made == f"/risk-maps/{found.id}/"
    rec = found.recommendation
    assert rec.status == "pending" and rec.requested_by == world.users["ana"]
    assert found.config["area"] == {"bbox": list(BBOX)} and found.config["categories"] == ["police.armed_robbery"]
    html = client.get(made).content.decode()
    spec = _json(html, "risk-spec")
    rows = spec["sources"]["risk"]["cells"]
    # Every cell with an expectation, highest first, as [cell, expected, lower, upper, role]; patrol and
    # exploration cells marked (1, 2).
    with_expectation = sorted(found.cells, key=lambda c: (-c["expected"], c["cell"]))
    assert [r[:4] for r in rows[:len(with_expectation)]] == [
        [c["cell"], c["expected"], c["lower"], c["upper"]] for c in with_expectation]
    roles = {r[0]: r[4] for r in rows}
    assert all(roles[c] == 1 for c in found.patrol_cells) and all(roles[c] == 2 for c in found.exploration_cells)
    assert spec["layers"][0]["paint"]["fill-color"][1] == ["get", "expected"]
    # Top cells with why, model and cut-off, in text.
    top = html.split('id="top-cells"')[1].split("</table>")[0]
    for cell in rec.output["top"]:
        assert f"<code>{cell['cell']}</code>" in top
        assert f"{cell['recent_events']} event(s) here and {cell['neighbour_events']} in neighbouring cells" in top
    assert rec.model_id in html and rec.model_version in html
    assert f"change log #{rec.output['cut_off']['change_log_seq']}" in html
    assert "25 patrol-discovered records left out" in html
    assert "https://" not in html and "http://" not in html
    # Ana (analyst) may not decide on risk maps: no form; the listing shows the map.
    assert 'name="outcome"' not in html
    assert made in client.get("/risk-maps/").content.decode()


def test_deciding_from_the_page_uses_the_review_queues_decision_path(client, world, made):
    from sitaware.analytics.models import RiskMap

    found = RiskMap.objects.get()
    rec = found.recommendation
    client.force_login(world.users["sam"])
    assert f'href="{made}"' in client.get("/review/").content.decode()  # the queue links to the map page
    html = client.get(made).content.decode()
    assert f'action="/review/{rec.id}/decide"' in html and f'name="next" value="{made}"' in html
    assert " checked" not in html.split('id="decide-title"')[1]  # no default decision
    response = client.post(f"/review/{rec.id}/decide", {"outcome": "accept", "reason": "matches the sector's view",
                                                        "next": made})
    assert response.status_code == 302 and response["Location"] == made
    found.refresh_from_db()
    assert found.accepted_at is not None and found.accepted_patrol_cells == found.patrol_cells
    assert "matches the sector" in client.get(made).content.decode()


def test_bad_input_gets_the_services_messages_next_to_the_fields_and_stores_nothing(client, world, events):
    from sitaware.analytics.models import RiskMap

    client.force_login(world.users["ana"])
    response = client.post("/risk-maps/", {**FORM, "resolution": "11", "horizon_days": "200"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="e-resolution" class="field-error">H3 resolution between 5' in html
    assert 'id="e-horizon_days" class="field-error">between 1 and 92 days' in html
    assert 'value="200"' in html and 'value="police.armed_robbery" selected>' in html  # typed and chosen: kept
    response = client.post("/risk-maps/", {**FORM, "admin1": "Bangui"})
    assert response.status_code == 400 and "give exactly one of bbox, admin1 or cells" in response.content.decode()
    response = client.post("/risk-maps/", {**FORM, "top_n": "ten"})
    assert response.status_code == 400 and 'id="e-top_n" class="field-error">give a whole number' in \
        response.content.decode()
    assert not RiskMap.objects.exists()


def test_a_switched_off_component_refuses_with_the_manual_path(client, world, events, actor):
    from sitaware.analytics.models import RiskMap
    from sitaware.oversight import services

    services.set_enabled(actor("adam"), KEY, False, reason="suspended for review")
    client.force_login(world.users["ana"])
    response = client.post("/risk-maps/", FORM)
    assert response.status_code == 423 and "switched off" in response.content.decode()
    assert not RiskMap.objects.exists()


def test_reporters_read_but_do_not_request_and_strangers_are_refused(client, world, events):
    from django.contrib.auth import get_user_model

    from sitaware.analytics.models import RiskMap

    client.force_login(world.users["rita"])
    html = client.get("/risk-maps/").content.decode()
    assert 'id="risk-form"' not in html and "requested by analysts" in html
    assert client.post("/risk-maps/", FORM).status_code == 403
    assert not RiskMap.objects.exists()
    client.logout()
    response = client.get("/risk-maps/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client.force_login(get_user_model().objects.create_user(username="stranger", password=PASSWORD))
    assert client.get("/risk-maps/").status_code == 403


def test_another_organisation_never_sees_the_risk_map(client, world, made):
    client.force_login(world.users["hugo"])
    assert client.get(made).status_code == 404
    assert made not in client.get("/risk-maps/").content.decode()
    assert client.get("/risk-maps/not-a-uuid/").status_code == 404


def test_the_pages_speak_french(client, world, made):
    client.force_login(world.users["ana"])
    client.post("/i18n/setlang/", {"language": "fr", "next": "/risk-maps/"})
    html = client.get("/risk-maps/").content.decode()
    for french in ("Cartes de risque", "Demander une carte de risque", "Taille des cellules (résolution H3)",
                   "Horizon (jours)", "Calculer la carte de risque"):
        assert french in html, french
    html = client.get(made).content.decode()
    for french in ("Incidents attendus par cellule", "Cellules en tête et pourquoi", "Date de coupure des données",
                   "cellule de patrouille proposée", "événement(s) ici"):
        assert french in html, french


def test_the_page_ships_at_most_the_cap_of_cells(monkeypatch):
    from sitaware.web import mapspecs

    monkeypatch.setattr(mapspecs, "RISK_CELLS_MAX", 3)
    cells = [{"cell": f"88{i:013x}", "expected": 1 / (i + 1), "lower": 0, "upper": 2} for i in range(10)]
    spec, left_out = mapspecs.risk_map(cells, patrol=["88000000000009"], exploration=[])
    rows = spec["sources"]["risk"]["cells"]
    # The three highest, plus the patrol cell that is not among them (always drawn, outlined).
    assert [r[0] for r in rows] == [cells[0]["cell"], cells[1]["cell"], cells[2]["cell"], "88000000000009"]
    assert left_out == 7 and rows[-1][4] == 1


def test_the_browser_draws_the_risk_map_and_axe_finds_nothing_serious(live_server_url, made, browser):
    out = screenshots_dir()
    for language in ("en", "fr"):
        page = new_page(browser, locale="fr-FR" if language == "fr" else "en-GB")
        sign_in(page, live_server_url, "sam", made)
        if language == "fr":
            with page.expect_navigation():  # the language form posts and comes back to this page
                page.select_option("select[name=language]", "fr")
            assert page.locator("html").get_attribute("lang") == "fr"
        page.wait_for_function("document.getElementById('risk-map').dataset.mapkitState === 'drawn'",
                               timeout=30_000)
        count = "document.getElementById('risk-map').sitawareMap.queryRenderedFeatures({layers: ['risk-fill']}).length"
        assert page.evaluate(count) >= 1
        # Colour by the high end of the range: the map's paint follows the choice.
        page.check("input[name=colour-by][value=upper]")
        assert page.evaluate("JSON.stringify(document.getElementById('risk-map').sitawareMap"
                             ".getPaintProperty('risk-fill', 'fill-color'))").startswith('["step",["get","upper"]')
        page.check("input[name=colour-by][value=expected]")
        page.wait_for_timeout(800)
        page.screenshot(path=str(out / f"risk-map-{language}.png"))  # the facts and the map
        assert serious_axe_violations(page) == []
        page.goto(f"{live_server_url}/risk-maps/")
        assert serious_axe_violations(page) == []
        assert page.outside_requests == []
        assert (out / f"risk-map-{language}.png").stat().st_size > 10_000
        page.context.close()
