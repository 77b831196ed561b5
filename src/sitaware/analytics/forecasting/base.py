"""The shared shapes: a set of place-time events, a per-cell forecast, and the model protocol.

Events carry only a time and a place. Nothing here has (or may get) a field about a person: forecasts are about
places (R-AI-01).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .grid import Grid


@dataclass(frozen=True)
class Events:
    """Times in days (float, any epoch) and positions in metres, sorted by time."""

    t: np.ndarray
    x: np.ndarray
    y: np.ndarray

    @staticmethod
    def of(t: np.ndarray, x: np.ndarray, y: np.ndarray) -> Events:
        t, x, y = (np.asarray(a, dtype=float) for a in (t, x, y))
        if not (t.shape == x.shape == y.shape) or t.ndim != 1:
            raise ValueError("t, x and y must be 1-D arrays of the same length")
        order = np.argsort(t, kind="stable")
        return Events(t[order], x[order], y[order])

    def __len__(self) -> int:
        return int(self.t.size)

    def window(self, start: float, end: float) -> Events:
        """Events with start <= t < end (half-open, so consecutive windows never share an event)."""
        lo, hi = np.searchsorted(self.t, [start, end], side="left")
        return Events(self.t[lo:hi], self.x[lo:hi], self.y[lo:hi])

    def before(self, origin: float) -> Events:
        """Events strictly before the origin: the only ones a model fitted at `origin` may see."""
        return self.window(-np.inf, origin)


@dataclass(frozen=True)
class Forecast:
    """A forecast for one window after the origin.

    `expected` is the expected count per cell over the horizon (None for a model that only ranks, such as random);
    `score` orders cells for flagging (higher = flag first); `lower`/`upper` a per-cell interval when the model has
    one (SEPP: Poisson 90% interval, which ignores parameter uncertainty).
    """

    score: np.ndarray
    expected: np.ndarray | None = None
    lower: np.ndarray | None = None
    upper: np.ndarray | None = None


class Model(Protocol):
    name: str

    def fit(self, events: Events, grid: Grid, origin: float) -> Model: ...

    def predict(self, horizon: float) -> Forecast: ...


def check_training(events: Events, origin: float) -> None:
    """Refuse to train on the future: a leak here would inflate every metric silently."""
    if len(events) and float(events.t[-1]) >= origin:
        raise ValueError(f"training events must be strictly before the origin {origin}; got t={events.t[-1]}")
