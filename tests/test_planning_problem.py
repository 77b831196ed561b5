"""Validation of shift-planning requests: every problem reported at once, with the field it concerns."""

from __future__ import annotations

import datetime as dt

import pytest

from sitaware.planning.solver.problem import (
    Area,
    Cell,
    PlanningInputError,
    PlanningRequest,
    TimeWindow,
    Unit,
    to_seconds,
    validate,
)

BASE = (4.36, 18.55)


def unit(**kw) -> Unit:
    args = {"id": "u1", "base": BASE, "shift_start": 0, "shift_end": 8 * 3600}
    args.update(kw)
    return Unit.of(**args)


def cell(cid: str = "c1", **kw) -> Cell:
    args = {"id": cid, "lat": 4.37, "lon": 18.56, "priority": 1.0}
    args.update(kw)
    return Cell(**args)


def errors_of(request: PlanningRequest) -> list[dict[str, str]]:
    """Field and English message of each problem (each also keeps its template and values for translation)."""
    with pytest.raises(PlanningInputError) as exc:
        validate(request)
    for e in exc.value.errors:
        assert e["template"].format(**e["params"]) == e["message"]
    return [{"field": e["field"], "message": e["message"]} for e in exc.value.errors]


def test_a_sound_request_passes():
    validate(PlanningRequest.of([unit()], [cell()]))


def test_it_rejects_a_unit_without_a_base():
    errors = errors_of(PlanningRequest.of([unit(base=None)], [cell()]))
    assert errors == [{"field": "units[0].base", "message": "unit 'u1' has no base"}]


def test_it_rejects_a_shift_ending_before_it_starts():
    errors = errors_of(PlanningRequest.of([unit(shift_start=3600, shift_end=60)], [cell()]))
    assert [e["field"] for e in errors] == ["units[0].shift"]
    assert "ends" in errors[0]["message"]


def test_it_rejects_cells_outside_the_area():
    area = Area(4.0, 18.0, 4.5, 18.8)
    errors = errors_of(PlanningRequest.of([unit()], [cell(), cell("far", lat=7.0)], area=area))
    assert errors == [{"field": "cells[1].location", "message": "cell 'far' is outside the planning area"}]


def test_it_rejects_all_zero_priorities_when_nothing_is_mandatory():
    errors = errors_of(PlanningRequest.of([unit()], [cell(priority=0), cell("c2", priority=0)]))
    assert [e["field"] for e in errors] == ["cells.priority"]


def test_zero_priorities_are_fine_when_a_visit_is_mandatory():
    validate(PlanningRequest.of([unit()], [cell(priority=0), cell("c2", priority=0, required_visits=1)]))


def test_it_rejects_negative_dwell_and_priority():
    errors = errors_of(PlanningRequest.of([unit()], [cell(dwell_s=-1), cell("c2", priority=-2)]))
    assert {e["field"] for e in errors} == {"cells[0].dwell_s", "cells[1].priority"}


def test_it_lists_every_problem_not_only_the_first():
    request = PlanningRequest.of(
        [unit(base=None), unit(id="u1", speed_kmh=0)],
        [cell(windows=(TimeWindow(100, 50),)), cell("c1")],
        no_go=["nowhere"],
        exploration_share=1.5,
    )
    fields = {e["field"] for e in errors_of(request)}
    assert fields == {
        "units[0].base", "units[1].id", "units[1].speed_kmh", "cells[0].windows[0]", "cells[1].id", "no_go",
        "exploration_share",
    }  # fmt: skip


def test_a_mandatory_no_go_cell_is_a_contradiction():
    errors = errors_of(PlanningRequest.of([unit()], [cell(required_visits=2)], no_go=["c1"]))
    assert errors[0]["field"] == "cells[0].required_visits"


def test_the_error_message_names_the_fields():
    with pytest.raises(ValueError, match=r"units\[0\]\.base: unit 'u1' has no base"):
        validate(PlanningRequest.of([unit(base=None)], [cell()]))


def test_datetimes_must_be_timezone_aware():
    with pytest.raises(PlanningInputError):
        to_seconds(dt.datetime(2026, 1, 1, 8))
    start = dt.datetime(2026, 1, 1, 8, tzinfo=dt.UTC)
    u = unit(shift_start=start, shift_end=start + dt.timedelta(hours=8))
    assert u.shift_length == 8 * 3600


def test_repeat_cap_takes_cells_chosen_in_every_recent_shift():
    request = PlanningRequest.of(
        [unit()], [cell("a"), cell("b"), cell("c")], previous_shifts=[{"c"}, {"a", "b"}, {"a", "b", "c"}],
        max_consecutive=2,
    )  # fmt: skip
    assert request.repeat_capped() == {"a", "b"}  # c only in the last shift
    too_few_shifts = PlanningRequest.of([unit()], [cell("a")], previous_shifts=[{"a"}], max_consecutive=2)
    assert too_few_shifts.repeat_capped() == set()
