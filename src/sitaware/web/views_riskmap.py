"""Risk-map pages (issue 5): ask for a risk map in a form, see it on a map as a recommendation, decide on it.

Presentation only. Requesting goes through `analytics.services.forecast_risk_map`, the function the API's
`POST /api/v1/analytics/risk-maps` calls, so the validation, limits, roles, kill switch and scope are the same
and its field-named messages stand next to the form's fields. Reading goes through `get_risk_map` /
`list_risk_maps` (the viewer's scope: another organisation's map is a 404). Deciding is the review queue's form
and view (`views_review.review_decide` → `oversight.decide`): one decision path.

The fit runs in the request (the service is synchronous; there is no job to follow): the page says it is
working while the form is sent, and the fit's time is bounded by the service's limits (20,000 cells, 92 days).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from sitaware.analytics import services as analytics
from sitaware.analytics.errors import RiskMapNotFound
from sitaware.analytics.forecasting.riskmap import MODELS
from sitaware.core.scope import Actor, actor_for
from sitaware.oversight.errors import ComponentDisabled, OversightError, OversightValidationError
from sitaware.oversight.models import DecisionOutcome, RecommendationStatus
from sitaware.web import mapspecs, pages
from sitaware.web.views_review import _item

LIST_LIMIT = 20
# Average H3 cell areas (km²), so an analyst picks a cell size rather than a number.
CELL_AREAS = {5: "253 km²", 6: "36 km²", 7: "5.2 km²", 8: "0.74 km²", 9: "0.11 km²", 10: "0.015 km²"}
PATROL_MODE_LABELS = {
    "exclude": gettext_lazy("Leave patrol-discovered records out (default; feedback-loop safeguard)"),
    "inverse_probability": gettext_lazy("Keep them, weighted by 1 / chance that patrols visit the cell"),
    "include": gettext_lazy("Use them as they are (for comparison only: the map follows past patrols)"),
}
FORM_FIELDS = ("categories", "bbox", "admin1", "resolution", "horizon_days", "model", "patrol_records", "top_n",
               "exploration_share")
DEFAULTS = {"resolution": "8", "horizon_days": "7", "model": "default", "patrol_records": "exclude",
            "top_n": "10", "exploration_share": "0.2", "bbox": "", "admin1": ""}


def _may_request(actor: Actor) -> bool:
    return actor.role in analytics.RUN_ROLES


def _options() -> dict[str, Any]:
    return {
        "categories": pages.category_options(pages.taxonomy()),
        "resolutions": [(r, CELL_AREAS[r]) for r in range(5, 11)],
        "models": ["default", *MODELS],
        "patrol_modes": [(k, str(v)) for k, v in PATROL_MODE_LABELS.items()],
        "max_horizon": analytics.MAX_HORIZON_DAYS,
    }


def _parse(post: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The form into the service's arguments; numbers that are not numbers are named like the service's errors."""
    errors: dict[str, str] = {}
    args: dict[str, Any] = {"categories": [c for c in post.getlist("categories") if c]}
    bbox, admin1 = post.get("bbox", "").strip(), post.get("admin1", "").strip()
    # The API's area object: the service says "give exactly one of bbox, admin1 or cells" when both or none.
    args["area"] = {"bbox": bbox, "admin1": admin1}
    for name, kind in (("resolution", int), ("horizon_days", int), ("top_n", int), ("exploration_share", float)):
        try:
            args[name] = kind(post.get(name, DEFAULTS[name]).strip().replace(",", "."))
        except ValueError:
            errors[name] = _("give a number") if kind is float else _("give a whole number")
    args["model"] = post.get("model", "default")
    args["patrol_records"] = post.get("patrol_records", "exclude")
    return args, errors


def _list_page(request: HttpRequest, actor: Actor, *, errors: dict[str, str] | None = None,
               posted: dict[str, Any] | None = None, status: int = 200) -> HttpResponse:
    maps = analytics.list_risk_maps(actor, limit=LIST_LIMIT)
    labels = dict(RecommendationStatus.choices)
    rows = [{**row, "status_label": labels.get(row["status"], row["status"])}
            for row in (analytics.serialize_risk_map(m) for m in maps)]
    form = {**DEFAULTS, "categories": [], **(posted or {})}
    return render(request, "web/risk_maps.html", {
        "rows": rows, "may_request": _may_request(actor), "options": _options(), "form": form,
        "errors": errors or {}, "limit": LIST_LIMIT,
    }, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def risk_maps(request: HttpRequest) -> HttpResponse:
    """GET: the request form and the latest risk maps in scope. POST: request one (then its page)."""
    actor = actor_for(request.user)
    if request.method == "GET":
        return _list_page(request, actor)
    posted = {name: request.POST.get(name, "") for name in FORM_FIELDS}
    posted["categories"] = request.POST.getlist("categories")
    args, errors = _parse(request.POST)
    if errors:
        return _list_page(request, actor, errors=errors, posted=posted, status=400)
    try:
        rec = analytics.forecast_risk_map(actor, args.pop("categories"), args.pop("area"), args.pop("resolution"),
                                          args.pop("horizon_days"), args.pop("model"), **args)
    except OversightValidationError as exc:
        for problem in exc.problems:
            key = problem["field"].split(".")[0]
            key = key if key in (*FORM_FIELDS, "area") else "form"
            errors[key] = (errors.get(key, "") + " " + str(problem["message"])).strip()
        return _list_page(request, actor, errors=errors, posted=posted, status=400)
    except ComponentDisabled as exc:
        return _list_page(request, actor, errors={"form": str(exc)}, posted=posted, status=423)
    except PermissionDenied as exc:
        return _list_page(request, actor, errors={"form": str(exc)}, posted=posted, status=403)
    except OversightError as exc:
        return _list_page(request, actor, errors={"form": str(exc)}, posted=posted, status=exc.status)
    return HttpResponseRedirect(reverse("web:risk-map", args=[rec.risk_map.id]))


def _why(cell: dict[str, Any], horizon: int) -> str:
    """Why a top cell ranks high, from the numbers the forecast gives for it (recent, neighbours, long term)."""
    text = _("%(recent)d event(s) here and %(nb)d in neighbouring cells in the last %(days)d days; long-term "
             "level %(lt).2f per %(h)d days") % {
        "recent": cell.get("recent_events", 0), "nb": cell.get("neighbour_events", 0),
        "days": cell.get("recent_days", 0), "lt": cell.get("long_term_per_horizon", 0), "h": horizon}
    if "background_share" in cell:
        text += _("; %(bg).0f%% long-term background, %(tr).0f%% triggered by recent events") % {
            "bg": 100 * cell["background_share"], "tr": 100 * cell["triggered_share"]}
    return text


@login_required
@require_http_methods(["GET"])
def risk_map(request: HttpRequest, risk_map_id: str) -> HttpResponse:
    actor = actor_for(request.user)
    try:
        found = analytics.get_risk_map(actor, risk_map_id)
    except RiskMapNotFound:
        raise Http404(_("no risk map %(id)s") % {"id": risk_map_id}) from None
    data = analytics.serialize_risk_map(found, detail=True)
    rec = found.recommendation
    patrol, exploration = data["patrol_cells"] or [], data["exploration_cells"] or []
    spec, left_out = mapspecs.risk_map(data["cells"], patrol, exploration)
    role = {**dict.fromkeys(exploration, _("exploration")), **dict.fromkeys(patrol, _("patrol"))}
    top = [{**c, "why": _why(c, data["horizon_days"]), "role": role.get(c["cell"], "")} for c in data["top"]]
    breaks = spec["breaks"]
    legend = [(mapspecs.RISK_COLOURS[0], _("less than %(b)s") % {"b": breaks[0]})]
    legend += [(mapspecs.RISK_COLOURS[i + 1], _("%(a)s or more") % {"a": b}) for i, b in enumerate(breaks)]
    item = _item(actor, rec, {})
    decision = getattr(rec, "decision", None) if rec.status != "pending" else None
    output = rec.output or {}
    return render(request, "web/risk_map.html", {
        "rm": data, "rec": rec, "item": item, "top": top, "spec": spec, "left_out": left_out, "legend": legend,
        "shown": len(spec["sources"]["risk"]["cells"]), "category_labels": [pages.category_label(c) for c in
                                                                           data["config"].get("categories", [])],
        "fit": output.get("fit") or {}, "training_events": output.get("training_events"),
        "excluded": output.get("excluded_patrol_records"), "decision": decision,
        "outcomes": DecisionOutcome.choices, "next": reverse("web:risk-map", args=[found.id]),
        "status_label": dict(RecommendationStatus.choices).get(rec.status, rec.status),
        "concentration_warnings": (data.get("concentration") or {}).get("warnings") or [],
    })
