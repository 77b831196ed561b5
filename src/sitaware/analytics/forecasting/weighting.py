"""Integer replication of weighted events, so models that take unweighted events can be trained on weights.

Used for the inverse-patrol-probability option (feedback safeguard): a patrol-discovered event in a cell that
patrols visit with probability p stands for 1/p events (Horvitz-Thompson), as in the urn correction of
Ensign et al. Models (SEPP, baselines) take plain events, so an event of weight w becomes floor(w) copies plus
one more with probability frac(w), seeded: the expected count per cell equals the weighted count. Copies share
the same time, and SEPP only pairs events with dt > 0, so copies never "trigger" each other.
"""

from __future__ import annotations

import numpy as np

from .base import Events


def replicate(events: Events, weights: np.ndarray, seed: int = 0) -> Events:
    """Events repeated according to `weights` (>= 0, same order as events); seeded, so runs are reproducible."""
    w = np.asarray(weights, dtype=float)
    if w.shape != events.t.shape:
        raise ValueError("one weight per event")
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite and non-negative")
    whole = np.floor(w).astype(np.int64)
    extra = np.random.default_rng(seed).random(w.size) < (w - whole)
    copies = whole + extra.astype(np.int64)
    return Events.of(np.repeat(events.t, copies), np.repeat(events.x, copies), np.repeat(events.y, copies))


def inverse_probability(discovered_by_patrol: np.ndarray, visit_probability: np.ndarray,
                        floor: float = 0.05) -> np.ndarray:
    """Weight 1 for events found without patrols; 1 / max(p, floor) for patrol-discovered ones.

    The floor bounds the weight (at most 1/floor = 20 by default), as `feedback.polya_urn`'s min_visit_prob does:
    without it one discovery in a rarely visited cell would swamp everything else.
    """
    p = np.maximum(np.asarray(visit_probability, dtype=float), floor)
    return np.where(np.asarray(discovered_by_patrol, dtype=bool), 1.0 / p, 1.0)
