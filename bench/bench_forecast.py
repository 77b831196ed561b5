"""Place-based forecasting: rolling-origin accuracy on real data, SEPP parameter recovery and fit+predict time.

Sections (each one also lands in bench/results/forecast.json and between the bench markers of docs/forecasting.md):
- CAR: UCDP GED 23.1, monthly origins 2013-01 .. 2022-12 (120), one-month horizon, 0.5-degree cells that ever had a
  precise event (149, the golden scan-statistic grid); compared with the issue author's untuned reference numbers.
- Portland NIJ burglary: weekly origins 2016-03-01 .. 2017-05-24, one-week horizon, 0.75 sq mi square cells inside
  the city boundary.
- Portland at 600 ft cells (issue 5): the NIJ fixed flagged areas of 0.25 and 0.75 sq mi beside the 0.5-10% shares,
  horizons 1, 2 and 4 weeks, all seven models (KDE and prospective hot-spotting in their lattice form).
- Portland reference check: last 365 days at a fixed 0.25 / 0.75 sq mi flagged area for 250 and 600 ft cells, two
  grid anchors and two origin ranges (where the issue's 8.3 comes from).
- Horizons (issue 5): CAR 1 and 3 months from the monthly origins, Portland 1, 2 and 4 weeks from the weekly
  origins; PAI, PEI* and hit rate at every flagged-area share and the Poisson log score; mean, median and the paired
  bootstrap difference of every model to every baseline; a moving-block bootstrap beside it for the overlapping
  windows of the longer horizons; and whether the default model (SEPP) beats the best baseline.
- CAR reference conventions (`car_reference`): the issue's untuned reference numbers under each study-area /
  origin / flagging convention tried (docs/forecasting.md, "CAR reference numbers").
- H3 cells (`h3`, issue 5): the risk map's own models on H3 cells, CAR at resolutions 5-7 and Portland at 7-9, per
  horizon; the best baseline and whether SEPP beats it. `riskmap.EVALUATED` (the default model) must match it.
- Oakland (Lum & Isaac 2016 drug-crime records): patrol feedback simulation with and without the safeguards.
- SEPP on simulated Hawkes data with known parameters; fit + predict time for 1k, 10k and 100k events.

    python -m bench.bench_forecast [--quick]
    python -m bench.bench_forecast --only h3,car_reference   # redo these sections, keep the others
    python -m bench.bench_forecast --render                  # rewrite their doc blocks from the results file
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import re
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from bench import common
from sitaware.analytics.forecasting import riskmap
from sitaware.analytics.forecasting.base import Model
from sitaware.analytics.forecasting.baselines import (
    KernelDensity,
    LastDays,
    LastPeriod,
    ProspectiveHotspot,
    RandomModel,
)
from sitaware.analytics.forecasting.datasets import (
    oregon_north_to_lonlat,
    read_boundary_feet,
    read_portland_nij,
    read_portland_nij_lonlat,
    read_ucdp_ged,
)
from sitaware.analytics.forecasting.evaluation import (
    day_number,
    flag_matrix,
    monthly_windows,
    paired_bootstrap,
    report_markdown,
    rolling_origin,
    summarise,
    weekly_windows,
)
from sitaware.analytics.forecasting.feedback import concentration, polya_urn
from sitaware.analytics.forecasting.grid import (
    degree_grid,
    h3_cells_of,
    h3_grid,
    points_in_polygon,
    rect_grid,
    square_grid_over,
)
from sitaware.analytics.forecasting.lattice import (
    LatticeKernelDensity,
    LatticeProspectiveHotspot,
    fixed_area_share,
    shifted_square_grid,
)
from sitaware.analytics.forecasting.oakland import read_oakland, simulate
from sitaware.analytics.forecasting.sepp import SEPP, SEPPConvergenceWarning, simulate_hawkes

DATA = common.REPO.parent / "shared" / "data"
DOC = common.REPO / "docs" / "forecasting.md"
SHARES = (0.005, 0.01, 0.02, 0.05, 0.10)
BASELINES = ("random", "last_period", "last_365_days", "kde")
REFERENCE_CAR_PAI_5 = {"last_period": 7.7, "last_365_days": 7.3, "kde": 6.1}
REFERENCE_PORTLAND_PAI = {"last_365_days": 8.3}
SQ_MILE_M2 = 2_589_988.110336
HORIZON_METRICS = ([f"{m}@{s:g}" for m in ("pai", "pei", "hit") for s in SHARES] + ["log_score"])
DEFAULT_MODEL = "sepp"  # the candidate default: tested against the best baseline (riskmap.EVALUATED)


def _models(sepp: Callable[[], Model]) -> dict[str, Callable[[], Model]]:
    return {
        "random": lambda: RandomModel(0),
        "last_period": LastPeriod,
        "last_365_days": lambda: LastDays(365),
        "kde": KernelDensity,
        "kde_365_days": lambda: KernelDensity(window_days=365),
        "prospective_hotspot": ProspectiveHotspot,
        "sepp": sepp,
    }


def _evaluate(events, grid, models, windows) -> tuple[dict[str, Any], str]:
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SEPPConvergenceWarning)
        results = rolling_origin(events, grid, models, windows, shares=SHARES)
    seconds = time.perf_counter() - start
    sparse = rolling_origin(events, grid, {k: v for k, v in models.items() if k != "sepp"}, windows,
                            shares=(0.05,), only_positive=True)
    metrics = [f"pai@{s:g}" for s in SHARES] + ["pei@0.05", "hit@0.05", "log_score"]
    out: dict[str, Any] = {
        "origins": len(windows),
        "cells": grid.size,
        "events": len(events),
        "seconds": round(seconds, 1),
        "sepp_not_converged": len(caught),
        "summary": {m: summarise(results, m) for m in metrics},
        "summary_only_positive_pai@0.05": summarise(sparse, "pai@0.05"),
        "bootstrap_pai@0.05": {b: paired_bootstrap(results, "pai@0.05", b) for b in BASELINES},
        "bootstrap_log_score": {b: paired_bootstrap(results, "log_score", b) for b in BASELINES[1:]},
        "concentration@0.05": {},
    }
    for model in models:
        rep = concentration(flag_matrix(results, model))
        out["concentration@0.05"][model] = {"gini": round(rep.gini, 3), "top_10pct_share": round(rep.top_share, 3),
                                           "max_streak": int(rep.longest_streak.max()), "warnings": rep.warnings}
    table = report_markdown(results, ["pai@0.05", "pei@0.05", "log_score"], ["last_365_days"], title="", level=4)
    return out, table


def _block_bootstrap(results, metric: str, model: str, baseline: str, block: int, n_boot: int = 2000,
                     seed: int = 0) -> dict[str, float]:
    """Paired difference model - baseline with a moving-block bootstrap over origins in time order (block = the
    number of origins one window spans), for overlapping windows where origins are not independent."""
    table: dict[str, dict[float, float]] = {}
    for r in results:
        table.setdefault(r.model, {})[r.origin] = r.metrics.get(metric, float("nan"))
    a, b = table[model], table[baseline]
    diff = np.array([a[o] - b[o] for o in sorted(a) if o in b and np.isfinite(a[o]) and np.isfinite(b[o])])
    if diff.size == 0:
        return {"mean_diff": float("nan"), "lo": float("nan"), "hi": float("nan"), "n": 0, "block": block}
    block = max(1, min(block, diff.size))
    rng = np.random.default_rng(seed)
    n_blocks = math.ceil(diff.size / block)
    starts = rng.integers(0, diff.size - block + 1, size=(n_boot, n_blocks))
    idx = (starts[:, :, None] + np.arange(block)[None, None, :]).reshape(n_boot, -1)[:, :diff.size]
    lo, hi = np.percentile(diff[idx].mean(axis=1), [2.5, 97.5])
    return {"mean_diff": float(diff.mean()), "lo": float(lo), "hi": float(hi), "n": int(diff.size), "block": block}


def _verdict(lo: float, hi: float) -> str:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "n/a"
    return "beats" if lo > 0 else "worse" if hi < 0 else "no difference shown"


def horizons(events, grid, models, windows_by_label: dict[str, tuple[list[tuple[float, float]], int]],
             shares: tuple[float, ...] = SHARES) -> dict[str, Any]:
    """Every metric at every share per horizon; paired bootstrap of every model against every baseline; the
    default model against the best baseline (highest mean) per metric. `windows_by_label` maps a horizon label to
    its (origin, end) windows and the number of consecutive origins one window spans (for the block bootstrap)."""
    baselines = [m for m in models if m != DEFAULT_MODEL]
    metric_names = [f"{m}@{s:g}" for m in ("pai", "pei", "hit") for s in shares] + ["log_score"]
    out: dict[str, Any] = {}
    for label, (windows, span) in windows_by_label.items():
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SEPPConvergenceWarning)
            results = rolling_origin(events, grid, models, windows, shares=shares)
        summary = {m: summarise(results, m) for m in metric_names}
        boot = {m: {b: paired_bootstrap(results, m, b) for b in baselines
                    if summary[m][b]["n"]} for m in metric_names}
        decision = {}
        for metric in metric_names:
            ranked = [b for b in baselines if summary[metric][b]["n"]]
            best = max(ranked, key=lambda b: summary[metric][b]["mean"])
            iid = boot[metric][best][DEFAULT_MODEL]
            blk = _block_bootstrap(results, metric, DEFAULT_MODEL, best, span)
            decision[metric] = {"best_baseline": best, "best_baseline_mean": summary[metric][best]["mean"],
                                "default_mean": summary[metric][DEFAULT_MODEL]["mean"],
                                "mean_diff": iid["mean_diff"], "lo": iid["lo"], "hi": iid["hi"],
                                "block_lo": blk["lo"], "block_hi": blk["hi"], "block": blk["block"],
                                "verdict": _verdict(iid["lo"], iid["hi"]),
                                "verdict_block": _verdict(blk["lo"], blk["hi"])}
        out[label] = {"origins": len(windows), "windows_overlap": span > 1, "block": span,
                      "seconds": round(time.perf_counter() - start, 1), "summary": summary, "bootstrap": boot,
                      "default_vs_best_baseline": decision}
        d = decision[f"pai@{shares[0]:g}"] if "pai@0.05" not in decision else decision["pai@0.05"]
        print(f"  {label}: PAI@5% {DEFAULT_MODEL} {d['default_mean']:.2f} vs {d['best_baseline']} "
              f"{d['best_baseline_mean']:.2f}, diff {d['mean_diff']:.2f} [{d['lo']:.2f}, {d['hi']:.2f}] "
              f"block [{d['block_lo']:.2f}, {d['block_hi']:.2f}]", flush=True)
    return out


def car(quick: bool) -> tuple[dict[str, Any], str]:
    data = read_ucdp_ged(DATA / "events" / "ucdp_ged_caf" / "ged231_caf_detection.csv")
    grid = degree_grid(data.projection, 14.0, 2.0, 0.5, data.lon, data.lat)
    last = dt.date(2014, 12, 1) if quick else dt.date(2022, 12, 1)
    windows = monthly_windows(dt.date(2013, 1, 1), last)
    # UCDP places many events on the same village or town coordinates: a 1 km floor on sigma keeps EM from
    # collapsing onto exact duplicates.
    models = _models(lambda: SEPP(sigma0=20_000, max_lag=90, max_distance=60_000, min_sigma=1_000))
    out, table = _evaluate(data.events, grid, models, windows)
    origin = windows[-1][0]
    fitted = models["sepp"]().fit(data.events.before(origin), grid, origin)
    assert isinstance(fitted, SEPP) and fitted.params is not None
    out["sepp_at_last_origin"] = {"origin": str(dt.date(1970, 1, 1) + dt.timedelta(days=origin)),
                                  "theta": round(fitted.params.theta, 3), "omega": round(fitted.params.omega, 4),
                                  "sigma_km": round(fitted.params.sigma / 1000, 1), "iterations": fitted.n_iter,
                                  "converged": fitted.converged, "pairs": fitted.n_pairs}
    # Three-month horizons from the same monthly origins (windows overlap, so no bootstrap here).
    # Windows must end inside the data (GED 23.1 ends 2022-12-31): an origin whose window runs past it is dropped.
    data_end = day_number(dt.date(2023, 1, 1))
    windows3 = [w for w in monthly_windows(dt.date(2013, 1, 1), last, months=3) if w[1] <= data_end]
    three = rolling_origin(data.events, grid, models, windows3, shares=(0.05,))
    out["three_month_horizon_pai@0.05"] = summarise(three, "pai@0.05")
    out["horizons"] = horizons(data.events, grid, models, {
        "1 month": (windows, 1), "3 months": (windows3, 3)})
    out["reference_mean_pai@0.05"] = REFERENCE_CAR_PAI_5
    out["data"] = "UCDP GED 23.1 CAR, where_prec<=3 and date_prec<=3; 0.5-degree cells that ever had such an event"
    return out, table


def portland(quick: bool) -> tuple[dict[str, Any], str]:
    folder = DATA / "crime" / "portland_nij"
    events = read_portland_nij(folder / "crimes_bur.csv")
    boundary = read_boundary_feet(folder / "portland_coords.csv")
    grid = square_grid_over(events.x, events.y, math.sqrt(0.75 * SQ_MILE_M2), boundary=boundary)
    last = dt.date(2016, 5, 31) if quick else dt.date(2017, 5, 24)
    windows = weekly_windows(day_number(dt.date(2016, 3, 1)), day_number(last))
    models = _models(lambda: SEPP(sigma0=300, max_lag=60, max_distance=900, min_sigma=10, window_days=730))
    out, table = _evaluate(events, grid, models, windows)
    # Windows must end inside the data (the file ends 2017-05-31): longer horizons lose the last origins.
    first, end, data_end = day_number(dt.date(2016, 3, 1)), day_number(last), day_number(dt.date(2017, 6, 1))
    out["horizons"] = horizons(events, grid, models, {
        f"{w} week{'s' if w > 1 else ''}": ([v for v in weekly_windows(first, end, weeks=w) if v[1] <= data_end], w)
        for w in (1, 2, 4)})
    out["reference_mean_pai"] = REFERENCE_PORTLAND_PAI
    out["data"] = "Portland burglary CFS (NIJ RTCFC); square cells of 0.75 sq mi whose centre is inside the boundary"
    return out, table


def portland_nij_style(quick: bool) -> dict[str, Any]:
    """NIJ challenge geometry: 250 ft cells (its smallest, 62,500 sq ft) and a flagged area of 0.75 sq mi (its
    largest). KDE and prospective hot-spotting run in their lattice form (the originals are O(cells^2) or
    O(events x cells) per origin at 72k cells)."""
    folder = DATA / "crime" / "portland_nij"
    events = read_portland_nij(folder / "crimes_bur.csv")
    boundary = read_boundary_feet(folder / "portland_coords.csv")
    grid = square_grid_over(events.x, events.y, 250 * 0.3048, boundary=boundary)
    share = 0.75 * SQ_MILE_M2 / float(grid.areas.sum())
    last = dt.date(2016, 5, 31) if quick else dt.date(2017, 5, 24)
    windows = weekly_windows(day_number(dt.date(2016, 3, 1)), day_number(last))
    models = {k: v for k, v in _models(lambda: SEPP(sigma0=300, max_lag=60, max_distance=900, min_sigma=10,
                                                    window_days=730)).items()
              if k in ("random", "last_period", "last_365_days", "sepp")}
    models["kde"] = LatticeKernelDensity
    models["kde_365_days"] = lambda: LatticeKernelDensity(window_days=365)
    models["prospective_hotspot"] = LatticeProspectiveHotspot
    start = time.perf_counter()
    results = rolling_origin(events, grid, models, windows, shares=(share,))
    sparse = rolling_origin(events, grid, {k: models[k] for k in ("last_period", "last_365_days")}, windows,
                            shares=(share,), only_positive=True)
    key = f"pai@{share:g}"
    return {"origins": len(windows), "cells": grid.size, "flagged_share": share, "seconds":
            round(time.perf_counter() - start, 1), "summary": summarise(results, key),
            "summary_only_positive": summarise(sparse, key), "reference_mean_pai": REFERENCE_PORTLAND_PAI,
            "bootstrap": {b: paired_bootstrap(results, key, b) for b in ("last_365_days", "kde")}}


NIJ_AREAS_SQ_MI = (0.25, 0.75)
FOOT = 0.3048


def _portland_data():
    folder = DATA / "crime" / "portland_nij"
    return read_portland_nij(folder / "crimes_bur.csv"), read_boundary_feet(folder / "portland_coords.csv")


def portland_600ft(quick: bool) -> dict[str, Any]:
    """Issue 5's fine layout: 600 ft cells (the NIJ challenge's largest allowed cell) inside the boundary, weekly
    origins 2016-03-01 .. 2017-05-24, horizons 1, 2 and 4 weeks, all seven models. Flagged areas: the NIJ fixed
    areas 0.25 and 0.75 sq mi (a share of the ~161 sq mi study area) and the usual 0.5-10% shares. KDE and
    prospective hot-spotting run as their lattice versions (same models, vectorised; see forecasting.lattice)."""
    events, boundary = _portland_data()
    grid = square_grid_over(events.x, events.y, 600 * FOOT, boundary=boundary)
    fixed = tuple(fixed_area_share(grid, a) for a in NIJ_AREAS_SQ_MI)
    shares = (*fixed, *SHARES)
    models = _models(lambda: SEPP(sigma0=300, max_lag=60, max_distance=900, min_sigma=10, window_days=730))
    models["kde"] = LatticeKernelDensity
    models["kde_365_days"] = lambda: LatticeKernelDensity(window_days=365)
    models["prospective_hotspot"] = LatticeProspectiveHotspot
    last = dt.date(2016, 5, 31) if quick else dt.date(2017, 5, 24)
    first, end, data_end = day_number(dt.date(2016, 3, 1)), day_number(last), day_number(dt.date(2017, 6, 1))
    start = time.perf_counter()
    out: dict[str, Any] = {
        "cells": grid.size, "cell_ft": 600, "area_sq_mi": round(float(grid.areas.sum()) / SQ_MILE_M2, 2),
        "events": len(events), "fixed_areas_sq_mi": list(NIJ_AREAS_SQ_MI), "fixed_area_shares": list(fixed),
        "shares": list(shares),
        "horizons": horizons(events, grid, models, {
            f"{w} week{'s' if w > 1 else ''}": ([v for v in weekly_windows(first, end, weeks=w)
                                                 if v[1] <= data_end], w) for w in (1, 2, 4)}, shares=shares)}
    out["origins"] = out["horizons"]["1 week"]["origins"]
    out["seconds"] = round(time.perf_counter() - start, 1)
    out["data"] = ("Portland burglary CFS (NIJ RTCFC); 600 ft square cells whose centre is inside the 500 ft "
                   "buffered PPB boundary")
    return out


def portland_reference_check() -> dict[str, Any]:
    """Where the issue's 'last 365 days 8.3, weekly at 0.75 sq mi' can come from: last 365 days, one-week horizon,
    mean PAI with a fixed flagged area of 0.25 / 0.75 sq mi, for 250 and 600 ft cells, two cell alignments (the
    default anchor and half a cell off) and two origin ranges (the benchmark's 2016-03..2017-05 and every weekly
    origin with a full year of history, 2013-03..2017-05). Also the 0.75 sq mi *cell* reading used before."""
    events, boundary = _portland_data()
    ranges = {"2016-03..2017-05": dt.date(2016, 3, 1), "2013-03..2017-05": dt.date(2013, 3, 1)}
    rows = []
    for ft in (250, 600):
        for offset in (0.0, 0.5):
            grid = shifted_square_grid(boundary, ft * FOOT, offset)
            fixed = tuple(fixed_area_share(grid, a) for a in NIJ_AREAS_SQ_MI)
            for label, first in ranges.items():
                windows = weekly_windows(day_number(first), day_number(dt.date(2017, 5, 24)))
                results = rolling_origin(events, grid, {"last_365_days": lambda: LastDays(365)}, windows,
                                         shares=fixed)
                for area, share in zip(NIJ_AREAS_SQ_MI, fixed, strict=True):
                    s = summarise(results, f"pai@{share:g}")["last_365_days"]
                    rows.append({"cell_ft": ft, "offset_cells": offset, "origins": label, "n_origins": len(windows),
                                 "flagged_sq_mi": area, "study_area_sq_mi": round(float(grid.areas.sum())
                                                                                  / SQ_MILE_M2, 1),
                                 "mean_pai": round(s["mean"], 2), "median_pai": round(s["median"], 2)})
    return {"reference": REFERENCE_PORTLAND_PAI, "rows": rows}


# The H3 resolutions the risk map offers (5-10) that fit each series: CAR's conflict events from regional cells
# (res 5, ~250 km²) down to town-size cells (res 7, ~5 km²); Portland from district-size cells (res 7) to
# block-size cells (res 9, ~0.1 km²; res 10 would be 30,138 cells, above the risk map's 20,000-cell limit).
H3_RESOLUTIONS = {"car": (5, 6, 7), "portland": (7, 8, 9)}
H3_METRICS = ("pai@0.01", "pai@0.05", "pai@0.1", "pei@0.05", "hit@0.05", "log_score")
H3_SHARES = (0.01, 0.05, 0.10)
DECISION_METRIC = "pai@0.05"


def _h3_models(grid) -> dict[str, Callable[[], Model]]:
    """Exactly what the risk map runs (riskmap.MODELS, with its H3 SEPP settings), plus the random floor."""
    models: dict[str, Callable[[], Model]] = {"random": lambda: RandomModel(0)}
    models.update({name: (lambda make=make: make(grid)) for name, make in riskmap.MODELS.items()})
    return models


def _non_overlapping(windows: list[tuple[float, float]], step: int) -> list[tuple[float, float]]:
    """Every `step`-th window, so windows longer than the origin step do not overlap (origins stay independent
    enough for the plain paired bootstrap) and the run costs 1/step as much."""
    return windows[::step]


def h3_decide(results, baselines: list[str], default: str = "sepp") -> dict[str, Any]:
    """Best baseline (highest mean of DECISION_METRIC) and whether `default` beats it (paired 95% interval > 0)."""
    summary = {m: summarise(results, m) for m in H3_METRICS}
    ranked = [b for b in baselines if summary[DECISION_METRIC][b]["n"]]
    best = max(ranked, key=lambda b: summary[DECISION_METRIC][b]["mean"])
    vs_best = {m: paired_bootstrap(results, m, best) for m in H3_METRICS}
    vs_365 = {m: paired_bootstrap(results, m, "last_365_days") for m in H3_METRICS}
    d = vs_best[DECISION_METRIC].get(default, {"lo": float("nan"), "n": 0})
    sepp_wins = bool(d.get("n") and d["lo"] > 0)
    return {"summary": summary, "best_baseline": best, "bootstrap_vs_best": vs_best,
            "bootstrap_vs_last_365_days": vs_365, "sepp_beats_best": sepp_wins,
            "winner": default if sepp_wins else best}


def _h3_plans(quick: bool) -> dict[str, tuple[Any, dict[str, tuple[list[tuple[float, float]], float]],
                                                Callable[[int], list[str]]]]:
    """Per series: the events (lon/lat-backed), the windows per horizon label (with the horizon in days) and the
    cells at a resolution."""
    import h3

    car_data = read_ucdp_ged(DATA / "events" / "ucdp_ged_caf" / "ged231_caf_detection.csv")
    last_car = dt.date(2014, 12, 1) if quick else dt.date(2022, 12, 1)
    data_end = day_number(dt.date(2023, 1, 1))
    car_windows = {"1 month": (monthly_windows(dt.date(2013, 1, 1), last_car), 30.0),
                   "3 months": (_non_overlapping([w for w in monthly_windows(dt.date(2013, 1, 1), last_car, months=3)
                                                  if w[1] <= data_end], 3), 91.0)}
    folder = DATA / "crime" / "portland_nij"
    pdx = read_portland_nij_lonlat(folder / "crimes_bur.csv")
    boundary = read_boundary_feet(folder / "portland_coords.csv") / FOOT
    b_lon, b_lat = oregon_north_to_lonlat(boundary[:, 0], boundary[:, 1])
    polygon = h3.LatLngPoly(list(zip(b_lat.tolist(), b_lon.tolist(), strict=True)))
    last_pdx = dt.date(2016, 5, 31) if quick else dt.date(2017, 5, 24)
    first, end, pdx_end = day_number(dt.date(2016, 3, 1)), day_number(last_pdx), day_number(dt.date(2017, 6, 1))
    # Every second weekly origin for 1 and 2 weeks, every fourth for 4 weeks (see h3_series).
    pdx_windows = {f"{w} week{'s' if w > 1 else ''}": (
        _non_overlapping([v for v in weekly_windows(first, end, weeks=w) if v[1] <= pdx_end], max(w, 2)), 7.0 * w)
        for w in (1, 2, 4)}
    return {"car": (car_data, car_windows, lambda res: h3_cells_of(car_data.projection, res, car_data.events.x,
                                                                   car_data.events.y)),
            "portland": (pdx, pdx_windows, lambda res: sorted(h3.polygon_to_cells(polygon, res)))}


def h3_one(key: str, res: int, quick: bool = False) -> dict[str, Any]:
    """One series at one H3 resolution, every horizon: the decision per horizon (see h3_decide)."""
    data, windows_by_label, cells_at = _h3_plans(quick)[key]
    grid = h3_grid(data.projection, res, cells_at(res))
    models = _h3_models(grid)
    baselines = [m for m in models if m not in ("sepp", "random")]
    by_h: dict[str, Any] = {"cells": grid.size, "horizons": {}}
    for label, (windows, horizon_days) in windows_by_label.items():
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SEPPConvergenceWarning)
            results = rolling_origin(data.events, grid, models, windows, shares=H3_SHARES)
        decision = h3_decide(results, baselines)
        decision.update(origins=len(windows), horizon_days=horizon_days, seconds=round(time.perf_counter() - t0, 1),
                        load_average=round(os.getloadavg()[0], 1))
        by_h["horizons"][label] = decision
        s = decision["summary"][DECISION_METRIC]
        b = decision["bootstrap_vs_best"][DECISION_METRIC].get("sepp", {})
        print(f"  {key} res {res} ({grid.size} cells) {label}: best baseline {decision['best_baseline']} "
              f"{s[decision['best_baseline']]['mean']:.2f}, sepp {s['sepp']['mean']:.2f} "
              f"diff {b.get('mean_diff', float('nan')):+.2f} [{b.get('lo', float('nan')):.2f}, "
              f"{b.get('hi', float('nan')):.2f}] -> {decision['winner']} ({decision['seconds']} s)", flush=True)
    return by_h


def h3_series(quick: bool) -> dict[str, Any]:
    """Issue 5: the risk map's own models on the risk map's own cells (H3) for both series, per resolution and
    horizon; which baseline is best and whether SEPP beats it. This is what riskmap.default_model follows.

    CAR: UCDP events as in `car`, cells = the H3 cells that ever hold an event (as `sitaware forecast evaluate`
    does), monthly origins 2013-01..2022-12, horizons 1 month (120 origins) and 3 months (every third origin: 40
    non-overlapping windows). Portland: the burglary points converted to longitude/latitude, cells = the H3 cells
    whose centre is inside the city boundary (as a bbox or cell-list area in the risk map), weekly origins
    2016-03-01..2017-05-24, every second one for horizons of 1 week (33 origins) and 2 weeks (32, not
    overlapping), every fourth for 4 weeks (16). Subsampling keeps the CPU cost within reach on 2 shared cores (a
    SEPP fit per origin) and makes the windows independent; the price is wider intervals.
    """
    out: dict[str, Any] = {"machine": common.machine_facts(), "decision_metric": DECISION_METRIC, "series": {}}
    start = time.perf_counter()
    plans = _h3_plans(quick)
    for key, (data, _windows, _cells) in plans.items():
        out["series"][key] = {"events": len(data.events), "resolutions": {
            str(res): h3_one(key, res, quick) for res in H3_RESOLUTIONS[key]}}
    out["seconds"] = round(time.perf_counter() - start, 1)
    return out


WORLD = common.REPO / "src" / "sitaware" / "web" / "static" / "web" / "vendor" / "world-atlas" / "countries-50m.geojson"
CAR_REFERENCE_MODELS = {"last_period": LastPeriod, "last_365_days": lambda: LastDays(365), "kde": KernelDensity}


def _car_outline() -> np.ndarray:
    """CAR's outline (lon, lat) from the Natural Earth 1:50m countries the web map already vendors."""
    world = json.loads(WORLD.read_text(encoding="utf-8"))
    shape = next(f for f in world["features"] if f["properties"]["name"] == "Central African Rep.")["geometry"]
    return np.array(shape["coordinates"][0], dtype=float)


def _degree_cells(kind: str, lon: np.ndarray, lat: np.ndarray) -> list[tuple[int, int]]:
    """0.5-degree cells (anchored at 14 E, 2 N like the scan-statistic grid) of one study-area convention."""
    ix, iy = np.floor((lon - 14.0) / 0.5).astype(int), np.floor((lat - 2.0) / 0.5).astype(int)
    ever = set(zip(ix.tolist(), iy.tolist(), strict=True))
    if kind == "ever":
        return sorted(ever)
    if kind == "bbox":
        return [(i, j) for i in range(ix.min(), ix.max() + 1) for j in range(iy.min(), iy.max() + 1)]
    if kind == "ever+ring":
        return sorted({(i + a, j + b) for i, j in ever for a in (-1, 0, 1) for b in (-1, 0, 1)})
    outline = _car_outline()  # "car": every cell that overlaps the country (10 x 10 sample points per cell)
    bx, by = np.floor((outline[:, 0] - 14.0) / 0.5).astype(int), np.floor((outline[:, 1] - 2.0) / 0.5).astype(int)
    frac = (np.arange(10) + 0.5) / 10
    cells = []
    for i in range(bx.min(), bx.max() + 1):
        for j in range(by.min(), by.max() + 1):
            gx, gy = np.meshgrid(14.0 + (i + frac) * 0.5, 2.0 + (j + frac) * 0.5)
            if points_in_polygon(gx.ravel(), gy.ravel(), outline).any():
                cells.append((i, j))
    return cells


# Study-area and flagging conventions tried against the issue's CAR reference (docs/forecasting.md, "CAR
# reference numbers"): (label, cells, universe, first origin year, only_positive). The first row is the project's
# own convention; the last is the closest joint match found.
CAR_CONVENTIONS = (
    ("project default: 0.5 deg, cells with an event, 2013-2022, whole budget", "deg", "ever", 2013, False),
    ("0.5 deg, cells with an event, 2013-2022, only cells with score > 0", "deg", "ever", 2013, True),
    ("0.5 deg, cells with an event, 2000-2022, whole budget", "deg", "ever", 2000, False),
    ("0.5 deg, cells overlapping CAR, 2013-2022, whole budget", "deg", "car", 2013, False),
    ("0.5 deg, bounding box of the events, 2013-2022, whole budget", "deg", "bbox", 2013, False),
    ("0.5 deg, cells with an event + neighbours, 2013-2022, whole budget", "deg", "ever+ring", 2013, False),
    ("H3 res 4, cells with an event, 2013-2022, whole budget", 4, "ever", 2013, False),
    ("H3 res 3, cells with an event + neighbours, 2013-2022, whole budget", 3, "ever+ring", 2013, False),
    ("H3 res 3, cells with an event + neighbours, 2013-2022, only cells with score > 0", 3, "ever+ring", 2013, True),
)


def car_reference(quick: bool) -> dict[str, Any]:
    """The issue's CAR reference (1 month, mean PAI@5%: last period 7.7, last 365 days 7.3, KDE 6.1) under each
    convention of CAR_CONVENTIONS: which cells make the study area A, which origins, which flagging rule. Same
    events as `car` (where_prec and date_prec <= 3), calendar-month windows, untuned baselines."""
    import h3

    data = read_ucdp_ged(DATA / "events" / "ucdp_ged_caf" / "ged231_caf_detection.csv")
    rows = []
    for label, cells, universe, first_year, only_positive in CAR_CONVENTIONS:
        if cells == "deg":
            grid = degree_grid(data.projection, 14.0, 2.0, 0.5, data.lon, data.lat)
            grid = rect_grid(grid.x0, grid.y0, grid.dx, grid.dy, _degree_cells(universe, data.lon, data.lat))
        else:
            ever = h3_cells_of(data.projection, cells, data.events.x, data.events.y)
            ring = sorted({n for c in ever for n in h3.grid_disk(c, 1)}) if universe == "ever+ring" else ever
            grid = h3_grid(data.projection, cells, ring)
        last = dt.date(first_year + 1, 12, 1) if quick else dt.date(2022, 12, 1)
        windows = monthly_windows(dt.date(first_year, 1, 1), last)
        results = rolling_origin(data.events, grid, CAR_REFERENCE_MODELS, windows, shares=(0.05,),
                                 only_positive=only_positive)
        summary = summarise(results, "pai@0.05")
        means = {m: round(v["mean"], 2) for m, v in summary.items()}
        gap = max(abs(means[m] - REFERENCE_CAR_PAI_5[m]) for m in REFERENCE_CAR_PAI_5)
        rows.append({"convention": label, "cells": grid.size, "origins": len(windows),
                     "scored": summary["last_365_days"]["n"], "mean_pai@0.05": means, "max_abs_gap": round(gap, 2)})
        print(f"  {label}: {grid.size} cells, {means}, max gap {gap:.2f}", flush=True)
    return {"machine": common.machine_facts(), "reference": REFERENCE_CAR_PAI_5, "rows": rows}


def _car_reference_section(r: dict[str, Any]) -> list[str]:
    m = r["machine"]
    ref = r["reference"]
    lines = [f"Generated by `python -m bench.bench_forecast --only car_reference` on {m['taken_at']} (commit "
             f"{m['git_commit']}). CAR, 1 month, mean PAI at 5% of the area; reference: last period "
             f"{ref['last_period']}, last 365 days {ref['last_365_days']}, KDE {ref['kde']}.", "",
             "Origins: monthly; months without an event are skipped (PAI is undefined), the count in brackets.", "",
             "| convention | cells | origins (with events) | last period | last 365 days | KDE | largest gap to the "
             "reference |",
             "|---|---|---|---|---|---|---|"]
    for row in r["rows"]:
        v = row["mean_pai@0.05"]
        lines.append(f"| {row['convention']} | {row['cells']} | {row['origins']} ({row.get('scored', '-')}) | "
                     f"{v['last_period']:.2f} | "
                     f"{v['last_365_days']:.2f} | {v['kde']:.2f} | {row['max_abs_gap']:.2f} |")
    return [*lines, ""]


def ensign(seeds: int = 40) -> dict[str, Any]:
    """Final share error after 1,000 days, true rates 3 and 2 incidents a day (shares 0.6 / 0.4)."""
    out = {}
    for correction in ("none", "inverse_probability", "reported_only"):
        errors = np.array([polya_urn((3.0, 2.0), 1000, correction, seed=s).final_error for s in range(seeds)])
        out[correction] = {"seeds": seeds, "median_error": round(float(np.median(errors)), 4),
                           "max_error": round(float(errors.max()), 4),
                           "within_0.05": int((errors <= 0.05).sum())}
    return out


OAKLAND = {"start": "2010-01-01", "days": 720, "block_days": 180, "k": 20, "window": 90, "boost": 0.2,
           "exploration_share": 0.2, "seeds": 5}


def oakland() -> dict[str, Any]:
    """Lum & Isaac style feedback simulation (see sitaware.analytics.forecasting.oakland and
    tests/test_forecast_oakland.py): top-20 share of the model's targets per 180-day block, minus the reference run
    (real records only), mean over seeds; also the Gini of flag frequency and the recorded share in patrolled cells."""
    c = OAKLAND
    data = read_oakland(DATA / "crime" / "oakland_lum_isaac" / "drug_crimes_with_bins.csv")
    start = dt.date.fromisoformat(c["start"])
    configs = {
        "no safeguards": {},
        "exclude discovered": {"training": "exclude"},
        "exploration 20% only": {"exploration_share": c["exploration_share"]},
        "inverse probability + exploration": {"training": "inverse_probability",
                                              "exploration_share": c["exploration_share"]},
        "exclude + exploration (safeguards)": {"training": "exclude", "exploration_share": c["exploration_share"]},
    }
    blocks = range(0, c["days"], c["block_days"])

    def block_stats(run):
        rows = [concentration(run.targets[a:a + c["block_days"]], top_fraction=c["k"] / run.targets.shape[1])
                for a in blocks]
        return np.array([r.top_share for r in rows]), np.array([r.gini for r in rows])

    out: dict[str, Any] = {"config": c, "cells": int(data.counts.shape[1]), "records": int(data.counts.sum()),
                           "runs": {}}
    for label, kw in configs.items():
        share_gap, gini_gap, top, recorded = [], [], [], []
        for seed in range(c["seeds"]):
            ref = simulate(data, start, c["days"], c["k"], c["window"], c["boost"], feedback=False,
                           exploration_share=kw.get("exploration_share", 0.0), seed=seed)
            run = simulate(data, start, c["days"], c["k"], c["window"], c["boost"], seed=seed, **kw)
            (rs, rg), (ss, sg) = block_stats(ref), block_stats(run)
            share_gap.append(ss - rs)
            gini_gap.append(sg - rg)
            top.append(ss)
            recorded.append(run.recorded_share_in_targets() - ref.recorded_share_in_targets())
        out["runs"][label] = {"top_share": np.round(np.mean(top, axis=0), 3).tolist(),
                              "top_share_gap": np.round(np.mean(share_gap, axis=0), 3).tolist(),
                              "top_share_gap_max_abs": round(float(np.abs(share_gap).max()), 3),
                              "gini_gap": np.round(np.mean(gini_gap, axis=0), 4).tolist(),
                              "recorded_share_in_patrolled_gap": round(float(np.mean(recorded)), 3)}
    ref = simulate(data, start, c["days"], c["k"], c["window"], c["boost"], feedback=False)
    out["reference_top_share"] = np.round(block_stats(ref)[0], 3).tolist()
    return out


def recovery() -> dict[str, Any]:
    truth = {"mu": 2.0, "theta": 0.5, "omega": 0.2, "sigma": 100.0}
    box = (0.0, 0.0, 5000.0, 5000.0)
    grid = rect_grid(0, 0, 500, 500, [(i, j) for i in range(-1, 11) for j in range(-1, 11)])
    runs = []
    for seed in range(5):
        ev = simulate_hawkes(truth["mu"], truth["theta"], truth["omega"], truth["sigma"], 1500, box, seed=seed)
        m = SEPP(theta0=0.2, omega0=0.05, sigma0=300, max_lag=60, max_distance=400).fit(ev, grid, 1500.0)
        runs.append({"seed": seed, "events": len(ev), "theta": round(m.params.theta, 4),
                     "omega": round(m.params.omega, 4), "sigma": round(m.params.sigma, 2),
                     "mu": round(float(m.params.background.sum()), 3), "iterations": m.n_iter,
                     "converged": m.converged})
    return {"truth": truth, "runs": runs}


def timing(sizes: tuple[int, ...], dense: bool = True) -> list[dict[str, Any]]:
    """Fit + predict time. 'sparse': 20 km square over 10 years (a city's yearly burglary spread out);
    'dense': 10k events in a 2 km square over 2 years, about 100 candidate parents per event."""
    scenarios = [("sparse", n, 20_000.0, 3650.0) for n in sizes]
    if dense:
        scenarios.append(("dense", 10_000, 2_000.0, 730.0))
    out = []
    for label, n, side, days in scenarios:
        # three cells (6 sigma) of margin around the simulated box keep offspring that land outside it
        cells = round(side / 200)
        grid = rect_grid(0, 0, 200, 200, [(i, j) for i in range(-3, cells + 3) for j in range(-3, cells + 3)])
        ev = simulate_hawkes(n / 2 / days, 0.5, 0.2, 100.0, days, (0.0, 0.0, side, side), seed=1)
        start = time.perf_counter()
        model = SEPP(theta0=0.3, omega0=0.1, sigma0=200, max_lag=60, max_distance=400).fit(ev, grid, days)
        fitted = time.perf_counter()
        model.predict(7.0)
        done = time.perf_counter()
        out.append({"scenario": label, "events": len(ev), "cells": grid.size, "pairs": model.n_pairs,
                    "iterations": model.n_iter, "converged": model.converged, "fit_s": round(fitted - start, 2),
                    "predict_s": round(done - fitted, 2), "total_s": round(done - start, 2),
                    "theta": round(model.params.theta, 3), "omega": round(model.params.omega, 3),
                    "sigma": round(model.params.sigma, 1)})
        print(f"  timing {out[-1]}", flush=True)
    return out


def _doc_section(payload: dict[str, Any], tables: dict[str, str]) -> str:
    car_s = payload["car"]["summary"]["pai@0.05"]
    car_sp = payload["car"]["summary_only_positive_pai@0.05"]
    lines = [f"Generated by `python -m bench.bench_forecast` on {payload['machine']['taken_at']} "
             f"({payload['machine']['cpus']} cores, commit {payload['machine']['git_commit']}).", "",
             "### CAR, monthly, mean PAI at 5% of the area, against the reference", "",
             "| model | reference | ours (whole budget, ties prorated) | ours (only cells with score > 0) |",
             "|---|---|---|---|"]
    for model, s in car_s.items():
        ref = REFERENCE_CAR_PAI_5.get(model)
        lines.append(f"| {model} | {ref if ref else '-'} | {s['mean']:.2f} | "
                     f"{car_sp[model]['mean']:.2f} |" if model in car_sp else
                     f"| {model} | {ref if ref else '-'} | {s['mean']:.2f} | - |")
    lines += ["", f"{payload['car']['origins']} origins, {payload['car']['cells']} cells, "
              f"{payload['car']['events']} events; SEPP fits not converged: {payload['car']['sepp_not_converged']}.",
              f"SEPP fitted at the last origin: {payload['car']['sepp_at_last_origin']}.", "",
              "Three-month horizon, mean PAI@5%: " + ", ".join(
                  f"{m} {v['mean']:.2f}" for m, v in payload["car"]["three_month_horizon_pai@0.05"].items()) + ".",
              "", "Attention concentration at 5% (Gini of flag frequency; share of flags in the top 10% of cells; "
              "longest streak in origins; warnings):", "",
              "| model | Gini | top 10% share | longest streak | warnings |", "|---|---|---|---|---|"]
    for model, c in payload["car"]["concentration@0.05"].items():
        lines.append(f"| {model} | {c['gini']} | {c['top_10pct_share']} | {c['max_streak']} | "
                     f"{'; '.join(c['warnings']) or '-'} |")
    lines += ["", "#### CAR details", "", tables["car"], ""]
    if "portland" in payload:
        pdx = payload["portland"]
        lines += ["### Portland NIJ burglary, weekly, 0.75 sq mi cells", "",
                  "| model | " + " | ".join(f"PAI@{s:g}" for s in SHARES) + " |", "|---|" + "---|" * len(SHARES)]
        for model in pdx["summary"]["pai@0.05"]:
            vals = " | ".join(f"{pdx['summary'][f'pai@{s:g}'][model]['mean']:.2f}" for s in SHARES)
            lines.append(f"| {model} | {vals} |")
        lines += ["", f"Reference (issue author): last 365 days 8.3. {pdx['origins']} origins, {pdx['cells']} cells.",
                  ""]
        nij = payload["portland_nij_style"]
        lines += [f"NIJ-style geometry: {nij['cells']} cells of 250 ft, flagged area 0.75 sq mi "
                  f"({nij['flagged_share']:.2%} of the city), same origins:", "",
                  "| model | mean PAI | median PAI | mean PAI, only cells with score > 0 |", "|---|---|---|---|"]
        for model, s in nij["summary"].items():
            sp = nij["summary_only_positive"].get(model)
            positive = f"{sp['mean']:.2f}" if sp else "-"
            lines.append(f"| {model} | {s['mean']:.2f} | {s['median']:.2f} | {positive} |")
        lines += ["", "Paired bootstrap (2,000 resamples of origins), mean PAI difference row - column:", "",
                  "| model | last_365_days | kde |", "|---|---|---|"]
        for model in nij["summary"]:
            lines.append(f"| {model} | " + " | ".join("0" if model == b else _ci(nij["bootstrap"][b].get(model))
                                                    for b in ("last_365_days", "kde")) + " |")
        lines += ["", "#### Portland details (0.75 sq mi cells)", "", tables["portland"], ""]
    lines += _horizon_section("CAR", payload["car"])
    if "portland" in payload:
        lines += _horizon_section("Portland", payload["portland"])
    if "portland_600ft" in payload:
        lines += _portland_600ft_section(payload["portland_600ft"])
    if "portland_reference_check" in payload:
        lines += _reference_check_section(payload["portland_reference_check"])
    if "oakland" in payload:
        lines += _oakland_section(payload["oakland"])
    lines += ["### Feedback loop (Ensign et al. urn, rates 3 and 2 a day, 1,000 days)", "",
              "| correction | seeds | median error | max error | runs within 0.05 |", "|---|---|---|---|---|"]
    for name, e in payload["ensign"].items():
        lines.append(f"| {name} | {e['seeds']} | {e['median_error']} | {e['max_error']} | {e['within_0.05']} |")
    lines += ["", "### SEPP parameter recovery (simulated, 5 seeds)", "",
              f"Truth: {payload['recovery']['truth']}", "",
              "| seed | events | theta | omega | sigma | mu | it | conv |", "|---|---|---|---|---|---|---|---|"]
    for r in payload["recovery"]["runs"]:
        lines.append(f"| {r['seed']} | {r['events']} | {r['theta']} | {r['omega']} | {r['sigma']} | {r['mu']} | "
                     f"{r['iterations']} | {r['converged']} |")
    lines += ["", "### SEPP fit + predict time (simulated; theta 0.5, 1/omega 5 days, sigma 100 m; 7-day horizon)", "",
              "| scenario | events | cells | pairs | iterations | converged | fit s | predict s | theta | omega "
              "| sigma |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in payload["timing"]:
        lines.append(f"| {r['scenario']} | {r['events']} | {r['cells']} | {r['pairs']} | {r['iterations']} | "
                     f"{r['converged']} | {r['fit_s']} | {r['predict_s']} | {r['theta']} | {r['omega']} | "
                     f"{r['sigma']} |")
    return "\n".join(lines)


def _ci(b: dict[str, Any] | None) -> str:
    if not b or not b.get("n"):
        return "-"
    return f"{b['mean_diff']:+.2f} [{b['lo']:.2f}, {b['hi']:.2f}]"


def _horizon_section(name: str, series: dict[str, Any]) -> list[str]:
    lines = [f"### {name}: horizons", ""]
    for label, h in series["horizons"].items():
        summary = h["summary"]
        models = list(summary["pai@0.05"])
        overlap = (f"; windows overlap, so the block bootstrap (blocks of {h['block']} origins) is the one to trust"
                   if h["windows_overlap"] else "")
        lines += [f"#### {name}, {label} ({h['origins']} origins{overlap})", "",
                  "Mean (median) per model; PEI* and hit rate at 5%; log score per window (higher is better):", "",
                  "| model | " + " | ".join(f"PAI@{s:g}" for s in SHARES) + " | PEI*@0.05 | hit@0.05 | log score |",
                  "|---|" + "---|" * (len(SHARES) + 3)]
        for m in models:
            cells = [f"{summary[f'pai@{s:g}'][m]['mean']:.2f} ({summary[f'pai@{s:g}'][m]['median']:.2f})"
                     for s in SHARES]
            cells += [f"{summary[k][m]['mean']:.3f}" for k in ("pei@0.05", "hit@0.05")]
            ls = summary["log_score"][m]
            cells.append(f"{ls['mean']:.1f} ({ls['median']:.1f})" if ls["n"] else "-")
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        baselines = [b for b in models if b != DEFAULT_MODEL]
        for metric in ("pai@0.05", "log_score"):
            boot = h["bootstrap"][metric]
            cols = [b for b in baselines if b in boot]
            lines += ["", f"{metric}: mean difference row - column, paired bootstrap 95% interval (2,000 resamples "
                      "of origins):", "", "| model | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
            for m in models:
                lines.append(f"| {m} | " + " | ".join("0" if m == b else _ci(boot[b].get(m)) for b in cols) + " |")
        lines += ["", f"Default model ({DEFAULT_MODEL}) minus the best baseline (highest mean) per metric:", "",
                  "| metric | best baseline | default | baseline | diff [paired 95%] | block 95% | verdict (block) |",
                  "|---|---|---|---|---|---|---|"]
        for metric, d in h["default_vs_best_baseline"].items():
            lines.append(f"| {metric} | {d['best_baseline']} | {d['default_mean']:.3g} | {d['best_baseline_mean']:.3g}"
                         f" | {d['mean_diff']:+.3g} [{d['lo']:.3g}, {d['hi']:.3g}] | [{d['block_lo']:.3g}, "
                         f"{d['block_hi']:.3g}] | {d['verdict']} ({d['verdict_block']}) |")
        lines.append("")
    return lines


def _portland_600ft_section(p: dict[str, Any]) -> list[str]:
    fixed = {f"{s:g}": a for s, a in zip(p["fixed_area_shares"], p["fixed_areas_sq_mi"], strict=True)}

    def name(share: float) -> str:
        return f"{fixed[f'{share:g}']:g} sq mi" if f"{share:g}" in fixed else f"{share:.1%}"

    shares = p["shares"]
    lines = ["### Portland NIJ burglary, 600 ft cells, NIJ flagged areas (issue 5)", "",
             f"{p['cells']} cells of 600 ft inside the boundary ({p['area_sq_mi']} sq mi); flagged areas 0.25 and 0.75 "
             "sq mi (" + ", ".join(f"{100 * s:.2f}%" for s in p["fixed_area_shares"]) + " of the study area) and "
             f"0.5-10%; {p['origins']} weekly origins 2016-03-01..2017-05-24 (fewer for longer horizons: windows must "
             f"end by 2017-05-31); KDE and prospective hot-spotting in their lattice form; {p['seconds']} s.", ""]
    for label, h in p["horizons"].items():
        summary = h["summary"]
        models = list(summary[f"pai@{shares[0]:g}"])
        overlap = (f"; windows overlap, block bootstrap with blocks of {h['block']} origins"
                   if h["windows_overlap"] else "")
        lines += [f"#### Portland 600 ft, {label} ({h['origins']} origins{overlap})", "",
                  "Mean (median) PAI; PEI* and hit rate at 0.75 sq mi; log score per window:", "",
                  "| model | " + " | ".join(f"PAI@{name(s)}" for s in shares) + " | PEI*@0.75 sq mi | "
                  "hit@0.75 sq mi | log score |", "|---|" + "---|" * (len(shares) + 3)]
        for m in models:
            cells = [f"{summary[f'pai@{s:g}'][m]['mean']:.2f} ({summary[f'pai@{s:g}'][m]['median']:.2f})"
                     for s in shares]
            cells += [f"{summary[f'{k}@{shares[1]:g}'][m]['mean']:.3f}" for k in ("pei", "hit")]
            ls = summary["log_score"][m]
            cells.append(f"{ls['mean']:.1f}" if ls["n"] else "-")
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        lines += ["", f"Default model ({DEFAULT_MODEL}) minus the best baseline (highest mean) per metric:", "",
                  "| metric | best baseline | default | baseline | diff [paired 95%] | block 95% | verdict (block) |",
                  "|---|---|---|---|---|---|---|"]
        for metric, d in h["default_vs_best_baseline"].items():
            kind, _, share = metric.partition("@")
            shown = f"{kind}@{name(float(share))}" if share else metric
            lines.append(f"| {shown} | {d['best_baseline']} | {d['default_mean']:.3g} | {d['best_baseline_mean']:.3g}"
                         f" | {d['mean_diff']:+.3g} [{d['lo']:.3g}, {d['hi']:.3g}] | [{d['block_lo']:.3g}, "
                         f"{d['block_hi']:.3g}] | {d['verdict']} ({d['verdict_block']}) |")
        keys = [f"pai@{shares[0]:g}", f"pai@{shares[1]:g}", "pai@0.05", "pai@0.1", "log_score"]
        lines += ["", "Against `last_365_days` (the fallback default): mean difference row - last 365 days, paired "
                  "bootstrap 95% interval over origins (not block):", "",
                  "| model | PAI@0.25 sq mi | PAI@0.75 sq mi | PAI@5% | PAI@10% | log score |",
                  "|---|---|---|---|---|---|"]
        for m in models:
            if m == "last_365_days":
                continue
            lines.append(f"| {m} | " + " | ".join(_ci(h["bootstrap"][k].get("last_365_days", {}).get(m))
                                                   for k in keys) + " |")
        lines.append("")
    return lines


def _h3_section(h: dict[str, Any]) -> list[str]:
    """Per series, resolution and horizon: every model's mean PAI and log score, the best baseline, SEPP minus it,
    and what the risk map's default is there (riskmap.default_model follows this table; a test checks it)."""
    m = h["machine"]
    lines = [f"Generated by `python -m bench.bench_forecast --only h3` on {m['taken_at']} ({m['cpus']} cores, load "
             f"{m['load_average_at_start'][0]:.1f}, commit {m['git_commit']}); {h['seconds']} s.", "",
             f"Decision metric: mean {h['decision_metric'].replace('pai@0.05', 'PAI at 5% of the area')}. "
             "Best baseline = the highest mean among the risk map's baselines (random excluded); SEPP is the "
             "default only where its paired bootstrap 95% interval against that baseline is above zero.", ""]
    if h.get("note"):
        lines += [f"Run note: {h['note']}.", ""]
    metric = h["decision_metric"]
    lines += ["Summary (mean PAI at 5%):", "",
              "| series | H3 res | cells | horizon | origins | best baseline | last 365 days | SEPP | SEPP - best "
              "[95%] | best - last 365 days [95%] | default |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for key, series in h["series"].items():
        for res, r in series["resolutions"].items():
            for label, d in r["horizons"].items():
                s = d["summary"][metric]
                best = d["best_baseline"]
                vs365 = ("-" if best == "last_365_days" else
                         _ci(d["bootstrap_vs_last_365_days"][metric].get(best)))
                lines.append(f"| {key} | {res} | {r['cells']} | {label} | {d['origins']} | {best} "
                             f"{s[best]['mean']:.2f} | {s['last_365_days']['mean']:.2f} | {s['sepp']['mean']:.2f} | "
                             f"{_ci(d['bootstrap_vs_best'][metric].get('sepp'))} | {vs365} | **{d['winner']}** |")
    lines.append("")
    for key, series in h["series"].items():
        for res, r in series["resolutions"].items():
            for label, d in r["horizons"].items():
                s = d["summary"]
                models = list(s[h["decision_metric"]])
                lines += [f"#### {key}, H3 resolution {res} ({r['cells']} cells), {label} ({d['origins']} origins)",
                          "", "| model | PAI@1% | PAI@5% | PAI@10% | PEI*@5% | log score | PAI@5% - best baseline "
                          "[95%] | PAI@5% - last 365 days [95%] |", "|---|---|---|---|---|---|---|---|"]
                for mname in models:
                    vals = [s[k][mname]["mean"] for k in ("pai@0.01", "pai@0.05", "pai@0.1", "pei@0.05", "log_score")]
                    cells = [f"{v:.2f}" if v is not None else "-" for v in vals[:3]]
                    cells.append(f"{vals[3]:.3f}" if vals[3] is not None else "-")
                    cells.append(f"{vals[4]:.1f}" if vals[4] is not None else "-")
                    best = ("(best)" if mname == d["best_baseline"] else
                            _ci(d["bootstrap_vs_best"][h["decision_metric"]].get(mname)))
                    l365 = ("0" if mname == "last_365_days" else
                            _ci(d["bootstrap_vs_last_365_days"][h["decision_metric"]].get(mname)))
                    lines.append(f"| {mname} | " + " | ".join(cells) + f" | {best} | {l365} |")
                lines += ["", f"Best baseline: **{d['best_baseline']}**; SEPP beats it: "
                          f"{'yes' if d['sepp_beats_best'] else 'no'}; default here: **{d['winner']}**.", ""]
    return lines


def _reference_check_section(r: dict[str, Any]) -> list[str]:
    lines = ["### Portland: where the reference 8.3 can come from (last 365 days, 1 week, fixed flagged area)", "",
             "| cells | grid anchor | origins | study area sq mi | flagged sq mi | mean PAI | median PAI |",
             "|---|---|---|---|---|---|---|"]
    for row in r["rows"]:
        anchor = "default" if not row["offset_cells"] else f"moved {row['offset_cells']:g} cell"
        lines.append(f"| {row['cell_ft']} ft | {anchor} | {row['origins']} ({row['n_origins']}) | "
                     f"{row['study_area_sq_mi']} | {row['flagged_sq_mi']:g} | {row['mean_pai']:.2f} | "
                     f"{row['median_pai']:.2f} |")
    return [*lines, ""]


def _oakland_section(o: dict[str, Any]) -> list[str]:
    c = o["config"]
    heads = [f"days {a}-{a + c['block_days']}" for a in range(0, c["days"], c["block_days"])]
    lines = ["### Patrol feedback on the Oakland drug-crime records (Lum & Isaac 2016)", "",
             f"{o['records']} records on {o['cells']} cells; from {c['start']} for {c['days']} days the last-"
             f"{c['window']}-days model targets the top {c['k']} cells each day; patrols record {c['boost']:.0%} "
             f"more (Poisson) in patrolled cells; {c['seeds']} seeds. Share of the model's targets held by its "
             f"{c['k']} most targeted cells per block, minus the reference run (real records only); reference: "
             + ", ".join(f"{v:.3f}" for v in o["reference_top_share"]) + ".", "",
             "| run | " + " | ".join(heads) + " | max abs gap | Gini gap, last block | recorded share in patrolled "
             "cells, gap |", "|---|" + "---|" * (len(heads) + 3)]
    for label, r in o["runs"].items():
        lines.append(f"| {label} | " + " | ".join(f"{v:+.3f}" for v in r["top_share_gap"]) +
                     f" | {r['top_share_gap_max_abs']:.3f} | {r['gini_gap'][-1]:+.4f} | "
                     f"{r['recorded_share_in_patrolled_gap']:+.3f} |")
    return [*lines, ""]


def _write_doc(section: str) -> None:
    if not DOC.exists():
        return
    text = DOC.read_text(encoding="utf-8")
    pattern = re.compile(r"(<!-- bench:start -->\n).*?(\n<!-- bench:end -->)", re.S)
    if pattern.search(text):
        DOC.write_text(pattern.sub(lambda m: m.group(1) + section + m.group(2), text), encoding="utf-8")


def _write_doc_block(name: str, section: str) -> None:
    """Replace the text between `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->` (a block that a partial
    run can regenerate on its own, from its own results)."""
    if not DOC.exists():
        return
    text = DOC.read_text(encoding="utf-8")
    pattern = re.compile(rf"(<!-- bench:{name}:start -->\n).*?(<!-- bench:{name}:end -->)", re.S)
    if pattern.search(text):
        DOC.write_text(pattern.sub(lambda m: m.group(1) + section.rstrip("\n") + "\n" + m.group(2), text),
                       encoding="utf-8")


# Sections a partial run (--only) can redo on their own and merge into the existing results file; each has its
# own doc block. The main generated block needs the full run (its tables are not kept in the JSON).
PARTIAL = ("h3", "car_reference")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two years of CAR, three months of Portland, 1k+10k")
    parser.add_argument("--no-portland", action="store_true")
    parser.add_argument("--only", default="", help=f"comma-separated sections of {PARTIAL}: run only these and "
                        "merge them into the existing results file (the other sections are kept as they are)")
    parser.add_argument("--render", action="store_true", help="only rewrite the doc blocks of the partial sections "
                        "from the existing results file")
    args = parser.parse_args()
    name = "forecast-quick.json" if args.quick else "forecast.json"
    path = common.RESULTS / name
    if args.render:
        payload = json.loads(path.read_text(encoding="utf-8"))
        _write_partial_docs(payload)
        return
    if args.only:
        only = [s for s in args.only.split(",") if s]
        unknown = sorted(set(only) - set(PARTIAL))
        if unknown:
            parser.error(f"unknown section(s) {', '.join(unknown)}; use {', '.join(PARTIAL)}")
        payload = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        for section in only:
            print(f"{section} ...", flush=True)
            payload[section] = _clean(SECTIONS[section](args.quick))
    else:
        payload = {"machine": common.machine_facts()}
        tables: dict[str, str] = {}
        print("CAR ...", flush=True)
        payload["car"], tables["car"] = car(args.quick)
        print("  mean PAI@0.05", {k: round(v["mean"], 2) for k, v in payload["car"]["summary"]["pai@0.05"].items()})
        print("CAR reference conventions ...", flush=True)
        payload["car_reference"] = car_reference(args.quick)
        if not args.no_portland:
            print("Portland ...", flush=True)
            payload["portland"], tables["portland"] = portland(args.quick)
            print("  mean PAI@0.05",
                  {k: round(v["mean"], 2) for k, v in payload["portland"]["summary"]["pai@0.05"].items()})
            print("Portland, NIJ-style cells ...", flush=True)
            payload["portland_nij_style"] = portland_nij_style(args.quick)
            print("  mean PAI", {k: round(v["mean"], 2) for k, v in payload["portland_nij_style"]["summary"].items()})
            print("Portland, 600 ft cells, NIJ flagged areas ...", flush=True)
            payload["portland_600ft"] = portland_600ft(args.quick)
            print("Portland, reference check ...", flush=True)
            payload["portland_reference_check"] = portland_reference_check()
            print("H3 cells, both series ...", flush=True)
            payload["h3"] = h3_series(args.quick)
        print("Oakland feedback simulation ...", flush=True)
        payload["oakland"] = oakland()
        print("  ", {k: v["top_share_gap"] for k, v in payload["oakland"]["runs"].items()})
        print("Ensign urn ...", flush=True)
        payload["ensign"] = ensign()
        print("  ", payload["ensign"])
        print("SEPP recovery ...", flush=True)
        payload["recovery"] = recovery()
        print("SEPP timing ...", flush=True)
        payload["timing"] = timing((1_000, 10_000) if args.quick else (1_000, 10_000, 100_000))
    common.RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_clean(payload), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    print(f"wrote {path}")
    if not args.quick:
        if not args.only:
            _write_doc(_doc_section(payload, tables))
        _write_partial_docs(payload)
        print(f"updated {DOC}")


def _write_partial_docs(payload: dict[str, Any]) -> None:
    if "h3" in payload:
        _write_doc_block("h3", "\n".join(_h3_section(payload["h3"])))
    if "car_reference" in payload:
        _write_doc_block("car-reference", "\n".join(_car_reference_section(payload["car_reference"])))


def _clean(value: Any) -> Any:
    """JSON-safe copy: NaN (a window with no events, a model without expected counts) becomes null."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


SECTIONS: dict[str, Callable[[bool], dict[str, Any]]] = {"h3": h3_series, "car_reference": car_reference}

if __name__ == "__main__":
    main()

