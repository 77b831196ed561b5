"""Geoparsing against an operator's gazetteer (pure), and the UCDP CAR benchmark split by year."""

from __future__ import annotations

import csv
import io

import pytest

from sitaware.triage import gazetteer
from tests.conftest import shared_data

CSV = """name,alternate_names,lat,lon,admin1,admin2,pcode,feature_type,weight
Kaga-Bandoro,Kaga Bandoro;Kaga,6.9896,19.1864,Nana-Grébizi,Kaga-Bandoro,CF41,populated_place,5
Bangui,,4.3612,18.5550,Bangui,Bangui,CF71,populated_place,10
PK5,Kilomètre Cinq,4.3700,18.5400,Bangui,Bangui,CF7101,neighbourhood,3
Ngaoundaye,,7.2333,15.2500,Ouham-Pendé,Ngaoundaye,CF32,populated_place,1
Bria,,6.5364,21.9862,Haute-Kotto,Bria,CF51,populated_place,4
Bria,,6.80,22.30,Haute-Kotto,Bria,CF51R,region,1
Pavika,,5.20,21.20,Basse-Kotto,Alindao,CF62,populated_place,1
Ouham,,6.80,17.50,Ouham,,CF31,province,1
Obo,,5.3998,26.4869,Haut-Mbomou,Obo,CF81,populated_place,2
Obo,,9.10,28.00,Elsewhere,Far,XX1,populated_place,9
"""


@pytest.fixture
def gaz():
    return gazetteer.Gazetteer.from_csv(io.StringIO(CSV))


def names(found):
    return [(t.surface, t.place.name, t.method, t.precision) for t in found]


def test_accents_case_and_hyphens_are_folded(gaz):
    found = gaz.find("Tirs à KAGA BANDORO et à Kilomètre Cinq (BANGUI).")
    assert [t.place.name for t in found] == ["Kaga-Bandoro", "PK5", "Bangui"]
    assert all(t.method == "exact" for t in found)


def test_spelling_variants_are_matched_and_marked_fuzzy(gaz):
    (hit,) = gaz.find("Attaque signalée à Pavica hier")
    assert (hit.place.name, hit.method) == ("Pavika", "skeleton")
    (typo,) = gaz.find("Village de Ngaoundaie incendié")
    assert typo.place.name == "Ngaoundaye" and typo.method in ("skeleton", "fuzzy") and typo.score < 100


def test_precision_codes(gaz):
    assert names(gaz.find("Obo, Haut-Mbomou")) [0][3] == "exact"
    assert gaz.locate("Kitife village, 30 km from Obo").precision == "near"
    assert gaz.locate("Des déplacés dans la province de l'Ouham").precision == "admin1"
    assert gaz.locate("Fighting in the Bria region").precision == "admin2"


def test_a_bare_name_means_the_town_and_name_region_means_the_area(gaz):
    assert gaz.locate("Shooting in Bria").place.feature_type == "populated_place"
    assert gaz.locate("Shooting in the Bria region").place.feature_type == "region"


def test_homonyms_are_resolved_by_admin_areas_named_in_the_text(gaz):
    # Weight prefers the far-away Obo; naming Haut-Mbomou (an admin1 of the CAR one) picks the CAR Obo.
    assert gaz.locate("Obo").place.admin1 == "Elsewhere"
    found = gaz.find("Obo, Haut-Mbomou")
    assert found[0].place.admin1 == "Haut-Mbomou" and found[0].candidates == 2


def test_common_words_are_not_places_and_lower_case_sms_still_matches(gaz):
    assert gaz.find("The village north of the camp") == []
    assert [t.place.name for t in gaz.find("tirs a pk5 ce matin vers bangui")] == ["PK5", "Bangui"]


def test_the_longest_name_wins(gaz):
    gaz.add(gazetteer.Place(name="Bangui M'Poko", lat=4.39, lon=18.52, feature_type="airport"))
    assert [t.place.name for t in gaz.find("Arrivée à Bangui M'Poko")] == ["Bangui M'Poko"]


@pytest.mark.parametrize("row, message", [
    ("X,,abc,18,,,,,", "not a number"),
    (",,4,18,,,,,", "name is empty"),
    ("X,,95,18,,,,,", "out of range"),
])
def test_bad_lines_are_refused_with_their_line_number(row, message):
    text = "name,alternate_names,lat,lon,admin1,admin2,pcode,feature_type,weight\n" + row + "\n"
    with pytest.raises(ValueError, match=f"line 2: .*{message}"):
        gazetteer.Gazetteer.from_csv(io.StringIO(text))


def test_ucdp_car_descriptions_with_a_gazetteer_built_up_to_2016():
    path = shared_data("events", "ucdp_ged_caf", "ged231_caf_events.csv")
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import bench_triage

    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    gaz = bench_triage.ucdp_gazetteer([r for r in rows if int(r["year"]) <= 2016])
    result = bench_triage.bench_ucdp()
    assert len(gaz) == result["gazetteer_places"]
    # Measured 0.513 (description only) and 0.550 (with admin names); thresholds catch regressions.
    assert result["description"]["accuracy_25km"] >= 0.48
    assert result["description+admin"]["accuracy_25km"] >= 0.52
    assert result["description"]["median_error_km_resolved"] <= 5
