"""Rolling-origin evaluation of the risk-map models on any event set (the `sitaware forecast evaluate` core).

Pure: takes longitudes, latitudes and times (days) and writes a markdown + JSON report (and PNG plots when
matplotlib is installed). The grid is the H3 cells at the chosen resolution that ever hold an event; that choice
sees the whole period, but it is the same for every model and is stated in the report (as in docs/forecasting.md).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .base import Events
from .baselines import RandomModel
from .evaluation import EPOCH, OriginResult, flag_matrix, paired_bootstrap, rolling_origin, summarise, write_report
from .feedback import concentration
from .grid import h3_cells_of
from .riskmap import MODELS, area_grid

BASELINES = ("random", "last_period", "last_365_days")
METRICS = ("pai@0.01", "pai@0.05", "pai@0.1", "pei@0.05", "hit@0.05", "log_score")
SHARES = (0.01, 0.05, 0.1)


def windows(t: np.ndarray, horizon: float, origins: int, warmup_days: float = 365.0) -> list[tuple[float, float]]:
    """The last `origins` (origin, origin + horizon) windows that end by the last event, each with at least
    `warmup_days` of history before it (or a third of the span when the data are shorter)."""
    first, last = float(np.min(t)), float(np.max(t))
    warmup = min(warmup_days, (last - first) / 3.0)
    end = math.floor(last) + 1.0
    out = []
    origin = end - horizon
    while origin >= first + warmup and len(out) < origins:
        out.append((origin, origin + horizon))
        origin -= horizon
    return sorted(out)


def evaluate(lon: np.ndarray, lat: np.ndarray, t: np.ndarray, resolution: int, horizon: float, origins: int,
             models: Sequence[str] | None = None,
             progress: Callable[[int, int, float], None] | None = None) -> tuple[list[OriginResult], dict[str, Any]]:
    """Evaluate every model (and the random baseline) at each origin; `progress(i, n, origin)` after each one."""
    if len(t) < 10:
        raise ValueError(f"only {len(t)} events: an evaluation needs at least 10")
    names = list(models or MODELS)
    unknown = [m for m in names if m not in MODELS]
    if unknown:
        raise ValueError(f"unknown model {unknown[0]!r}; use some of {', '.join(MODELS)}")
    from .grid import LocalProjection

    centre = LocalProjection(float(np.mean(lat)), float(np.mean(lon)))
    x, y = centre.to_xy(lon, lat)
    cells = h3_cells_of(centre, resolution, x, y)
    grid, projection = area_grid(cells, resolution)
    x, y = projection.to_xy(lon, lat)
    events = Events.of(t, x, y)
    chosen = windows(events.t, horizon, origins)
    if not chosen:
        raise ValueError("the events span too short a time for even one origin after the warm-up")
    # The baselines always run, whatever models were chosen: every model is reported against them.
    makers: dict[str, Callable[[], Any]] = {"random": lambda: RandomModel(0)}
    makers.update({m: (lambda m=m: MODELS[m](grid)) for m in dict.fromkeys([*BASELINES[1:], *names])})
    results: list[OriginResult] = []
    for i, window in enumerate(chosen, 1):
        results += rolling_origin(events, grid, makers, [window], shares=SHARES)
        if progress:
            progress(i, len(chosen), window[0])
    info = {"events": len(events), "cells": grid.size, "resolution": resolution, "horizon_days": horizon,
            "origins": len(chosen), "first_origin": day_text(chosen[0][0]), "last_origin": day_text(chosen[-1][0]),
            "models": list(makers)}
    return results, info


def day_text(day: float) -> str:
    return (EPOCH + dt.timedelta(days=math.floor(day))).isoformat()


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def write(results: list[OriginResult], info: dict[str, Any], out: Path, source: str) -> tuple[Path, Path]:
    """report.md (+ PNGs) and report.json in `out`; returns both paths."""
    out.mkdir(parents=True, exist_ok=True)
    notes = (f"Events from {source}: {info['events']} events, {info['cells']} H3 cells at resolution "
             f"{info['resolution']} (cells that ever hold an event), horizon {info['horizon_days']:g} days, "
             f"origins {info['first_origin']} .. {info['last_origin']}. Each model is fitted on events before "
             "its origin only. Place and time only: no other column is read.")
    md = write_report(results, out / "report.md", METRICS, BASELINES, title="Forecast evaluation", notes=notes)
    conc = {}
    for model in info["models"]:
        rep = concentration(flag_matrix(results, model))
        conc[model] = {"gini": round(rep.gini, 4), "top_10pct_share": round(rep.top_share, 4),
                       "max_streak": int(rep.longest_streak.max()) if rep.longest_streak.size else 0,
                       "warnings": rep.warnings}
    lines = ["", "## Attention concentration (5% of cells flagged)", "",
             "| model | Gini | top 10% share | longest streak | warnings |", "|---|---|---|---|---|"]
    lines += [f"| {m} | {c['gini']} | {c['top_10pct_share']} | {c['max_streak']} | {'; '.join(c['warnings']) or '-'} |"
              for m, c in conc.items()]
    md.write_text(md.read_text(encoding="utf-8") + "\n".join(lines) + "\n", encoding="utf-8")
    doc = {"source": source, **info,
           "summary": {m: summarise(results, m) for m in METRICS},
           "bootstrap": {b: {m: paired_bootstrap(results, m, b) for m in ("pai@0.05", "log_score")}
                         for b in BASELINES if b != "random"},
           "concentration@0.05": conc}
    path = out / "report.json"
    path.write_text(json.dumps(_clean(doc), indent=1, sort_keys=True), encoding="utf-8")
    return md, path
