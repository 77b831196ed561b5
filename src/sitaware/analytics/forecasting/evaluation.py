"""Rolling-origin evaluation: fit at each origin on the past only, score the next window, compare to baselines.

Leakage rule: at origin o a model is fitted on `events.before(o)` (t < o, strictly) and scored on [o, end). The
model never receives the evaluation data; `check_training` in every model refuses future events as a second line.
The set of cells (the grid) is fixed up front; if it was built from all events (e.g. 'cells that ever had an
event'), that choice is the same for every model and is stated in the report.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .base import Events, Model
from .grid import Grid
from .metrics import DEFAULT_SHARES, flag_weights, hotspot_metrics, poisson_log_score

EPOCH = dt.date(1970, 1, 1)


def day_number(day: dt.date) -> float:
    """Days since 1970-01-01: the time axis used across the forecasting package."""
    return float((day - EPOCH).days)


def monthly_windows(first: dt.date, last: dt.date, months: int = 1) -> list[tuple[float, float]]:
    """(origin, end) for calendar-month windows whose origins run from `first` up to `last` (month starts)."""
    out = []
    y, m = first.year, first.month
    while (y, m) <= (last.year, last.month):
        ey, em = divmod(m - 1 + months, 12)
        out.append((day_number(dt.date(y, m, 1)), day_number(dt.date(y + ey, em + 1, 1))))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def weekly_windows(first: float, last: float, weeks: int = 1) -> list[tuple[float, float]]:
    """(origin, end) every 7 days from `first` while the origin is <= `last` (day numbers)."""
    n = math.floor((last - first) / 7.0) + 1
    return [(first + 7.0 * k, first + 7.0 * (k + weeks)) for k in range(max(n, 0))]


@dataclass
class OriginResult:
    origin: float
    end: float
    model: str
    n_events: int
    metrics: dict[str, float]
    flagged: np.ndarray = field(repr=False)  # per-cell flagged fraction at `flag_share`


def rolling_origin(events: Events, grid: Grid, models: Mapping[str, Callable[[], Model]],
                   windows: Sequence[tuple[float, float]], shares: Sequence[float] = DEFAULT_SHARES,
                   flag_share: float = 0.05, only_positive: bool = False) -> list[OriginResult]:
    """Evaluate every model at every (origin, end) window; a fresh model per origin so no state carries over.

    `only_positive` selects the flagging convention of `metrics.hotspot_metrics`."""
    results = []
    for origin, end in windows:
        train = events.before(origin)
        test = events.window(origin, end)
        observed = grid.counts(test.x, test.y)
        for name, make in models.items():
            forecast = make().fit(train, grid, origin).predict(end - origin)
            metrics = hotspot_metrics(forecast.score, observed, grid.areas, shares, only_positive)
            metrics["log_score"] = (poisson_log_score(forecast.expected, observed)
                                    if forecast.expected is not None else float("nan"))
            results.append(OriginResult(origin, end, name, int(observed.sum()), metrics,
                                        flag_weights(forecast.score, grid.areas, flag_share)))
    return results


def _table(results: Sequence[OriginResult], metric: str) -> dict[str, dict[float, float]]:
    table: dict[str, dict[float, float]] = {}
    for r in results:
        table.setdefault(r.model, {})[r.origin] = r.metrics.get(metric, float("nan"))
    return table


def summarise(results: Sequence[OriginResult], metric: str) -> dict[str, dict[str, float]]:
    """Per model: mean and median over origins where the metric is finite, and how many origins were skipped."""
    out = {}
    for model, by_origin in _table(results, metric).items():
        v = np.array(list(by_origin.values()), dtype=float)
        ok = v[np.isfinite(v)]
        out[model] = {
            "mean": float(ok.mean()) if ok.size else float("nan"),
            "median": float(np.median(ok)) if ok.size else float("nan"),
            "n": int(ok.size),
            "skipped": int(v.size - ok.size),
        }
    return out


def paired_bootstrap(results: Sequence[OriginResult], metric: str, baseline: str, n_boot: int = 2000,
                     seed: int = 0) -> dict[str, dict[str, float]]:
    """Mean difference (model - baseline) over shared origins, with a percentile 95% interval from resampling
    origins with replacement (paired: both models are resampled at the same origins). Seeded."""
    table = _table(results, metric)
    base = table[baseline]
    out = {}
    for model, by_origin in table.items():
        if model == baseline:
            continue
        origins = [o for o in by_origin if o in base and np.isfinite(by_origin[o]) and np.isfinite(base[o])]
        diff = np.array([by_origin[o] - base[o] for o in origins])
        if diff.size == 0:
            out[model] = {"mean_diff": float("nan"), "lo": float("nan"), "hi": float("nan"), "n": 0}
            continue
        rng = np.random.default_rng(seed)
        boots = diff[rng.integers(0, diff.size, size=(n_boot, diff.size))].mean(axis=1)
        lo, hi = np.percentile(boots, [2.5, 97.5])
        out[model] = {"mean_diff": float(diff.mean()), "median_diff": float(np.median(diff)),
                      "lo": float(lo), "hi": float(hi), "n": int(diff.size)}
    return out


def flag_matrix(results: Sequence[OriginResult], model: str) -> np.ndarray:
    """(origins x cells) flagged fractions of one model, oldest origin first: the input of concentration()."""
    rows = sorted((r for r in results if r.model == model), key=lambda r: r.origin)
    return np.array([r.flagged for r in rows])


def _fmt(v: float) -> str:
    return "-" if not np.isfinite(v) else f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"


def report_markdown(results: Sequence[OriginResult], metrics: Sequence[str], baselines: Sequence[str],
                    title: str = "Forecast evaluation", notes: str = "", level: int = 2) -> str:
    """Markdown tables: per metric, mean/median per model, and paired bootstrap differences to each baseline.

    `level` is the heading level of the title (metrics get one level below); an empty title is left out."""
    origins = sorted({r.origin for r in results})
    lines = [f"{'#' * level} {title}", ""] if title else []
    if notes:
        lines += [notes, ""]
    lines += [f"{len(origins)} origins. Means skip windows with no events (count in 'skipped').", ""]
    for metric in metrics:
        summary = summarise(results, metric)
        lines += [f"{'#' * (level + 1)} {metric}", "", "| model | mean | median | n | skipped |",
                  "|---|---|---|---|---|"]
        for model, s in summary.items():
            lines.append(f"| {model} | {_fmt(s['mean'])} | {_fmt(s['median'])} | {s['n']} | {s['skipped']} |")
        for base in baselines:
            if base not in summary:
                continue
            boot = {m: b for m, b in paired_bootstrap(results, metric, base).items() if b["n"]}
            if not boot:  # e.g. the random baseline has no log score: nothing to compare
                continue
            lines += ["", f"Difference to `{base}` (paired bootstrap over origins, 95% interval):", "",
                      "| model | mean diff | 95% interval | n |", "|---|---|---|---|"]
            for model, b in boot.items():
                lines.append(f"| {model} | {_fmt(b['mean_diff'])} | [{_fmt(b['lo'])}, {_fmt(b['hi'])}] | {b['n']} |")
        lines.append("")
    return "\n".join(lines)


def write_report(results: Sequence[OriginResult], path: Path, metrics: Sequence[str], baselines: Sequence[str],
                 title: str = "Forecast evaluation", notes: str = "") -> Path:
    """Write the markdown report; if matplotlib is importable, also a PNG of each metric over origins beside it."""
    path = Path(path)
    text = report_markdown(results, metrics, baselines, title, notes)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # plots are optional; the tables carry the numbers
        plt = None
    if plt is not None:
        for metric in metrics:
            fig, ax = plt.subplots(figsize=(8, 3))
            for model, by_origin in _table(results, metric).items():
                xs = sorted(by_origin)
                ax.plot(xs, [by_origin[o] for o in xs], label=model, lw=1)
            ax.set_xlabel("origin (days since 1970-01-01)")
            ax.set_ylabel(metric)
            ax.legend(fontsize=7)
            png = path.with_name(f"{path.stem}-{metric.replace('@', '_at_')}.png")
            fig.savefig(png, dpi=100, bbox_inches="tight")
            plt.close(fig)
            text += f"\n![{metric}]({png.name})\n"
    path.write_text(text, encoding="utf-8")
    return path
