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

import contextlib
import contextvars
import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import Count, Max, QuerySet, Sum
from django.db.models.functions import Substr, TruncDate

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
           with_ids: bool = False, within: Actor | None = None,
           skip: frozenset[str] = frozenset()) -> Iterator[tuple[str, Period, formulas.Fact, int]]:
    by_day: dict[dt.date, Period] = {}  # period_of once per day, not once per record
    for role, measure in formulas.measures(formula).items():
        if role in skip:
            continue
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


def _countable(measure: Mapping[str, Any]) -> bool:
    """Measures the database can reduce itself (a count, a sum of a plain column): no row comes to Python."""
    return measure["type"] == "count" or (measure["type"] == "sum" and measure["field"] == "fatalities")


def _utc_day(alias: str) -> Any:
    """The UTC day of occurred_at as the database computes it. SQLite keeps datetimes as UTC text
    ('YYYY-MM-DD HH:MM:SS'), so its first ten characters are the day: no Python function called per row,
    which is what TruncDate costs there."""
    if connections[alias].vendor == "sqlite":
        return Substr("occurred_at", 1, 10)
    return TruncDate("occurred_at", tzinfo=dt.UTC)


def _as_date(day: dt.date | str) -> dt.date:
    return dt.date.fromisoformat(day) if isinstance(day, str) else day


def _tallies(actor: Actor, measure: Mapping[str, Any], keys: list[str], periods: set[Period], frequency: str,
             within: Actor | None) -> dict[tuple, list[int]]:
    """(period, group) → [records, total, highest sensitivity] for a count or a sum of fatalities, grouped by
    the database per UTC day and breakdown values, then rolled up to periods and one-way groups here. The same
    records as `_facts` reads (same query), so the figures are the same."""
    columns = [GROUP_COLUMNS[key] for key in keys]
    amount = Count("pk") if measure["type"] == "count" else Sum("fatalities")
    out: dict[tuple, list[int]] = {}
    by_day: dict[dt.date, Period] = {}
    for start, end in spans(periods):
        qs = measure_queryset(actor, measure, start, end, within)
        rows = qs.annotate(utc_day=_utc_day(qs.db)).values("utc_day", *columns) \
            .annotate(n=Count("pk"), total=amount, top=Max("sensitivity")).order_by()
        for row in rows:
            day = row["utc_day"]
            period = by_day.get(day)
            if period is None:
                period = by_day[day] = period_of(_as_date(day), frequency)
            if period not in periods:
                continue
            groups = ((), *(((key, str(row[GROUP_COLUMNS[key]] or "")),) for key in keys))
            for group in groups:
                tally = out.setdefault((period, group), [0, 0, 0])
                tally[0] += row["n"]
                tally[1] += int(row["total"] or 0)
                tally[2] = max(tally[2], row["top"])
    return out


def evaluate(actor: Actor, formula: Mapping[str, Any], keys: list[str], periods: Iterable[Period],
             frequency: str, within: Actor | None = None) -> list[Figure]:
    """Every figure of `formula` for `periods` over what `actor` may see: a total per period (always, even
    for an empty period) and one figure per value of each disaggregation key found in the data."""
    wanted = set(periods)
    if not wanted:
        return []
    sensitivity: dict[tuple, int] = {}
    triples = []
    tallied = frozenset(role for role, m in formulas.measures(formula).items() if _countable(m))
    for role, period, fact, sens in _facts(actor, formula, keys, wanted, frequency, within=within, skip=tallied):
        triples.append((role, period, fact))
        for group in ((), *((pair,) for pair in fact.groups)):
            key = (period, group)
            sensitivity[key] = max(sensitivity.get(key, 0), sens)
    grouped = formulas.group_amounts(triples)
    for role in tallied:
        for key, (count, total, sens) in _tallies(actor, formulas.measures(formula)[role], keys, wanted, frequency,
                                                  within).items():
            # Amounts whose length is the record count and whose sum is the total: what count and sum reduce.
            grouped.setdefault(key, {})[role] = [total] + [0] * (count - 1)
            sensitivity[key] = max(sensitivity.get(key, 0), sens)
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


# Within `touched_periods_cache()`, the periods found after one watermark are reused: a refresh of many
# indicators sharing a watermark reads the new change-log entries once, not once each.
_TOUCHED: contextvars.ContextVar[dict | None] = contextvars.ContextVar("touched_periods", default=None)


@contextlib.contextmanager
def touched_periods_cache() -> Iterator[None]:
    token = _TOUCHED.set({})
    try:
        yield
    finally:
        _TOUCHED.reset(token)


def touched_periods(after_seq: int, up_to_seq: int, frequency: str) -> set[Period]:
    """Periods holding a record changed by entries (after_seq, up_to_seq]: the periods of the occurred_at
    values the entries name (before and after an edit) and of the records' current occurred_at."""
    cache = _TOUCHED.get()
    if cache is None:
        entries = _entry_times(after_seq, up_to_seq)
    else:
        # Indicators' watermarks differ by a few entries (each run appends its own): keep one span of read
        # entries and widen it as needed, instead of reading the same entries once per indicator.
        low, high, known = cache.get("span", (after_seq, after_seq, []))
        if after_seq < low:
            known, low = _entry_times(after_seq, low) + known, after_seq
        if up_to_seq > high:
            known, high = known + _entry_times(high, up_to_seq), up_to_seq
        cache["span"] = (low, high, known)
        entries = [e for e in known if after_seq < e.seq <= up_to_seq]
    periods: set[Period] = set()
    for entry in entries:
        periods |= entry.periods(frequency)
    return periods


@dataclass
class _Touch:
    """One record entry of the change log: the occurred_at values it concerns."""

    seq: int
    times: list[dt.datetime]
    by_frequency: dict[str, set[Period]]

    def periods(self, frequency: str) -> set[Period]:
        if frequency not in self.by_frequency:
            self.by_frequency[frequency] = {period_of(t, frequency) for t in self.times}
        return self.by_frequency[frequency]


def _entry_times(after_seq: int, up_to_seq: int) -> list[_Touch]:
    rows: list[tuple[int, list[dt.datetime], str | None]] = []
    # object_type is tested here, not in SQL: given it, SQLite walks the (object_type, object_id) index over
    # every record entry ever written instead of the few entries after the watermark.
    entries = ChangeEntry.objects.filter(seq__gt=after_seq, seq__lte=up_to_seq) \
        .values_list("seq", "object_type", "record_id", "data").order_by("seq")
    for seq, object_type, record_id, data in entries.iterator(2000):
        if object_type != "record":
            continue
        times = [dt.datetime.fromisoformat(text) for text in _times(json.loads(data))]
        rows.append((seq, times, str(record_id) if record_id else None))
    ids = sorted({r for _s, _t, r in rows if r})
    current: dict[str, dt.datetime] = {}
    for start in range(0, len(ids), CHUNK):
        for pk, occurred in Record.objects.filter(pk__in=ids[start:start + CHUNK]).values_list("pk", "occurred_at"):
            current[str(pk)] = occurred
    return [_Touch(seq, times + ([current[r]] if r in current else []), {}) for seq, times, r in rows]


def definition_for(indicator: Indicator, version: int | None = None) -> IndicatorDefinition | None:
    qs = indicator.definitions.all()
    return (qs.filter(version=version) if version else qs.order_by("-version")).first()
