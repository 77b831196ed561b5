"""The XLSX indicator table, parsed back: values equal the stored figures, targets and lights are right."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from tests import test_assessment_api as shared
from tests.conftest import _system
from tests.test_assessment_api import indicator_body
from tests.test_assessment_engine import RANGE, make

api, framework = shared.api, shared.framework  # the fixtures


def test_the_report_holds_targets_values_and_traffic_lights(api, framework, make_record, actor):
    from sitaware.assessment import services, values

    ana = api("ana")
    ind = ana.post(f"/frameworks/{framework['id']}/indicators", indicator_body(
        framework, baseline_value=5, target_value=2)).json()
    entered = ana.post(f"/frameworks/{framework['id']}/indicators", indicator_body(
        framework, code="E1", name="Trained officers", data_source="entered", formula=None, direction="increase",
        baseline_value=10, target_value=40, disaggregation=[])).json()
    for _ in range(7):
        make(make_record, 6)
    make(make_record, 5, author="sam", sensitivity="strictly_confidential")
    values.compute(_system(), services.get_indicator(actor("sam"), ind["id"]), *RANGE)
    ana.post(f"/indicators/{entered['id']}/values", {"period": "2025-06", "value": 25, "comment": "training log"})

    answer = api("sam").get(f"/frameworks/{framework['id']}/report.xlsx")
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(answer.content))
    summary = {row[3]: row for row in book["Summary"].iter_rows(min_row=2, values_only=True)}
    # I1: robberies should fall from 5 to 2; June has 7, worse than the baseline → red.
    assert summary["I1"][7:13] == (5, "2024", 2, "2025", "2025-06", 7)
    assert summary["I1"][13].startswith("red")
    # E1: trained officers should rise from 10 to 40; 25 is progress → amber.
    assert summary["E1"][12] == 25 and summary["E1"][13].startswith("amber")
    rows = {book["Summary"].cell(r, 4).value: r for r in range(2, 4)}
    assert book["Summary"].cell(rows["I1"], 14).fill.start_color.rgb.endswith("F8696B")
    assert book["Summary"].cell(rows["E1"], 14).fill.start_color.rgb.endswith("FFD966")
    detail = [r for r in book["Values"].iter_rows(min_row=2, values_only=True) if r[0] == "I1"]
    assert [(r[1], r[2]) for r in detail] == [("2025-01", 0), ("2025-02", 0), ("2025-03", 0), ("2025-04", 0),
                                              ("2025-05", 1), ("2025-06", 7)]
    assert all(r[9] in (None, "") for r in detail)  # sam sees everything: nothing partial

    # Ana (clearance 2) cannot see the May record: her report recomputes May over her scope and says so.
    mine = load_workbook(io.BytesIO(api("ana").get(f"/frameworks/{framework['id']}/report.xlsx").content))
    may = next(r for r in mine["Values"].iter_rows(min_row=2, values_only=True) if r[:2] == ("I1", "2025-05"))
    assert may[2] == 0 and may[9] == "yes"
    notes = {r[0]: r[1] for r in mine["Notes"].iter_rows(values_only=True)}
    assert "partial" in notes["Partial figures"]
    assert api("hugo").get(f"/frameworks/{framework['id']}/report.xlsx").status_code == 404
