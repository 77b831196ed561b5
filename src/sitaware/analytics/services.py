"""Risk maps as recommendations: read records in scope, forecast per place, store, and let a person decide.

Flow: `forecast_risk_map` reads only time, place and category of the records the requester may see, leaves out
patrol-discovered records by default (feedback-loop safeguard), runs the pure forecasting code through the
oversight gate (refused while the component is switched off), and stores a `RiskMap` beside the recommendation.
Nothing is acted on until a supervisor or commander decides; an accepted map is what `accepted_risk_map` hands
to patrol planning.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import h3
import numpy as np
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Max, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from sitaware.analytics.errors import ForecastInputError, RiskMapNotFound
from sitaware.analytics.forecasting import concentration as conc
from sitaware.analytics.forecasting import riskmap
from sitaware.analytics.forecasting.version import VERSION, artefact_hash
from sitaware.analytics.forecasting.weighting import inverse_probability
from sitaware.analytics.models import RiskMap
from sitaware.core import changelog
from sitaware.core.canonical import canonical_json
from sitaware.core.changelog import PendingEntry
from sitaware.core.choices import Role, Sensitivity
from sitaware.core.scope import Actor, active_agreements
from sitaware.oversight import services as oversight
from sitaware.oversight.errors import ComponentDisabled, OversightValidationError
from sitaware.oversight.models import Decision, Recommendation

# The oversight registry's keys are slugs (no dots): this is the component the issue calls "forecast.risk_map".
COMPONENT_KEY = "forecast-risk-map"
# What a risk map is made from, and nothing else (R-AI-01: place-based only). A test checks that none of these
# can describe a person; `source_type` says how a record was discovered, `sensitivity`/`organisation_id` are
# needed for scope and the recommendation's own sensitivity.
READ_FIELDS = ("id", "version", "occurred_at", "latitude", "longitude", "category", "source_type", "sensitivity",
               "organisation_id")
PERSON_FIELDS = frozenset({"title", "narrative", "source_identity", "source_reference", "casualties", "created_by",
                           "created_by_id", "place_name", "reporting_unit", "reporting_unit_id"})
# Records found because a patrol was there. The vocabulary (records/vocab.py SOURCE_TYPES) has no
# "patrol-initiated" value; "patrol_report" is the closest. "field_report" is left in: it covers reports taken
# in the field from the public as well as what officers saw, and the vocabulary does not tell them apart.
# A mission can widen the set with SITAWARE_FORECAST_PATROL_SOURCES.
DEFAULT_PATROL_SOURCES = ("patrol_report",)
PATROL_MODES = ("exclude", "inverse_probability", "include")
DEFAULT_STATUSES = ("verified", "published", "archived")  # drafts and records in review are not yet checked
PRECISE_LOCATIONS = ("exact", "near")  # coarser places cannot be put in a 0.1-10 km cell
PRECISE_TIMES = ("exact", "hour", "day", "week")
RUN_ROLES = frozenset({Role.ANALYST, Role.SUPERVISOR, Role.COMMANDER})
DECIDER_ROLES = (Role.SUPERVISOR.value, Role.COMMANDER.value)
MAX_CELLS = 20_000
MAX_HORIZON_DAYS = 92
CONCENTRATION_RUNS = 52  # one year of weekly maps
VISIT_FLOOR = 0.05

PURPOSE = (
    "Forecast where incidents of chosen categories are likely in the next period (expected count per map cell, "
    "with uncertainty), to help plan patrols. Place-based only: it reads the time, place and category of records "
    "and says nothing about any person. It only proposes: a supervisor or commander decides."
)
MANUAL_PATH = ("plan patrols from the map and the record lists as before: filter records by category, area and "
               "period (GET /api/v1/records) and look at the recent incidents on the map")
LIMITATIONS = gettext_noop(
    "Records are reports: where patrols, monitors and journalists are, more is recorded, so a forecast inherits "
    "where reporting happens (patrol-discovered records are left out or re-weighted to limit this). Accuracy was "
    "measured on UCDP (CAR) and Portland burglary data, not on this mission's records; see the model card. The "
    "5th-95th percentile ranges are Poisson ranges of the expected count and ignore parameter uncertainty. "
    "SEPP's long-term level is constant over its two-year window, so a shifting situation is caught late. Cells "
    "with few past events can hold real risk that the data do not show; the exploration cells exist for that. "
    "This map does not describe or score any person and must not be used to."
)


def builtin_spec() -> oversight.ComponentSpec:
    """Registered switched off: an administrator switches it on after reading the model card (R-AI-02)."""
    return oversight.ComponentSpec(
        key=COMPONENT_KEY,
        name="Risk map (place-based forecast)",
        purpose=PURPOSE,
        owner="Crime analysis cell of the police component",
        model_version=VERSION,
        artefact_hash=artefact_hash(),
        decider_roles=list(DECIDER_ROLES),
        enabled=False,
        manual_path=MANUAL_PATH,
        model_card="docs/model-cards/forecast-sepp.md (and forecast-<model>.md for each model)",
        art5_screen=("Not a prohibited practice: forecasts incidents per place; no assessment or prediction of "
                     "any natural person's risk of offending (Art. 5(1)(d) does not apply to place-based "
                     "forecasting)."),
        annex_iii="none: place-based; no assessment of natural persons",
    )


# ---------------------------------------------------------------- area


@dataclass(frozen=True)
class Area:
    """Where to forecast: a bounding box, an admin1 name, or a list of H3 cells (at any resolution)."""

    bbox: tuple[float, float, float, float] | None = None
    admin1: str | None = None
    cells: tuple[str, ...] | None = None

    @staticmethod
    def of(value: Any) -> Area:
        """From {"bbox": [...]}, {"admin1": "..."}, {"cells": [...]}, a "min_lon,min_lat,max_lon,max_lat" text,
        an admin1 name, a 4-number bbox or a list of H3 cells."""
        if isinstance(value, Area):
            return value
        if isinstance(value, dict):
            given = [k for k in ("bbox", "admin1", "cells") if value.get(k)]
            if len(given) != 1:
                raise ForecastInputError("area", _("give exactly one of bbox, admin1 or cells"))
            value = value[given[0]] if given[0] != "admin1" else str(value["admin1"])
            if given[0] == "bbox":
                value = ",".join(str(v) for v in value) if isinstance(value, list | tuple) else str(value)
        if isinstance(value, list | tuple) and len(value) == 4 and all(isinstance(v, int | float) for v in value):
            value = ",".join(str(v) for v in value)
        if isinstance(value, str):
            if "," not in value:
                if not value.strip():
                    raise ForecastInputError("area", _("give a bbox, an admin1 name or a list of H3 cells"))
                return Area(admin1=value.strip())
            from sitaware.records.geo import parse_bbox

            try:
                return Area(bbox=parse_bbox(value))
            except ValueError as exc:
                raise ForecastInputError("area", str(exc)) from None
        if isinstance(value, list | tuple):
            if not value or not all(isinstance(c, str) and h3.is_valid_cell(c) for c in value):
                raise ForecastInputError("area", _("cells must be a non-empty list of H3 cell ids"))
            return Area(cells=tuple(value))
        raise ForecastInputError("area", _("give a bbox, an admin1 name or a list of H3 cells"))

    def as_json(self) -> dict[str, Any]:
        if self.bbox:
            return {"bbox": list(self.bbox)}
        if self.admin1:
            return {"admin1": self.admin1}
        return {"cells": sorted(self.cells or ())}


def _cells_at(cells: Sequence[str], resolution: int) -> list[str]:
    out: set[str] = set()
    for c in cells:
        r = h3.get_resolution(c)
        if r == resolution:
            out.add(c)
        elif r > resolution:
            out.add(h3.cell_to_parent(c, resolution))
        else:
            out.update(h3.cell_to_children(c, resolution))
    return sorted(out)


def _area_cells(area: Area, resolution: int, lat: np.ndarray, lon: np.ndarray) -> list[str]:
    """The forecast cells. bbox and cells are fixed shapes; an admin1 has no stored outline, so its cells are
    those where its records ever fell, with their neighbours (the same 'cells that ever had an event' choice
    the evaluation makes, widened by one ring so a neighbour can be forecast)."""
    if area.bbox:
        min_lon, min_lat, max_lon, max_lat = area.bbox
        ring = [(min_lat, min_lon), (min_lat, max_lon), (max_lat, max_lon), (max_lat, min_lon)]
        cells = set(h3.polygon_to_cells(h3.LatLngPoly(ring), resolution))
        # A box smaller than a cell holds no cell centre; the cells of its corners still cover it.
        cells.update(h3.latlng_to_cell(a, o, resolution) for a, o in ring)
        if len(cells) > MAX_CELLS:
            raise ForecastInputError("area", _("the area holds %(n)d cells at resolution %(r)d (at most %(max)d); "
                                               "choose a coarser resolution or a smaller area")
                                     % {"n": len(cells), "r": resolution, "max": MAX_CELLS})
        return sorted(cells)
    if area.cells:
        cells = _cells_at(area.cells, resolution)
        if len(cells) > MAX_CELLS:
            raise ForecastInputError("area", _("too many cells at this resolution (at most %(max)d)")
                                     % {"max": MAX_CELLS})
        return cells
    seen = {h3.latlng_to_cell(a, o, resolution) for a, o in zip(lat.tolist(), lon.tolist(), strict=True)}
    cells = set()
    for c in seen:
        cells.update(h3.grid_disk(c, 1))
    return sorted(cells)


# ---------------------------------------------------------------- reading records


@dataclass
class Training:
    ids: list[tuple[str, int]]  # (record id, version) of every record read, for the input hash
    t: np.ndarray  # days since 1970-01-01
    lat: np.ndarray
    lon: np.ndarray
    patrol: np.ndarray  # discovered by patrol
    max_sensitivity: int
    latest: dt.datetime | None
    withheld: int  # shared records whose place, time or category the agreement withholds


def _patrol_sources() -> tuple[str, ...]:
    return tuple(getattr(settings, "SITAWARE_FORECAST_PATROL_SOURCES", None) or DEFAULT_PATROL_SOURCES)


def _read(actor: Actor, categories: Sequence[str], area: Area, origin: dt.datetime,
          statuses: Sequence[str]) -> Training:
    """Time, place, category and discovery channel of the matching records in `actor`'s scope, before origin."""
    from sitaware.records.services import scoped_records

    assert not PERSON_FIELDS & set(READ_FIELDS), "a risk map must not read any field about a person"
    qs = scoped_records(actor).filter(occurred_at__lt=origin, status__in=list(statuses),
                                      location_precision__in=PRECISE_LOCATIONS, time_precision__in=PRECISE_TIMES)
    if categories:
        qs = qs.filter(category__in=list(categories))
    if area.bbox:
        min_lon, min_lat, max_lon, max_lat = area.bbox
        qs = qs.filter(latitude__gte=min_lat, latitude__lte=max_lat, longitude__gte=min_lon, longitude__lte=max_lon)
    elif area.admin1:
        qs = qs.filter(admin1__iexact=area.admin1)
    # A sharing agreement may withhold a field; a record whose place, time or category is withheld cannot be used.
    needed = {"occurred_at", "latitude", "longitude", "category"}
    blind = [a.provider_id for a in active_agreements(actor) if needed & set(a.redacted_fields or [])]
    withheld = qs.filter(organisation_id__in=blind).count() if blind else 0
    if blind:
        qs = qs.exclude(organisation_id__in=blind)
    rows = list(qs.order_by("occurred_at", "id").values_list(*READ_FIELDS))
    patrol_sources = set(_patrol_sources())
    return Training(
        ids=[(str(r[0]), int(r[1])) for r in rows],
        t=np.array([r[2].timestamp() / 86400.0 for r in rows], dtype=float),
        lat=np.array([r[3] for r in rows], dtype=float),
        lon=np.array([r[4] for r in rows], dtype=float),
        patrol=np.array([r[6] in patrol_sources for r in rows], dtype=bool),
        max_sensitivity=max((int(r[7]) for r in rows), default=int(Sensitivity.RESTRICTED)),
        latest=rows[-1][2] if rows else None,
        withheld=withheld,
    )


def _log_seq() -> int:
    from sitaware.core.models import ChangeEntry

    return int(ChangeEntry.objects.aggregate(m=Max("seq"))["m"] or 0)


# ---------------------------------------------------------------- the run


def _config(categories: Sequence[str], area: Area, resolution: int, horizon_days: int, model: str,
            patrol_records: str, top_n: int, exploration_share: float) -> tuple[dict[str, Any], str, str]:
    config = {"categories": sorted(set(categories)), "area": area.as_json(), "resolution": resolution,
              "horizon_days": horizon_days, "model": model, "patrol_records": patrol_records, "top_n": top_n,
              "exploration_share": exploration_share}
    key = hashlib.sha256(canonical_json(config).encode()).hexdigest()
    area_key = hashlib.sha256(canonical_json([config["area"], resolution]).encode()).hexdigest()
    return config, key, area_key


def _check_inputs(actor: Actor, resolution: int, horizon_days: int, model: str, patrol_records: str,
                  top_n: int, exploration_share: float) -> None:
    if actor.role not in RUN_ROLES and not actor.system:
        raise PermissionDenied(_("risk maps are requested by analysts, supervisors and commanders"))
    problems = []
    if not 5 <= resolution <= 10:
        problems.append(("resolution", _("H3 resolution between 5 (about 250 km²) and 10 (about 0.015 km²)")))
    if not 1 <= horizon_days <= MAX_HORIZON_DAYS:
        problems.append(("horizon_days", _("between 1 and %(max)d days") % {"max": MAX_HORIZON_DAYS}))
    if model != "default" and model not in riskmap.MODELS:
        problems.append(("model", _("use default or one of %(models)s") % {"models": ", ".join(riskmap.MODELS)}))
    if patrol_records not in PATROL_MODES:
        problems.append(("patrol_records", _("use one of %(modes)s") % {"modes": ", ".join(PATROL_MODES)}))
    if not 1 <= top_n <= 200:
        problems.append(("top_n", _("between 1 and 200 cells")))
    if not 0 <= exploration_share <= 0.5:
        problems.append(("exploration_share", _("between 0 and 0.5")))
    if problems:
        raise OversightValidationError([{"field": f, "message": str(m)} for f, m in problems])


def visit_probability(actor: Actor, area_key: str, cells: Sequence[str], before: dt.datetime) -> dict[str, float]:
    """Estimated chance that patrols visit each cell in a period: the share of the last accepted risk maps of
    this area (any model or category) whose patrol list held it. With none accepted yet, patrols did not follow
    a forecast and every cell counts as visited (weight 1). Floored at VISIT_FLOOR when weights are made."""
    maps = list(scoped_risk_maps(actor).filter(config__area_key=area_key, accepted_at__isnull=False,
                                               origin__lt=before)
                .order_by("-origin").values_list("accepted_patrol_cells", "accepted_exploration_cells")
                [:CONCENTRATION_RUNS])
    if not maps:
        return dict.fromkeys(cells, 1.0)
    counts = dict.fromkeys(cells, 0.0)
    for patrol, explore in maps:
        for c in {*(patrol or []), *(explore or [])}:
            if c in counts:
                counts[c] += 1.0
    return {c: n / len(maps) for c, n in counts.items()}


def _concentration(actor: Actor, key: str, origin: dt.datetime, flagged: list[str],
                   universe: list[str]) -> dict[str, Any]:
    """The concentration report over the recent runs of this configuration (one per origin day) plus this one."""
    # Only maps the requester may see: a map above their clearance must not leak its cells into this report.
    previous = (scoped_risk_maps(actor).filter(config_key=key)
                .order_by("-origin", "-created_at").values_list("origin", "patrol_cells")[:CONCENTRATION_RUNS * 3])
    runs: dict[dt.date, list[str]] = {}
    for when, cells in previous:
        if when.date() != origin.date():  # a re-run for the same period replaces it rather than adding a period
            runs.setdefault(when.date(), cells)
    ordered = [runs[d] for d in sorted(runs)][-(CONCENTRATION_RUNS - 1):]
    everything = sorted({*universe, *flagged, *(c for r in ordered for c in r)})
    return conc.report([*ordered, flagged], everything)


def _refuse_when_switched_off(actor: Actor) -> None:
    """Fail before reading any record; `recommend` checks again (in the database) before and after producing."""
    component = oversight.get_component(actor, COMPONENT_KEY)
    if not component.enabled:
        raise ComponentDisabled(component.key, component.name, component.manual_path)


def forecast_risk_map(actor: Actor, categories: Sequence[str], area: Any, resolution: int = 8,
                      horizon_days: int = 7, model: str = "default", *, patrol_records: str = "exclude",
                      top_n: int = 10, exploration_share: float = 0.2, origin: dt.datetime | None = None,
                      statuses: Sequence[str] = DEFAULT_STATUSES) -> Recommendation:
    """Forecast incidents per H3 cell for [origin, origin + horizon) and store it as a recommendation.

    `patrol_records`: "exclude" (default) leaves patrol-discovered records out of training; "inverse_probability"
    keeps them with weight 1 / P(patrol visits the cell) (see `visit_probability`); "include" uses them as they
    are (only for comparison: it feeds patrol locations back into the forecast).
    """
    area = Area.of(area)
    categories = [str(c) for c in (categories or [])]
    _check_inputs(actor, resolution, horizon_days, model, patrol_records, top_n, exploration_share)
    _refuse_when_switched_off(actor)
    origin = origin or timezone.now()
    config, key, area_key = _config(categories, area, resolution, horizon_days, model, patrol_records, top_n,
                                    exploration_share)
    config["area_key"] = area_key
    seq = _log_seq()
    data = _read(actor, categories, area, origin, statuses)
    cells = _area_cells(area, resolution, data.lat, data.lon)
    if not cells:
        raise ForecastInputError("area", _("no cells: the area has no records to place them by; give a bbox or cells"))
    risk_map_id = uuid.uuid4()
    run_seed = riskmap.seed_for(f"{key}|{origin.isoformat()}")
    used = ~data.patrol if patrol_records == "exclude" else np.ones(data.t.size, dtype=bool)
    weights = None
    if patrol_records == "inverse_probability":
        p = visit_probability(actor, area_key, cells, origin)
        per_record = np.array([p.get(h3.latlng_to_cell(a, o, resolution), 1.0)
                               for a, o in zip(data.lat.tolist(), data.lon.tolist(), strict=True)])
        weights = inverse_probability(data.patrol, per_record, VISIT_FLOOR)
    origin_days = origin.timestamp() / 86400.0
    parameters = {**config, "origin": origin.astimezone(dt.UTC).isoformat(), "statuses": list(statuses),
                  "patrol_sources": list(_patrol_sources()), "precise_locations": list(PRECISE_LOCATIONS),
                  "precise_times": list(PRECISE_TIMES), "seed": run_seed, "risk_map": str(risk_map_id)}
    cut_off = {"change_log_seq": seq, "latest_occurred_at": data.latest.astimezone(dt.UTC).isoformat()
               if data.latest else None}
    request = oversight.Request(
        target_type="risk_map",
        target_id=str(risk_map_id),
        purpose=_("Risk map for patrol planning"),
        inputs={"records": [list(r) for r in data.ids], "config": config, "origin": parameters["origin"]},
        input_refs=[{"type": "records_query", "categories": config["categories"], "area": config["area"],
                     "statuses": list(statuses), "occurred_before": parameters["origin"], "records": len(data.ids),
                     "used": int(used.sum()), "patrol_discovered": int(data.patrol.sum()),
                     "withheld_by_agreement": data.withheld, **cut_off}],
        parameters=parameters,
        sensitivity=data.max_sensitivity,
    )
    state: dict[str, Any] = {}

    def produce() -> oversight.Produced:
        grid, projection = riskmap.area_grid(cells, resolution)
        result = riskmap.compute(grid, projection, data.lon[used], data.lat[used], data.t[used], origin_days,
                                 float(horizon_days), model, weights=None if weights is None else weights[used],
                                 top_n=top_n, exploration_share=exploration_share, seed=run_seed)
        n_explore = len(result.exploration)
        patrol = [c["cell"] for c in result.top[:top_n - round(exploration_share * top_n)]]
        report = _concentration(actor, key, origin, patrol + result.exploration, result.cells_with_events)
        state.update(result=result, patrol=patrol, report=report)
        total_lo, total_hi = riskmap.poisson_range(np.array([result.total_expected]))
        return oversight.Produced(
            proposal={"risk_map": str(risk_map_id), "patrol_cells": patrol, "exploration_cells": result.exploration},
            output={"model": result.model, "fit": result.fit, "cut_off": cut_off, "resolution": resolution,
                    "horizon_days": horizon_days, "origin": parameters["origin"], "cells": result.cells,
                    "top": result.top, "n_cells": result.n_cells, "training_events": result.n_training_events,
                    "excluded_patrol_records": int((~used).sum()), "concentration": report},
            uncertainty={"method": "Poisson 5-95% range of each cell's expected count; ignores parameter "
                                   "uncertainty", "per_cell": "output.cells[].lower / upper",
                         "total_expected": result.total_expected, "total_range": [int(total_lo[0]), int(total_hi[0])],
                         "converged": bool(result.fit.get("converged", True))},
            explanation=_explanation(result, config, cut_off, int((~used).sum()), n_explore, top_n, report,
                                     patrol_records),
            limitations=_limitations(result),
            model_id=f"forecast/{result.model}",
            model_version=VERSION,
            artefact_hash=artefact_hash(),
        )

    rec = oversight.recommend(actor, COMPONENT_KEY, request, produce)
    result = state["result"]
    RiskMap.objects.create(
        id=risk_map_id, recommendation=rec, organisation_id=rec.organisation_id, sensitivity=rec.sensitivity,
        config_key=key, config=config, model_id=result.model, origin=origin, horizon_days=horizon_days,
        resolution=resolution, cells=result.cells, patrol_cells=state["patrol"],
        exploration_cells=result.exploration, concentration=state["report"], created_at=rec.created_at,
    )
    return rec


def _explanation(result: riskmap.RiskMapResult, config: dict[str, Any], cut_off: dict[str, Any], excluded: int,
                 n_explore: int, top_n: int, report: dict[str, Any], patrol_records: str) -> str:
    lines = [
        _("Model %(model)s trained on %(n)d events (records up to %(latest)s, change log #%(seq)d); %(cells)d cells "
          "at H3 resolution %(res)d; horizon %(h)d days; %(total).1f incidents expected in the area.")
        % {"model": result.model, "n": result.n_training_events, "latest": cut_off["latest_occurred_at"] or "-",
           "seq": cut_off["change_log_seq"], "cells": result.n_cells, "res": config["resolution"],
           "h": config["horizon_days"], "total": result.total_expected},
    ]
    if patrol_records == "exclude":
        lines.append(ngettext("%(n)d patrol-discovered record was left out of training (feedback-loop safeguard).",
                              "%(n)d patrol-discovered records were left out of training (feedback-loop safeguard).",
                              excluded) % {"n": excluded})
    elif patrol_records == "inverse_probability":
        lines.append(_("Patrol-discovered records are weighted by 1 / (chance that patrols visit their cell)."))
    else:
        lines.append(_("Patrol-discovered records are used as they are: the map may follow past patrols."))
    lines.append(_("Top cells and why they rank high:"))
    for cell in result.top:
        text = _("#%(rank)d %(cell)s: expected %(e).2f (5-95%%: %(lo)d-%(hi)d); %(recent)d event(s) here and "
                 "%(nb)d in neighbouring cells in the last %(days)d days; long-term level %(lt).2f per %(h)d days") % {
            "rank": cell["rank"], "cell": cell["cell"], "e": cell["expected"], "lo": cell["lower"],
            "hi": cell["upper"], "recent": cell["recent_events"], "nb": cell["neighbour_events"],
            "days": cell["recent_days"], "lt": cell["long_term_per_horizon"], "h": config["horizon_days"]}
        if "background_share" in cell:
            text += _("; %(bg).0f%% from the long-term background, %(tr).0f%% triggered by recent events") % {
                "bg": 100 * cell["background_share"], "tr": 100 * cell["triggered_share"]}
        lines.append(text + ".")
    if n_explore:
        lines.append(_("%(k)d of the %(n)d patrol cells are drawn at random among the other cells (exploration), "
                       "so patrols keep looking where the data are thin.") % {"k": n_explore, "n": top_n})
    lines.append(_("Attention over the last %(p)d run(s) of this configuration: Gini of flag frequency %(g).2f; "
                   "the top 10%% of cells hold %(s).0f%% of flags.")
                 % {"p": report["periods"], "g": report["gini"], "s": 100 * report["top_share"]})
    for warning in report["warnings"]:
        lines.append(_("WARNING (concentration): %(w)s. Patrols following these maps keep returning to the same "
                       "places; consider more exploration or another model.") % {"w": warning})
    return "\n".join(lines)


def _limitations(result: riskmap.RiskMapResult) -> str:
    extra = []
    if result.n_training_events < riskmap.MIN_EVENTS_FOR_SEPP:
        extra.append(_("Only %(n)d training events: the map is little more than where events happened before.")
                     % {"n": result.n_training_events})
    if not result.fit.get("converged", True):
        extra.append(_("The model fit did not converge: treat the ranking with extra caution."))
    return " ".join([_(LIMITATIONS), *extra])


# ---------------------------------------------------------------- deciding and reading back


def _check(rec: Recommendation, output: Any) -> dict[str, Any]:
    """A proposal or a decider's change: patrol and exploration cells of this map's resolution and area."""
    if not isinstance(output, dict) or not isinstance(output.get("patrol_cells"), list):
        raise OversightValidationError([{"field": "patrol_cells", "message": "give a list of H3 cells"}])
    unknown = sorted(set(output) - {"risk_map", "patrol_cells", "exploration_cells"})
    if unknown:
        raise OversightValidationError([{"field": unknown[0], "message": "only patrol_cells and exploration_cells"}])
    risk_map = RiskMap.objects.filter(recommendation=rec).first()
    if risk_map is None:
        raise OversightValidationError([{"field": "risk_map", "message": "this recommendation has no risk map"}])
    out: dict[str, Any] = {"risk_map": str(risk_map.id)}
    for name in ("patrol_cells", "exploration_cells"):
        cells = output.get(name) or []
        bad = [c for c in cells if not (isinstance(c, str) and h3.is_valid_cell(c)
                                        and h3.get_resolution(c) == risk_map.resolution)]
        if bad:
            raise OversightValidationError([{"field": name, "message": f"{bad[0]!r} is not an H3 cell at "
                                                                       f"resolution {risk_map.resolution}"}])
        out[name] = list(dict.fromkeys(cells))
    return out


def _apply(actor: Actor, rec: Recommendation, decision: Decision) -> dict[str, Any]:
    """Mark the map accepted with the decided patrol list: what patrol planning reads. Logged in the chain."""
    risk_map = RiskMap.objects.select_for_update().get(recommendation=rec)
    before = {"accepted_at": None}
    risk_map.accepted_at = decision.decided_at
    risk_map.accepted_by_id = actor.user_id
    risk_map.accepted_patrol_cells = decision.final_output["patrol_cells"]
    risk_map.accepted_exploration_cells = decision.final_output["exploration_cells"]
    risk_map.save(update_fields=["accepted_at", "accepted_by", "accepted_patrol_cells", "accepted_exploration_cells"])
    after = {"accepted_at": risk_map.accepted_at.astimezone(dt.UTC).isoformat(), "decision": decision.pk,
             "patrol_cells": risk_map.accepted_patrol_cells, "exploration_cells": risk_map.accepted_exploration_cells}
    changelog.append(
        [PendingEntry(action="risk_map.accept", object_type="risk_map", object_id=str(risk_map.id), before=before,
                      after=after, organisation_id=risk_map.organisation_id, sensitivity=risk_map.sensitivity,
                      extra={"recommendation": str(rec.id)})],
        actor_id=actor.user_id, actor_label=actor.label,
    )
    return {"status": "accepted", "risk_map": str(risk_map.id)}


oversight.register_applier(COMPONENT_KEY, oversight.Applier(check=_check, apply=_apply))


def scoped_risk_maps(actor: Actor) -> QuerySet:
    """Risk maps whose recommendation `actor` may see (same organisation, sensitivity within clearance)."""
    actor.require("view")
    visible = oversight.scoped_recommendations(actor).values("pk")
    return RiskMap.objects.filter(recommendation__in=visible).select_related("recommendation")


def list_risk_maps(actor: Actor, *, accepted: bool | None = None, limit: int = 100) -> list[RiskMap]:
    qs = scoped_risk_maps(actor)
    if accepted is not None:
        qs = qs.filter(accepted_at__isnull=not accepted)
    return list(qs.order_by("-created_at", "-id")[: max(1, min(limit, 500))])


def get_risk_map(actor: Actor, risk_map_id: Any) -> RiskMap:
    try:
        key = uuid.UUID(str(risk_map_id))
    except ValueError:
        raise RiskMapNotFound(_("no risk map %(id)s") % {"id": risk_map_id}) from None
    risk_map = scoped_risk_maps(actor).filter(pk=key).first()
    if risk_map is None:
        raise RiskMapNotFound(_("no risk map %(id)s") % {"id": risk_map_id})
    return risk_map


def accepted_risk_map(actor: Actor, *, area: Any = None, resolution: int | None = None,
                      categories: Sequence[str] | None = None, at: dt.datetime | None = None) -> RiskMap | None:
    """The latest accepted risk map in scope, for patrol planning. With `at`, only a map whose period
    [origin, origin + horizon) covers it; `area`, `resolution` and `categories` narrow to that configuration."""
    qs = scoped_risk_maps(actor).filter(accepted_at__isnull=False)
    if resolution is not None:
        qs = qs.filter(resolution=resolution)
    # JSON equality differs between SQLite and PostgreSQL; the few candidate rows are compared here instead.
    wanted_area = Area.of(area).as_json() if area is not None else None
    wanted_categories = sorted(set(categories)) if categories is not None else None
    for risk_map in qs.order_by("-origin", "-created_at")[:200]:
        if wanted_area is not None and risk_map.config.get("area") != wanted_area:
            continue
        if wanted_categories is not None and risk_map.config.get("categories") != wanted_categories:
            continue
        if at is None or risk_map.origin <= at < risk_map.origin + dt.timedelta(days=risk_map.horizon_days):
            return risk_map
    return None


def serialize_risk_map(risk_map: RiskMap, *, detail: bool = False) -> dict[str, Any]:
    rec = risk_map.recommendation
    data: dict[str, Any] = {
        "id": str(risk_map.id),
        "recommendation": str(rec.id),
        "status": rec.status,
        "config": risk_map.config,
        "model": risk_map.model_id,
        "model_version": rec.model_version,
        "origin": risk_map.origin.astimezone(dt.UTC).isoformat(),
        "horizon_days": risk_map.horizon_days,
        "resolution": risk_map.resolution,
        "created_at": risk_map.created_at.astimezone(dt.UTC).isoformat(),
        "accepted_at": risk_map.accepted_at.astimezone(dt.UTC).isoformat() if risk_map.accepted_at else None,
        "patrol_cells": risk_map.accepted_patrol_cells if risk_map.accepted_at else risk_map.patrol_cells,
        "exploration_cells": (risk_map.accepted_exploration_cells if risk_map.accepted_at
                              else risk_map.exploration_cells),
        "concentration_warning": bool(risk_map.concentration.get("warning")),
    }
    if detail:
        data.update(cells=risk_map.cells, top=rec.output.get("top", []), concentration=risk_map.concentration,
                    cut_off=rec.output.get("cut_off"), explanation=rec.explanation, limitations=rec.limitations,
                    uncertainty=rec.uncertainty)
    return data


def evaluation_events(actor: Actor, categories: Sequence[str], area: Any, since: dt.datetime | None = None,
                      patrol_records: str = "exclude") -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(lon, lat, days, records read) of the records in `actor`'s scope a risk map would train on, for
    `sitaware forecast evaluate --query`. Same filters and the same patrol rule as forecast_risk_map."""
    if actor.role not in RUN_ROLES and not actor.system:
        raise PermissionDenied(_("risk maps are requested by analysts, supervisors and commanders"))
    if patrol_records not in ("exclude", "include"):
        raise ForecastInputError("patrol_records", _("evaluation uses exclude or include"))
    data = _read(actor, categories, Area.of(area), timezone.now(), DEFAULT_STATUSES)
    keep = ~data.patrol if patrol_records == "exclude" else np.ones(data.t.size, dtype=bool)
    if since is not None:
        keep &= data.t >= since.timestamp() / 86400.0
    return data.lon[keep], data.lat[keep], data.t[keep], len(data.ids)
