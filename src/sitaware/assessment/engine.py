"""The computation engine: computed indicators from records, in full or incrementally, and drill-down.

Two ways of reading, kept equal by tests:
- Computing (`read_columns`, `figures_of`, `evaluate_many`): the records an actor may see (`scoped_records`) in
  the periods concerned are read once, as columns, and every formula is evaluated on them by the pure
  `columnar` module: one read for all the indicators of a plan.
- The query path (`evaluate`, `records_behind`): each leaf measure of a formula is one query narrowed by its
  filter and the periods' time span, reduced by the database or row by row in the pure `formula` module. It
  serves drill-down (the records listed behind a figure are the records it counts) and `reproduce`, which
  checks stored figures against this independent implementation.

Incremental refresh (after DHIS2's analytics watermark): each indicator keeps the change-log seq up to which
its values are current. A refresh reads the record entries after it, maps each changed record's old and new
`occurred_at` to periods, and recomputes only those periods. A full rebuild can always replace it.

Formulas over alerts and patrol plans instead of records (`formulas.is_operational`) are computed by
`operational` on both paths; `changed_periods` maps the change log to their periods.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connections
from django.db.models import BigIntegerField, Count, F, Func, Max, QuerySet, Sum
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Substr, TruncDate

from sitaware.assessment import columnar, operational
from sitaware.assessment import formula as formulas
from sitaware.assessment.models import Indicator, IndicatorDefinition
from sitaware.assessment.periods import Period, period_of, spans
from sitaware.core.choices import Role
from sitaware.core.models import ChangeEntry, Organisation
from sitaware.core.scope import Actor, restrict
from sitaware.records import vocab
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
    if formulas.is_operational(formula):
        return [Figure(*found) for found in operational.figures(actor, formula, tuple(keys), wanted, frequency, within)]
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


# ---------------------------------------------------------------- many formulas from one read (columnar)


@dataclass(frozen=True)
class Job:
    """One formula to evaluate over some periods (an indicator's computation)."""

    formula: Mapping[str, Any]
    keys: tuple[str, ...]
    periods: tuple[Period, ...]
    frequency: str
    ceiling: int | None = None  # only records at or below this sensitivity (`models.CeilingFigure`)


# Rows fetched per round trip while reading columns: bounds the Python tuples alive at once.
FETCH = 50_000
_TEXT_SOURCES = {"kind": "kind", "category": "category", "status": "status", "source_type": "source_type",
                 "unit": "reporting_unit__code", "area": "admin1"}


def _sum_sources(sum_fields: Iterable[str]) -> dict[str, list[str]]:
    """Per sum field, the annotations (record columns or JSON paths) whose values add up to it."""
    out: dict[str, list[str]] = {}
    for name in sorted(sum_fields):
        if name == "fatalities":
            out[name] = ["fatalities"]
            continue
        parts = name.split(".")[1:]
        groups = [parts[0]] if len(parts) == 2 else list(vocab.CASUALTY_GROUPS)
        count = parts[-1]
        out[name] = [f"_c__{group}__{count}" for group in groups]
    return out


def _raw_rows(qs: QuerySet) -> Iterator[list[tuple]]:
    """The query's rows as the database driver gives them, in chunks: Django's per-value converters (datetimes
    parsed one by one, JSON decoded) cost more than the read itself on a million rows."""
    sql, params = qs.query.get_compiler(using=qs.db).as_sql()
    with connections[qs.db].cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(FETCH):
            yield rows


def _mapped(values: tuple, convert: Any) -> list:
    """`convert` applied to each distinct value once, then a plain lookup per row (few distinct values)."""
    table = {value: convert(value) for value in set(values)}
    return list(map(table.__getitem__, values))


def _day_number(value: Any) -> int:
    day = dt.date.fromisoformat(value) if isinstance(value, str) else value
    return (day - columnar.EPOCH).days


class DelayMicroseconds(Func):
    """reported_at - occurred_at in whole microseconds, computed by the database: fetching the two datetimes
    costs more than the whole read on PostgreSQL (Django's timezone-aware loader parses each in Python)."""

    output_field = BigIntegerField()

    def __init__(self) -> None:
        super().__init__(F("reported_at"), F("occurred_at"))

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # EXTRACT gives exact (numeric) seconds from PostgreSQL 14 on; older servers give a float, which can be a
        # microsecond off (the machines here run 15).
        return self.as_sql(compiler, connection, template="(EXTRACT(EPOCH FROM (%(expressions)s)) * 1000000)::bigint",
                           arg_joiner=" - ", **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # Django keeps 'YYYY-MM-DD HH:MM:SS[.ffffff]' in UTC: whole seconds by strftime, the fraction as text.
        micro = "(CAST(strftime('%%s', {0}) AS INTEGER) * 1000000 + CAST(substr({0} || '.000000', 21, 6) AS INTEGER))"
        reported, occurred = (compiler.compile(e) for e in self.get_source_expressions())
        sql = f"({micro.format(reported[0])} - {micro.format(occurred[0])})"
        return sql, (*reported[1], *reported[1], *occurred[1], *occurred[1])


def _number(value: Any) -> int:
    return int(value) if value not in (None, "") else 0


def load_columns(actor: Actor, periods: Iterable[Period], sum_fields: Iterable[str] = (), with_delay: bool = False,
                 within: Actor | None = None) -> columnar.Columns:
    """The records `actor` may see (within `within`) that occurred in `periods`, as columns."""
    builder = columnar.ColumnsBuilder(sorted(sum_fields), with_delay)
    _fill(builder, actor, periods, within)
    return builder.build()


def _fill(builder: columnar.ColumnsBuilder, actor: Actor, periods: Iterable[Period], within: Actor | None,
          measure: Mapping[str, Any] | None = None, part: int = 0) -> None:
    """Add the rows of `load_columns` to `builder`, tagged `part`. Given `measure`, only its records (its filter
    applied by the database: one indicator's computation reads its rows, not every row)."""
    sources = _sum_sources(builder.sum_fields)
    with_delay = builder.with_delay
    everything = {"type": "count", "filter": {}}
    for start, end in spans(set(periods)):
        qs = measure_queryset(actor, measure or everything, start, end, within)
        annotations = {name: KeyTextTransform(name.split("__")[2], KeyTransform(name.split("__")[1], "casualties"))
                       for names in sources.values() for name in names if name.startswith("_c__")}
        qs = qs.annotate(_utc_day=_utc_day(qs.db), **annotations)
        names = ["_utc_day", "sensitivity", *_TEXT_SOURCES.values()]
        names += sorted({n for ns in sources.values() for n in ns})
        if with_delay:
            qs = qs.annotate(_delay=DelayMicroseconds())
            names.append("_delay")
        qs = qs.values_list(*names).order_by()
        position = {name: i for i, name in enumerate(names)}
        for rows in _raw_rows(qs):
            cols = list(zip(*rows, strict=True))
            sums = {}
            for field_name, parts in sources.items():
                added = [np.asarray(_mapped(cols[position[p]], _number), dtype=np.int64) for p in parts]
                sums[field_name] = added[0] if len(added) == 1 else np.sum(added, axis=0)
            builder.add(_mapped(cols[0], _day_number), cols[1],
                        {name: cols[position[src]] for name, src in _TEXT_SOURCES.items()}, sums,
                        cols[position["_delay"]] if with_delay else None,
                        part=part)


def read_columns(actor: Actor, jobs: list[Job],
                 within: Actor | None = None) -> tuple[columnar.Columns, dict[str, int] | None]:
    """One read of the records for `jobs`: with one job, only its measures' records (each measure's filter
    applied by the database, the rows tagged by measure); with several, every record of their periods. Returns
    the columns and, for a single job, which part each measure's rows are (`columnar.figures`' `parts`)."""
    sum_fields, with_delay = columnar.needs(job.formula for job in jobs)
    periods = {p for job in jobs for p in job.periods}
    if len(jobs) != 1:
        return load_columns(actor, periods, sum_fields, with_delay, within), None
    builder = columnar.ColumnsBuilder(sorted(sum_fields), with_delay)
    parts: dict[str, int] = {}
    for number, (role, measure) in enumerate(formulas.measures(jobs[0].formula).items()):
        parts[role] = number
        _fill(builder, actor, periods, within, measure, number)
    return builder.build(), parts


def figures_of(columns: columnar.Columns, job: Job, cache: dict | None = None,
               parts: dict[str, int] | None = None) -> list[Figure]:
    """One job's figures from columns read by `read_columns` (`cache` shares filter masks between jobs)."""
    # Breakdown keys (area, unit, category) are the names of the columns they read.
    return [Figure(job.periods[f.period], f.group, f.outcome, f.sensitivity)
            for f in columnar.figures(columns, job.formula, job.keys, job.periods, job.frequency, cache, parts,
                                      job.ceiling)]


def operational_figures(actor: Actor, job: Job, within: Actor | None = None) -> list[Figure]:
    """An operational job's figures (alerts or plans, not records), read on their own."""
    return [Figure(*found) for found in operational.figures(actor, job.formula, job.keys, set(job.periods),
                                                            job.frequency, within, job.ceiling)]


def read_columns_for(actor: Actor, jobs: list[Job],
                     within: Actor | None = None) -> tuple[columnar.Columns | None, dict[str, int] | None]:
    """`read_columns` for the jobs that read records (with periods, and not over alerts or plans), or nothing."""
    reading = [job for job in jobs if job.periods and not formulas.is_operational(job.formula)]
    return read_columns(actor, reading, within) if reading else (None, None)


def job_figures(actor: Actor, job: Job, columns: columnar.Columns | None, cache: dict,
                parts: dict[str, int] | None, within: Actor | None = None) -> list[Figure]:
    """One job's figures: from the columns `read_columns_for` read, or, for an operational formula, from its own
    read of alerts or plans."""
    if not job.periods:
        return []
    if formulas.is_operational(job.formula):
        return operational_figures(actor, job, within)
    assert columns is not None  # read_columns_for read them for every job with periods that reads records
    return figures_of(columns, job, cache, parts)


def evaluate_many(actor: Actor, jobs: list[Job], within: Actor | None = None) -> list[list[Figure]]:
    """The figures of each job, in order, from one read of the records: what `evaluate` gives for each (jobs of
    operational formulas read their own rows)."""
    columns, parts = read_columns_for(actor, jobs, within)
    cache: dict = {}
    return [job_figures(actor, job, columns, cache, parts, within) for job in jobs]


def records_behind(actor: Actor, formula: Mapping[str, Any], frequency: str, period: Period,
                   disaggregation: Mapping[str, str], within: Actor | None = None) -> list[str]:
    """The ids of the records one figure is made of (numerator and denominator together for a ratio); for an
    operational formula, of its alerts or plans (`operational.ITEM_TYPES`)."""
    if formulas.is_operational(formula):
        return operational.ids_behind(actor, formula, frequency, period, disaggregation, within)
    keys = sorted(disaggregation)
    wanted = tuple((k, str(disaggregation[k])) for k in keys)
    ids = set()
    for _role, _period, fact, _sens in _facts(actor, formula, keys, {period}, frequency, with_ids=True,
                                              within=within):
        if fact.groups == wanted:
            ids.add(fact.record_id)
    return sorted(ids)


# ---------------------------------------------------------------- incremental: which periods changed


def changed_periods(formula: Mapping[str, Any], after_seq: int, up_to_seq: int, frequency: str) -> set[Period]:
    """The periods whose figures of `formula` the change-log entries (after_seq, up_to_seq] may have changed."""
    if formulas.is_operational(formula):
        return operational.changed_periods(formula, after_seq, up_to_seq, frequency)
    return touched_periods(after_seq, up_to_seq, frequency)


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


def latest_definitions(indicators: Iterable[Indicator]) -> dict[Any, IndicatorDefinition]:
    """Each indicator's current (highest) definition version, in one query for all of them."""
    out: dict[Any, IndicatorDefinition] = {}
    for definition in IndicatorDefinition.objects.filter(indicator__in=list(indicators)).order_by("indicator",
                                                                                                  "version"):
        out[definition.indicator_id] = definition
    return out
