"""The computation engine: computed indicators from records, in full or incrementally, and drill-down.

Reading: each leaf measure of a formula is one query over the records an actor may see (`scoped_records`)
narrowed by the formula's filter and the periods' time span; the rows come back as plain values and the
pure `formula` module groups and reduces them. The same function serves computing and drill-down, so the
records listed behind a figure are by construction the records counted.

Incremental refresh (after DHIS2's analytics watermark): each indicator keeps the change-log seq up to which
its values are current. A refresh reads the record entries after it, maps each changed record's old and new
`occurred_at` to periods, and recomputes only those periods. A full rebuild can always replace it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Max, QuerySet

from sitaware.assessment import formula as formulas
from sitaware.assessment.models import Indicator, IndicatorDefinition
from sitaware.assessment.periods import Period, period_of, spans
from sitaware.core.choices import Role
from sitaware.core.models import ChangeEntry, Organisation
from sitaware.core.scope import Actor, restrict
from sitaware.records.models import Record
from sitaware.records.services import RecordFilter, filter_records, scoped_records

# Disaggregation key → the record column it reads.
GROUP_COLUMNS = {"area": "admin1", "unit": "reporting_unit__code", "category": "category"}
# Bounds how many record ids one query names when mapping changed records to periods.
CHUNK = 2000


def organisation_actor(organisation: Organisation) -> Actor:
    """The organisation as a whole, as scope sees it: its own records at every sensitivity but nobody's
    drafts (the user id 0 is no one's), and what partners share with it. Figures are computed for this."""
    return Actor(user_id=0, username=f"organisation:{organisation.code}", organisation_id=organisation.pk,
                 unit_id=None, role=Role.ANALYST, clearance=3, actions=frozenset({"view"}))


def current_seq() -> int:
    """The last committed change-log entry. Read before the records: entries commit in seq order (the chain
    head is locked until commit), so every change up to it is visible to the reads that follow."""
    return ChangeEntry.objects.aggregate(top=Max("seq"))["top"] or 0


def measure_queryset(actor: Actor, measure: Mapping[str, Any], start: dt.datetime, end: dt.datetime,
                     within: Actor | None = None) -> QuerySet:
    """The records a leaf measure reads for [start, end), within what `actor` may see (and, given `within`,
    what that actor may see too: a viewer's partial figure stays inside the organisation's, e.g. no drafts)."""
    flt = measure.get("filter", {})
    base = scoped_records(actor) if within is None else restrict(scoped_records(actor), within)
    qs = filter_records(base, RecordFilter(
        since=start, until=end, kinds=flt.get("kinds", ()), categories=flt.get("categories", ()),
        statuses=flt.get("statuses", ()), source_types=flt.get("source_types", ()), units=flt.get("units", ()),
    ))
    if "sensitivity_max" in flt:
        qs = qs.filter(sensitivity__lte=flt["sensitivity_max"])
    if flt.get("admin1"):
        qs = qs.filter(admin1__in=flt["admin1"])
    return qs


@dataclass(frozen=True)
class Figure:
    """One computed value before it is stored."""

    period: Period
    group: tuple[tuple[str, str], ...]
    outcome: formulas.Outcome
    sensitivity: int  # the highest sensitivity among the records behind it

    @property
    def disaggregation(self) -> dict[str, str]:
        return dict(self.group)


def _columns(measure: Mapping[str, Any], keys: list[str], with_ids: bool) -> list[str]:
    # Only what the measure and the breakdowns read: converting unused ids, datetimes and JSON costs more than
    # the query itself on tens of thousands of rows.
    columns = ["occurred_at", "sensitivity"] + (["id"] if with_ids else [])
    if measure["type"] == "duration":
        columns.append("reported_at")
    if measure["type"] == "sum":
        columns.append("fatalities" if measure["field"] == "fatalities" else "casualties")
    return columns + [GROUP_COLUMNS[key] for key in keys]


def _facts(actor: Actor, formula: Mapping[str, Any], keys: list[str], periods: set[Period], frequency: str,
           with_ids: bool = False, within: Actor | None = None) -> Iterator[tuple[str, Period, formulas.Fact, int]]:
    by_day: dict[dt.date, Period] = {}  # period_of once per day, not once per record
    for role, measure in formulas.measures(formula).items():
        columns = _columns(measure, keys, with_ids)
        for row in _rows(actor, measure, columns, periods, within):
            occurred = row["occurred_at"]
            day = occurred.astimezone(dt.UTC).date()
            period = by_day.get(day)
            if period is None:
                period = by_day[day] = period_of(day, frequency)
            if period not in periods:
                continue
            groups = tuple((key, str(row[GROUP_COLUMNS[key]] or "")) for key in keys)
            amount = formulas.amount_of(measure, row.get("fatalities", 0), row.get("casualties"), occurred,
                                        row.get("reported_at", occurred))
            fact = formulas.Fact(str(row["id"]) if with_ids else "", occurred, amount, groups)
            yield role, period, fact, row["sensitivity"]


def _rows(actor: Actor, measure: Mapping[str, Any], columns: list[str], periods: set[Period],
          within: Actor | None) -> Iterator[dict[str, Any]]:
    for start, end in spans(periods):
        yield from measure_queryset(actor, measure, start, end, within).values(*columns).order_by().iterator(2000)


def evaluate(actor: Actor, formula: Mapping[str, Any], keys: list[str], periods: Iterable[Period],
             frequency: str, within: Actor | None = None) -> list[Figure]:
    """Every figure of `formula` for `periods` over what `actor` may see: a total per period (always, even
    for an empty period) and one figure per value of each disaggregation key found in the data."""
    wanted = set(periods)
    if not wanted:
        return []
    sensitivity: dict[tuple, int] = {}
    triples = []
    for role, period, fact, sens in _facts(actor, formula, keys, wanted, frequency, within=within):
        triples.append((role, period, fact))
        for group in ((), *((pair,) for pair in fact.groups)):
            key = (period, group)
            sensitivity[key] = max(sensitivity.get(key, 0), sens)
    grouped = formulas.group_amounts(triples)
    for period in wanted:
        grouped.setdefault((period, ()), {})
    figures = [Figure(period, group, formulas.evaluate(formula, amounts), sensitivity.get((period, group), 0))
               for (period, group), amounts in grouped.items()]
    figures.sort(key=lambda f: (f.period, f.group))
    return figures


def records_behind(actor: Actor, formula: Mapping[str, Any], frequency: str, period: Period,
                   disaggregation: Mapping[str, str], within: Actor | None = None) -> list[str]:
    """The ids of the records one figure is made of (numerator and denominator together for a ratio)."""
    keys = sorted(disaggregation)
    wanted = tuple((k, str(disaggregation[k])) for k in keys)
    ids = set()
    for _role, _period, fact, _sens in _facts(actor, formula, keys, {period}, frequency, with_ids=True,
                                              within=within):
        if fact.groups == wanted:
            ids.add(fact.record_id)
    return sorted(ids)


# ---------------------------------------------------------------- incremental: which periods changed


def _times(data: Any) -> Iterator[str]:
    for side in ("before", "after"):
        part = data.get(side) if isinstance(data, dict) else None
        if isinstance(part, dict) and part.get("occurred_at"):
            yield part["occurred_at"]


def touched_periods(after_seq: int, up_to_seq: int, frequency: str) -> set[Period]:
    """Periods holding a record changed by entries (after_seq, up_to_seq]: the periods of the occurred_at
    values the entries name (before and after an edit) and of the records' current occurred_at."""
    periods: set[Period] = set()
    record_ids: set[str] = set()
    # object_type is tested here, not in SQL: given it, SQLite walks the (object_type, object_id) index over
    # every record entry ever written instead of the few entries after the watermark.
    entries = ChangeEntry.objects.filter(seq__gt=after_seq, seq__lte=up_to_seq) \
        .values_list("object_type", "record_id", "data").order_by("seq")
    for object_type, record_id, data in entries.iterator(2000):
        if object_type != "record":
            continue
        if record_id:
            record_ids.add(str(record_id))
        for text in _times(json.loads(data)):
            periods.add(period_of(dt.datetime.fromisoformat(text), frequency))
    ids = sorted(record_ids)
    for start in range(0, len(ids), CHUNK):
        for occurred in Record.objects.filter(pk__in=ids[start:start + CHUNK]).values_list("occurred_at", flat=True):
            periods.add(period_of(occurred, frequency))
    return periods


def definition_for(indicator: Indicator, version: int | None = None) -> IndicatorDefinition | None:
    qs = indicator.definitions.all()
    return (qs.filter(version=version) if version else qs.order_by("-version")).first()
