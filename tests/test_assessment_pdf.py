"""The PDF performance report, parsed back with pypdf: cover and section titles, indicator names, values,
targets and traffic-light words, charts and a map as images, page count, French, and the partial notice.
Also through the command (`sitaware indicators report`) in both formats."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from django.core.management import call_command
from pypdf import PdfReader

from tests import test_assessment_api as shared
from tests.conftest import _system
from tests.test_assessment_api import indicator_body
from tests.test_assessment_engine import RANGE, make

api, framework = shared.api, shared.framework  # the fixtures
SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


@pytest.fixture
def report_plan(api, framework, make_record, actor):
    """I1 (robberies, by area, should fall 5 → 2; June 7 → red), E1 (entered, 10 → 40; 25 → amber), an
    assessment with findings, recommendations and a decision."""
    from sitaware.assessment import services, values

    ana = api("ana")
    ind = ana.post(f"/frameworks/{framework['id']}/indicators", indicator_body(
        framework, baseline_value=5, target_value=2)).json()
    entered = ana.post(f"/frameworks/{framework['id']}/indicators", indicator_body(
        framework, code="E1", name="Officers trained in investigation", data_source="entered", formula=None,
        direction="increase", baseline_value=10, target_value=40, disaggregation=[])).json()
    for month, count in ((2, 2), (3, 1), (4, 3)):
        for _ in range(count):
            make(make_record, month)
    for _ in range(5):
        make(make_record, 6)
    make(make_record, 6, admin1="Ouham", latitude=6.49, longitude=17.45)
    make(make_record, 6, admin1="Ouham", latitude=6.50, longitude=17.46)
    make(make_record, 5, author="sam", sensitivity="strictly_confidential")
    values.compute(_system(), services.get_indicator(actor("sam"), ind["id"]), *RANGE)
    ana.post(f"/indicators/{entered['id']}/values", {"period": "2025-06", "value": 25, "comment": "training log"})
    a = ana.post(f"/frameworks/{framework['id']}/assessments", {
        "title": "First semester review", "period_start": "2025-01-01", "period_end": "2025-07-01",
        "findings": "Robberies rose in Bangui in June; sécurité des marchés à renforcer.",
        "recommendations": ["Night patrols around the central market"],
        "follow_up_actions": [{"action": "Draft a market patrol plan", "owner": "sam", "due": "2025-08-01"}]}).json()
    api("cora").post(f"/assessments/{a['id']}/decision", {"leadership_decision": "Approve two extra night patrols."})
    return framework


def _pdf(content: bytes) -> tuple[PdfReader, str]:
    assert content.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(content))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_the_pdf_holds_cover_table_values_targets_lights_charts_map_and_narrative(api, report_plan):
    answer = api("sam").get(f"/frameworks/{report_plan['id']}/report.pdf?language=en")
    assert answer.status_code == 200 and answer["Content-Type"] == "application/pdf"
    assert answer["Content-Disposition"].endswith('-report-en.pdf"')
    reader, text = _pdf(answer.content)
    flat = _flat(text)
    assert 5 <= len(reader.pages) <= 10
    assert reader.metadata.title.startswith("Performance report")
    for title in ("Performance report", "Summary", "Indicators: targets and traffic lights", "Trends",
                  "Maps by area", "Assessment", "First semester review"):
        assert title in flat, (title, flat)
    assert "Armed robberies" in flat and "Officers trained in investigation" in flat
    # The table row of I1: baseline 5 (2024), target 2 (2025), latest June with 7 robberies, red.
    assert "5 (2024) 2 (2025) 2025-06 7" in flat
    assert "red: no progress" in flat and "amber: progress, target not met" in flat
    assert "2 indicators: 0 on target, 1 progressing, 1 without progress, 0 that cannot be judged" in flat
    assert "Approve two extra night patrols." in flat and "Night patrols around the central market" in flat
    assert "sécurité des marchés" in flat  # accents survive: the embedded font has them
    assert "Partial figures" not in flat  # sam sees everything
    # Charts: I1 and E1 have values (2 trend charts) and I1 a map by area: three raster images.
    images = [img for page in reader.pages for img in page.images]
    assert len(images) == 3
    fonts = {str(f.get_object()["/BaseFont"]) for page in reader.pages
             for f in page["/Resources"]["/Font"].values()}
    assert any("DejaVuSans" in f for f in fonts)
    _render_for_docs(answer.content, "en")


def test_the_pdf_in_french(api, report_plan):
    answer = api("sam").get(f"/frameworks/{report_plan['id']}/report.pdf?language=fr")
    _reader, text = _pdf(answer.content)
    flat = _flat(text)
    for title in ("Rapport de performance", "Résumé", "Indicateurs : cibles et feux de signalisation",
                  "Tendances", "Cartes par zone", "Évaluation", "Décision de la direction"):
        assert title in flat, (title, flat)
    assert "rouge : aucun progrès" in flat and "orange : progrès, cible non atteinte" in flat
    _render_for_docs(answer.content, "fr")


def test_a_reader_who_may_not_see_everything_gets_a_partial_report_that_says_so(api, report_plan):
    text = _flat(_pdf(api("ana").get(f"/frameworks/{report_plan['id']}/report.pdf").content)[1])
    assert "Partial figures" in text and "partial" in text
    assert api("hugo").get(f"/frameworks/{report_plan['id']}/report.pdf").status_code == 404
    assert api("sam").get(f"/frameworks/{report_plan['id']}/report.pdf?language=de").status_code == 400


def test_the_command_writes_both_formats(report_plan, tmp_path):
    from openpyxl import load_workbook

    pdf, xlsx = tmp_path / "r.pdf", tmp_path / "r.xlsx"
    call_command("indicators", "report", "--framework", "cpas", "--organisation", "unpol", "--format", "pdf",
                 "--language", "fr", "--output", str(pdf))
    call_command("indicators", "report", "--framework", "cpas", "--organisation", "unpol", "--output", str(xlsx))
    assert "Rapport de performance" in _flat(_pdf(pdf.read_bytes())[1])
    book = load_workbook(xlsx)
    assert {r[3] for r in book["Summary"].iter_rows(min_row=2, values_only=True)} == {"I1", "E1"}


def _render_for_docs(content: bytes, language: str) -> None:
    """Pages as PNG for the docs (docs/screenshots/report-<lang>-p<n>.png), when SITAWARE_SCREENSHOTS is set;
    always renders the first page to check that a standard renderer (PDFium) opens the file."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(content)
    try:
        keep = bool(os.environ.get("SITAWARE_SCREENSHOTS"))
        for number in range(len(document) if keep else 1):
            image = document[number].render(scale=1.4).to_pil()
            assert image.size[0] > 500
            if keep:
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                image.save(SCREENSHOTS / f"report-{language}-p{number + 1}.png")
    finally:
        document.close()
