"""Editing a plan from its page: move, add or drop visits, preview the effect, then save (issue 6).

Presentation only: every change goes to `planning.services.edit_plan` — "Preview" with `dry_run=True` (nothing is
stored or logged), "Save" for real (the service stores it, bumps the version and logs `plan.edit`). Changes
add up: the page keeps the list of changes previewed so far in a hidden field and each new one is applied after
them, so positions refer to the routes shown in the preview. The plan version the planner previewed goes with
the save (`base_version`): if someone else changed the plan in between, the service refuses.

Works without JavaScript (a form post round trip); nothing here needs a script.
"""

from __future__ import annotations

import difflib
import json
from collections import Counter
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sitaware.core.scope import Actor
from sitaware.oversight.errors import OversightError, OversightValidationError
from sitaware.planning import services as planning

OPS = {"move": gettext_lazy("Move a visit"), "add": gettext_lazy("Add a visit"), "drop": gettext_lazy("Drop a visit")}
MAX_EDITS = 100
# A service problem on the newest change, by the part of `edits[i].<part>` it names → the form field.
_PART = {"unit": "visit", "index": "visit", "to_unit": "to_unit", "at": "at", "cell": "cell", "op": "op"}


def _routes(data: dict[str, Any]) -> dict[str, list[str]]:
    return {r["unit"]: [v["cell"] for v in r["visits"]] for r in data["routes"]}


def _describe(edit: dict[str, Any]) -> str:
    """One change in words, for the list of changes previewed."""
    op = edit.get("op")
    if op == "drop":
        return _("drop visit %(n)s of %(u)s") % {"n": _num(edit.get("index")), "u": edit.get("unit")}
    if op == "add":
        return _("add cell %(c)s to %(u)s at position %(n)s") % {"c": edit.get("cell"), "u": edit.get("unit"),
                                                                   "n": _num(edit.get("at"), _("end"))}
    return _("move visit %(n)s of %(u)s to %(t)s at position %(p)s") % {
        "n": _num(edit.get("index")), "u": edit.get("unit"), "t": edit.get("to_unit", edit.get("unit")),
        "p": _num(edit.get("at"), _("end"))}


def _num(index: Any, none: str = "?") -> str:
    return str(index + 1) if isinstance(index, int) and not isinstance(index, bool) else str(none)


def edit_context(data: dict[str, Any], edit: dict[str, Any]) -> dict[str, Any]:
    """What the edit form shows: its choices (from the previewed routes when there is a preview), what was typed,
    the changes so far and the preview."""
    preview = edit.get("preview")
    routes = preview["routes"] if preview else _routes(data)
    visits = [(f"{unit}:{i}", f"{unit} · {i + 1} · {cell}") for unit, cells in routes.items()
              for i, cell in enumerate(cells)]
    cells = sorted(data["cells"], key=lambda c: (-float(c.get("priority") or 0), c["id"]))
    pending = edit.get("pending") or []
    return {
        "ops": [(k, str(v)) for k, v in OPS.items()],
        "visits": visits,
        "cells": [(c["id"], f"{c['id']} ({float(c.get('priority') or 0):.2f})") for c in cells],
        "units": [u["id"] for u in data["units"]],
        "form": edit.get("form") or {},
        "errors": edit.get("errors") or {},
        "pending": json.dumps(pending),
        "pending_text": [_describe(e) for e in pending],
        "version": edit.get("version", data["version"]),
        "preview": preview,
    }


def _new_edit(post: Any, errors: dict[str, str]) -> dict[str, Any] | None:
    op = post.get("op", "")
    if not op:
        return None
    if op not in OPS:
        errors["op"] = _("choose move, add or drop")
        return None
    at_text = post.get("at", "").strip()
    at: int | None = None
    if at_text:
        try:
            at = int(at_text) - 1
        except ValueError:
            errors["at"] = _("give a whole number")
    edit: dict[str, Any] = {"op": op}
    if op in ("move", "drop"):
        unit, _sep, index = post.get("visit", "").rpartition(":")
        if not unit or not index.isdigit():
            errors["visit"] = _("choose the visit")
            return None
        edit.update(unit=unit, index=int(index))
    if op == "add":
        if not post.get("cell"):
            errors["cell"] = _("choose the cell")
        if not post.get("to_unit"):
            errors["to_unit"] = _("choose the unit")
        edit.update(unit=post.get("to_unit", ""), cell=post.get("cell", ""), at=at)
    if op == "move":
        edit.update(to_unit=post.get("to_unit") or edit["unit"], at=at)
    return None if errors else edit


def _pending(post: Any, errors: dict[str, str]) -> list[dict[str, Any]]:
    try:
        pending = json.loads(post.get("edits") or "[]")
    except ValueError:
        pending = None
    if not isinstance(pending, list) or len(pending) > MAX_EDITS or not all(isinstance(e, dict) for e in pending):
        errors["form"] = _("the list of changes could not be read; start over")
        return []
    return pending


def _summary(plan: Any, result: dict[str, Any], pending: list[dict[str, Any]]) -> dict[str, Any]:
    """Before and after, side by side, and what changes per unit (added and removed visits)."""
    before_routes = planning.current_routes(plan)
    before, after = plan.coverage or {}, result["coverage"]
    units = []
    for u in result["units"]:
        old_order = before_routes.get(u["unit"], [])
        new_order = [v["cell"] for v in u["visits"]]
        was, now = Counter(old_order), Counter(new_order)
        added = now - was
        # Visits kept in the same relative order are unchanged (a drop shifts numbers, it does not move visits);
        # the rest of the kept ones changed place.
        kept = []
        for i, c in enumerate(new_order):
            if added[c] > 0:
                added[c] -= 1  # a cell the unit did not visit (as often) before: this visit is new
            else:
                kept.append(i)
        kept_cells = [new_order[i] for i in kept]
        matcher = difflib.SequenceMatcher(a=[c for c in old_order if c in now], b=kept_cells, autojunk=False)
        in_place = {kept[j] for block in matcher.get_matching_blocks() for j in range(block.b, block.b + block.size)}
        rows = []
        for i, v in enumerate(u["visits"]):
            changed = "" if i in in_place else _("new position") if i in kept else _("added")
            rows.append({**v, "number": i + 1, "changed": changed})
        units.append({"unit": u["unit"], "visits": rows, "removed": sorted((was - now).elements()),
                      "distance_km": u["distance_m"] / 1000, "duration_h": u["duration_s"] / 3600})
    facts = [
        (_("Feasible"), _("yes") if plan.feasible else _("no"),
         _("yes") if result["feasible"] and not result["violations"] else _("no")),
        (_("Priority covered"), f"{before.get('total_priority', 0):.2f}", f"{after.get('total_priority', 0):.2f}"),
        (_("Share of the priority available"), _share(before.get("priority_share")),
         _share(after.get("priority_share"))),
        (_("Mandatory visits planned"), f"{before.get('mandatory_planned', 0)} / {before.get('mandatory_required', 0)}",
         f"{after.get('mandatory_planned', 0)} / {after.get('mandatory_required', 0)}"),
        (_("Distance"), f"{(before.get('distance_m') or 0) / 1000:.1f} km",
         f"{(after.get('distance_m') or 0) / 1000:.1f} km"),
    ]
    return {"facts": facts, "violations": result["violations"], "missed": result["missed"], "units": units,
            "routes": result["routes"], "changes": [_describe(e) for e in pending]}


def _share(value: Any) -> str:
    return "\u2013" if value is None else f"{100 * float(value):.0f} %"


def _place(problem: dict[str, Any], newest: int, errors: dict[str, str]) -> None:
    field = str(problem.get("field", ""))
    key = "form"
    if field.startswith(f"edits[{newest}]."):
        key = _PART.get(field.split(".", 1)[1], "form")
    elif field.startswith("edits["):
        key = "form"
    errors[key] = (errors.get(key, "") + " " + str(problem["message"])).strip()


def handle(request: HttpRequest, actor: Actor, plan: Any) -> tuple[dict[str, Any] | None, int]:
    """The edit form's post: (what the page shows, HTTP status), or (None, 302) when the edit was saved."""
    post = request.POST
    action = post.get("action", "preview")
    if action == "reset":
        return {}, 200
    errors: dict[str, str] = {}
    form = {k: post.get(k, "") for k in ("op", "visit", "cell", "to_unit", "at")}
    pending = _pending(post, errors)
    new = _new_edit(post, errors)
    edits = pending + ([new] if new else [])
    try:
        version = int(post.get("version", plan.version))
    except ValueError:
        version = plan.version
    if not errors and not edits:
        errors["op"] = _("choose a change first: move, add or drop a visit")
    if not errors:
        try:
            result = planning.edit_plan(actor, plan.id, edits, dry_run=action != "save", base_version=version)
        except OversightValidationError as exc:
            for problem in exc.problems:
                _place(problem, len(pending), errors)
        except OversightError as exc:
            errors["form"] = str(exc)
        else:
            if action == "save":
                return None, 302
            return {"pending": edits, "preview": _summary(plan, result, edits), "version": version}, 200
    # Show again what was typed, and the preview of the changes that were accepted so far (if any).
    preview = None
    if pending:
        try:
            preview = _summary(plan, planning.edit_plan(actor, plan.id, pending, dry_run=True), pending)
        except OversightError:
            pending = []
    return {"pending": pending, "preview": preview, "form": form, "errors": errors, "version": version}, 400
