"""Screenshots of the operations pages in English and French (saved to docs/screenshots/, or to
SITAWARE_SCREENSHOTS_DIR), and axe-core on the form, review queue and dashboard: no critical or serious
violation of the WCAG 2 A/AA rules."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.web_browser_support import (  # noqa: F401
    browser_fixture,
    live_server_fixture,
    new_page,
    screenshots_dir,
    serious_axe_violations,
    sign_in,
)

PLACES = [  # (category, kind, admin1, place, lat, lon, days ago)
    ("police.armed_robbery", "incident", "Bangui", "PK5", 4.3612, 18.5550, 2),
    ("police.theft", "incident", "Bangui", "Boy-Rabe", 4.3920, 18.5370, 12),
    ("conflict.battles", "event", "Ouham", "Bossangoa", 6.4926, 17.4552, 40),
    ("police.assault", "incident", "Ombella-M'Poko", "Bimbo", 4.2570, 18.4160, 65),
    ("activity.patrol", "activity", "Haute-Kotto", "Bria", 6.5423, 21.9863, 5),
    ("humanitarian.displacement", "event", "Ouaka", "Bambari", 5.7630, 20.6730, 95),
]


@pytest.fixture
def scene(world, make_record, actor):
    from sitaware.oversight import services as oversight
    from sitaware.oversight.suggest_category import suggest_category

    now = dt.datetime.now(dt.UTC)
    made = []
    for category, kind, admin1, place, lat, lon, days in PLACES:
        made.append(make_record("ana", status="verified", category=category, kind=kind, admin1=admin1,
                                place_name=place, latitude=lat, longitude=lon,
                                occurred_at=(now - dt.timedelta(days=days)).isoformat(),
                                title=f"{category.split('.')[-1].replace('_', ' ').capitalize()} at {place}"))
    oversight.ensure_builtin_components()
    theft = make_record("ana", title="Shots fired and armed men at the market", category="police.theft",
                        narrative="Armed men fired shots; clashes between armed groups near the market.")
    suggest_category(actor("ana"), theft.id)
    return made


@pytest.mark.parametrize("language", ["en", "fr"])
def test_screenshots_and_accessibility_of_every_page(live_server_url, scene, browser, language):
    out = screenshots_dir()
    page = new_page(browser, locale="fr-FR" if language == "fr" else "en-GB")
    sign_in(page, live_server_url, "ana", "/map/")

    # The map with its points, then the record panel opened from "Records in view".
    page.wait_for_function("document.getElementById('map-status').textContent.length > 0 && "
                           "document.querySelectorAll('#in-view button').length > 0", timeout=30_000)
    page.wait_for_timeout(1500)  # let the basemap finish drawing
    page.screenshot(path=str(out / f"map-{language}.png"))
    page.locator("#in-view button").first.click()
    page.locator("#record-history li").first.wait_for(timeout=10_000)
    page.screenshot(path=str(out / f"record-panel-{language}.png"))

    problems: dict[str, list[str]] = {}
    page.goto(f"{live_server_url}/records/new")
    page.select_option("#f-category", "police.armed_robbery")
    page.fill("#f-title", "Roadblock" if language == "en" else "Barrage routier")
    page.fill("#f-lat", "95")
    page.fill("#f-lon", "18.55")
    page.click("#save")
    page.wait_for_function("document.getElementById('e-latitude').textContent.length > 0", timeout=10_000)
    page.screenshot(path=str(out / f"form-{language}.png"), full_page=True)
    problems["form"] = serious_axe_violations(page)

    page.goto(f"{live_server_url}/review/")
    page.screenshot(path=str(out / f"review-{language}.png"), full_page=True)
    problems["review"] = serious_axe_violations(page)

    page.goto(f"{live_server_url}/dashboard/")
    page.screenshot(path=str(out / f"dashboard-{language}.png"), full_page=True)
    problems["dashboard"] = serious_axe_violations(page)

    page.goto(f"{live_server_url}/records/?category=police.theft")
    problems["records"] = serious_axe_violations(page)

    assert not any(problems.values()), problems
    assert page.outside_requests == []
    for name in ("map", "record-panel", "form", "review", "dashboard"):
        assert (out / f"{name}-{language}.png").stat().st_size > 10_000, name
