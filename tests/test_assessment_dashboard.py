"""Indicator dashboards (issue 7, R-PA-04, R-SA-08): built from the gallery through services that log every
write, shown within the viewer's scope (partial figures said so, never the organisation's), every number a
link to its drill-down, whose records are the records counted (checked against an independent query)."""

from __future__ import annotations

import datetime as dt
import html
import re
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied

from tests import test_assessment_engine as shared
from tests.conftest import _system
from tests.test_assessment_engine import RANGE, ROBBERY, make

plan = shared.plan  # the fixture

JAN = dt.date(2025, 1, 1)


@pytest.fixture
def figures(plan, make_record):
    """An indicator broken down by area and unit, with records over three months, computed."""
    from sitaware.assessment import services, values

    ind = plan.indicator(formula=ROBBERY, disaggregation=["area", "unit"])
    make(make_record, 1)
    make(make_record, 1, admin1="Ouham", latitude=6.49, longitude=17.45)
    make(make_record, 2, admin1="Ouham", latitude=6.49, longitude=17.45)
    make(make_record, 3, author="rex", reporting_unit="bria", admin1="Haute-Kotto", latitude=6.54,
         longitude=21.98)
    make(make_record, 3, status="in_review")  # not counted (status)
    make(make_record, 3, sensitivity="public", admin1="Ouham", latitude=6.5, longitude=17.4)
    values.compute(_system(), ind, *RANGE)
    services.activate_indicator(_system(), ind.id)
    return ind


def _dashboard(actor, plan, title="Bangui security"):
    from sitaware.assessment.dashboards import services as dashboards

    return dashboards.create_dashboard(actor, {"framework_id": str(plan.framework.id), "title": title})


def _page(client, user, url):
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200, response.content[:800]
    return response.content.decode()


def _links(page: str) -> list[tuple[int, str]]:
    """(value id, number shown) of every figure link in the page's HTML (not the drawings)."""
    return [(int(i), html.unescape(text)) for i, text in
            re.findall(r'data-value-id="(\d+)"[^>]*>([^<]*)</a>', page)]


# ---------------------------------------------------------------- building


def test_a_dashboard_is_built_from_the_gallery_and_every_write_is_in_the_change_log(plan, figures, actor):
    from sitaware.assessment.dashboards import services as dashboards
    from sitaware.core.models import ChangeEntry

    ana = actor("ana")
    d = _dashboard(ana, plan)
    card = dashboards.add_widget(ana, d.id, {"chart": "card", "indicators": [str(figures.id)]})
    series = dashboards.add_widget(ana, d.id, {"chart": "timeseries", "indicators": [str(figures.id)],
                                               "style": "bar", "periods": 6})
    table = dashboards.add_widget(ana, d.id, {"chart": "table", "indicators": [str(figures.id)]})
    dashboards.move_widget(ana, d.id, table.pk, -2)
    assert [w.pk for w in dashboards.widgets_of(d)] == [table.pk, card.pk, series.pk]
    dashboards.change_widget(ana, d.id, series.pk, {"chart": "timeseries", "indicators": [str(figures.id)],
                                                    "breakdown": "", "style": "line"})
    dashboards.remove_widget(ana, d.id, card.pk)
    dashboards.change_dashboard(ana, d.id, {"title": "Bangui security, monthly"})
    actions = list(ChangeEntry.objects.filter(object_type="dashboard", object_id=str(d.id))
                   .order_by("seq").values_list("action", flat=True))
    assert actions == ["dashboard.create", "dashboard.widget.add", "dashboard.widget.add", "dashboard.widget.add",
                       "dashboard.widget.move", "dashboard.widget.change", "dashboard.widget.remove",
                       "dashboard.update"]
    last = ChangeEntry.objects.filter(object_type="dashboard").order_by("-seq").first()
    assert '"Bangui security, monthly"' in last.data and last.actor_label == "ana"
    dashboards.delete_dashboard(ana, d.id)
    assert ChangeEntry.objects.filter(object_type="dashboard", action="dashboard.delete").count() == 1


def test_charts_are_broken_down_by_default_by_the_indicators_first_key_they_can_use(plan, figures, actor):
    from sitaware.assessment.dashboards import services as dashboards

    ana = actor("ana")
    d = _dashboard(ana, plan)
    made = {chart: dashboards.add_widget(ana, d.id, {"chart": chart, "indicators": [str(figures.id)]})
            for chart in ("card", "timeseries", "map", "table")}
    assert {c: w.breakdown for c, w in made.items()} == {"card": "area", "timeseries": "area", "map": "area",
                                                          "table": "unit"}
    totals = dashboards.add_widget(ana, d.id, {"chart": "card", "indicators": [str(figures.id)], "breakdown": ""})
    assert totals.breakdown == ""


def test_a_chart_that_cannot_be_drawn_is_refused_naming_the_field(plan, figures, actor):
    from sitaware.assessment.dashboards import services as dashboards
    from sitaware.assessment.errors import AssessmentValidationError
    from sitaware.assessment.models import DashboardWidget

    ana = actor("ana")
    d = _dashboard(ana, plan)
    bare = plan.indicator(code="I2", formula=ROBBERY)  # no breakdown at all
    cases = [
        ({"chart": "map", "indicators": [str(bare.id)]}, "breakdown", "needs a breakdown"),
        ({"chart": "bar", "indicators": [str(figures.id)], "breakdown": "sex"}, "breakdown", "not broken down by sex"),
        ({"chart": "card", "indicators": ["nonsense"]}, "indicators", "no indicator nonsense"),
        ({"chart": "card", "indicators": [str(figures.id), str(bare.id)]}, "indicators", "at most 1"),
        ({"chart": "card", "indicators": [str(figures.id)], "first": "2025-Q1"}, "first", "reported monthly"),
        ({"chart": "timeseries", "indicators": [str(figures.id)], "first": "2025-06", "last": "2025-01"}, "last",
         "before the first"),
        ({"chart": "pie", "indicators": [str(figures.id)]}, "chart", ""),
    ]
    for payload, field, words in cases:
        with pytest.raises(AssessmentValidationError) as caught:
            dashboards.add_widget(ana, d.id, payload)
        problems = caught.value.problems
        assert any(p["field"] == field and words in p["message"] for p in problems), (payload, problems)
    assert DashboardWidget.objects.count() == 0


def test_building_follows_the_assessment_roles_and_stays_in_the_organisation(plan, figures, actor):
    from sitaware.assessment.dashboards import services as dashboards
    from sitaware.assessment.errors import NotFound

    d = _dashboard(actor("ana"), plan)
    widget = {"chart": "card", "indicators": [str(figures.id)]}
    with pytest.raises(PermissionDenied):  # reporters view, they do not build
        dashboards.create_dashboard(actor("rita"), {"framework_id": str(plan.framework.id), "title": "x"})
    with pytest.raises(PermissionDenied):
        dashboards.add_widget(actor("otto"), d.id, widget)  # oversight officers neither
    dashboards.add_widget(actor("sam"), d.id, widget)  # a supervisor may change an analyst's dashboard
    assert dashboards.get_dashboard(actor("rita"), d.id) == d  # and everyone of the organisation sees it
    for outsider in ("hugo", "sara"):
        with pytest.raises(NotFound):
            dashboards.get_dashboard(actor(outsider), d.id)
        with pytest.raises(NotFound):
            dashboards.create_dashboard(actor(outsider), {"framework_id": str(plan.framework.id), "title": "x"})
    assert dashboards.list_dashboards(actor("hugo")) == []


def test_a_supervisors_dashboard_is_not_changed_by_an_analyst(plan, figures, actor):
    from sitaware.assessment.dashboards import services as dashboards

    d = _dashboard(actor("sam"), plan)
    with pytest.raises(PermissionDenied):
        dashboards.add_widget(actor("ana"), d.id, {"chart": "card", "indicators": [str(figures.id)]})
    with pytest.raises(PermissionDenied):
        dashboards.delete_dashboard(actor("ana"), d.id)


# ---------------------------------------------------------------- showing and drilling down


@pytest.fixture
def full_dashboard(plan, figures, actor):
    from sitaware.assessment.dashboards import services as dashboards

    ana = actor("ana")
    d = _dashboard(ana, plan)
    for chart in ("card", "timeseries", "map", "table", "bar"):
        extra = {"breakdown": "area"} if chart == "bar" else {}
        dashboards.add_widget(ana, d.id, {"chart": chart, "indicators": [str(figures.id)], "first": "2025-01",
                                          "last": "2025-03", **extra})
    return d


def test_every_number_on_the_page_is_the_stored_figure_and_links_to_it(client, world, figures, full_dashboard):
    from sitaware.assessment.dashboards import data
    from sitaware.assessment.models import IndicatorValue

    page = _page(client, world.users["sam"], f"/assessment/dashboards/{full_dashboard.id}/")
    links = _links(page)
    assert len(links) > 20
    stored = {v.pk: v for v in IndicatorValue.objects.filter(indicator=figures)}
    for value_id, shown in links:
        assert shown == data.number_text(stored[value_id].value), value_id
    # The card: March total (2 robberies counted) with its light; the map draws Ouham and Haute-Kotto.
    march = IndicatorValue.objects.get(indicator=figures, period_start=dt.date(2025, 3, 1), disaggregation_key="{}")
    assert march.value == 2 and f'data-value-id="{march.pk}"' in page
    assert "partial-notice" not in page
    assert page.count("<svg class=\"map\"") == 1 and "Haute-Kotto" in page


def test_the_map_shades_each_area_with_a_legend_in_english_and_french(client, world, figures, full_dashboard):
    from sitaware.assessment.dashboards import svg

    page = _page(client, world.users["sam"], f"/assessment/dashboards/{full_dashboard.id}/")
    drawn = page[page.index('<svg class="map"'):]
    drawn = drawn[:drawn.index("</svg>")]
    # Ouham and Haute-Kotto, March's areas, are their outlines filled by their class, named and counted on the map.
    assert drawn.count('<path class="area"') == 2 and "<circle" not in drawn
    assert ">Ouham</text>" in drawn and ">Haute-Kotto</text>" in drawn
    assert "Each area is shaded by its figure in 2025-03: the darker, the higher." in page
    legend = re.search(r'<ul class="legend shades" aria-label="Shades of the map">(.*?)</ul>', page, re.S)
    assert legend and any(colour in legend.group(1) for colour in svg.SEQUENTIAL)
    client.post("/i18n/setlang/", {"language": "fr", "next": "/"})
    french = _page(client, world.users["sam"], f"/assessment/dashboards/{full_dashboard.id}/")
    assert "Chaque zone est teintée selon son chiffre en 2025-03 : plus elle est foncée, plus il est élevé." in french
    assert 'aria-label="Teintes de la carte"' in french


def test_the_drill_down_lists_exactly_the_records_counted(client, world, figures, full_dashboard):
    from sitaware.assessment.models import IndicatorValue
    from sitaware.records.models import Record

    page = _page(client, world.users["sam"], f"/assessment/dashboards/{full_dashboard.id}/")
    checked = 0
    for value_id, _shown in set(_links(page)):
        v = IndicatorValue.objects.get(pk=value_id)
        detail = _page(client, world.users["sam"], f"/assessment/values/{value_id}/?from={full_dashboard.id}")
        listed = set(re.findall(r'data-record-id="([0-9a-f-]+)"', detail))
        start = dt.datetime.combine(v.period_start, dt.time.min, tzinfo=dt.UTC)
        end = dt.datetime.combine(v.period_end, dt.time.min, tzinfo=dt.UTC)
        # Independent of the engine: the plain ORM over what the formula says.
        expected = Record.objects.filter(organisation__code="unpol", category="police.armed_robbery",
                                         status__in=["verified", "published"], occurred_at__gte=start,
                                         occurred_at__lt=end)
        for key, group in v.disaggregation.items():
            expected = expected.filter(**{"area": {"admin1": group}, "unit": {"reporting_unit__code": group}}[key])
        assert listed == {str(pk) for pk in expected.values_list("pk", flat=True)}, (v.period_start, v.disaggregation)
        assert len(listed) == v.record_count
        assert f'data-count="{len(listed)}"' in detail and "Back to" in detail
        checked += 1
    assert checked > 10


def test_a_narrower_viewer_sees_partial_figures_said_so_and_never_the_organisations(
        client, world, plan, make_record, actor):
    from sitaware.assessment import values
    from sitaware.assessment.dashboards import services as dashboards
    from sitaware.assessment.models import IndicatorValue

    ind = plan.indicator(formula=ROBBERY, disaggregation=["area"])
    make(make_record, 1)
    make(make_record, 1, admin1="Ouham")
    secret = make(make_record, 1, author="sam", sensitivity="strictly_confidential", admin1="Ouham")
    values.compute(_system(), ind, *RANGE)
    d = _dashboard(actor("ana"), plan)
    dashboards.add_widget(actor("ana"), d.id, {"chart": "card", "indicators": [str(ind.id)], "first": "2025-01",
                                               "last": "2025-01"})
    dashboards.add_widget(actor("ana"), d.id, {"chart": "bar", "indicators": [str(ind.id)], "breakdown": "area",
                                               "first": "2025-01", "last": "2025-01"})
    total = IndicatorValue.objects.get(indicator=ind, period_start=JAN, disaggregation_key="{}")
    ouham = IndicatorValue.objects.get(indicator=ind, period_start=JAN, disaggregation_key='{"area":"Ouham"}')
    assert (total.value, ouham.value) == (3, 2)

    sam = _page(client, world.users["sam"], f"/assessment/dashboards/{d.id}/")  # clearance 3: everything
    assert "partial-notice" not in sam and (total.pk, "3") in _links(sam) and (ouham.pk, "2") in _links(sam)

    ana = _page(client, world.users["ana"], f"/assessment/dashboards/{d.id}/")  # clearance 2
    assert 'id="partial-notice"' in ana
    assert (total.pk, "2") in _links(ana) and (ouham.pk, "1") in _links(ana)
    assert (total.pk, "3") not in _links(ana) and (ouham.pk, "2") not in _links(ana)
    detail = _page(client, world.users["ana"], f"/assessment/values/{ouham.pk}/")
    assert 'id="partial-notice"' in detail and 'data-value="1.000000"' in detail and str(secret.id) not in detail
    assert 'data-count="1"' in detail


def test_a_partial_figure_follows_the_records_at_once(client, world, plan, make_record, actor):
    from sitaware.assessment import values
    from sitaware.assessment.dashboards import services as dashboards
    from sitaware.assessment.models import IndicatorValue

    ind = plan.indicator(formula=ROBBERY)
    make(make_record, 1)
    make(make_record, 1, author="sam", sensitivity="strictly_confidential")
    values.compute(_system(), ind, *RANGE)
    d = _dashboard(actor("ana"), plan)
    dashboards.add_widget(actor("ana"), d.id, {"chart": "card", "indicators": [str(ind.id)], "first": "2025-01",
                                               "last": "2025-01", "breakdown": ""})
    total = IndicatorValue.objects.get(indicator=ind, period_start=JAN, disaggregation_key="{}")
    url = f"/assessment/dashboards/{d.id}/"
    assert (total.pk, "1") in _links(_page(client, world.users["ana"], url))
    assert (total.pk, "1") in _links(_page(client, world.users["ana"], url))  # again (kept, not recomputed)
    make(make_record, 1, day=12)  # one more robbery ana may see: her figure counts it without a refresh
    assert (total.pk, "2") in _links(_page(client, world.users["ana"], url))


def test_the_api_drill_down_gives_a_partial_viewer_their_own_figure(plan, make_record, actor):
    from sitaware.assessment import values
    from sitaware.assessment.models import IndicatorValue

    ind = plan.indicator(formula=ROBBERY)
    make(make_record, 1)
    make(make_record, 1, author="sam", sensitivity="strictly_confidential")
    values.compute(_system(), ind, *RANGE)
    total = IndicatorValue.objects.get(indicator=ind, period_start=JAN, disaggregation_key="{}")
    drill = values.drill_down(actor("ana"), total.pk)
    assert drill["partial"] is True and Decimal(drill["value"]["value"]) == 1 and len(drill["record_ids"]) == 1


def test_other_organisations_and_people_without_a_role_get_nothing(client, world, figures, full_dashboard):
    from django.contrib.auth import get_user_model

    from sitaware.assessment.models import IndicatorValue

    v = IndicatorValue.objects.filter(indicator=figures).first()
    client.force_login(world.users["hugo"])
    for url in (f"/assessment/dashboards/{full_dashboard.id}/", f"/assessment/dashboards/{full_dashboard.id}/build",
                f"/assessment/values/{v.pk}/"):
        assert client.get(url).status_code == 404, url
    assert full_dashboard.title not in client.get("/assessment/dashboards/").content.decode()
    client.force_login(get_user_model().objects.create_user("nobody", password="x"))
    assert client.get(f"/assessment/dashboards/{full_dashboard.id}/").status_code == 403
    client.logout()
    assert client.get(f"/assessment/dashboards/{full_dashboard.id}/").status_code == 302  # to sign in


def test_the_builder_previews_without_saving_and_adds_with_the_defaults(client, world, plan, figures, actor):
    from sitaware.assessment.models import Dashboard, DashboardWidget

    d = _dashboard(actor("ana"), plan)
    client.force_login(world.users["ana"])
    url = f"/assessment/dashboards/{d.id}/build"
    page = client.get(url).content.decode()
    for chart in ("card", "timeseries", "map", "table", "bar"):
        assert f'id="chart-{chart}"' in page
    form = {"chart": "timeseries", "indicator": str(figures.id), "breakdown": "default", "periods": "6",
            "style": "line", "first": "", "last": "2025-06", "title": ""}
    preview = client.post(url, {**form, "action": "preview"})
    assert preview.status_code == 200 and 'id="preview"' in preview.content.decode()
    assert '<svg class="chart"' in preview.content.decode() and DashboardWidget.objects.count() == 0
    bad = client.post(url, {**form, "chart": "map", "breakdown": "unit", "action": "preview"})
    assert bad.status_code == 400 and "cannot be broken down by unit" in bad.content.decode()
    added = client.post(url, {**form, "action": "add"})
    assert added.status_code == 302
    w = DashboardWidget.objects.get(dashboard=d)
    assert (w.chart, w.breakdown, w.periods, w.last) == ("timeseries", "area", 6, "2025-06")
    assert client.post(f"/assessment/dashboards/{d.id}/charts/{w.pk}", {"action": "remove"}).status_code == 302
    assert not DashboardWidget.objects.filter(dashboard=d).exists()
    client.force_login(world.users["rita"])  # a reporter sees dashboards, and is refused the builder
    assert client.get(f"/assessment/dashboards/{d.id}/").status_code == 200
    assert client.get(url).status_code == 403
    assert client.post("/assessment/dashboards/", {"title": "x", "framework": str(plan.framework.id)}) \
        .status_code == 403
    assert Dashboard.objects.count() == 1


def test_pages_speak_french(client, world, figures, full_dashboard):
    client.force_login(world.users["sam"])
    page = client.get(f"/assessment/dashboards/{full_dashboard.id}/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Chaque nombre" in page and "Cible" in page
    build = client.get(f"/assessment/dashboards/{full_dashboard.id}/build", HTTP_ACCEPT_LANGUAGE="fr")
    assert "Carte par zone" in build.content.decode()


# ---------------------------------------------------------------- drawings (pure)


def test_a_series_chart_links_every_point_and_leaves_gaps_for_missing_values():
    from sitaware.assessment.dashboards import svg

    points = [svg.Point("2025-01", 3.0, "/v/1"), svg.Point("2025-02", None), svg.Point("2025-03", 5.0, "/v/3")]
    drawn = svg.series_chart([p.label for p in points], [svg.Series("a", points)], target=4.0, target_label="t")
    assert drawn.count('<a href="/v/') == 2 and 'tabindex="-1"' in drawn and 'aria-hidden="true"' in drawn
    assert "<polyline" not in drawn  # no line across the gap, and no run of two
    bars = svg.series_chart([p.label for p in points], [svg.Series("a", points)], style="bar")
    assert bars.count("<rect") == 2


def test_an_area_without_a_known_outline_keeps_its_circle(client, world, plan, make_record, actor):
    """A prefecture Natural Earth does not have (Lim-Pendé, made in 2020) stays a circle at its records' mean
    position, said so under the map; the others are shaded."""
    from sitaware.assessment import services, values
    from sitaware.assessment.dashboards import services as dashboards

    ind = plan.indicator(formula=ROBBERY, disaggregation=["area"])
    make(make_record, 3, admin1="Lim-Pendé", latitude=7.07, longitude=15.85)
    make(make_record, 3, admin1="OUHAM", latitude=6.49, longitude=17.45)
    values.compute(_system(), ind, *RANGE)
    services.activate_indicator(_system(), ind.id)
    d = _dashboard(actor("ana"), plan)
    dashboards.add_widget(actor("ana"), d.id, {"chart": "map", "indicators": [str(ind.id)], "last": "2025-03"})
    page = _page(client, world.users["sam"], f"/assessment/dashboards/{d.id}/")
    assert page.count('<path class="area"') == 1 and page.count("<circle") == 1 and ">Lim-Pendé 1</text>" in page
    assert "Circles (no outline known for the name" in page and "Not on the map" not in page


def test_the_area_map_sizes_circles_by_value_on_the_basemap():
    from sitaware.assessment.dashboards import svg

    square = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [
        [[15, 2], [25, 2], [25, 10], [15, 10], [15, 2]]]}}
    drawn = svg.area_map([svg.Place("Bangui", 4.36, 18.55, 9.0, "/v/1"), svg.Place("Bria", 6.54, 21.98, 1.0)],
                         [square])
    radii = [float(r) for r in re.findall(r'<circle [^>]*r="([\d.]+)"', drawn)]
    assert len(radii) == 2 and radii[0] > radii[1] and "<path d=\"M" in drawn and "Bangui 9" in drawn


# ---------------------------------------------------------------- API


def test_the_api_builds_a_dashboard_and_gives_each_figure_with_its_value_id(client, world, plan, figures):
    from sitaware.assessment.models import IndicatorValue
    from sitaware.core.services import create_token

    def call(name, method, path, body=None):
        auth = {"HTTP_AUTHORIZATION": f"Bearer {create_token(world.users[name], 'tests')}"}
        return getattr(client, method)(f"/api/v1/assessment/dashboards{path}", body, content_type="application/json",
                                       **auth)

    made = call("ana", "post", "", {"framework_id": str(plan.framework.id), "title": "API dashboard"})
    assert made.status_code == 201, made.content
    d = made.json()["id"]
    bad = call("ana", "post", f"/{d}/widgets", {"chart": "map", "indicators": [str(figures.id)], "breakdown": "unit"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "breakdown"
    w = call("ana", "post", f"/{d}/widgets", {"chart": "card", "indicators": [str(figures.id)], "last": "2025-03"})
    assert w.status_code == 201 and w.json()["breakdown"] == "area"
    assert call("rita", "post", f"/{d}/widgets", {"chart": "card", "indicators": [str(figures.id)]}).status_code == 403
    assert call("hugo", "get", f"/{d}").status_code == 404
    shown = call("rita", "get", f"/{d}")  # a reporter: only their scope, so partial
    body = call("sam", "get", f"/{d}").json()
    march = body["widgets"][0]["totals"][str(figures.id)][-1]
    stored = IndicatorValue.objects.get(pk=march["value_id"])
    assert (march["period"], march["value"], march["partial"]) == ("2025-03", str(stored.value), False)
    assert body["partial"] is False and "Ouham" in body["widgets"][0]["groups"]
    assert shown.status_code == 200 and shown.json()["partial"] is True
    assert call("ana", "delete", f"/{d}").status_code == 204
