"""A dashboard built from the gallery in a real browser (Chromium through Playwright), in English and French:
the builder's preview, every chart type, a figure opened from the dashboard by keyboard down to its records,
axe-core on the three pages, screenshots for the docs (dashboard-assessment-en.png / -fr.png)."""

from __future__ import annotations

import datetime as dt
import random
import re

import pytest

from tests.conftest import _system
from tests.web_browser_support import (  # noqa: F401 (fixtures are used by name)
    browser_fixture,
    live_server_fixture,
    new_page,
    screenshots_dir,
    serious_axe_violations,
    sign_in,
)

AREAS = [("Bangui", 4.3612, 18.5550), ("Ouham", 6.4926, 17.4552), ("Ombella-M'Poko", 4.2570, 18.4160),
         ("Haute-Kotto", 6.5423, 21.9863), ("Ouaka", 5.7630, 20.6730)]
CATEGORIES = ["police.armed_robbery", "police.theft", "police.assault"]


@pytest.fixture
def performance(world, actor, make_record):
    """A plan of UNPOL with two computed indicators over 2025, records in five areas, two units."""
    from sitaware.assessment import services, values

    rng = random.Random(4)
    for month in range(1, 13):
        for _ in range(rng.randint(2, 5)):
            area, lat, lon = rng.choice(AREAS)
            author = "rex" if rng.random() < 0.3 else "ana"
            make_record(author, status="verified", category=rng.choice(CATEGORIES), admin1=area,
                        latitude=lat + rng.uniform(-.05, .05), longitude=lon + rng.uniform(-.05, .05),
                        reporting_unit="bria" if author == "rex" else "bangui-hq",
                        occurred_at=dt.datetime(2025, month, rng.randint(1, 27), 10, tzinfo=dt.UTC).isoformat(),
                        reported_at=dt.datetime(2025, month, 28, 10, tzinfo=dt.UTC).isoformat())
    ana = actor("ana")
    fw = services.create_framework(ana, {"code": "cpas", "title": "Protection of civilians"})
    o = services.add_objective(ana, fw.id, {"code": "O1", "title": "Safer prefectures"})
    oc = services.add_outcome(ana, o.pk, {"code": "OC1", "title": "Less violent crime"})
    op = services.add_output(ana, oc.pk, {"code": "OP1", "title": "Patrols and reporting"})
    base = {"output_id": op.pk, "frequency": "monthly", "baseline_period": "2024", "target_period": "2025",
            "owner": "ana", "disaggregation": ["area", "unit", "category"], "unit": "incidents"}
    made = [
        services.create_indicator(ana, fw.id, {**base, "code": "I1", "name": "Violent crime reported",
                                               "baseline_value": "6", "target_value": "3", "direction": "decrease",
                                               "formula": {"type": "count", "filter": {"statuses": ["verified"]}}}),
        services.create_indicator(ana, fw.id, {**base, "code": "I2", "name": "Armed robberies",
                                               "baseline_value": "2", "target_value": "1", "direction": "decrease",
                                               "formula": {"type": "count", "filter": {
                                                   "categories": ["police.armed_robbery"]}}}),
    ]
    for ind in made:
        values.compute(_system(), ind, dt.date(2025, 1, 1), dt.date(2026, 1, 1))
    return fw, made


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_dashboard_is_built_from_the_gallery_and_its_figures_drill_down(live_server_url, performance, browser,
                                                                          language):
    from sitaware.assessment.models import IndicatorValue

    _fw, (crime, robbery) = performance
    page = new_page(browser, locale="fr-FR" if language == "fr" else "en-GB", viewport={"width": 1360, "height": 900})
    sign_in(page, live_server_url, "ana", "/assessment/dashboards/")
    page.fill("#n-title", "Tableau de bord mensuel" if language == "fr" else "Monthly performance")
    page.click("#create")
    page.wait_for_selector("#build-form")
    problems = {"build": serious_axe_violations(page)}

    def add(chart: str, indicator, *, preview: bool = False, **fields: str) -> None:
        page.check(f"#chart-{chart}")
        page.select_option("#b-indicator", str(indicator.id))
        for name, value in fields.items():
            if name == "breakdown":
                page.select_option("#b-breakdown", value)
            else:
                page.fill(f"#b-{name}", value)
        if preview:
            page.click("#preview-button")
            page.wait_for_selector("#preview section.widget")
            assert page.locator("#preview svg").count() >= 1
            page.screenshot(path=str(screenshots_dir() / f"dashboard-builder-{language}.png"), full_page=True)
        page.click("#add-button")
        page.wait_for_selector("#charts")

    add("card", crime, last="2025-12")
    add("card", robbery, last="2025-12", breakdown="")
    add("timeseries", crime, preview=True, last="2025-12")
    add("map", crime, last="2025-12")
    add("table", crime, last="2025-12", periods="6")
    add("bar", robbery, last="2025-12", breakdown="category")
    assert page.locator(".chart-list li").count() == 6

    page.click("#view-link")
    page.wait_for_selector(".dash-grid section.widget")
    assert page.locator("section.widget").count() == 6
    # The prefectures are named as Natural Earth names them: each area of the latest month is its shaded outline.
    shaded = page.locator("svg.map path.area").count()
    assert shaded >= 1 and shaded == page.locator('section[data-chart="map"] table tbody tr').count()
    assert page.locator("svg.map circle").count() == 0 and page.locator("svg.chart").count() == 1
    assert page.locator("ul.legend.shades li").count() >= 1
    page.screenshot(path=str(screenshots_dir() / f"dashboard-assessment-{language}.png"), full_page=True)
    problems["dashboard"] = serious_axe_violations(page)

    # The first card's number, by keyboard: December's total and its drill-down.
    december = IndicatorValue.objects.get(indicator=crime, period_start=dt.date(2025, 12, 1), disaggregation_key="{}")
    link = page.locator(f'section.widget a[data-value-id="{december.pk}"]').first
    assert link.inner_text() == str(int(december.value))
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#record-total")
    assert int(page.get_attribute("#record-total", "data-count")) == december.record_count
    assert page.locator("tr[data-record-id]").count() == december.record_count
    assert re.search(r"\b2025-12\b", page.inner_text("h1"))
    problems["value"] = serious_axe_violations(page)
    assert not any(problems.values()), problems
    assert page.outside_requests == []
