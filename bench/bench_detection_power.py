"""Detection power on real backgrounds: growing clusters injected into UCDP GED (CAR) events and Chicago burglary.

Run: python -m bench.bench_detection_power [--quick] [--trials N]
Writes bench/results/detection-power-full.json (or -quick.json).

Three detectors see the same trials, at a weekly analysis on square cells:
  scan   prospective space-time permutation scan (sitaware scan.py), k-nearest zones k <= 10, windows 1..8 weeks,
         over the last 52 (CAR) or 26 (Chicago) weeks; alarm statistic = the most likely cluster's score;
  surge  Farrington-type baseline per area (sitaware surge.py; CAR prefectures = admin1, Chicago 4 km x 4 km
         blocks); per area the upper tail probability of the week's count under the fitted negative binomial;
         alarm statistic = the smallest such probability among areas with >= 5 cases in the last 4 weeks (the
         Farrington alpha, calibrated); an alarmed area alarms all its cells;
  gi     per-slice Getis-Ord Gi* (the week's counts, binary weights within 1.5 cell widths, self included);
         alarm statistic = the largest z. Computed with numpy; checked against esda.G_Local (star=True).
Each detector's threshold is calibrated on quiet stretches of the same real data without injection, so that at most
1 analysis in 100 alarms there (99th percentile of the statistic). The scan's Monte Carlo p-value is not used for
the alarm in the trials (a score threshold is cheaper and calibrated on the real background); the calibration
reports what the nominal rule p <= 0.01 with 99 replicates would have given on the same quiet stretches.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import nbinom, poisson

from bench.common import REPO, RESULTS, machine_facts, write_result

sys.path.insert(0, str(REPO / "src"))

from sitaware.analytics.detection.scan import _Model, space_time_permutation_scan
from sitaware.analytics.detection.surge import farrington_flexible
from sitaware.analytics.detection.zones import knn_zones, plan_zones

SHARED = REPO.parent / "shared" / "data"
CAR_CSV = SHARED / "events" / "ucdp_ged_caf" / "ged231_caf_detection.csv"
CHICAGO_CSV = SHARED / "crime" / "chicago_near_repeat" / "chicago_be_2016.csv"

MAX_K = 10
MAX_WINDOW = 8  # weeks
GI_RADIUS = 1.5  # cell widths: the cell, its 4 edge and 4 corner neighbours
FALSE_ALARM_RATE = 0.01  # at most one alarm per 100 analyses on quiet stretches
RADII = (0.0, 1.0, 1.5, 2.5)  # cell widths: 1, 5, 9 and 21 cells (fewer at the edges)
GROWTH = ((2.0, 2), (2.0, 6), (3.0, 4), (5.0, 2), (5.0, 6))  # (growth factor, weeks)
DETECTORS = ("scan", "surge", "gi")
# --strong: the same growth from a higher starting level (events per week in the cluster's cells), two radii.
STRONG_BASE = {"car_ucdp_ged": 2.0, "chicago_burglary_2016": 4.0}
STRONG_RADII = (0.0, 1.5)

# CAR: escalations left out of the "quiet" calibration and injection stretches (analysis dates).
CAR_NOT_QUIET = (("2012-10-01", "2015-07-01"), ("2020-12-01", "2021-07-01"))


@dataclass
class Dataset:
    name: str
    cell_size: str
    coords: np.ndarray  # (cells x 2) in cell widths
    counts: dict[int, np.ndarray]  # day offset -> (weeks x cells)
    origins: dict[int, dt.date]  # day offset -> first day of week 0
    history: int  # weeks of data the scan sees
    analysis_weeks: dict[int, list[int]]  # offset -> quiet analysis weeks (index of the last week analysed)
    surge_kwargs: dict[str, Any]
    min_base: float  # floor of the injected cluster's starting level, events per week
    zones: list[tuple[int, ...]] = field(default_factory=list)
    surge_mu: dict[int, np.ndarray] = field(default_factory=dict)
    surge_phi: dict[int, np.ndarray] = field(default_factory=dict)
    gi_weights: np.ndarray | None = None
    events: pd.DataFrame | None = None  # with a `cell` column
    cell_centres: np.ndarray | None = None  # (cells x 2) in the data's own units (lon/lat or metres)
    area_of_cell: np.ndarray | None = None  # surge runs per area: CAR prefectures (admin1), Chicago 4 km blocks
    area_names: list[str] = field(default_factory=list)


def weekly(cells: np.ndarray, dates: pd.Series, origin: dt.date, n_cells: int, n_weeks: int) -> np.ndarray:
    week = ((dates - pd.Timestamp(origin)).dt.days // 7).to_numpy()
    keep = (week >= 0) & (week < n_weeks)
    out = np.zeros((n_weeks, n_cells), dtype=np.int64)
    np.add.at(out, (week[keep], cells[keep]), 1)
    return out


def gi_weights(coords: np.ndarray) -> np.ndarray:
    d = np.sqrt(((coords[:, None, :] - coords[None, :, :]) ** 2).sum(axis=2))
    return (d <= GI_RADIUS + 1e-9).astype(float)


def gi_star(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Getis-Ord Gi* z-scores (Getis & Ord 1992/1995), binary weights w including the diagonal."""
    n = x.size
    mean = x.mean()
    s = math.sqrt(max((x**2).mean() - mean**2, 0.0))
    if s == 0.0:
        return np.zeros(n)
    wi = w.sum(axis=1)
    s1 = (w**2).sum(axis=1)
    return (w @ x - mean * wi) / (s * np.sqrt((n * s1 - wi**2) / (n - 1)))


def esda_check(ds: Dataset) -> dict[str, Any]:
    """Compare gi_star with esda.G_Local(star=True) on a few real slices."""
    try:
        from esda.getisord import G_Local
        from libpysal.weights import W
    except ImportError as exc:  # pragma: no cover - reported, not fatal
        return {"esda": f"not available ({exc})"}
    import esda

    counts = ds.counts[0]
    busy = np.argsort(counts.sum(axis=1))[-5:]
    neigh = {i: [int(j) for j in np.flatnonzero(ds.gi_weights[i]) if j != i] for i in range(len(ds.coords))}
    w = W(neigh, silence_warnings=True)
    w.transform = "B"
    worst = 0.0
    for t in busy:
        x = counts[t].astype(float)
        ref = G_Local(x, w, transform="B", star=True, permutations=0).Zs
        worst = max(worst, float(np.nanmax(np.abs(ref - gi_star(x, ds.gi_weights)))))
    return {"esda": esda.__version__, "slices_compared": len(busy), "max_abs_z_difference": worst}


def load_car() -> Dataset:
    df = pd.read_csv(CAR_CSV)
    df = df[df.where_prec <= 3].copy()  # placed at least to the second-order admin unit
    df["date"] = pd.to_datetime(df.date_start)
    ix = np.floor((df.longitude.to_numpy() - 14.5) / 0.5).astype(int)
    iy = np.floor((df.latitude.to_numpy() - 2.0) / 0.5).astype(int)
    keys, cells = np.unique(np.column_stack([ix, iy]), axis=0, return_inverse=True)
    df["cell"] = cells.ravel()
    origin = dt.date(1989, 1, 2)  # a Monday
    n_weeks = (dt.date(2022, 12, 26) - origin).days // 7
    counts = weekly(df.cell.to_numpy(), df.date, origin, len(keys), n_weeks)
    quiet = []
    for t in range(n_weeks):
        day = origin + dt.timedelta(days=7 * (t + 1))  # the analysis runs the day after week t ends
        if day < dt.date(2008, 1, 7) or any(
            dt.date.fromisoformat(a) <= day < dt.date.fromisoformat(b) for a, b in CAR_NOT_QUIET
        ):
            continue
        quiet.append(t)
    centres = np.column_stack([14.5 + 0.5 * keys[:, 0] + 0.25, 2.0 + 0.5 * keys[:, 1] + 0.25])
    # Each cell belongs to the prefecture (admin1) most of its events name.
    mode = df.groupby("cell").adm_1.agg(lambda a: a.value_counts().index[0]).sort_index()
    names = sorted(mode.unique())
    area = np.array([names.index(mode[c]) for c in range(len(keys))])
    return Dataset(
        area_of_cell=area,
        area_names=names,
        name="car_ucdp_ged",
        cell_size="0.5 degree (about 55 km)",
        coords=keys.astype(float),
        counts={0: counts},
        origins={0: origin},
        history=52,
        analysis_weeks={0: quiet},
        surge_kwargs={"freq": 52, "years_back": 5, "half_width": 3, "n_levels": 10, "exclude_recent": 26},
        min_base=0.25,
        events=df,
        cell_centres=centres,
    )


def load_chicago(offsets: range) -> Dataset:
    df = pd.read_csv(CHICAGO_CSV).dropna(subset=["date"])
    df["date"] = pd.to_datetime(df.date)
    df = df[df.date >= "2016-01-01"].copy()
    ix = np.floor(df.X.to_numpy() / 1000).astype(int)
    iy = np.floor(df.Y.to_numpy() / 1000).astype(int)
    keys, cells = np.unique(np.column_stack([ix, iy]), axis=0, return_inverse=True)
    df["cell"] = cells.ravel()
    counts, origins, weeks = {}, {}, {}
    for o in offsets:
        origin = dt.date(2016, 1, 1) + dt.timedelta(days=o)
        n_weeks = (dt.date(2017, 1, 1) - origin).days // 7  # complete weeks only
        counts[o] = weekly(df.cell.to_numpy(), df.date, origin, len(keys), n_weeks)
        origins[o] = origin
        weeks[o] = list(range(27, n_weeks))  # the surge baseline needs 27 weeks (see surge_kwargs)
    blocks, area = np.unique(keys // 4, axis=0, return_inverse=True)
    return Dataset(
        area_of_cell=area.ravel(),
        area_names=[f"block {a}-{b}" for a, b in blocks],
        name="chicago_burglary_2016",
        cell_size="1 km",
        coords=keys.astype(float),
        counts=counts,
        origins=origins,
        history=26,
        analysis_weeks=weeks,
        # One year of data: no seasonality can be estimated. A 13-week "year", one seasonal level (none), a
        # 19-week baseline ending 8 weeks back (an injected cluster, at most 6 weeks old, stays out of it).
        surge_kwargs={"freq": 13, "years_back": 2, "half_width": 1, "n_levels": 1, "exclude_recent": 8},
        min_base=1.0,
        events=df,
        cell_centres=(keys + 0.5) * 1000.0,
    )


def prepare(ds: Dataset) -> None:
    ds.zones = knn_zones(ds.coords, MAX_K)
    ds.gi_weights = gi_weights(ds.coords)
    for o, counts in ds.counts.items():
        first = min(ds.analysis_weeks[o]) if ds.analysis_weeks[o] else counts.shape[0] - 1
        onehot = np.eye(len(ds.area_names), dtype=np.int64)[ds.area_of_cell]
        res = farrington_flexible(counts @ onehot, start=first, alpha=0.01, min_recent=(5, 4), **ds.surge_kwargs)
        ds.surge_mu[o], ds.surge_phi[o] = res.expected, res.dispersion


class Scanner:
    def __init__(self, ds: Dataset) -> None:
        self.plan = plan_zones(ds.zones, len(ds.coords))

    def mlc(self, window: np.ndarray) -> tuple[float, np.ndarray]:
        """Most likely cluster (score, cells) of a (weeks x cells) matrix, windows 1..MAX_WINDOW."""
        if window.sum() < 2:
            return 0.0, np.zeros(0, dtype=int)
        model = _Model(window, self.plan, MAX_WINDOW)
        scores = model.exact_scores(model.window_counts(model.case_period[None, :]))[:, 0]
        best = int(scores.argmax())
        return float(scores[best]), np.asarray(model.plan.cells[best // MAX_WINDOW], dtype=int)


def surge_pvalues(ds: Dataset, o: int, t: int, cell_week: np.ndarray, cell_recent: np.ndarray) -> np.ndarray:
    """Per cell: the upper tail probability P(Y >= y) of its area's count this week; 1 where no alarm is possible."""
    week = np.bincount(ds.area_of_cell, weights=cell_week, minlength=len(ds.area_names)).round().astype(int)
    recent = np.bincount(ds.area_of_cell, weights=cell_recent, minlength=len(ds.area_names))
    mu, phi = ds.surge_mu[o][t], ds.surge_phi[o][t]
    p = np.ones(week.size)
    ok = np.isfinite(mu) & np.isfinite(phi) & (week > 0) & (recent >= 5)
    over = ok & (phi > 1.0 + 1e-9)
    if over.any():
        size = mu[over] / (phi[over] - 1.0)
        p[over] = nbinom.sf(week[over] - 1, size, size / (size + mu[over]))
    plain = ok & ~over
    if plain.any():
        p[plain] = poisson.sf(week[plain] - 1, mu[plain])
    return p[ds.area_of_cell]


def analyse(ds: Dataset, scanner: Scanner, o: int, t: int, extra: np.ndarray | None = None) -> dict[str, Any]:
    """Statistics of the three detectors for the analysis after week t; `extra` adds (weeks x cells) counts
    ending at week t."""
    counts = ds.counts[o]
    window = counts[t - ds.history + 1 : t + 1].copy()
    if extra is not None:
        window[-extra.shape[0] :] += extra
    score, zone = scanner.mlc(window)
    week = window[-1]
    recent = window[-4:].sum(axis=0)
    p = surge_pvalues(ds, o, t, week, recent)
    z = gi_star(week.astype(float), ds.gi_weights)
    return {"scan": (score, zone), "surge": p, "gi": z}


def statistic(name: str, out: Any) -> float:
    """One number per analysis, larger = more alarming."""
    if name == "scan":
        return out[0]
    if name == "surge":
        return -math.log10(max(float(out.min()), 1e-300))
    return float(out.max())


def alarmed_cells(name: str, out: Any, threshold: float) -> np.ndarray:
    if name == "scan":
        return out[1] if out[0] > threshold else np.zeros(0, dtype=int)
    if name == "surge":
        return np.flatnonzero(-np.log10(np.maximum(out, 1e-300)) > threshold)
    return np.flatnonzero(out > threshold)


def calibrate(ds: Dataset, scanner: Scanner, mc_analyses: int, seed: int) -> dict[str, Any]:
    stats: dict[str, list[float]] = {d: [] for d in DETECTORS}
    pairs = [(o, t) for o in ds.counts for t in ds.analysis_weeks[o]]
    for o, t in pairs:
        out = analyse(ds, scanner, o, t)
        for d in DETECTORS:
            stats[d].append(statistic(d, out[d]))
    thresholds = {d: float(np.quantile(stats[d], 1 - FALSE_ALARM_RATE, method="higher")) for d in DETECTORS}
    result: dict[str, Any] = {
        "quiet_analyses": len(pairs),
        "thresholds": thresholds,
        "threshold_meaning": {
            "scan": "most likely cluster score (log-likelihood ratio) must exceed",
            "surge": "-log10 of the per-cell negative-binomial tail probability must exceed (alpha = 10^-x)",
            "gi": "Gi* z-score must exceed",
        },
        "false_alarm_rate_at_threshold": {d: float(np.mean(np.asarray(stats[d]) > thresholds[d])) for d in DETECTORS},
        "statistic_quantiles": {
            d: {q: float(np.quantile(stats[d], q)) for q in (0.5, 0.9, 0.95, 0.99)} for d in DETECTORS
        },
    }
    # What the scan's own Monte Carlo p-value (99 replicates) would have done on the same quiet stretches.
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(pairs), size=min(mc_analyses, len(pairs)), replace=False)
    pvals = []
    for i in chosen:
        o, t = pairs[i]
        window = ds.counts[o][t - ds.history + 1 : t + 1]
        if scanner.mlc(window)[0] <= 0.0:
            # No candidate has more cases than expected: nothing to test (and scan.py raises ZeroDivisionError
            # building a cluster with expected 0 in that case).
            pvals.append(1.0)
            continue
        res = space_time_permutation_scan(
            window, ds.zones, max_window=MAX_WINDOW, n_replicates=99, seed=int(rng.integers(2**31)), n_secondary=0
        )
        pvals.append(res.most_likely.p_value)
    pv = np.asarray(pvals)
    result["scan_monte_carlo_99"] = {
        "analyses": len(pv),
        "share_p_le_0.01": float(np.mean(pv <= 0.01)),
        "share_p_le_0.05": float(np.mean(pv <= 0.05)),
        "note": "nominal rates would be 0.01 and 0.05 if the permutation null held on the real background",
    }
    return result


def run_trials(
    ds: Dataset, scanner: Scanner, thresholds: dict[str, float], n_trials: int, seed: int, radii: tuple = RADII
) -> list[dict]:
    rng = np.random.default_rng(seed)
    n_cells = len(ds.coords)
    out = []
    for radius in radii:
        for growth, weeks in GROWTH:
            rows: dict[str, list[dict[str, Any]]] = {d: [] for d in DETECTORS}
            injected_total = []
            for _ in range(n_trials):
                o = int(rng.choice(list(ds.counts)))
                allowed = set(ds.analysis_weeks[o])
                onsets = [s for s in ds.analysis_weeks[o] if all(s + k in allowed for k in range(weeks))]
                s = int(rng.choice(onsets))
                centre = int(rng.integers(n_cells))
                near = np.flatnonzero(np.sqrt(((ds.coords - ds.coords[centre]) ** 2).sum(axis=1)) <= radius + 1e-9)
                counts = ds.counts[o]
                base = max(counts[s - ds.history : s, near].sum() / ds.history, ds.min_base)
                extra = np.zeros((weeks, n_cells), dtype=np.int64)
                for w in range(weeks):
                    n = rng.poisson(base * (growth ** ((w + 1) / weeks) - 1.0))
                    np.add.at(extra[w], rng.choice(near, size=n), 1)
                injected_total.append(int(extra.sum()))
                first: dict[str, dict[str, Any] | None] = {d: None for d in DETECTORS}
                for w in range(weeks):
                    res = analyse(ds, scanner, o, s + w, extra[: w + 1])
                    for d in DETECTORS:
                        if first[d] is not None:
                            continue
                        cells = alarmed_cells(d, res[d], thresholds[d])
                        hit = np.intersect1d(cells, near)
                        if hit.size:
                            first[d] = {
                                "days": 7 * (w + 1),
                                "sensitivity": hit.size / near.size,
                                "precision": hit.size / cells.size,
                            }
                for d in DETECTORS:
                    rows[d].append(first[d] or {})
            summary = {
                "dataset": ds.name,
                "radius_cells": radius,
                "cells_injected": int(
                    np.median(
                        [
                            np.sum(np.sqrt(((ds.coords - ds.coords[c]) ** 2).sum(axis=1)) <= radius + 1e-9)
                            for c in range(n_cells)
                        ]
                    )
                ),
                "growth": growth,
                "weeks": weeks,
                "trials": n_trials,
                "injected_events_median": float(np.median(injected_total)),
            }
            for d in DETECTORS:
                hits = [r for r in rows[d] if r]
                summary[d] = {
                    "detection_probability": len(hits) / n_trials,
                    "median_days_to_alarm": float(np.median([r["days"] for r in hits])) if hits else None,
                    "median_share_of_injected_cells_alarmed": float(np.median([r["sensitivity"] for r in hits]))
                    if hits
                    else None,
                    "median_zone_precision": float(np.median([r["precision"] for r in hits])) if hits else None,
                }
            out.append(summary)
            print(
                f"{ds.name} r={radius} g={growth} w={weeks}: "
                + " ".join(f"{d}={summary[d]['detection_probability']:.2f}" for d in DETECTORS),
                flush=True,
            )
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20 trials per scenario, fewer Monte Carlo checks")
    parser.add_argument("--trials", type=int, default=None, help="trials per scenario (default 200, quick 20)")
    parser.add_argument("--datasets", default="car,chicago")
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--strong", action="store_true", help="add scenarios starting at STRONG_BASE to the file")
    parser.add_argument("--markdown", action="store_true", help="only print the docs tables from the results file")
    args = parser.parse_args(argv)
    if args.markdown:
        mode = "quick" if args.quick else "full"
        print(markdown(json.loads((RESULTS / f"detection-power-{mode}.json").read_text())))
        return
    n_trials = args.trials or (20 if args.quick else 200)
    mc = 40 if args.quick else 200
    facts = machine_facts()
    payload: dict[str, Any] = {
        "benchmark": "detection-power",
        "mode": "quick" if args.quick else "full",
        "machine": facts,
        "settings": {
            "trials_per_scenario": n_trials,
            "radii_cells": RADII,
            "growth_weeks": GROWTH,
            "max_k": MAX_K,
            "max_window_weeks": MAX_WINDOW,
            "gi_radius_cells": GI_RADIUS,
            "false_alarm_rate": FALSE_ALARM_RATE,
            "scan_monte_carlo_replicates_in_calibration_check": 99,
            "seed": args.seed,
            "injection": "week w = 1..W of a W-week cluster adds Poisson(b (g^(w/W) - 1)) events spread uniformly "
            "over the cells within the radius of a random centre cell; b = the cells' mean weekly "
            "count over the scan history before onset, floored at min_base",
        },
        "datasets": {},
    }
    for key in args.datasets.split(","):
        t0, c0 = time.perf_counter(), time.process_time()
        ds = load_car() if key == "car" else load_chicago(range(7))
        prepare(ds)
        scanner = Scanner(ds)
        cal = calibrate(ds, scanner, 0 if args.strong else mc, args.seed)
        print(ds.name, cal["thresholds"], cal["false_alarm_rate_at_threshold"], cal["scan_monte_carlo_99"], flush=True)
        if args.strong:
            ds.min_base = STRONG_BASE[ds.name]
            trials = run_trials(ds, scanner, cal["thresholds"], n_trials, args.seed + 2, STRONG_RADII)
            path = RESULTS / f"detection-power-{payload['mode']}.json"
            stored = json.loads(path.read_text())
            stored["datasets"][ds.name]["scenarios_strong_start"] = {
                "min_base_per_week": ds.min_base,
                "thresholds": cal["thresholds"],
                "scenarios": trials,
                "machine": facts,
                "wall_seconds": round(time.perf_counter() - t0, 1),
                "cpu_seconds": round(time.process_time() - c0, 1),
            }
            path.write_text(json.dumps(stored, indent=2, default=str) + "\n", encoding="utf-8")
            continue
        trials = run_trials(ds, scanner, cal["thresholds"], n_trials, args.seed + 1)
        payload["datasets"][ds.name] = {
            "cells": len(ds.coords),
            "cell_size": ds.cell_size,
            "zones": len(ds.zones),
            "events": len(ds.events),
            "scan_history_weeks": ds.history,
            "surge_settings": ds.surge_kwargs,
            "min_base_per_week": ds.min_base,
            "day_offsets": sorted(ds.counts),
            "gi_check": esda_check(ds),
            "calibration": cal,
            "scenarios": trials,
            "machine": facts,
            "wall_seconds": round(time.perf_counter() - t0, 1),
            "cpu_seconds": round(time.process_time() - c0, 1),
        }
        payload["load_average_at_end"] = list(os.getloadavg())
        # Datasets run separately (--datasets car / chicago) share one results file.
        previous = RESULTS / f"detection-power-{payload['mode']}.json"
        if previous.exists():
            kept = json.loads(previous.read_text()).get("datasets", {})
            payload["datasets"] = {
                **{k: v for k, v in kept.items() if k not in payload["datasets"]},
                **payload["datasets"],
            }
        path = write_result("detection-power", payload["mode"], payload)
        print("wrote", path)


def _fmt(x: Any, pct: bool = False) -> str:
    if x is None:
        return "-"
    if pct:
        return "<1%" if 0 < x < 0.01 else f"{x:.0%}"
    return f"{x:g}"


def _table(scenarios: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| radius (cells) | growth | weeks | injected events (median) | detection: scan / surge / Gi* "
        "| median days to alarm | share of injected cells in alarm | alarm precision |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in scenarios:
        det = " / ".join(_fmt(s[d]["detection_probability"], True) for d in DETECTORS)
        days = " / ".join(_fmt(s[d]["median_days_to_alarm"]) for d in DETECTORS)
        sens = " / ".join(_fmt(s[d]["median_share_of_injected_cells_alarmed"], True) for d in DETECTORS)
        prec = " / ".join(_fmt(s[d]["median_zone_precision"], True) for d in DETECTORS)
        lines.append(
            f"| {s['radius_cells']:g} ({s['cells_injected']}) | {s['growth']:g}x | {s['weeks']} | "
            f"{s['injected_events_median']:g} | {det} | {days} | {sens} | {prec} |"
        )
    return [*lines, ""]


def markdown(payload: dict[str, Any]) -> str:
    """The docs tables for a results payload."""
    lines = []
    for name, data in payload["datasets"].items():
        cal = data["calibration"]
        th = cal["thresholds"]
        mc = cal["scan_monte_carlo_99"]
        lines += [
            f"**{name}**: {data['cells']} cells of {data['cell_size']}, {data['zones']:,} zones, {data['events']:,} "
            f"events; calibration on {cal['quiet_analyses']} quiet weekly analyses. Thresholds: scan score > "
            f"{th['scan']:.2f}, surge tail probability < 10^-{th['surge']:.2f}, Gi* z > {th['gi']:.2f}. The scan's "
            f"own p-value (99 replicates) was <= 0.01 in {mc['share_p_le_0.01']:.0%} and <= 0.05 in "
            f"{mc['share_p_le_0.05']:.0%} of {mc['analyses']} quiet analyses (nominal 1% and 5%). "
            f"{data['wall_seconds']} s wall, {data['cpu_seconds']} s CPU.",
            "",
            f"Starting level b = the cells' own mean weekly count, at least {data['min_base_per_week']:g} a week:",
            "",
            *_table(data["scenarios"]),
        ]
        strong = data.get("scenarios_strong_start")
        if strong:
            lines += [
                f"Strong start (`--strong`): b at least {strong['min_base_per_week']:g} events a week, same "
                f"thresholds ({strong['wall_seconds']} s wall):",
                "",
                *_table(strong["scenarios"]),
            ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
