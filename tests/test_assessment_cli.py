"""`sitaware indicators recompute`: full rebuild, incremental refresh and the reproduction check."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command

from tests import test_assessment_engine as shared
from tests.test_assessment_engine import ROBBERY, make, stored

plan = shared.plan  # the fixture


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("indicators", "recompute", *args, "--no-progress", stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_recompute_rebuilds_refreshes_and_checks(plan, make_record, actor):
    from sitaware.assessment import services

    ind = plan.indicator(formula=ROBBERY)
    with pytest.raises(CommandError, match="drafts need --all"):
        run()
    services.activate_indicator(actor("sam"), ind.id)
    make(make_record, 1)
    with pytest.raises(CommandError, match="did not compute"):
        run()  # never computed in full: a refresh has no watermark to start from
    assert "full, 6 period(s), 6 new" in run("--from", "2025-01", "--to", "2025-06")
    assert "reproduces" in run("--check")
    make(make_record, 2)
    with pytest.raises(CommandError, match="did not reproduce"):
        run("--check")
    assert "incremental, 1 period(s), 0 new, 1 changed" in run("--organisation", "unpol", "--indicator", "I1")
    assert stored(ind)[dt.date(2025, 2, 1)] == 1
    assert "reproduces" in run("--check")


def test_bad_ranges_are_named(plan, actor):
    plan.indicator(formula=ROBBERY)
    with pytest.raises(CommandError, match="both --from and --to"):
        run("--all", "--from", "2025-01")
    with pytest.raises(CommandError, match="2026-Q2"):
        run("--all", "--from", "2025-01", "--to", "June")
