"""Patrol feedback simulation on real recorded crime, in the style of Lum & Isaac (2016), "To predict and serve?"
(Significance 13(5)): the Oakland drug-crime records they used, on their 661-cell grid.

Each simulated day:
1. a model trained on the *recorded* data before that day scores every cell (here: recorded counts over the last
   `window` days, the long-memory baseline that our evaluation finds hardest to beat);
2. patrols go to `k` cells: the best `k - n_explore` by score and, when `exploration_share` > 0, `n_explore`
   cells drawn at random from the rest (the reserved exploration share of the risk map);
3. the day's real records (reports; the simulation's stand-in for crime that comes to police attention anyway)
   are recorded, and in each patrolled cell the patrol *discovers* extra incidents, Poisson with mean
   `boost` x the cell's true daily rate (Lum & Isaac: 20% more recorded crime where police are sent). They are
   marked as patrol-discovered.

Without safeguards the discovered incidents enter the next day's training data like any other record, so the cells
already targeted gain recorded crime and keep being targeted. The safeguards (the same ones the risk map offers):
- `training="exclude"`: patrol-discovered records are left out of training;
- `training="inverse_probability"`: they are kept with weight 1 / P(cell patrolled that day) (floored, as in
  `weighting.inverse_probability`), Horvitz-Thompson as in the urn correction of Ensign et al.;
- `exploration_share`: a reserved share of patrols goes to cells the model does not rank first.

The reference run is the same model and targeting trained on the real records only (no patrol additions).
Concentration is measured on the model's ranked targets (which cells the model puts first, exploration aside) with
`feedback.concentration`: Gini of flag frequency over all cells and the share of flags held by the `k` most flagged
cells, per block of days, so a drift over time shows. Pure numpy; places and dates only.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from .feedback import concentration
from .weighting import inverse_probability

Training = Literal["recorded", "exclude", "inverse_probability"]


@dataclass(frozen=True)
class DailyCounts:
    """Recorded events per (day, cell). `first_day` is the date of row 0; cells are the grid's bins 1..n."""

    counts: np.ndarray  # (days, cells) int
    first_day: dt.date
    bins: np.ndarray  # (cells,) bin ids in column order

    def day_index(self, day: dt.date) -> int:
        return (day - self.first_day).days


def read_oakland(path: Path, n_bins: int | None = None) -> DailyCounts:
    """`drug_crimes_with_bins.csv` (columns bin, OCCURRED as mm/dd/yy): daily counts per bin. Rows without a bin
    are skipped.

    `n_bins` (661 for the Lum & Isaac grid, read from oakland_grid_bins.csv if it sits beside the file) makes
    cells without any record columns of zeros rather than dropping them."""
    path = Path(path)
    bins, days = [], []
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if not row["bin"].strip().isdigit():  # 28 records have no bin (NA): outside the grid
                continue
            bins.append(int(row["bin"]))
            days.append(dt.datetime.strptime(row["OCCURRED"].strip(), "%m/%d/%y").date())
    if n_bins is None:
        grid = path.with_name("oakland_grid_bins.csv")
        if grid.exists():
            with grid.open(newline="", encoding="utf-8") as fh:
                n_bins = sum(1 for _ in csv.DictReader(fh))
        else:
            n_bins = max(bins)
    first = min(days)
    n_days = (max(days) - first).days + 1
    counts = np.zeros((n_days, n_bins), dtype=np.int64)
    np.add.at(counts, (np.array([(d - first).days for d in days]), np.array(bins) - 1), 1)
    return DailyCounts(counts, first, np.arange(1, n_bins + 1))


@dataclass
class SimulationRun:
    targets: np.ndarray  # (days, cells) 0/1: the model's top cells (k - n_explore of them) each day
    patrolled: np.ndarray  # (days, cells) 0/1: targets plus exploration cells
    discovered: np.ndarray  # (days, cells) patrol-discovered incidents added to the records
    real: np.ndarray  # (days, cells) the real records of the simulated days

    def concentration_by_block(self, blocks: int = 4, k: int | None = None) -> list[dict[str, float]]:
        """Gini of flag frequency and share of flags in the `k` most flagged cells, per block of days."""
        k = k or int(self.targets[0].sum())
        out = []
        for part in np.array_split(self.targets, blocks):
            rep = concentration(part, top_fraction=k / part.shape[1])
            out.append({"gini": rep.gini, "top_share": rep.top_share,
                        "distinct_cells": int((part.sum(axis=0) > 0).sum())})
        return out

    def recorded_share_in_targets(self) -> float:
        """Share of all recorded incidents (real + discovered) of the run that were recorded in patrolled cells."""
        recorded = self.real + self.discovered
        return float((recorded * self.patrolled).sum() / max(recorded.sum(), 1))


def simulate(data: DailyCounts, start: dt.date, days: int, k: int = 20, window: int = 180, boost: float = 0.2,
             training: Training = "recorded", exploration_share: float = 0.0, feedback: bool = True,
             rate_days: tuple[dt.date, dt.date] | None = None, ip_floor: float = 0.05,
             seed: int = 0) -> SimulationRun:
    """Run the loop for `days` days from `start` (needs `window` days of data before it).

    feedback=False is the reference: no patrol discoveries at all, the model sees the real records only.
    The true daily rate of a cell (what a patrol can discover) is its mean daily real count over `rate_days`
    (default: the whole file).
    """
    if training not in ("recorded", "exclude", "inverse_probability"):
        raise ValueError(f"unknown training {training!r}")
    if not 0 <= exploration_share < 1:
        raise ValueError("exploration_share must be in [0, 1)")
    s = data.day_index(start)
    if s < window or s + days > data.counts.shape[0]:
        raise ValueError("the simulated days and their training window must lie inside the data")
    counts = data.counts.astype(float)
    cells = counts.shape[1]
    lo, hi = (0, counts.shape[0]) if rate_days is None else (data.day_index(rate_days[0]),
                                                              data.day_index(rate_days[1]))
    rate = counts[lo:hi].mean(axis=0)
    n_explore = round(exploration_share * k)
    n_top = k - n_explore
    rng = np.random.default_rng(seed)
    # training[d] = what the model may learn from day d; before `start` it is the real record.
    train = counts[s - window:s + days].copy()
    real = counts[s:s + days]
    targets = np.zeros((days, cells))
    patrolled = np.zeros((days, cells))
    discovered = np.zeros((days, cells))
    score = train[:window].sum(axis=0)
    p_explore = n_explore / (cells - n_top) if cells > n_top else 0.0
    for d in range(days):
        # Highest score first; the lower cell index breaks exact ties so runs are reproducible.
        order = np.lexsort((np.arange(cells), -score))
        top = order[:n_top]
        targets[d, top] = 1.0
        patrolled[d, top] = 1.0
        if n_explore:
            patrolled[d, rng.choice(order[n_top:], size=n_explore, replace=False)] = 1.0
        if feedback:
            discovered[d] = rng.poisson(boost * rate) * patrolled[d]
        if training == "recorded":
            extra = discovered[d]
        elif training == "exclude":
            extra = np.zeros(cells)
        else:
            p_visit = np.where(targets[d] > 0, 1.0, p_explore)
            extra = discovered[d] * inverse_probability(discovered[d] > 0, p_visit, floor=ip_floor)
        train[window + d] += extra
        score += train[window + d] - train[d]
    return SimulationRun(targets, patrolled, discovered, real)
