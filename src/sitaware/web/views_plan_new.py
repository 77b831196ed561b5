"""Asking for a patrol plan in a form: `/plans/new` (issue 6), and the organisation's default travel provider.

Presentation only. The form is turned into the planning API's request body (docs/planning.md, "Asking for a
plan") and checked by `planning.jobs.ask` with the same checks as `planning.services.propose_plan` (the function
`POST /api/v1/planning/plans` calls): the same validation, roles, kill switch and scope. Each `{field, message}`
the service names is put next to the form field it comes from (`_FIELD`), and everything typed is shown again.
A request that passes is solved in the background by the task worker: the browser goes to the proposal's page
(`views_plan_proposal`), which follows it to the plan. `/plans/new?from=<proposal>` shows a proposal's form
again, with the problems the worker found beside their fields. Works without JavaScript: "Add a unit" is a
submit button that shows the form again with one more row (nothing is sent to the service).

Times are UTC (the plan pages show UTC): a `datetime-local` value gets `Z`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from sitaware.analytics import services as analytics
from sitaware.core.scope import Actor, actor_for
from sitaware.oversight.errors import ComponentDisabled, OversightError, OversightValidationError
from sitaware.planning import jobs
from sitaware.planning import services as planning
from sitaware.planning.errors import ProposalNotFound

DEFAULT_ROWS = 2
MAX_ROWS = 50  # the service's limit of units per plan
UNIT_FIELDS = ("id", "unit", "lat", "lon", "mode", "speed", "crew")
FORM_FIELDS = ("shift_start", "shift_end", "cells_from", "risk_map", "top", "alerts", "cells", "mandatory", "windows",
               "curfews", "no_go",
               "dwell_min", "exploration_share", "max_consecutive", "bbox", "travel", "time_budget_s", "seed")
DEFAULTS = {"cells_from": "hand", "top": "100", "dwell_min": "15", "exploration_share": "0", "max_consecutive": "",
            "travel": "default", "time_budget_s": "10", "seed": "0", "cells": "", "mandatory": "", "windows": "",
            "curfews": "", "no_go": "",
            "bbox": "", "alerts": "", "risk_map": "", "shift_start": "", "shift_end": ""}
MODES = {"vehicle": gettext_lazy("vehicle"), "foot": gettext_lazy("foot")}
PROVIDER_LABELS = {
    "straight_line": gettext_lazy("Straight line x detour factor (transit may cross no-go cells)"),
    "speed_grid": gettext_lazy("Speed grid (no-go cells are never crossed)"),
    "osm": gettext_lazy("Roads of an OpenStreetMap extract"),
}
SOURCE_LABELS = {"organisation": gettext_lazy("set for your organisation"),
                 "site": gettext_lazy("the site's default"), "built_in": gettext_lazy("built in")}
# The service's field (first part of the path) → the form's field. Rows and cells are mapped in `_place`.
_FIELD = {
    "shift.start": "shift_start", "shift.end": "shift_end", "priorities.forecast": "risk_map",
    "priorities": "risk_map", "constraints.no_go": "no_go", "no_go": "no_go", "constraints.dwell_s": "dwell_min",
    "constraints.exploration_share": "exploration_share", "exploration_share": "exploration_share",
    "constraints.max_consecutive": "max_consecutive", "max_consecutive": "max_consecutive",
    "constraints.area.bbox": "bbox", "constraints.area": "bbox", "area": "bbox", "solver.seed": "seed",
    "solver.time_budget_s": "time_budget_s", "time_budget_s": "time_budget_s", "units": "units", "cells": "cells",
    "cells.priority": "cells",
}
# The form's fields by name, for a problem shown away from the form (the proposal's page).
FIELD_LABELS = {
    "shift_start": gettext_lazy("Shift start"), "shift_end": gettext_lazy("Shift end"),
    "units": gettext_lazy("Units on shift"), "risk_map": gettext_lazy("Accepted risk map"),
    "top": gettext_lazy("Accepted risk map"), "cells": gettext_lazy("Cells and their priority"),
    "mandatory": gettext_lazy("Mandatory visits"), "windows": gettext_lazy("Time windows"),
    "curfews": gettext_lazy("Curfews"), "no_go": gettext_lazy("No-go cells"),
    "dwell_min": gettext_lazy("Time spent at each visit"), "exploration_share": gettext_lazy("Exploration share"),
    "max_consecutive": gettext_lazy("Repeat cap"), "bbox": gettext_lazy("Planning area"),
    "travel": gettext_lazy("Travel times"), "time_budget_s": gettext_lazy("Search time"),
    "seed": gettext_lazy("Seed"),
}
_UNIT_PART = {"base": "base", "unit": "unit", "speed_kmh": "speed", "mode": "mode", "id": "id", "shift": "id"}
_ROW = re.compile(r"^units\[(\d+)\](?:\.(\w+))?")
_SPAN = re.compile(r"^(\d{1,2}):(\d\d)-(\d{1,2}):(\d\d)$")
_CELL = re.compile(r"^cells\[(\d+)\](?:\.(\w+))?")


def provider_label(spec: dict[str, Any] | None) -> str:
    """A travel setting in words, e.g. "Roads of an OpenStreetMap extract: bangui.osm.pbf"."""
    if not spec:
        return "\u2013"
    kind = spec.get("provider", "straight_line")
    label = str(PROVIDER_LABELS.get(kind, kind))
    return f"{label}: {spec['extract']}" if kind == "osm" and spec.get("extract") else label


def travel_choices(actor: Actor) -> list[tuple[str, str]]:
    """The providers a planner can pick: straight line, speed grid, and one entry per readable road extract."""
    out = [("straight_line", str(PROVIDER_LABELS["straight_line"])), ("speed_grid", str(PROVIDER_LABELS["speed_grid"]))]
    for extract in planning.extracts(actor):
        if "error" not in extract:
            out.append((f"osm:{extract['name']}", f"{PROVIDER_LABELS['osm']}: {extract['name']}"))
    return out


def travel_spec(choice: str) -> dict[str, Any] | None:
    """A choice of `travel_choices` as the request's `travel` object; "default" (or nothing) is None."""
    if choice.startswith("osm:"):
        return {"provider": "osm", "extract": choice[4:]}
    if choice in ("straight_line", "speed_grid"):
        return {"provider": choice}
    return None


def _lines(text: str) -> list[list[str]]:
    return [line.replace(",", " ").replace(";", " ").split() for line in text.splitlines() if line.strip()]


def _number(value: str, kind: type, key: str, errors: dict[str, str]) -> Any:
    try:
        return kind(value.strip().replace(",", "."))
    except ValueError:
        errors[key] = _("give a number") if kind is float else _("give a whole number")
        return None


def _when(value: str) -> str:
    value = value.strip()
    # datetime-local gives 2026-11-20T06:00 (no zone): the form's times are UTC.
    return f"{value}:00Z" if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d", value) else value


def _shift_span(text: str, shift_start: str) -> tuple[str, str] | None:
    """'HH:MM-HH:MM' as UTC times within the shift: a time earlier in the day than the shift's start is on the
    next day (a night shift), and an end at or before its start is on the day after the start."""
    m = _SPAN.match(text)
    try:
        start_at = dt.datetime.fromisoformat(shift_start.replace("Z", "+00:00"))
    except ValueError:
        return None  # the shift's own error is shown
    if not m or int(m.group(1)) > 23 or int(m.group(3)) > 23 or int(m.group(2)) > 59 or int(m.group(4)) > 59:
        return None
    day = start_at.replace(second=0, microsecond=0)
    a = day.replace(hour=int(m.group(1)), minute=int(m.group(2)))
    a += dt.timedelta(days=1) if a < day else dt.timedelta(0)
    b = a.replace(hour=int(m.group(3)), minute=int(m.group(4)))
    b += dt.timedelta(days=1) if b <= a else dt.timedelta(0)
    return a.isoformat(), b.isoformat()


def _time_rules(form: dict[str, Any], shift_start: str, by_id: dict[str, dict[str, Any]],
                cells: list[dict[str, Any]], errors: dict[str, str]) -> list[dict[str, Any]]:
    """Per-cell time windows ('cell HH:MM-HH:MM ...') into the cells, and curfews ('HH:MM-HH:MM [cell ...]',
    no cell: everywhere) as the request's curfews."""
    for n, parts in enumerate(_lines(form["windows"]), start=1):
        spans = [_shift_span(p, shift_start) for p in parts[1:]]
        if len(parts) < 2 or None in spans:
            errors["windows"] = _("line %(n)d: give a cell id and one or more times HH:MM-HH:MM (UTC)") % {"n": n}
            continue
        if parts[0] not in by_id:
            by_id[parts[0]] = {"id": parts[0]}
            cells.append(by_id[parts[0]])
        by_id[parts[0]]["windows"] = [list(span) for span in spans if span]
    curfews = []
    for n, parts in enumerate(_lines(form["curfews"]), start=1):
        span = _shift_span(parts[0], shift_start) if parts else None
        if span is None:
            errors["curfews"] = _("line %(n)d: give a time HH:MM-HH:MM (UTC), then the cells it covers, if not "
                                  "all") % {"n": n}
            continue
        curfews.append({"start": span[0], "end": span[1], **({"cells": parts[1:]} if parts[1:] else {})})
    return curfews


def posted_form(post: Any) -> tuple[dict[str, Any], list[dict[str, str]]]:
    form = {name: post.get(name, "") for name in FORM_FIELDS}
    try:
        count = max(1, min(int(post.get("rows", DEFAULT_ROWS)), MAX_ROWS))
    except ValueError:
        count = DEFAULT_ROWS
    rows = [{f: post.get(f"u{i}_{f}", "").strip() for f in UNIT_FIELDS} for i in range(count)]
    return form, rows


def build_request(form: dict[str, Any], rows: list[dict[str, str]]) -> tuple[dict[str, Any], dict[str, str],
                                                                             list[int], int]:
    """The form as the service's request; errors the form itself can name (not numbers, bad lines); the form
    row of each unit sent; how many cell lines were sent (cells[i] below that is line i + 1)."""
    errors: dict[str, str] = {}
    units, used_rows = [], []
    for i, row in enumerate(rows):
        if not any(row[f] for f in ("id", "lat", "lon")):
            continue  # an empty row is ignored (the form shows spare rows)
        unit: dict[str, Any] = {"id": row["id"] or row["unit"], "unit": row["unit"], "mode": row["mode"] or "vehicle"}
        lat = _number(row["lat"], float, f"u{i}_base", errors) if row["lat"] else None
        lon = _number(row["lon"], float, f"u{i}_base", errors) if row["lon"] else None
        unit["base"] = [lat, lon] if lat is not None and lon is not None else None
        if row["speed"]:
            unit["speed_kmh"] = _number(row["speed"], float, f"u{i}_speed", errors)
        if row["crew"]:
            unit["crew"] = _number(row["crew"], int, f"u{i}_crew", errors)
        units.append(unit)
        used_rows.append(i)
    data: dict[str, Any] = {"shift": {"start": _when(form["shift_start"]), "end": _when(form["shift_end"])},
                            "units": units}
    cells: list[dict[str, Any]] = []
    by_id: dict[str, dict[str, Any]] = {}
    if form["cells_from"] == "risk_map":
        data["priorities"] = {"forecast": form["risk_map"] or "latest",
                              "top": _number(form["top"] or "100", int, "top", errors) or 100,
                              "alerts": bool(form["alerts"])}
        if not form["risk_map"]:
            errors["risk_map"] = _("choose an accepted risk map")
    else:
        if form["alerts"]:
            data["priorities"] = {"alerts": True}
        for n, parts in enumerate(_lines(form["cells"]), start=1):
            if len(parts) != 2:
                errors["cells"] = _("line %(n)d: give a cell id and its priority") % {"n": n}
                continue
            if parts[0] in by_id:
                errors["cells"] = _("line %(n)d: cell %(c)s is already listed") % {"n": n, "c": parts[0]}
                continue
            priority = _number(parts[1], float, "cells", errors)
            by_id[parts[0]] = {"id": parts[0], "priority": priority}
            cells.append(by_id[parts[0]])
    hand_lines = len(cells)
    for n, parts in enumerate(_lines(form["mandatory"]), start=1):
        visits = _number(parts[1], int, "mandatory", errors) if len(parts) == 2 else None
        if len(parts) != 2 or visits is None:
            errors["mandatory"] = _("line %(n)d: give a cell id and how many visits it needs") % {"n": n}
            continue
        if parts[0] in by_id:
            by_id[parts[0]]["required_visits"] = visits
        else:
            by_id[parts[0]] = {"id": parts[0], "required_visits": visits}
            cells.append(by_id[parts[0]])
    curfews = _time_rules(form, data["shift"]["start"], by_id, cells, errors)
    data["cells"] = cells
    constraints: dict[str, Any] = {"no_go": [c for parts in _lines(form["no_go"]) for c in parts]}
    if curfews:
        constraints["curfews"] = curfews
    dwell = _number(form["dwell_min"] or "15", float, "dwell_min", errors)
    constraints["dwell_s"] = dwell * 60 if dwell is not None else None
    constraints["exploration_share"] = _number(form["exploration_share"] or "0", float, "exploration_share", errors)
    if form["max_consecutive"].strip():
        constraints["max_consecutive"] = _number(form["max_consecutive"], int, "max_consecutive", errors)
    if form["bbox"].strip():
        box = [_number(x, float, "bbox", errors) for x in form["bbox"].replace(";", ",").split(",")]
        constraints["area"] = {"bbox": box}
    data["constraints"] = constraints
    data["solver"] = {"seed": _number(form["seed"] or "0", int, "seed", errors),
                      "time_budget_s": _number(form["time_budget_s"] or "10", float, "time_budget_s", errors)}
    travel = travel_spec(form["travel"])
    if travel is not None:
        data["travel"] = travel
    return data, errors, used_rows, hand_lines


def _place(field: str, used_rows: list[int], hand_lines: int, cells_from: str) -> tuple[str, str]:
    """The form field a service problem belongs to, and a prefix that says which line it is about."""
    if field.startswith("travel"):
        return "travel", ""
    if field.startswith("constraints.curfews"):
        return "curfews", ""
    m = _ROW.match(field)
    if m:
        j = int(m.group(1))
        row = used_rows[j] if j < len(used_rows) else None
        if row is None:
            return "units", ""
        return f"u{row}_{_UNIT_PART.get(m.group(2) or 'id', 'id')}", ""
    m = _CELL.match(field)
    if m:
        i, part = int(m.group(1)), m.group(2) or ""
        if part == "required_visits":
            return "mandatory", ""
        if part == "windows":
            return "windows", ""
        if cells_from == "hand" and i < hand_lines:
            return "cells", _("line %(n)d: ") % {"n": i + 1}
        return ("cells" if cells_from == "hand" else "risk_map"), ""
    return _FIELD.get(field, "form"), ""


def _add(errors: dict[str, str], key: str, message: str) -> None:
    errors[key] = (errors.get(key, "") + " " + message).strip()


def place_problems(problems: list[dict[str, Any]], form: dict[str, Any], rows: list[dict[str, str]],
                   errors: dict[str, str] | None = None) -> dict[str, str]:
    """The service's problems, each under the form field it belongs to (the form as typed tells which row and
    which line a problem is about)."""
    errors = {} if errors is None else errors
    _data, _errors, used_rows, hand_lines = build_request(form, rows)
    for problem in problems:
        key, prefix = _place(str(problem["field"]), used_rows, hand_lines, form["cells_from"])
        _add(errors, key, prefix + str(problem["message"]))
    return errors


def stored_form(stored: Any) -> tuple[dict[str, Any], list[dict[str, str]]] | None:
    """The form as a proposal kept it (`PlanProposal.form`), or None when it was asked some other way."""
    if not isinstance(stored, dict) or not isinstance(stored.get("form"), dict):
        return None
    form = {**DEFAULTS, **{k: str(v) for k, v in stored["form"].items() if k in FORM_FIELDS and v is not None}}
    rows = [{f: str(r.get(f, "")) for f in UNIT_FIELDS} for r in (stored.get("rows") or [])[:MAX_ROWS]
            if isinstance(r, dict)]
    return form, rows or [dict.fromkeys(UNIT_FIELDS, "") for _ in range(DEFAULT_ROWS)]


def problem_list(problems: list[dict[str, Any]], stored: Any) -> list[tuple[str, str]]:
    """(where, message) for each problem: the form's field and row when the form is known, else the request's
    field as the API names it."""
    typed = stored_form(stored)
    if typed is None:
        return [(str(p["field"]), str(p["message"])) for p in problems]
    form, rows = typed
    out = []
    for key, message in place_problems(problems, form, rows).items():
        m = re.fullmatch(r"u(\d+)_\w+", key)
        where = _("Patrol %(n)d") % {"n": int(m.group(1)) + 1} if m else str(FIELD_LABELS.get(key, ""))
        out.append((where, message))
    return out


def _anchor(key: str) -> str:
    """The element a message in the summary leads to."""
    if key == "form":
        return ""
    if re.fullmatch(r"u\d+_base", key):
        return f"pf-{key[:-4]}lat"
    return "pf-units" if key == "units" else f"pf-{key}"


def _row(i: int, values: dict[str, str], errors: dict[str, str]) -> dict[str, Any]:
    found = {f: errors.get(f"u{i}_{f}", "") for f in (*UNIT_FIELDS, "base")}
    return {"i": i, "n": i + 1, "v": values, "e": found, "messages": " ".join(m for m in found.values() if m)}


def _render(request: HttpRequest, actor: Actor, form: dict[str, Any], rows: list[dict[str, str]],
            errors: dict[str, str], status: int = 200) -> HttpResponse:
    maps = analytics.list_risk_maps(actor, accepted=True, limit=50)
    default = planning.default_travel(actor)
    return render(request, "web/plan_new.html", {
        "form": form, "errors": errors, "error_list": [(_anchor(k), m) for k, m in errors.items()],
        "row_count": len(rows), "rows": [_row(i, row, errors) for i, row in enumerate(rows)],
        "units": planning.organisation_units(actor), "modes": [(k, str(v)) for k, v in MODES.items()],
        "risk_maps": [{"id": str(m.id), "label": f"{m.origin:%Y-%m-%d} +{m.horizon_days} d · "
                                                  f"{', '.join(m.config.get('categories') or []) or _('all')} · "
                                                  f"H3 {m.resolution}"} for m in maps],
        "travel_choices": travel_choices(actor),
        "default_travel": provider_label(default.get("spec")), "default_source": SOURCE_LABELS.get(default["source"]),
    }, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def plan_new(request: HttpRequest) -> HttpResponse:
    """GET: the form. POST: propose the plan (then its page), or "Add a unit" (the form again, one more row)."""
    actor = actor_for(request.user)
    if not planning.may_propose(actor):
        raise PermissionDenied(_("patrol plans are asked for by analysts, supervisors and commanders"))
    if request.method == "GET":
        if request.GET.get("from"):
            return _again(request, actor, request.GET["from"])
        form = {**DEFAULTS}
        return _render(request, actor, form, [dict.fromkeys(UNIT_FIELDS, "") for _ in range(DEFAULT_ROWS)], {})
    form, rows = posted_form(request.POST)
    form = {**DEFAULTS, **form}
    if request.POST.get("add_unit"):
        rows = [*rows, dict.fromkeys(UNIT_FIELDS, "")] if len(rows) < MAX_ROWS else rows
        return _render(request, actor, form, rows, {})
    data, errors, used_rows, hand_lines = build_request(form, rows)
    if errors:
        return _render(request, actor, form, rows, errors, status=400)
    try:
        # Checked now (problems beside their fields, as before); solved by the task worker.
        job = jobs.ask(actor, data, form={"form": form, "rows": rows})
    except OversightValidationError as exc:
        for problem in exc.problems:
            key, prefix = _place(str(problem["field"]), used_rows, hand_lines, form["cells_from"])
            _add(errors, key, prefix + str(problem["message"]))
        return _render(request, actor, form, rows, errors, status=400)
    except ComponentDisabled as exc:
        return _render(request, actor, form, rows, {"form": str(exc)}, status=423)
    except OversightError as exc:
        return _render(request, actor, form, rows, {"form": str(exc)}, status=exc.status)
    return HttpResponseRedirect(reverse("web:plan-proposal", args=[job.pk]))


def _again(request: HttpRequest, actor: Actor, proposal_id: str) -> HttpResponse:
    """A proposal's form as it was typed, with the problems the worker found beside their fields."""
    try:
        job = jobs.get_proposal(actor, proposal_id)
    except ProposalNotFound:
        raise Http404(_("no plan proposal %(id)s") % {"id": proposal_id}) from None
    typed = stored_form(job.form)
    if typed is None:
        return HttpResponseRedirect(reverse("web:plan-new"))
    form, rows = typed
    return _render(request, actor, form, rows, place_problems(job.problems, form, rows))


@login_required
@require_POST
def plan_travel(request: HttpRequest) -> HttpResponse:
    """The /plans/ page's small form: set (or clear) the organisation's default travel provider."""
    actor = actor_for(request.user)
    if not planning.may_set_travel(actor):
        raise PermissionDenied(_("the default travel times are set by administrators, supervisors and commanders"))
    from sitaware.web import views_plan

    choice = request.POST.get("travel", "")
    spec = travel_spec(choice)
    if spec is None and choice != "site":  # nothing chosen is not "back to the site's default"
        return views_plan.plans_page(request, actor, travel_error=_("choose the travel times"), travel_posted=choice,
                                     status=400)
    try:
        planning.set_default_travel(actor, spec)
    except OversightValidationError as exc:
        message = " ".join(str(p["message"]) for p in exc.problems)
        return views_plan.plans_page(request, actor, travel_error=message, travel_posted=choice, status=400)
    messages.success(request, _("Default travel times saved."))
    return HttpResponseRedirect(reverse("web:plans"))
