"""A results framework built in a real browser (Chromium through Playwright), in English and French: a new
framework, an objective → outcome → output, a computed count indicator from the formula builder, and activation
refused with what is missing said in words. axe-core on each page; screenshots framework-*.png for the docs.
The formula builder shows each operational measure only the fields it takes (CSS, no script), units and known areas
as lists; a value is entered by hand with its breakdown."""

from __future__ import annotations

import pytest

from tests import test_assessment_engine as shared
from tests.web_browser_support import (  # noqa: F401 (fixtures are used by name)
    browser_fixture,
    live_server_fixture,
    new_page,
    screenshots_dir,
    serious_axe_violations,
    sign_in,
)

plan = shared.plan  # the fixture

WORDS = {
    "en": {"gap": "the baseline value is missing", "owner": "the indicator has no owner"},
    "fr": {"gap": "la valeur de référence manque", "owner": "l'indicateur n'a pas de responsable"},
}


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_framework_is_built_in_the_browser_and_activation_names_what_is_missing(live_server_url, world, browser,
                                                                                  language):
    from sitaware.assessment.models import Indicator, ResultsFramework

    shots = screenshots_dir()
    page = new_page(browser, locale="fr-FR" if language == "fr" else "en-GB", viewport={"width": 1280, "height": 900})
    sign_in(page, live_server_url, "sam", "/assessment/frameworks/")  # a supervisor: may plan and activate
    problems = {"list": serious_axe_violations(page)}
    page.fill("#n-code", "cpas")
    page.fill("#n-title", "Protection des civils" if language == "fr" else "Protection of civilians")
    page.screenshot(path=str(shots / f"framework-list-{language}.png"), full_page=True)
    page.click("#create")
    page.wait_for_selector("#tree")

    def add(fid: str, code: str, title: str) -> None:
        page.click(f"details:has(#{fid}-code) > summary")
        page.fill(f"#{fid}-code", code)
        page.fill(f"#{fid}-title", title)
        page.click(f"#{fid}-add")
        page.wait_for_selector(f"text={code} {title}")

    add("obj", "O1", "Bangui")
    add("oc-O1", "OC1", "Crime")
    add("op-OC1", "OP1", "Patrols")
    problems["framework"] = serious_axe_violations(page)

    page.click("#add-indicator-OP1")
    page.wait_for_selector("#indicator-form")
    page.fill("#i-code", "I1")
    page.fill("#i-name", "Vols à main armée" if language == "fr" else "Armed robberies")
    page.fill("#i-unit", "incidents")
    page.fill("#i-target_value", "5")
    page.fill("#i-target_period", "2025")
    page.select_option("#f-type", "count")
    page.select_option("#f-categories", "police.armed_robbery")
    page.check("#f-statuses-verified")
    page.check("#f-statuses-published")
    problems["indicator-new"] = serious_axe_violations(page)
    page.screenshot(path=str(shots / f"framework-indicator-{language}.png"), full_page=True)
    page.click("#save-indicator")
    page.wait_for_selector("#gaps")

    fw = ResultsFramework.objects.get(code="cpas")
    ind = Indicator.objects.get(framework=fw, code="I1")
    assert ind.definitions.get().formula == {"type": "count", "filter": {"categories": ["police.armed_robbery"],
                                                                         "statuses": ["published", "verified"]}}
    page.click("#activate-indicator")
    page.wait_for_selector("#activate-problems")
    refused = page.inner_text("#activate-problems")
    assert WORDS[language]["gap"] in refused and WORDS[language]["owner"] in refused
    assert "baseline_value" not in refused  # words, not field names
    ind.refresh_from_db()
    assert ind.status == "draft"
    problems["indicator"] = serious_axe_violations(page)
    page.screenshot(path=str(shots / f"framework-activation-{language}.png"), full_page=True)

    page.click("#back")
    page.wait_for_selector('tr[data-indicator="I1"]')
    page.screenshot(path=str(shots / f"framework-tree-{language}.png"), full_page=True)
    assert not any(problems.values()), problems
    assert page.outside_requests == []


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_formula_builder_shows_each_operational_measure_only_its_own_fields(live_server_url, world, plan,
                                                                                 browser, language):
    import datetime as dt

    from sitaware.assessment.models import Indicator, IndicatorValue

    by_area = plan.indicator(code="A1", formula=shared.ROBBERY, disaggregation=["area"])
    IndicatorValue.objects.create(indicator=by_area, organisation=world.unpol, period_start=dt.date(2025, 3, 1),
                                  period_end=dt.date(2025, 4, 1), disaggregation={"area": "Ouham"},
                                  disaggregation_key='{"area":"Ouham"}', value=3, source="computed",
                                  produced_by_label="system", sensitivity=1)
    page = new_page(browser, locale="fr-FR" if language == "fr" else "en-GB")
    sign_in(page, live_server_url, "sam", f"/assessment/frameworks/{plan.framework.id}/indicators/new")
    page.select_option("#i-output_id", str(plan.output.pk))
    page.fill("#i-code", "T1")
    page.fill("#i-name", "Délai de décision" if language == "fr" else "Time to decide")

    def shown(*selectors: str) -> dict[str, bool]:
        return {s: page.is_visible(s) for s in selectors}

    record_only = ("#f-field", "#f-kinds-incident", "#f-statuses-verified", "#f-source_types", "#num-type",
                   "#i-factor")
    page.select_option("#f-type", "patrol_coverage")
    page.fill("#f-min_priority", "abc")  # left over when the type changes: never sent
    assert all(shown("#f-basis", "#f-weighting", "#f-min_priority", "#f-sources-alert", "#f-units",
                     "#f-unit-bangui-hq", "#f-unit-bria", "#f-sensitivity_max").values())
    assert not any(shown("#f-outcomes-accept", "#f-statistic", "#f-categories", "#f-admin1", "#f-area-1",
                         *record_only).values())
    problems = {"patrol_coverage": serious_axe_violations(page)}
    page.select_option("#f-type", "alert_decision")
    assert all(shown("#f-outcomes-accept", "#f-statistic", "#f-unit", "#f-categories", "#f-admin1", "#f-area-1",
                     "#f-sensitivity_max").values())
    assert not any(shown("#f-basis", "#f-min_priority", "#f-sources-alert", "#f-units", "#f-unit-bria",
                         *record_only).values())
    problems["alert_decision"] = serious_axe_violations(page)
    page.select_option("#f-statistic", "mean")
    page.check("#f-outcomes-accept")
    assert page.get_attribute("#f-area-1", "value") == "Ouham"  # known from the figures by area
    page.check("#f-area-1")
    page.fill("#f-admin1", "Bangui")
    page.click("#save-indicator")
    page.wait_for_selector("#gaps")
    assert Indicator.objects.get(code="T1").definitions.get().formula == {
        "type": "alert_decision", "statistic": "mean", "unit": "hours",
        "filter": {"outcomes": ["accept"], "admin1": ["Bangui", "Ouham"]}}
    assert not any(problems.values()), problems
    assert page.outside_requests == []


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_value_is_entered_by_hand_with_its_breakdown(live_server_url, world, plan, browser, language):
    from sitaware.assessment.models import IndicatorValue

    ind = plan.indicator(code="E2", data_source="entered",
                         disaggregation=["area", "unit", "category", "sex", "age_group"])
    page = new_page(browser, locale="fr-FR" if language == "fr" else "en-GB", viewport={"width": 1280, "height": 900})
    sign_in(page, live_server_url, "ana", f"/assessment/indicators/{ind.id}/")
    problems = {"form": serious_axe_violations(page)}
    page.fill("#i-period", "2025-Q1")  # a quarter for a monthly indicator: refused, nothing typed lost
    page.fill("#i-value", "12")
    page.select_option("#v-dis-unit", "bria")
    page.fill("#v-dis-sex", "female")
    page.fill("#v-dis-age_group", "18-35")
    page.fill("#i-comment", "survey" if language == "en" else "enquête")
    page.click("#enter-value")
    page.wait_for_selector("#e-period")
    assert page.input_value("#v-dis-unit") == "bria" and page.input_value("#v-dis-sex") == "female"
    problems["refused"] = serious_axe_violations(page)
    page.fill("#i-period", "2025-03")
    page.click("#enter-value")
    page.wait_for_selector("td.breakdown")
    v = IndicatorValue.objects.get(indicator=ind)
    assert v.disaggregation == {"unit": "bria", "sex": "female", "age_group": "18-35"}
    assert "bria" in page.inner_text("td.breakdown")
    problems["listed"] = serious_axe_violations(page)
    page.screenshot(path=str(screenshots_dir() / f"framework-value-breakdown-{language}.png"), full_page=True)
    assert not any(problems.values()), problems
    assert page.outside_requests == []
