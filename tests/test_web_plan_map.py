"""The patrol-plan pages (issue 6): a plan (proposal or approved) on the map per unit — ordered visits with
arrival and departure, route lines from the plan's GeoJSON export, candidate cells covered or not and why —
and, when tracked, plan vs. actual (made, late, missed) with the positions trail. Read-only, through the planning
services: scope decides who sees it; EN/FR; a browser draws it and axe-core finds no critical or serious
violation."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.test_planning_plans_support import payload, switch_on
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
def proposed(world, actor):
    from sitaware.planning import services

    switch_on(actor)
    return services.propose_plan(actor("ana"), payload())


@pytest.fixture
def tracked(proposed, actor):
    """Approved, one visit followed on time, one 30 minutes late, the rest missed; plan vs. actual stored."""
    from sitaware.planning import services, tracking

    plan = services.decide_plan(actor("sam"), proposed.id, "approve", "ok for the morning shift")
    visits = list(plan.visits.filter(patrol="hq-1").order_by("order"))
    points = []
    for visit, late in ((visits[0], 0), (visits[1], 1800)):
        begin = visit.planned_start + dt.timedelta(seconds=late)
        points += [{"at": (begin + dt.timedelta(seconds=120 * i)).isoformat(), "lat": visit.latitude,
                    "lon": visit.longitude} for i in range(9)]
    tracking.report_positions(actor("rita"), plan.id, "hq-1", points)
    tracking.plan_vs_actual(actor("sam"), plan.id)
    plan.refresh_from_db()
    return plan


def _page(client, user, plan) -> str:
    client.force_login(user)
    response = client.get(f"/plans/{plan.id}/")
    assert response.status_code == 200
    return response.content.decode()


def _spec(html: str) -> dict:
    return json.loads(html.split('<script id="plan-spec" type="application/json">')[1].split("</script>")[0])


def test_a_proposal_is_drawn_per_unit_from_the_plans_geojson_export(client, world, proposed):
    from sitaware.planning import exports

    html = _page(client, world.users["ana"], proposed)
    spec = _spec(html)
    exported = exports.geojson_of(proposed)
    features = spec["sources"]["plan"]["features"]
    # The export's features, each with its unit's colour; no trail before any position.
    assert [f["geometry"] for f in features] == [f["geometry"] for f in exported["features"]]
    assert all(f["properties"]["colour"].startswith("#") for f in features)
    assert {f["properties"]["kind"] for f in features} == {"route", "base", "visit"}
    # Candidate cells as H3 ids, planned (1) or not (0), as the plan's decisions say.
    cells = dict(spec["sources"]["cells"]["cells"])
    assert cells == {c: int(bool(d["planned"])) for c, d in proposed.decisions.items()}
    # The same in text: ordered visits with arrival and departure per unit, why each cell is in or out.
    for visit in proposed.visits.all():
        assert f"<code>{visit.cell}</code>" in html
        assert f"{visit.planned_arrival.astimezone(dt.UTC):%H:%M}" in html
        assert f"{visit.planned_departure.astimezone(dt.UTC):%H:%M}" in html
    assert "hq-1 (bangui-hq) · vehicle" in html and "hq-2 (bangui-hq) · foot" in html
    decisions = html.split('id="cell-decisions"')[1].split("</table>")[0]
    assert decisions.count("<tr>") == len(proposed.decisions) + 1
    assert "chosen for its priority" in decisions
    assert "decide in the review queue" in html and f"#rec-{proposed.recommendation_id}" in html
    assert "Plan vs. actual" not in html  # not tracked
    assert "https://" not in html and "http://" not in html
    # Viewing is not exporting: nothing was logged as handed to a unit.
    from sitaware.core.models import ChangeEntry

    assert not ChangeEntry.objects.filter(action="plan.export").exists()


def test_a_tracked_plan_shows_made_late_missed_and_the_trail(client, world, tracked):
    html = _page(client, world.users["sam"], tracked)
    summary = tracked.actual["summary"]
    assert summary["made"] == 1 and summary["late"] == 1
    assert (f"{summary['made']} made, {summary['late']} late, {summary['missed']} missed of {summary['planned']} "
            "planned visits") in html
    spec = _spec(html)
    features = spec["sources"]["plan"]["features"]
    trail = [f for f in features if f["properties"]["kind"] == "trail"]
    assert len(trail) == 1 and trail[0]["properties"]["unit"] == "hq-1"
    assert len(trail[0]["geometry"]["coordinates"]) == 18
    outcomes = {(f["properties"]["unit"], f["properties"]["order"]): f["properties"]["outcome"]
                for f in features if f["properties"]["kind"] == "visit"}
    assert outcomes[("hq-1", 1)] == "made" and outcomes[("hq-1", 2)] == "late"
    assert all(o == "missed" for (unit, _), o in outcomes.items() if unit == "hq-2")
    assert "30 min after the planned start" in html
    assert "18 positions reported" in html


def test_the_trail_is_thinned_to_the_cap(monkeypatch):
    from sitaware.web import mapspecs

    monkeypatch.setattr(mapspecs, "TRAIL_MAX", 10)
    points = [[18.5 + i / 1000, 4.3] for i in range(95)]
    spec = mapspecs.plan({"features": []}, [], {}, {}, {"hq-1": points}, {"hq-1": "#000000"})
    line = spec["sources"]["plan"]["features"][0]["geometry"]["coordinates"]
    assert len(line) == 10 and line[0] == points[0] and line[-1] == points[-1]


def test_another_organisation_never_sees_the_plan(client, world, tracked):
    client.force_login(world.users["hugo"])
    assert client.get(f"/plans/{tracked.id}/").status_code == 404
    assert str(tracked.id) not in client.get("/plans/").content.decode()


def test_the_plan_pages_deny_by_default(client, world, proposed):
    from django.contrib.auth import get_user_model

    for url in ("/plans/", f"/plans/{proposed.id}/"):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client.force_login(get_user_model().objects.create_user(username="stranger", password=PASSWORD))
    assert client.get(f"/plans/{proposed.id}/").status_code == 403
    client.force_login(world.users["ana"])
    assert f"/plans/{proposed.id}/" in client.get("/plans/").content.decode()


def test_the_plan_page_speaks_french(client, world, tracked):
    client.force_login(world.users["sam"])
    client.post("/i18n/setlang/", {"language": "fr", "next": "/plans/"})
    assert "Plans de patrouille" in client.get("/plans/").content.decode()
    html = client.get(f"/plans/{tracked.id}/").content.decode()
    for french in ("Plan de patrouille", "Itinéraires sur la carte", "Visites par unité", "Arrivée", "Départ",
                   "Pourquoi chaque cellule est retenue ou non", "Prévu / réalisé", "en retard", "manquée"):
        assert french in html, french


def test_the_browser_draws_the_plan_and_axe_finds_nothing_serious(live_server_url, tracked, browser):
    out = screenshots_dir()
    for language in ("en", "fr"):
        page = new_page(browser, locale="fr-FR" if language == "fr" else "en-GB")
        sign_in(page, live_server_url, "sam", f"/plans/{tracked.id}/")
        if language == "fr":
            with page.expect_navigation():  # the language form posts and comes back to this page
                page.select_option("select[name=language]", "fr")
            assert page.locator("html").get_attribute("lang") == "fr"
        page.wait_for_function("document.getElementById('plan-map').dataset.mapkitState === 'drawn'",
                               timeout=30_000)
        for layer in ("route", "visit", "trail", "cells-fill"):
            count = (f"document.getElementById('plan-map').sitawareMap.queryRenderedFeatures({{layers: ['{layer}']}})"
                     ".length")
            assert page.evaluate(count) >= 1, layer
        page.wait_for_timeout(800)
        page.screenshot(path=str(out / f"plan-{language}.png"))  # the facts and the map
        assert serious_axe_violations(page) == []
        page.goto(f"{live_server_url}/plans/")
        assert serious_axe_violations(page) == []
        assert page.outside_requests == []
        assert (out / f"plan-{language}.png").stat().st_size > 10_000
        page.context.close()
