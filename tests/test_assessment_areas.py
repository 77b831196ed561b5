"""Maps by area drawn as areas: the shipped admin-1 polygons (Natural Earth, tools/admin1_areas.py), the area
names of the figures matched to them (case, accents, punctuation, other names, the records' positions), the
choropleth SVG of the dashboards (a filled path per matched area, its figure in its tooltip and label, a symbol
for a name without an outline) and the PDF report's map, rendered."""

from __future__ import annotations

import io
import re
import time

import pytest

from sitaware.assessment import areas
from sitaware.assessment.dashboards import svg
from tests import test_assessment_pdf as pdf_tests

api, framework, report_plan = pdf_tests.api, pdf_tests.framework, pdf_tests.report_plan  # the fixtures

# Where records naming each area would be, (longitude, latitude).
BANGUI, BRIA, PARIS, OUESSO = (18.56, 4.37), (21.98, 6.54), (2.35, 48.85), (16.05, 1.62)


@pytest.fixture(scope="module")
def atlas() -> areas.Atlas:
    from sitaware.web.views import admin1_areas_path

    return areas.load(admin1_areas_path())


def _names(matching: areas.Matching) -> dict[str, tuple[str, str]]:
    return {name: (area.name, area.country) for name, area in matching.matched.items()}


# ---------------------------------------------------------------- the shipped file


def test_the_shipped_areas_are_small_whole_and_read_once(atlas):
    from sitaware.web.views import admin1_areas_path

    path = admin1_areas_path()
    assert path.stat().st_size < 1_200_000
    assert areas.load(path) is atlas  # once per process and file version
    central_african = [a for a in atlas.areas if a.country == "CF"]
    assert len(central_african) == 17 and len(atlas.areas) > 4000
    for area in central_african:
        for ring in atlas.rings(area):
            assert len(ring) >= 4 and ring[0] == ring[-1]
        assert atlas.contains(area, area.label), area.name
    assert atlas.contains(atlas.candidates("Bangui")[0][1], BANGUI)
    assert atlas.contains(atlas.candidates("Haute-Kotto")[0][1], BRIA)


def test_the_name_rule_ignores_case_accents_punctuation_and_kind_of_area():
    assert areas.key("Ombella-M'Poko") == areas.key("OMBELLA MPOKO") == "ombellampoko"
    assert areas.key("Mambéré-Kadéï") == "mamberekadei"
    assert areas.loose_key("Préfecture de la Kémo") == areas.loose_key("Kemo Prefecture") == "kemo"
    assert areas.loose_key("Province") == "province"  # nothing left: the whole name stays


# ---------------------------------------------------------------- matching


def test_names_match_whatever_their_case_accents_and_punctuation(atlas):
    names = ["OMBELLA MPOKO", "ombella-m'poko ", "Kemo", "KÉMO", "haute kotto", "Ouham-Pende"]
    got = _names(areas.match(atlas, names))
    assert got["OMBELLA MPOKO"] == ("Ombella-M'Poko", "CF")
    assert got["Kemo"] == ("Kémo", "CF") and got["haute kotto"] == ("Haute-Kotto", "CF")
    assert got["Ouham-Pende"] == ("Ouham-Pendé", "CF")
    # Two spellings of one prefecture: the first keeps the outline, the second is a symbol.
    assert "ombella-m'poko " not in got and "KÉMO" not in got


def test_alternative_names_and_codes_match(atlas):
    matching = areas.match(atlas, ["Haute-Sangha", "Nana Gribizi", "Birao", "CF-BGF", "Préfecture de la Ouaka"])
    assert _names(matching) == {"Haute-Sangha": ("Mambéré-Kadéï", "CF"), "Nana Gribizi": ("Nana-Grébizi", "CF"),
                                "Birao": ("Vakaga", "CF"), "CF-BGF": ("Bangui", "CF"),
                                "Préfecture de la Ouaka": ("Ouaka", "CF")}
    assert matching.unmatched == []


def test_an_unknown_area_is_reported_and_kept_for_a_symbol(atlas):
    # Lim-Pendé became a prefecture in 2020: Natural Earth does not have it yet.
    matching = areas.match(atlas, ["Ouham", "Lim-Pendé", "", "Nowhere at all"])
    assert set(matching.matched) == {"Ouham"}
    assert matching.unmatched == ["Lim-Pendé", "", "Nowhere at all"]


def test_a_name_of_several_areas_goes_where_the_other_areas_or_its_records_are(atlas):
    # "Sangha" is a department of the Congo and another name of the Central African Sangha-Mbaéré.
    assert _names(areas.match(atlas, ["Sangha", "Ouham", "Bangui"]))["Sangha"] == ("Sangha-Mbaéré", "CF")
    by_position = areas.match(atlas, ["Sangha", "Ouham", "Bangui"], {"Sangha": OUESSO})
    assert _names(by_position)["Sangha"] == ("Sangha", "CG")
    cameroon = areas.match(atlas, ["Nord", "Adamaoua", "Extrême-Nord"])
    assert {country for _name, country in _names(cameroon).values()} == {"CM"}


def test_an_area_far_from_its_records_is_not_theirs(atlas):
    matching = areas.match(atlas, ["Bangui", "Ouham"], {"Bangui": PARIS, "Ouham": (17.4, 6.5)})
    assert set(matching.matched) == {"Ouham"} and matching.unmatched == ["Bangui"]


def test_matching_twenty_areas_and_drawing_them_is_fast(atlas):
    names = [a.name for a in atlas.areas if a.country == "NG"][:20]  # Nigeria: 37 states
    started = time.perf_counter()
    for _ in range(5):
        matching = areas.match(atlas, names)
        shapes = [svg.Shape(n, atlas.rings(a), a.label, float(i)) for i, (n, a) in enumerate(matching.matched.items())]
        svg.area_map([], [], shapes=shapes, shades=svg.classes([s.value for s in shapes]))
    assert len(matching.matched) == 20
    assert (time.perf_counter() - started) / 5 < 0.25


# ---------------------------------------------------------------- drawing


def test_classes_are_round_and_cover_the_figures():
    shades = svg.classes([1, 4, 9, None])
    assert [c.label for c in shades] == ["0\u20131", "2\u20133", "4\u20135", "6\u20137", "8\u201310"]
    assert [c.colour for c in shades] == list(svg.SEQUENTIAL)
    assert svg.class_of(9, shades) is shades[-1] and svg.class_of(1, shades) is shades[0]
    assert svg.class_of(None, shades) is None and svg.classes([None]) == []
    assert [c.label for c in svg.classes([100, 104, 120])] == ["100\u2013104", "105\u2013109", "110\u2013114",
                                                              "115\u2013120"]
    assert [c.label for c in svg.classes([0.25, 0.5])][:2] == ["0.25\u20130.3", "0.3\u20130.35"]
    assert [(c.label, c.colour) for c in svg.classes([7, 7])] == [("7", svg.SEQUENTIAL[2])]


def test_the_area_map_fills_each_matched_area_and_says_its_figure_in_words(atlas):
    matching = areas.match(atlas, ["Bangui", "Ouham", "Haute-Kotto", "Lim-Pendé", "Kémo"])
    figures = {"Bangui": 9.0, "Ouham": 4.0, "Haute-Kotto": 1.0, "Lim-Pendé": 3.0, "Kémo": None}
    shapes = [svg.Shape(n, atlas.rings(a), a.label, figures[n], f"/v/{n}", f"I1 2025-03 · {n}: {figures[n]}")
              for n, a in matching.matched.items()]
    shades = svg.classes([s.value for s in shapes])
    drawn = svg.area_map([svg.Place("Lim-Pendé", 6.9, 15.9, 3.0, "/v/lim", "I1 2025-03 · Lim-Pendé: 3")], [],
                         shapes=shapes, shades=shades,
                         outlines=[atlas.rings(a) for a in atlas.by_country({"CF"}) if a.name == "Lobaye"])
    fills = re.findall(r'<path class="area" d="M[^"]+" fill="(#[0-9a-f]{6})"', drawn, re.I)
    assert len(fills) == 4
    by_name = dict(re.findall(r'<title>I1 2025-03 · ([^:<]+): [^<]*</title><path class="area" d="M[^"]+" '
                              r'fill="(#[0-9a-fA-F]{6})"', drawn))
    assert by_name == {"Bangui": svg.class_of(9, shades).colour, "Ouham": svg.class_of(4, shades).colour,
                       "Haute-Kotto": svg.class_of(1, shades).colour, "Kémo": svg.NO_FIGURE}
    assert svg.SEQUENTIAL[-1] == by_name["Bangui"] and by_name["Haute-Kotto"] == svg.SEQUENTIAL[0]
    # Not by colour alone: every area's name and figure are written on it and in its tooltip and link.
    for name, value in (("Bangui", "9"), ("Ouham", "4"), ("Haute-Kotto", "1")):
        assert f">{name}</text>" in drawn and f">{value}</text>" in drawn and f'href="/v/{name}"' in drawn
    assert ">Kémo</text>" in drawn and ">-</text>" in drawn
    # The name without an outline keeps its circle at its records' position; the other areas are outlines.
    assert drawn.count("<circle") == 1 and ">Lim-Pendé 3</text>" in drawn
    assert 'aria-hidden="true"' in drawn and 'tabindex="-1"' in drawn


# ---------------------------------------------------------------- the PDF report


def test_the_pdf_map_page_shows_the_areas_shaded(api, report_plan):
    import pypdfium2 as pdfium
    from pypdf import PdfReader

    content = api("sam").get(f"/frameworks/{report_plan['id']}/report.pdf?language=en").content
    reader = PdfReader(io.BytesIO(content))
    page = next(n for n, p in enumerate(reader.pages) if "Maps by area" in p.extract_text())
    text = " ".join(reader.pages[page].extract_text().split())
    assert "shaded by its figure" in text and "admin 1" in text
    document = pdfium.PdfDocument(content)
    try:
        image = document[page].render(scale=1.4).to_pil().convert("RGB")
    finally:
        document.close()
    colours = {colour: count for count, colour in image.getcolors(1 << 20)}
    palette = {tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)) for c in svg.SEQUENTIAL}
    # Ouham (2 robberies in June) fills a large patch in the palette's lightest class; Bangui (5), the darkest.
    shaded = sum(colours.get(c, 0) for c in palette)
    assert shaded > 2000, shaded

