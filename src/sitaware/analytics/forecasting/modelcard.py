"""Model cards for the risk-map models, generated from the latest evaluation run (R-AI-07, R-AI-08).

`render(model, results)` turns `bench/results/forecast.json` (written by `python -m bench.bench_forecast`) into a
markdown card: purpose, inputs, data and their gaps, accuracy per series and per area type, attention
concentration, known limitations, oversight measures and how to read the logs. Every number comes from the
results file, so a card in the repository can be checked against the latest run by rendering it again (a test
does). Pure: no Django, no clock (the date printed is the run's own).
"""

from __future__ import annotations

import math
from typing import Any

from .riskmap import EVALUATED, MIN_EVENTS_FOR_SEPP, MODELS, SEPP_WINDOW_DAYS
from .version import VERSION

BASELINE = "last_365_days"
# Each evaluation series, the kind of area it stands for, and its cell size (what "per area type" means here).
SERIES = (
    ("car", "armed conflict, country-wide", "0.5-degree cells (about 55 km)", "monthly"),
    ("portland", "city, property crime", "0.75 sq mi cells (about 1.4 km)", "weekly"),
)

DESCRIPTIONS = {
    "sepp": ("Self-exciting point process fitted by EM: a long-term level per cell plus a short-lived raise in "
             "risk near each recent event (theta offspring per event, mean delay 1/omega days, spatial spread sigma)."),
    "last_365_days": "Counts per cell over the last 365 days, scaled to the horizon.",
    "last_period": ("Counts per cell over the last period of the horizon's length (the next period looks like the "
                    "last)."),
    "kde": ("Gaussian kernel density over cell centres of all past events, bandwidth chosen by the likelihood of "
            "the last training period."),
    "kde_365_days": ("Gaussian kernel density over cell centres of the last 365 days' events, bandwidth chosen by "
                     "the likelihood of the last training period."),
    "prospective_hotspot": ("Prospective hot-spotting (Bowers, Johnson & Pease 2004): recent events (8 weeks) raise "
                            "the risk of their cell and of cells up to 3 cells away, decaying with distance and age."),
}

LIMITS = {
    "sepp": [
        "The long-term level is constant in time over the training window: a shifting situation is caught late.",
        "Offspring of events inside the horizon are not added (first generation only): for horizons much longer "
        "than 1/omega the triggered part is understated.",
        "Per-cell ranges are Poisson 5-95% ranges of the expected count; parameter uncertainty is not included.",
        "It is the default only where the evaluation on H3 cells found it better than the best baseline with a "
        "paired 95% interval above zero (" + (", ".join(f"{e.series} resolution {e.resolution}, {e.horizon_days:g} "
                                                        "days" for e in EVALUATED if e.sepp_beats_best) or "nowhere")
        + f") and with at least {MIN_EVENTS_FOR_SEPP} training events; elsewhere the best baseline of the nearest "
        "evaluated setting is.",
    ],
    "kde": ["Uses all history: a place that was violent years ago keeps a raised level; smooths over sharp local "
            "differences."],
    "last_365_days": ["Flags the same cells for a long time (long memory): watch the concentration report."],
    "last_period": ["Sparse: most cells get zero; noisy for short horizons."],
    "kde_365_days": ["Smooths over places with no events, which can hide sharp local differences."],
    "prospective_hotspot": ["A ranking, not a rate model: its expected counts are scaled, not estimated."],
}


def _f(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.{digits}g}" if abs(value) < 1000 else f"{value:.0f}"


def _interval(boot: dict[str, Any] | None) -> str:
    if not boot or not boot.get("n"):
        return "-"
    return f"{_f(boot['mean_diff'])} [{_f(boot['lo'])}, {_f(boot['hi'])}]"


def _h3_lines(name: str, h3: dict[str, Any] | None) -> list[str]:
    """Accuracy on the risk map's own cells (H3) per series, resolution and horizon, and where this model is the
    default (riskmap.EVALUATED, the same evaluation)."""
    if not h3:
        return []
    run = h3.get("machine", {})
    lines = ["", f"On H3 cells (what the risk map uses; run {run.get('taken_at', '-')}, commit "
             f"{run.get('git_commit', '-')}), mean PAI at 5% of the area; difference = this model minus the best "
             "baseline of that setting (paired bootstrap 95% interval):", "",
             "| series | H3 resolution | cells | horizon | origins | PAI@5% | best baseline | difference | default "
             "there |", "|---|---|---|---|---|---|---|---|---|"]
    for key, series in h3.get("series", {}).items():
        for res, r in series.get("resolutions", {}).items():
            for label, d in r.get("horizons", {}).items():
                metric = h3.get("decision_metric", "pai@0.05")
                mean = d["summary"][metric].get(name, {}).get("mean")
                best = d["best_baseline"]
                diff = "(itself)" if name == best else _interval(d["bootstrap_vs_best"][metric].get(name))
                lines.append(f"| {key} | {res} | {r['cells']} | {label} | {d['origins']} | {_f(mean)} | {best} | "
                             f"{diff} | {'yes' if d['winner'] == name else 'no'} |")
    return lines


def render(model: str, results: dict[str, Any]) -> str:
    """The markdown card of `model` from an evaluation results document (forecast.json)."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; cards exist for {', '.join(MODELS)}")
    machine = results.get("machine", {})
    name = model  # the benchmark names its models as riskmap.MODELS does
    lines = [
        f"# Model card: forecast/{model} ({VERSION})",
        "",
        "<!-- Generated by `sitaware forecast model-card` from bench/results/forecast.json. Do not edit by hand: "
        "tests/test_analytics_forecast_modelcard.py fails when this file differs from the latest evaluation run. -->",
        "",
        f"Evaluation run: {machine.get('taken_at', '-')} (commit {machine.get('git_commit', '-')}, "
        f"{machine.get('cpus', '-')} cores). Component: `forecast-risk-map` (the issue's forecast.risk_map).",
        "",
        "## Purpose",
        "",
        "Forecast where incidents of chosen categories are likely in the next period (expected count per H3 cell, "
        "with a 5-95% range), to help plan patrols. Place-based only: it reads the time, place and category of "
        "records and nothing about any person (R-AI-01). Its output is a recommendation: nothing happens until a "
        "supervisor or commander accepts it.",
        "",
        f"Method: {DESCRIPTIONS[model]}",
        "",
        "## Inputs",
        "",
        "- Records in the requester's scope: `occurred_at`, `latitude`, `longitude`, `category`, `source_type` "
        "(how the record was discovered), plus id, version and sensitivity for the log. No narrative, title, "
        "source identity, casualty or author field is read.",
        "- Only verified, published or archived records with an exact or near location and a time precise to the "
        "week or better.",
        "- Patrol-discovered records (`source_type` patrol_report) are left out by default, or weighted by "
        "1 / (chance that patrols visit their cell) on request (feedback-loop safeguard).",
        "- Parameters: categories, area (bbox, admin1 or H3 cells), H3 resolution (5-10), horizon (1-92 days).",
        "",
        "## Data and its gaps",
        "",
    ]
    for key, area_type, _cells, step in SERIES:
        series = results.get(key, {})
        lines.append(f"- **{key}** ({area_type}): {series.get('data', '-')}. {series.get('events', '-')} events, "
                     f"{series.get('cells', '-')} cells, {series.get('origins', '-')} {step} origins.")
    lines += [
        "- Gaps: neither series is this mission's own data. UCDP GED holds lethal events only, placed at reported "
        "coordinates (events placed only at province or country level are left out); Portland holds burglary "
        "calls for service in one US city. Both record what was reported, so places with less reporting look "
        "safer than they are. No personal data are used (place and time only).",
        "",
        "## Evaluation results (rolling origin, fitted on the past only)",
        "",
        "Mean over origins; PAI = hit rate / share of area flagged; PEI* = events captured / best possible; "
        f"difference = this model minus `{BASELINE}` with a paired-bootstrap 95% interval.",
        "",
        "| series | area type | cells | PAI@1% | PAI@5% | PAI@10% | PEI*@5% | log score | PAI@5% vs last 365 days |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, area_type, cells, _step in SERIES:
        series = results.get(key, {})
        summary = series.get("summary", {})

        def mean(metric: str, s: dict[str, Any] = summary) -> str:
            return _f(s.get(metric, {}).get(name, {}).get("mean"))

        boot = series.get("bootstrap_pai@0.05", {}).get(BASELINE, {}).get(name) if name != BASELINE else None
        diff = "(baseline)" if name == BASELINE else _interval(boot)
        lines.append(f"| {key} | {area_type} | {cells} | {mean('pai@0.01')} | {mean('pai@0.05')} | "
                     f"{mean('pai@0.1')} | {mean('pei@0.05')} | {mean('log_score')} | {diff} |")
    nij = results.get("portland_nij_style", {})
    nij_mean = nij.get("summary", {}).get(name, {}).get("mean")
    if nij_mean is not None:
        lines += ["", f"Portland at the NIJ challenge geometry (250 ft cells, {_f(100 * nij.get('flagged_share', 0))}% "
                      f"of the city flagged, {nij.get('origins', '-')} weekly origins): mean PAI {_f(nij_mean)}."]
    three = results.get("car", {}).get("three_month_horizon_pai@0.05", {}).get(name, {}).get("mean")
    if three is not None:
        lines += ["", f"CAR with a three-month horizon: mean PAI@5% {_f(three)}."]
    lines += _h3_lines(name, results.get("h3"))
    lines += ["", "## Attention concentration (5% of the area flagged at every origin)", "",
              "| series | Gini of flag frequency | top 10% of cells' share | longest streak | warnings |",
              "|---|---|---|---|---|"]
    for key, *_rest in SERIES:
        c = results.get(key, {}).get("concentration@0.05", {}).get(name)
        if c:
            lines.append(f"| {key} | {_f(c['gini'])} | {_f(c['top_10pct_share'])} | {c['max_streak']} | "
                         f"{'; '.join(c['warnings']) or '-'} |")
    ensign = results.get("ensign", {})
    if ensign:
        lines += ["", "Feedback loop (Ensign et al. urn, two areas, 1,000 days): final share error, median over "
                      "seeds: " + ", ".join(f"{k} {_f(v['median_error'])}" for k, v in ensign.items()) + "."]
    lines += ["", "## Known limitations", ""]
    lines += [f"- {text}" for text in LIMITS.get(model, [])]
    lines += [
        "- Accuracy was measured on the two public series above, not on this mission's records; the evaluated "
        "configuration (cell sizes, training windows"
        + (f"; the product's SEPP uses a {int(SEPP_WINDOW_DAYS)}-day window and H3 cells" if model == "sepp" else "")
        + ") differs from a mission's, so run `sitaware forecast evaluate` on the mission's own records before "
        "relying on it.",
        "- Records are reports: a forecast inherits where reporting happens. Excluding patrol-discovered records "
        "and reserving exploration cells limit, but do not remove, this feedback.",
        "- Long-memory models keep flagging the same cells: the concentration report warns when a few cells hold "
        "most attention for a long time.",
        "",
        "## Oversight measures",
        "",
        "- Registered switched off; an administrator switches it on, an administrator or oversight officer can "
        "switch it off at any time (the manual path stays available).",
        "- Every run is a recommendation with every R-AI-03 field (inputs and data cut-off, model and version, "
        "artefact hash, parameters, per-cell output and ranges, explanation, limitations); accepting, modifying "
        "or rejecting needs a supervisor or commander and a reason.",
        "- Patrol-discovered records left out by default; 20% of the patrol list drawn at random for exploration; "
        "a concentration report with warnings on every run.",
        "",
        "## Reading the logs",
        "",
        "Each run is a `recommendation.create` entry in the hash-chained change log (component `forecast-risk-map`);"
        " the decision is `decision.create`, and acceptance `risk_map.accept`. `GET /api/v1/analytics/risk-maps/{id}`"
        " shows a map with its cells, explanation and concentration report.",
        "",
    ]
    return "\n".join(lines)
