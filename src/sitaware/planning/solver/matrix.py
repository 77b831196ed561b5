"""A routing problem on plain matrices in real units: what the engine solves and the checker re-checks."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Stop:
    """One possible visit; alternatives (one visit in either of two windows) are tied by `MatrixProblem.groups`."""

    location: int
    prize: int = 0
    service: float = 0.0
    early: float = 0.0
    late: float = math.inf
    required: bool = False


@dataclass(frozen=True)
class Vehicle:
    start: int  # location index
    end: int
    early: float
    late: float
    profile: int = 0


@dataclass
class MatrixProblem:
    """Everything in real units; locations are indices into the per-profile matrices."""

    stops: list[Stop]
    vehicles: list[Vehicle]
    durations: list[np.ndarray]  # per profile, inf = no way
    distances: list[np.ndarray]
    # Groups: (stop indices, required). A required group needs exactly one of its stops, else at most one.
    groups: list[tuple[list[int], bool]] = field(default_factory=list)
    time_scale: float = 1.0  # integer time units per real unit (1 → seconds)
