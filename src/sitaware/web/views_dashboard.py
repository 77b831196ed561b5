"""The dashboard `/dashboard/` (R-SA-08) and the record list `/records/` its numbers drill down to.

Counts by category, area (admin1) and month over the viewer's scope, each a link to `/records/?…` with the
filter that selects exactly the records counted (tested number by number). Records whose grouping field a
sharing agreement withholds are counted apart as "withheld" and kept out of filters on that field, so neither
a bar nor a drill-down gives the withheld value away.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from pydantic import ValidationError

from sitaware.api.errors import BadInput
from sitaware.core.choices import Sensitivity
from sitaware.core.scope import Actor, actor_for
from sitaware.records import services as records
from sitaware.records import vocab
from sitaware.records.api import RecordListQuery, record_filter
from sitaware.records.errors import RecordValidationError, schema_message
from sitaware.web import pages
from sitaware.web.labels import KIND_LABELS, STATUS_LABELS, labelled

FILTER_PARAMS = ("since", "until", "kind", "category", "status", "sensitivity", "source_type", "unit")
LIST_PARAMS = (*FILTER_PARAMS, "admin1", "q", "cursor")
# The dashboard's own filters: none of them is a grouping field, so adding a bar's filter narrows (AND) and
# never widens (a second category would be OR-ed with the first).
DASHBOARD_PARAMS = ("since", "until", "kind", "status", "sensitivity", "source_type", "unit")
# RecordFilter attribute → the record field it reads (for withheld-field checks).
FILTER_FIELDS = {"categories": ("category",), "kinds": ("kind",), "since": ("occurred_at",),
                 "until": ("occurred_at",), "source_types": ("source_type",), "statuses": ("status",),
                 "sensitivities": ("sensitivity",), "units": ("reporting_unit",),
                 "text": ("title", "narrative", "place_name")}
PAGE_SIZE = 50
MONTHS_SHOWN = 24
AREAS_SHOWN = 60
BAR_WIDTH = 240


def parse_filter(request: HttpRequest, allowed: tuple[str, ...]) -> tuple[records.RecordFilter, str | None,
                                                                           list[dict[str, str]]]:
    """The query string as a RecordFilter (the record list's rules and messages), the admin1 filter (None when
    absent, "" for records without one) and the problems found."""
    problems = [{"field": name, "message": _("unknown filter")} for name in sorted(set(request.GET) - set(allowed))]
    values = {name: [v for v in request.GET.getlist(name) if v.strip()] for name in FILTER_PARAMS[2:]}
    flt = records.RecordFilter()
    try:
        query = RecordListQuery(since=request.GET.get("since") or None, until=request.GET.get("until") or None,
                                q=request.GET.get("q", "") if "q" in allowed else "",
                                **{k: v for k, v in values.items() if k in allowed})
        flt = record_filter(query)
    except BadInput as exc:
        problems.extend(exc.problems)
    except ValidationError as exc:
        problems.extend({"field": ".".join(map(str, e["loc"])), "message": schema_message(e)} for e in exc.errors())
    admin1 = request.GET.get("admin1") if "admin1" in request.GET and "admin1" in allowed else None
    return flt, admin1, problems


def matching(actor: Actor, flt: records.RecordFilter, admin1: str | None = None) -> QuerySet:
    """Records in the viewer's scope that match; a filter on a field withheld from the viewer never matches the
    records it is withheld on (else the filter would reveal the value)."""
    qs = records.filter_records(records.scoped_records(actor), flt)
    hidden: set[Any] = set()
    for attr, fields in FILTER_FIELDS.items():
        if getattr(flt, attr):
            for name in fields:
                hidden.update(pages.withheld_from(actor, name))
    if admin1 is not None:
        qs = qs.filter(admin1=admin1)
        hidden.update(pages.withheld_from(actor, "admin1"))
    if hidden:
        qs = qs.exclude(organisation_id__in=hidden)
    return qs


def _link(base: dict[str, list[str]], **extra: str) -> str:
    params = [(k, v) for k, values in base.items() if k not in extra for v in values]
    params.extend(extra.items())
    return f"{reverse('web:records')}?{urlencode(params)}"


def _bars(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    top = max((r["count"] for r in rows), default=0) or 1
    for r in rows:
        r["width"] = max(1, round(BAR_WIDTH * r["count"] / top)) if r["count"] else 0
    return rows


def _month_bounds(month: dt.datetime, flt: records.RecordFilter) -> tuple[dt.datetime, dt.datetime]:
    start = month.astimezone(dt.UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + dt.timedelta(days=32)).replace(day=1)
    # The dashboard's own period narrows the month, so the drill-down counts what the bar counts.
    if flt.since and flt.since > start:
        start = flt.since
    if flt.until and flt.until < end:
        end = flt.until
    return start, end


def dashboard_data(actor: Actor, flt: records.RecordFilter, base_params: dict[str, list[str]]) -> dict[str, Any]:
    qs = matching(actor, flt)
    tax = pages.taxonomy()
    out: dict[str, Any] = {"total": qs.count(), "total_link": _link(base_params)}

    hidden = pages.withheld_from(actor, "category")
    by_root: dict[str, int] = {}
    for code, n in qs.exclude(organisation_id__in=hidden).values_list("category").annotate(n=Count("pk")).order_by():
        root = pages.root_category(code, tax)
        by_root[root] = by_root.get(root, 0) + n
    out["categories"] = _bars(sorted(
        ({"label": pages.category_label(code, tax), "code": code, "count": n, "link": _link(base_params, category=code)}
         for code, n in by_root.items()), key=lambda r: (-r["count"], r["label"])))
    out["categories_withheld"] = qs.filter(organisation_id__in=hidden).count() if hidden else 0

    hidden = pages.withheld_from(actor, "admin1")
    areas = list(qs.exclude(organisation_id__in=hidden).values_list("admin1").annotate(n=Count("pk"))
                 .order_by("-n", "admin1")[: AREAS_SHOWN + 1])
    out["areas_more"] = len(areas) > AREAS_SHOWN
    out["areas"] = _bars([{"label": area or _("(not given)"), "count": n, "link": _link(base_params, admin1=area)}
                          for area, n in areas[:AREAS_SHOWN]])
    out["areas_withheld"] = qs.filter(organisation_id__in=hidden).count() if hidden else 0

    hidden = pages.withheld_from(actor, "occurred_at")
    months = list(qs.exclude(organisation_id__in=hidden).annotate(m=TruncMonth("occurred_at", tzinfo=dt.UTC))
                  .values_list("m").annotate(n=Count("pk")).order_by("-m")[: MONTHS_SHOWN + 1])
    out["months_more"] = len(months) > MONTHS_SHOWN
    rows = []
    for month, n in reversed(months[:MONTHS_SHOWN]):
        start, end = _month_bounds(month, flt)
        rows.append({"label": month.strftime("%Y-%m"), "count": n,
                     "link": _link(base_params, since=start.isoformat(), until=end.isoformat())})
    out["months"] = _bars(rows)
    out["months_withheld"] = qs.filter(organisation_id__in=hidden).count() if hidden else 0
    return out


def _filter_choices(actor: Actor) -> dict[str, Any]:
    return {
        "kinds": labelled(vocab.KINDS, KIND_LABELS),
        "statuses": labelled(vocab.STATUSES, STATUS_LABELS),
        "sensitivities": [(int(s.value), s.label) for s in Sensitivity if s.value <= actor.clearance],
    }


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request.user)
    flt, _admin1, problems = parse_filter(request, DASHBOARD_PARAMS)
    if problems:
        return render(request, "web/dashboard.html", {"problems": problems, "choices": _filter_choices(actor)},
                      status=400)
    base = {name: [v for v in request.GET.getlist(name) if v.strip()] for name in DASHBOARD_PARAMS}
    base = {name: values for name, values in base.items() if values}
    context = {"data": dashboard_data(actor, flt, base), "choices": _filter_choices(actor), "chosen": base,
               "bar_width": BAR_WIDTH}
    return render(request, "web/dashboard.html", context)


def _page_rows(actor: Actor, qs: QuerySet, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first, keyset-paginated like the record API; each row as the viewer may see it."""
    if cursor:
        when, key = records.decode_cursor(cursor)
        qs = qs.filter(Q(occurred_at__lt=when) | Q(occurred_at=when, id__lt=key))
    rows = list(qs.select_related("organisation", "reporting_unit").order_by("-occurred_at", "-id")[: PAGE_SIZE + 1])
    redactor = records.Redactor.for_actor(actor)
    tax = pages.taxonomy()
    items = []
    for record in rows[:PAGE_SIZE]:
        item = records.serialize(record, redactor)
        item["category_label"] = pages.category_label(item["category"], tax) if item["category"] else None
        item["kind_label"] = str(KIND_LABELS.get(item["kind"], item["kind"] or ""))
        item["status_label"] = str(STATUS_LABELS.get(item["status"], item["status"] or ""))
        items.append(item)
    next_cursor = records.encode_cursor(rows[PAGE_SIZE - 1]) if len(rows) > PAGE_SIZE else None
    return items, next_cursor


@login_required
@require_GET
def record_list(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request.user)
    flt, admin1, problems = parse_filter(request, LIST_PARAMS)
    if problems:
        return render(request, "web/records.html", {"problems": problems}, status=400)
    qs = matching(actor, flt, admin1)
    try:
        items, next_cursor = _page_rows(actor, qs, request.GET.get("cursor") or None)
    except RecordValidationError as exc:
        return render(request, "web/records.html", {"problems": exc.problems}, status=400)
    params = [(k, v) for k in request.GET if k != "cursor" for v in request.GET.getlist(k)]
    next_link = f"?{urlencode([*params, ('cursor', next_cursor)])}" if next_cursor else None
    context = {"count": qs.count(), "items": items, "next_link": next_link, "described": params}
    return render(request, "web/records.html", context)
