"""`sitaware forecast evaluate` on a small CSV and on records in a user's scope; `model-card --check`."""

from __future__ import annotations

import csv
import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sitaware.analytics.forecasting.grid import LocalProjection
from sitaware.analytics.forecasting.sepp import simulate_hawkes

START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def events_csv(tmp_path):
    ev = simulate_hawkes(0.6, 0.4, 0.2, 300, 420, (-3000, -3000, 3000, 3000), seed=2)
    lon, lat = LocalProjection(4.36, 18.55).to_lonlat(ev.x, ev.y)
    path = tmp_path / "events.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["occurred_at", "latitude", "longitude", "notes"])
        for t, a, o in zip(ev.t, lat, lon, strict=True):
            writer.writerow([(START + dt.timedelta(days=float(t))).isoformat(), f"{a:.6f}", f"{o:.6f}", "ignored"])
        writer.writerow(["not a date", "1", "2", ""])  # skipped, not fatal
    return path


def test_evaluate_a_csv_writes_markdown_json_and_compares_with_baselines(events_csv, tmp_path, capsys):
    out = tmp_path / "report"
    call_command("forecast", "evaluate", str(events_csv), "--origins", "3", "--models", "sepp,last_365_days",
                 "--out", str(out))
    printed = capsys.readouterr().out
    assert "origin 1/3" in printed and "origin 3/3" in printed and "wrote" in printed
    md = (out / "report.md").read_text()
    assert "Difference to `last_365_days`" in md and "| sepp |" in md and "Attention concentration" in md
    doc = json.loads((out / "report.json").read_text())
    everything = {"random", "last_period", "last_365_days", "sepp"}  # the baselines always run
    assert doc["origins"] == 3 and set(doc["models"]) == everything
    assert set(doc["summary"]["pai@0.05"]) == everything
    assert "sepp" in doc["bootstrap"]["last_365_days"]["pai@0.05"]
    assert "gini" in doc["concentration@0.05"]["sepp"]


def test_evaluate_refuses_a_missing_file_and_too_few_events(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        call_command("forecast", "evaluate", str(tmp_path / "nope.csv"), "--out", str(tmp_path))
    tiny = tmp_path / "tiny.csv"
    tiny.write_text("date,lat,lon\n2025-01-01,4.36,18.55\n")
    with pytest.raises(CommandError, match="at least 10"):
        call_command("forecast", "evaluate", str(tiny), "--out", str(tmp_path))


def test_evaluate_on_records_in_a_users_scope(world, tmp_path, capsys):
    from sitaware.core.scope import actor_for
    from sitaware.records.bulk import bulk_upsert
    from tests.conftest import record_payload

    ev = simulate_hawkes(0.3, 0.3, 0.2, 300, 300, (-2000, -2000, 2000, 2000), seed=4)
    lon, lat = LocalProjection(4.36, 18.55).to_lonlat(ev.x, ev.y)
    now = dt.datetime.now(dt.UTC)
    rows = [(i, record_payload(occurred_at=(now - dt.timedelta(days=300 - float(t))).isoformat(), latitude=float(a),
                               longitude=float(o), status="published", external_source="t", external_id=str(i)))
            for i, (t, a, o) in enumerate(zip(ev.t, lat, lon, strict=True), 1) if t < 299]
    bulk_upsert(actor_for(world.users["sam"]), rows)
    out = tmp_path / "scope"
    call_command("forecast", "evaluate", "--query", "--user", "ana", "--bbox", "18.5,4.3,18.6,4.42",
                 "--categories", "police.armed_robbery", "--origins", "2", "--models", "last_365_days",
                 "--out", str(out))
    doc = json.loads((out / "report.json").read_text())
    assert doc["events"] == len(rows) and "scope of ana" in doc["source"]
    with pytest.raises(CommandError, match="analysts, supervisors and commanders"):
        call_command("forecast", "evaluate", "--query", "--user", "rita", "--bbox", "18.5,4.3,18.6,4.42",
                     "--out", str(out))


def test_model_card_check_passes_on_the_committed_cards_and_fails_on_a_stale_one(tmp_path):
    call_command("forecast", "model-card", "--check")
    call_command("forecast", "model-card", "--model", "sepp", "--out", str(tmp_path))
    (tmp_path / "forecast-sepp.md").write_text("stale")
    with pytest.raises(CommandError, match="differ"):
        call_command("forecast", "model-card", "--model", "sepp", "--out", str(tmp_path), "--check")
