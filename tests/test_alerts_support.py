"""Shared helpers of the alerts tests (no tests here): a quiet background of robberies around Bangui and a
hotspot that flares up in the last two weeks before AT."""

from __future__ import annotations

import datetime as dt

import numpy as np

from tests.conftest import record_payload

KEY = "early-warning"
AT = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
# Runs started from the API, the console or the worker analyse up to "now": their data are placed before it.
NOW = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
BBOX = [18.50, 4.32, 18.62, 4.42]  # min_lon, min_lat, max_lon, max_lat around Bangui
HOT = (4.3612, 18.5550)  # PK5
CONFIG = {"name": "Robberies Bangui", "method": "scan", "categories": ["police.armed_robbery"],
          "area": {"bbox": BBOX}, "resolution": 8, "period_days": 7, "history_periods": 26, "max_window": 3,
          "max_neighbours": 6, "permutations": 99, "alpha": 0.05, "cap_status": "Exercise"}


def background(n: int, seed: int, *, weeks: int = 26, admin1: str = "Bangui", at: dt.datetime = AT) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        when = at - dt.timedelta(days=float(rng.uniform(0.5, weeks * 7 - 0.5)))
        out.append(record_payload(occurred_at=when.isoformat(), latitude=float(rng.uniform(4.33, 4.41)),
                                  longitude=float(rng.uniform(18.51, 18.61)), status="published", admin1=admin1,
                                  external_source="test", external_id=f"bg-{seed}-{i}"))
    return out


def hotspot(n: int, seed: int, *, days: float = 13, centre: tuple[float, float] = HOT, before: dt.datetime = AT,
            spread: float = 0.002, admin1: str = "Bangui") -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        when = before - dt.timedelta(days=float(rng.uniform(0.2, days)))
        out.append(record_payload(occurred_at=when.isoformat(), latitude=centre[0] + float(rng.normal(0, spread)),
                                  longitude=centre[1] + float(rng.normal(0, spread)), status="published",
                                  admin1=admin1, external_source="test", external_id=f"hot-{seed}-{i}"))
    return out


def load(actor, rows: list[dict], who: str = "sam") -> None:
    from sitaware.records.bulk import bulk_upsert

    result = bulk_upsert(actor(who), list(enumerate(rows, 1)))
    assert result.created == len(rows), result


def switch_on(actor) -> None:
    from sitaware.oversight import services

    services.ensure_builtin_components()
    services.set_enabled(actor("adam"), KEY, True, reason="docs/alerts.md read")


def make_detector(actor, who: str = "ana", **overrides):
    from sitaware.alerts.detectors import create_detector

    return create_detector(actor(who), {**CONFIG, **overrides})


def run(actor, detector, who: str = "ana", at: dt.datetime = AT, **kw):
    from sitaware.alerts.runner import run_detector

    return run_detector(actor(who), detector.id, at=at, **kw)
