"""Shared helpers for the patrol-plan product tests (small instances, fixed iterations: fast and reproducible)."""

from __future__ import annotations

import datetime as dt

import h3

BANGUI = (4.3612, 18.5550)
START = dt.datetime(2026, 11, 20, 6, 0, tzinfo=dt.UTC)  # in the past, so records of the shift can exist
END = START + dt.timedelta(hours=3)
KEY = "patrol-plan"


def switch_on(actor) -> None:
    from sitaware.oversight import services

    services.ensure_builtin_components()
    services.set_enabled(actor("adam"), KEY, True, reason="docs/planning.md read")


def cells(k: int = 2) -> list[dict]:
    centre = h3.latlng_to_cell(*BANGUI, 8)
    ids = sorted(h3.grid_disk(centre, k))
    return [{"id": c, "priority": float(1 + (i * 7) % 10)} for i, c in enumerate(ids)]


def payload(**overrides) -> dict:
    data = {
        "shift": {"start": START.isoformat(), "end": END.isoformat()},
        "units": [
            {"id": "hq-1", "unit": "bangui-hq", "base": [BANGUI[0] - 0.01, BANGUI[1] - 0.01], "mode": "vehicle",
             "speed_kmh": 20, "crew": 4},
            {"id": "hq-2", "unit": "bangui-hq", "base": [BANGUI[0] + 0.01, BANGUI[1]], "mode": "foot",
             "speed_kmh": 4, "crew": 2},
        ],
        "cells": cells(3),
        "constraints": {"dwell_s": 900, "exploration_share": 0.0,
                        "area": {"bbox": [18.3, 4.2, 18.8, 4.6]}},
        "solver": {"seed": 1, "max_iterations": 150, "num_seeds": 1, "time_budget_s": 5},
    }
    data.update(overrides)
    return data


def solver_plan_from_db(plan):
    """The stored visits as a solver Plan, for the independent checker."""
    from sitaware.planning.solver.solve import Plan, UnitPlan, Visit

    units = []
    for u in plan.request.units:
        visits = [Visit(v.cell, v.visit_no, v.planned_arrival.timestamp(), v.planned_start.timestamp(),
                        v.planned_departure.timestamp(), 0.0, 0.0, v.priority, v.kind)
                  for v in plan.visits.filter(patrol=u["id"]).order_by("order")]
        depart = min((v.arrival for v in visits), default=START.timestamp())
        units.append(UnitPlan(u["id"], START.timestamp() if visits else depart, visits,
                              END.timestamp(), 0.0, 0.0, 0.0, 0.0, 0.0))
    return Plan(units, {}, [], plan.feasible, 0.0, 0.0)
