"""Scope of indicators: figures are an organisation's, computed over what it may see; viewers see them only
within their own scope, and a narrower viewer gets a partial figure, never the organisation's."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tests import test_assessment_engine as shared
from tests.conftest import _system
from tests.test_assessment_engine import RANGE, ROBBERY, make, stored

plan = shared.plan  # the fixture

JAN = dt.date(2025, 1, 1)
COUNT_ALL = {"type": "count", "filter": {"statuses": ["verified", "published"]}}


@pytest.fixture
def hsp_plan(world, actor):
    from sitaware.assessment import services

    hugo = actor("hugo")
    fw = services.create_framework(hugo, {"code": "pnc", "title": "Police nationale plan"})
    o = services.add_objective(hugo, fw.id, {"code": "O1", "title": "Objective"})
    oc = services.add_outcome(hugo, o.pk, {"code": "OC1", "title": "Outcome"})
    op = services.add_output(hugo, oc.pk, {"code": "OP1", "title": "Output"})
    return services.create_indicator(hugo, fw.id, {"output_id": op.pk, "code": "H1", "name": "HSP count",
                                                   "formula": COUNT_ALL})


def test_each_organisation_counts_what_it_may_see_including_what_partners_share(plan, hsp_plan, make_record):
    from sitaware.assessment import values

    unpol = plan.indicator(formula=COUNT_ALL)
    make(make_record, 1)  # UNPOL, verified
    make(make_record, 1, author="hugo", sensitivity="restricted")  # HSP, shared with UNPOL
    make(make_record, 1, author="hugo", sensitivity="confidential")  # HSP, above the agreement's maximum
    make(make_record, 1, author="hugo", status="in_review")  # HSP, a status the agreement does not share
    values.compute(_system(), unpol, *RANGE)
    values.compute(_system(), hsp_plan, *RANGE)
    assert stored(unpol)[JAN] == 2
    assert stored(hsp_plan)[JAN] == 2  # its own two verified records; nothing of UNPOL's


def test_a_change_of_sharing_agreement_is_refreshed_without_any_record_changing(plan, hsp_plan, make_record,
                                                                                  world):
    from sitaware.assessment import engine, values
    from sitaware.core.models import SharingAgreement

    unpol = plan.indicator(formula=COUNT_ALL, disaggregation=["area"])
    make(make_record, 1)
    make(make_record, 1, author="hugo", sensitivity="restricted", admin1="Ouham")  # shared with UNPOL
    make(make_record, 3, author="hugo", sensitivity="restricted")
    values.compute(_system(), unpol, *RANGE)
    assert stored(unpol)[JAN] == 2 and stored(unpol)[dt.date(2025, 3, 1)] == 1
    assert values.refresh(_system(), unpol).periods == 0  # nothing changed
    # The agreement ends (as an administrator would, in the admin site: no record and no change-log entry).
    SharingAgreement.objects.filter(pk=world.agreement.pk).update(active=False)
    result = values.refresh(_system(), unpol)
    assert result.periods == 6 and any("sharing agreements" in note for note in result.notes)
    assert stored(unpol)[JAN] == 1 and stored(unpol)[dt.date(2025, 3, 1)] == 0
    assert stored(unpol, area="Ouham") == {}  # the partner's area is gone with its records
    incremental = {k: v for k, v in stored(unpol).items()}
    values.compute(_system(), unpol, *RANGE)
    assert stored(unpol) == incremental and values.reproduce(unpol) == []
    assert values.refresh(_system(), unpol).periods == 0  # the watermark now holds the agreements in force
    # The agreement again, with a wider maximum: the worker's planning does not take the figures as current.
    SharingAgreement.objects.filter(pk=world.agreement.pk).update(active=True, max_sensitivity=2)
    head = engine.current_seq()
    planned = values.plan(_system(), [unpol], head, skip_current=True)
    assert planned.current == [] and len(planned.works[0].periods) == 6
    make(make_record, 1, author="hugo", sensitivity="confidential")
    values.refresh(_system(), unpol)
    assert stored(unpol)[JAN] == 3 and stored(unpol)[dt.date(2025, 3, 1)] == 1
    # The partner's own indicator does not depend on what UNPOL receives: never recomputed for it.
    values.compute(_system(), hsp_plan, *RANGE)
    SharingAgreement.objects.filter(pk=world.agreement.pk).update(active=False)
    assert values.refresh(_system(), hsp_plan).periods == 0


def test_another_organisation_neither_reads_nor_drills_into_the_figures(plan, make_record, actor):
    from sitaware.assessment import values
    from sitaware.assessment.errors import NotFound
    from sitaware.assessment.models import IndicatorValue

    ind = plan.indicator(formula=ROBBERY)
    make(make_record, 1)
    values.compute(_system(), ind, *RANGE)
    v = IndicatorValue.objects.filter(indicator=ind).first()
    for name in ("hugo", "sara", "hana"):
        with pytest.raises(NotFound):
            values.read_values(actor(name), ind.id)
        with pytest.raises(NotFound):
            values.drill_down(actor(name), v.pk)


def test_a_viewer_with_lower_clearance_gets_a_partial_figure_over_their_own_scope(plan, make_record, actor):
    from sitaware.assessment import values
    from sitaware.assessment.models import IndicatorValue

    ind = plan.indicator(formula=ROBBERY)
    make(make_record, 1)
    secret = make(make_record, 1, author="sam", sensitivity="strictly_confidential")
    values.compute(_system(), ind, *RANGE)
    total = IndicatorValue.objects.get(indicator=ind, period_start=JAN, disaggregation_key="{}")
    assert total.value == 2 and total.sensitivity == 3

    sam = {v.state["period_start"]: v for v in values.read_values(actor("sam"), ind.id)}  # clearance 3
    assert sam["2025-01-01"].partial is False and Decimal(sam["2025-01-01"].state["value"]) == 2

    ana = {v.state["period_start"]: v for v in values.read_values(actor("ana"), ind.id)}  # clearance 2
    assert ana["2025-01-01"].partial is True and Decimal(ana["2025-01-01"].state["value"]) == 1
    assert "partial" in ana["2025-01-01"].state["partial_note"]
    assert ana["2025-02-01"].partial is False  # an empty month holds nothing ana may not see
    drill = values.drill_down(actor("ana"), total.pk)
    assert drill["partial"] is True and str(secret.id) not in drill["record_ids"] and len(drill["record_ids"]) == 1


def test_a_reporter_sees_figures_over_their_scope_only(plan, make_record, actor):
    from sitaware.assessment import values

    ind = plan.indicator(formula=ROBBERY)
    make(make_record, 1)  # verified: not yet published, so not for reporters outside the unit...
    make(make_record, 1, author="rex", reporting_unit="bria")  # ...except rex's own unit's
    values.compute(_system(), ind, *RANGE)
    rex = {v.state["period_start"]: v for v in values.read_values(actor("rex"), ind.id)}
    assert rex["2025-01-01"].partial is True and Decimal(rex["2025-01-01"].state["value"]) == 1
    assert all(v.partial for v in rex.values())


def test_entered_values_above_a_viewers_clearance_are_not_shown(plan, actor):
    from sitaware.assessment import values

    ind = plan.indicator(data_source="entered", sensitivity=3)
    values.enter_value(actor("sam"), ind.id, {"period": "2025-01", "value": "4", "comment": "from the logbook"})
    assert len(values.read_values(actor("sam"), ind.id)) == 1
    assert values.read_values(actor("ana"), ind.id) == []


def test_a_partial_figure_stays_inside_the_organisations_no_drafts_even_the_viewers_own(plan, make_record, actor):
    from sitaware.assessment import values
    from sitaware.assessment.models import IndicatorValue

    ind = plan.indicator(formula={"type": "count"})  # no status filter
    make(make_record, 1)  # verified
    make(make_record, 1, status="draft")  # ana's own draft: she sees it, the organisation's figure does not count it
    make(make_record, 1, author="sam", sensitivity="strictly_confidential")
    values.compute(_system(), ind, *RANGE)
    assert stored(ind)[JAN] == 2
    ana = {v.state["period_start"]: v for v in values.read_values(actor("ana"), ind.id)}
    assert ana["2025-01-01"].partial is True and Decimal(ana["2025-01-01"].state["value"]) == 1
    total = IndicatorValue.objects.get(indicator=ind, period_start=JAN, disaggregation_key="{}")
    assert len(values.drill_down(actor("ana"), total.pk)["record_ids"]) == 1
