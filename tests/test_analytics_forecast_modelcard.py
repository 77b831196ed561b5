"""Disclosure (R-AI-07, R-AI-08): the model cards in docs/model-cards match the latest evaluation run.

If this fails after `python -m bench.bench_forecast` or a model change, regenerate the cards with
`sitaware forecast model-card` and commit them with the new results.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sitaware.analytics.forecasting import modelcard
from sitaware.analytics.forecasting.riskmap import MODELS
from sitaware.analytics.forecasting.version import VERSION

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "forecast.json"
CARDS = REPO / "docs" / "model-cards"


@pytest.mark.parametrize("model", list(MODELS))
def test_committed_card_matches_the_latest_evaluation_run(model):
    expected = modelcard.render(model, json.loads(RESULTS.read_text(encoding="utf-8")))
    path = CARDS / f"forecast-{model}.md"
    assert path.exists(), f"{path} is missing: run `sitaware forecast model-card`"
    assert path.read_text(encoding="utf-8") == expected, (
        f"{path.name} differs from bench/results/forecast.json: run `sitaware forecast model-card`")


def test_card_has_every_section_and_real_numbers():
    results = json.loads(RESULTS.read_text(encoding="utf-8"))
    card = modelcard.render("sepp", results)
    for heading in ("## Purpose", "## Inputs", "## Data and its gaps", "## Evaluation results",
                    "## Attention concentration", "## Known limitations", "## Oversight measures"):
        assert heading in card
    assert VERSION in card and results["machine"]["taken_at"] in card
    pai = results["car"]["summary"]["pai@0.05"]["sepp"]["mean"]
    assert f"| {pai:.3g} |" in card
    assert "| car | armed conflict" in card and "| portland | city" in card  # per series and per area type


def test_a_changed_result_changes_the_card():
    results = json.loads(RESULTS.read_text(encoding="utf-8"))
    before = modelcard.render("sepp", results)
    results["car"]["summary"]["pai@0.05"]["sepp"]["mean"] += 1.0
    assert modelcard.render("sepp", results) != before


def test_unknown_model_has_no_card():
    with pytest.raises(ValueError):
        modelcard.render("crystal_ball", {})
