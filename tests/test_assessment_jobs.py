"""Indicators refresh in the task worker: new records show up in the figures without a manual recompute, a
failing indicator is logged and does not block the others, and the loop queues itself once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.management import call_command

from tests import test_assessment_engine as engine_tests
from tests.conftest import _system
from tests.test_assessment_engine import RANGE, ROBBERY, make, stored

plan = engine_tests.plan  # the fixture

JAN, FEB = dt.date(2025, 1, 1), dt.date(2025, 2, 1)


def _active(plan, actor, code: str, formula: dict, **fields):
    from sitaware.assessment import services

    ind = plan.indicator(code, formula=formula, **fields)
    services.activate_indicator(actor("sam"), ind.pk)
    return ind


def test_the_worker_refreshes_figures_after_new_records_without_a_manual_recompute(
        transactional_db, plan, make_record, actor):
    # transactional: the worker closes and reopens its connection, as a real worker between tasks.
    from django_tasks_db.models import DBTaskResult

    from sitaware.assessment import jobs, values

    ind = _active(plan, actor, "I1", ROBBERY, disaggregation=["area"])
    make(make_record, 1)
    values.compute(_system(), ind, *RANGE)
    assert stored(ind)[JAN] == 1 and stored(ind)[FEB] == 0

    make(make_record, 1, admin1="Ouham")
    make(make_record, 2)
    make(make_record, 2, category="police.burglary")  # not counted
    assert jobs.ensure_scheduled() is True and jobs.ensure_scheduled() is False
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)

    assert stored(ind)[JAN] == 2 and stored(ind)[FEB] == 1
    assert stored(ind, area="Ouham")[JAN] == 1
    done = DBTaskResult.objects.get(task_path=jobs.refresh_indicators_task.module_path, status="SUCCESSFUL")
    assert done.return_value == {"refreshed": 1, "current": 0, "rebuilt": 0, "failed": []}
    # The loop queued its next tick, for later (the batch worker left it waiting).
    nxt = DBTaskResult.objects.get(task_path=jobs.refresh_indicators_task.module_path, status="READY")
    assert nxt.run_after > done.finished_at
    # The refreshed figures are what a full rebuild gives.
    assert values.reproduce(ind) == []


def test_a_failing_indicator_is_logged_and_the_others_still_refresh(plan, make_record, actor, caplog):
    from sitaware.assessment import jobs, values
    from sitaware.assessment.models import IndicatorDefinition

    good = _active(plan, actor, "I1", ROBBERY)
    bad = _active(plan, actor, "I2", ROBBERY)
    later = _active(plan, actor, "I3", {"type": "count", "filter": {"kinds": ["incident"]}})
    for ind in (good, bad, later):
        values.compute(_system(), ind, *RANGE)
    # A definition damaged in the database (it cannot be made through the services, which validate).
    IndicatorDefinition.objects.filter(indicator=bad).update(formula={"type": "count", "filter": {"kinds": 3}})
    make(make_record, 3)

    with caplog.at_level("ERROR", logger="sitaware.assessment"):
        summary = jobs.refresh_all()

    assert summary.refreshed == 2 and [f["code"] for f in summary.failed] == ["I2"]
    assert "refresh of indicator I2" in caplog.text
    assert stored(good)[dt.date(2025, 3, 1)] == 1 and stored(later)[dt.date(2025, 3, 1)] == 1
    assert stored(bad)[dt.date(2025, 3, 1)] == 0  # unchanged until its formula is repaired


def test_nothing_new_means_nothing_recomputed_and_a_first_run_builds_from_the_baseline(plan, make_record, actor):
    from sitaware.assessment import jobs, values
    from sitaware.assessment.models import ComputeWatermark, IndicatorValue

    ind = _active(plan, actor, "I1", ROBBERY, baseline_period="2025-01")
    make(make_record, 1)
    first = jobs.refresh_all()
    assert first.rebuilt == 1
    # From the baseline period to the current month, every month has a total.
    today = dt.date.today()
    months = (today.year - 2025) * 12 + today.month
    assert IndicatorValue.objects.filter(indicator=ind, disaggregation_key="{}").count() == months
    assert stored(ind)[JAN] == 1
    assert ComputeWatermark.objects.get(indicator=ind).seq > 0

    before = IndicatorValue.objects.get(indicator=ind, period_start=JAN, disaggregation_key="{}").produced_at
    again = jobs.refresh_all()
    assert (again.current, again.refreshed) == (1, 0)
    assert IndicatorValue.objects.get(indicator=ind, period_start=JAN, disaggregation_key="{}").produced_at == before
    assert values.reproduce(ind) == []


def test_draft_and_entered_indicators_are_left_alone(plan, actor):
    from sitaware.assessment import jobs
    from sitaware.assessment.models import IndicatorValue

    plan.indicator("D1", formula=ROBBERY)  # a draft
    summary = jobs.refresh_all()
    assert (summary.refreshed, summary.rebuilt, summary.current) == (0, 0, 0)
    assert not IndicatorValue.objects.exists()


def test_the_refresh_runs_as_the_system_and_the_change_log_says_so(plan, make_record, actor):
    from sitaware.assessment import jobs, values
    from sitaware.assessment.models import IndicatorValue
    from sitaware.core.models import ChangeEntry

    ind = _active(plan, actor, "I1", ROBBERY)
    values.compute(_system(), ind, *RANGE)
    make(make_record, 4)
    jobs.refresh_all()
    v = IndicatorValue.objects.get(indicator=ind, period_start=dt.date(2025, 4, 1), disaggregation_key="{}")
    assert v.value == Decimal("1") and v.produced_by_label == "system"
    entry = ChangeEntry.objects.filter(action="indicator.compute").order_by("-seq").first()
    assert entry.actor_label == jobs.ACTOR_LABEL and '"mode":"incremental"' in entry.data
