"""Risk maps as recommendations (issue 5, product side): scope, patrol exclusion, kill switch, R-AI-03 fields,
acceptance by a decision, and what patrol planning reads back."""

from __future__ import annotations

import datetime as dt

import h3
import numpy as np
import pytest

from tests.conftest import record_payload

KEY = "forecast-risk-map"
ORIGIN = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
BBOX = (18.50, 4.32, 18.62, 4.42)  # min_lon, min_lat, max_lon, max_lat around Bangui
HOT = (4.3612, 18.5550)  # PK5
PATROL_SPOT = h3.cell_to_latlng(h3.latlng_to_cell(4.3950, 18.5950, 8))  # where only patrols report (a cell centre)


def _rows(n: int, centre: tuple[float, float], seed: int, *, source: str = "community", days: int = 200,
          spread: float = 0.003, status: str = "published") -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        when = ORIGIN - dt.timedelta(days=float(rng.uniform(1, days)))
        out.append(record_payload(
            occurred_at=when.isoformat(), latitude=centre[0] + rng.normal(0, spread),
            longitude=centre[1] + rng.normal(0, spread), source_type=source, status=status,
            external_source="test", external_id=f"{seed}-{i}"))
    return out


def _load(actor, who: str, rows: list[dict]) -> None:
    from sitaware.records.bulk import bulk_upsert

    result = bulk_upsert(actor(who), list(enumerate(rows, 1)))
    assert result.created == len(rows), result


@pytest.fixture
def switched_on(world, actor):
    from sitaware.oversight import services

    services.ensure_builtin_components()
    services.set_enabled(actor("adam"), KEY, True, reason="model card read")


@pytest.fixture
def events(switched_on, actor):
    _load(actor, "sam", _rows(60, HOT, 1) + _rows(25, PATROL_SPOT, 2, source="patrol_report", spread=0.001))


def run(actor, who="ana", **kw):
    from sitaware.analytics import services

    args = dict(categories=["police.armed_robbery"], area={"bbox": list(BBOX)}, resolution=8, horizon_days=7,
                origin=ORIGIN)
    args.update(kw)
    return services.forecast_risk_map(actor(who), **args)


def _cell(lat_lon: tuple[float, float], res: int = 8) -> str:
    return h3.latlng_to_cell(lat_lon[0], lat_lon[1], res)


def test_the_component_is_registered_switched_off_with_version_and_hash(world):
    from sitaware.analytics.forecasting.version import VERSION
    from sitaware.oversight import services
    from sitaware.oversight.models import AIComponent

    services.ensure_builtin_components()
    component = AIComponent.objects.get(key=KEY)
    assert component.enabled is False and component.model_version == VERSION
    assert len(component.artefact_hash) == 64 and component.manual_path and component.purpose
    assert component.decider_roles == ["supervisor", "commander"]


def test_a_switched_off_component_refuses_and_stores_nothing(events, actor):
    from sitaware.analytics.models import RiskMap
    from sitaware.oversight import services
    from sitaware.oversight.errors import ComponentDisabled
    from sitaware.oversight.models import Recommendation

    services.set_enabled(actor("otto"), KEY, False, reason="review")
    with pytest.raises(ComponentDisabled):
        run(actor)
    assert not Recommendation.objects.exists() and not RiskMap.objects.exists()


def test_recommendation_carries_every_r_ai_03_field(events, actor):
    from sitaware.analytics.forecasting.version import VERSION, artefact_hash
    from sitaware.core.models import ChangeEntry

    rec = run(actor, model="sepp")
    assert rec.status == "pending" and rec.requested_role == "analyst"
    assert rec.model_id == "forecast/sepp" and rec.model_version == VERSION and rec.artefact_hash == artefact_hash()
    ref = rec.input_refs[0]
    assert ref["change_log_seq"] > 0 and ref["latest_occurred_at"] < ORIGIN.isoformat()
    assert ref["records"] == 85 and ref["used"] == 60 and ref["patrol_discovered"] == 25
    assert rec.parameters["resolution"] == 8 and rec.parameters["horizon_days"] == 7
    assert rec.parameters["patrol_records"] == "exclude" and rec.parameters["model"] == "sepp"
    out = rec.output
    assert out["cut_off"]["change_log_seq"] == ref["change_log_seq"]
    assert out["cells"] and all({"cell", "expected", "lower", "upper"} <= set(c) for c in out["cells"])
    assert all(c["lower"] <= c["expected"] <= max(c["upper"], c["expected"]) for c in out["cells"])
    top = out["top"]
    assert top[0]["cell"] == _cell(HOT) or top[0]["recent_events"] + top[0]["neighbour_events"] > 0
    for cell in top:
        assert {"recent_events", "neighbour_events", "long_term_per_horizon", "background_share"} <= set(cell)
    assert out["proposal"]["patrol_cells"] == [c["cell"] for c in top[:8]]
    assert len(out["proposal"]["exploration_cells"]) == 2
    assert not set(out["proposal"]["exploration_cells"]) & set(out["proposal"]["patrol_cells"])
    assert rec.uncertainty["method"].startswith("Poisson") and rec.uncertainty["total_range"]
    assert "long-term level" in rec.explanation and "Gini" in rec.explanation
    assert "person" in rec.limitations and rec.purpose
    logged = ChangeEntry.objects.get(action="recommendation.create", object_id=str(rec.id))
    assert '"forecast/sepp"' in logged.data


def test_patrol_discovered_records_are_left_out_by_default(events, actor):
    patrol_cell = _cell(PATROL_SPOT)
    default = run(actor)
    assert patrol_cell not in {c["cell"] for c in default.output["top"]}
    assert default.output["excluded_patrol_records"] == 25
    assert "patrol-discovered records were left out" in default.explanation
    included = run(actor, patrol_records="include")
    assert included.output["excluded_patrol_records"] == 0
    assert patrol_cell in {c["cell"] for c in included.output["top"][:3]}, (patrol_cell, included.output["top"])


def test_inverse_probability_weighting_uses_accepted_patrol_lists(events, actor):
    from sitaware.analytics import services
    from sitaware.oversight import services as oversight

    first = run(actor, patrol_records="include")
    patrol_cell = _cell(PATROL_SPOT)
    oversight.decide(actor("sam"), first.id, "modify", "patrol the patrol spot and PK5",
                     modified_output={"patrol_cells": [patrol_cell, _cell(HOT)], "exploration_cells": []})
    area_key = first.risk_map.config["area_key"]
    p = services.visit_probability(actor("ana"), area_key, [patrol_cell, _cell(HOT), "88596a6a23fffff"],
                                   ORIGIN + dt.timedelta(days=8))
    assert p[patrol_cell] == 1.0 and p["88596a6a23fffff"] == 0.0
    weighted = run(actor, patrol_records="inverse_probability", origin=ORIGIN + dt.timedelta(days=8))
    assert weighted.parameters["patrol_records"] == "inverse_probability"
    assert "weighted by 1 / (chance" in weighted.explanation


def test_records_out_of_scope_are_never_used(events, actor):
    """HSP drafts are invisible to UNPOL's analyst: a run after they exist is identical to one before."""
    before = run(actor)
    _load(actor, "sara", _rows(40, PATROL_SPOT, 7, source="community", status="draft", spread=0.001))
    after = run(actor)
    assert after.input_hash == before.input_hash
    assert after.output["cells"] == before.output["cells"]
    assert after.output["top"] == before.output["top"]
    # ...while HSP's own analyst, who can see them, gets another map.
    theirs = run(actor, who="hugo", statuses=("draft", "verified", "published", "archived"))
    assert _cell(PATROL_SPOT) in {c["cell"] for c in theirs.output["top"][:3]}


def test_shared_records_follow_the_agreement(events, actor):
    """HSP shares published restricted records with UNPOL; what is shared is in scope and is used."""
    before = run(actor)
    _load(actor, "sara", _rows(40, PATROL_SPOT, 8, source="community", spread=0.001))
    after = run(actor)
    assert after.input_refs[0]["records"] == before.input_refs[0]["records"] + 40


def test_accepting_makes_it_the_risk_map_patrol_planning_reads(events, actor):
    from sitaware.analytics import services
    from sitaware.core.models import ChangeEntry
    from sitaware.oversight import services as oversight

    rec = run(actor)
    assert services.accepted_risk_map(actor("sam")) is None  # advice only until someone decides
    with pytest.raises(Exception, match="supervisor, commander"):
        oversight.decide(actor("ana"), rec.id, "accept", "looks right")
    decision = oversight.decide(actor("cora"), rec.id, "accept", "matches what the teams report")
    assert decision.applied and decision.apply_result["status"] == "accepted"
    found = services.accepted_risk_map(actor("sam"), area={"bbox": list(BBOX)}, resolution=8,
                                       categories=["police.armed_robbery"], at=ORIGIN + dt.timedelta(days=3))
    assert found is not None and found.recommendation_id == rec.id
    assert found.accepted_patrol_cells == rec.output["proposal"]["patrol_cells"]
    assert services.accepted_risk_map(actor("sam"), at=ORIGIN + dt.timedelta(days=8)) is None  # period is over
    assert services.accepted_risk_map(actor("hugo")) is None  # another organisation
    assert ChangeEntry.objects.filter(action="risk_map.accept", object_id=str(found.id)).exists()


def test_a_rejected_map_is_never_handed_to_planning(events, actor):
    from sitaware.analytics import services
    from sitaware.oversight import services as oversight

    rec = run(actor)
    oversight.decide(actor("sam"), rec.id, "reject", "PK5 is already covered")
    assert services.accepted_risk_map(actor("sam")) is None


def test_concentration_report_is_stored_and_shown(events, actor):
    rec = run(actor)
    report = rec.risk_map.concentration
    assert report["periods"] == 1 and "gini" in report and report["thresholds"]["min_periods"] == 12
    assert rec.output["concentration"] == report
    again = run(actor)  # the same period run again replaces it, it is not a second period
    assert again.risk_map.concentration["periods"] == 1
    second = run(actor, origin=ORIGIN + dt.timedelta(days=7))
    assert second.risk_map.concentration["periods"] == 2


def test_inputs_are_checked_and_reporters_cannot_run_it(switched_on, actor):
    from django.core.exceptions import PermissionDenied

    from sitaware.oversight.errors import OversightValidationError

    with pytest.raises(PermissionDenied):
        run(actor, who="rita")
    with pytest.raises(OversightValidationError, match="resolution"):
        run(actor, resolution=14)
    with pytest.raises(OversightValidationError, match="area"):
        run(actor, area={"bbox": [1, 2, 3]})
    with pytest.raises(OversightValidationError, match="model"):
        run(actor, model="crystal_ball")


def test_only_place_time_and_category_are_read():
    from sitaware.analytics import services
    from sitaware.records.models import Record

    names = {f.name for f in Record._meta.get_fields()} | {"organisation_id"}
    assert set(services.READ_FIELDS) <= names
    assert not set(services.READ_FIELDS) & services.PERSON_FIELDS
    assert set(services.READ_FIELDS) == {"id", "version", "occurred_at", "latitude", "longitude", "category",
                                         "source_type", "sensitivity", "organisation_id"}


def test_the_same_cells_run_after_run_raise_a_concentration_warning(events, actor):
    """Twelve weekly maps of a long-memory model flag the same places: the warning shows in the explanation."""
    for week in range(12):
        rec = run(actor, model="last_365_days", exploration_share=0.0, origin=ORIGIN + dt.timedelta(days=7 * week))
    report = rec.risk_map.concentration
    assert report["periods"] == 12 and report["warning"], report
    assert report["most_flagged"][0]["flag_share"] == 1.0 and report["longest_streak"] == 12
    assert "WARNING (concentration)" in rec.explanation


def test_explanations_follow_the_language_of_the_request(events, actor):
    from django.utils import translation

    with translation.override("fr"):
        rec = run(actor, model="sepp")
    assert rec.explanation.startswith("Modèle sepp") and "exclues de l'apprentissage" in rec.explanation
    assert "Les fiches sont des signalements" in rec.limitations
