"""Indicator values: computing and storing them (full and incremental), entering and importing them by
hand, and reading them within scope, with provenance (R-PA-02)."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import connections, router, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from sitaware.assessment import engine, operational, permissions
from sitaware.assessment import formula as formulas
from sitaware.assessment.dashboards.models import DashboardWidget
from sitaware.assessment.errors import AssessmentError, AssessmentValidationError, Conflict, NotFound
from sitaware.assessment.models import (
    DISAGGREGATION_KEYS,
    CeilingFigure,
    ComputeWatermark,
    DataSource,
    Indicator,
    IndicatorDefinition,
    IndicatorValue,
    QAStatus,
)
from sitaware.assessment.periods import Period, PeriodError, iter_periods, label_of, parse_label
from sitaware.assessment.schema import EnteredValueIn
from sitaware.assessment.services import computable_keys, get_indicator, log, parse
from sitaware.core import changelog
from sitaware.core import services as core_services
from sitaware.core.canonical import canonical_json
from sitaware.core.choices import Role
from sitaware.core.scope import Actor, agreements_fingerprint, restrict

SYSTEM_LABEL = "system"
# Sensitivity levels below the highest: viewers of these clearances see part of a computed figure.
CEILINGS = (0, 1, 2)
IMPORT_MAX_ROWS = 50_000


def disaggregation_key(disaggregation: dict[str, str]) -> str:
    return canonical_json(dict(sorted(disaggregation.items())))


def _period(value: IndicatorValue) -> Period:
    return Period(value.period_start, value.period_end)


def value_state(v: IndicatorValue, frequency: str, versions: dict[int, int] | None = None) -> dict[str, Any]:
    """A value as the change log keeps it and the API shows it (with its provenance). `versions` (definition id
    → version), when given, spares reading each value's definition."""
    return {
        "id": v.pk, "indicator": str(v.indicator_id), "period": label_of(_period(v), frequency),
        "period_start": v.period_start.isoformat(), "period_end": v.period_end.isoformat(),
        "disaggregation": v.disaggregation, "value": None if v.value is None else str(v.value),
        # Reasons are stored in English (they are data) and shown in the reader's language.
        "empty_reason": _(v.empty_reason) if v.empty_reason else "", "record_count": v.record_count, "source": v.source,
        "produced_by": v.produced_by_label, "produced_at": v.produced_at.isoformat(),
        "definition_version": (versions.get(v.definition_id) if versions is not None
                               else v.definition.version if v.definition_id else None),
        "data_cutoff_seq": v.data_cutoff_seq, "qa_status": v.qa_status, "comment": v.comment,
        "sensitivity": v.sensitivity,
    }


# ---------------------------------------------------------------- computing


@dataclass
class ComputeResult:
    indicator: str
    mode: str
    periods: int = 0
    created: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    cutoff: int = 0
    notes: list[str] = field(default_factory=list)


def _computable(indicator: Indicator, definition: IndicatorDefinition | None) -> IndicatorDefinition:
    if indicator.data_source != DataSource.COMPUTED:
        raise Conflict(_("indicator %(code)s is %(source)s, not computed from records") % {
            "code": indicator.code, "source": indicator.data_source})
    if definition is None:
        raise AssessmentValidationError([{"field": "formula", "message": _(
            "indicator %(code)s has no formula yet") % {"code": indicator.code}}])
    return definition


def _computed(actor: Actor, indicator_id: Any) -> Indicator:
    """The indicator, within the actor's scope; whether it can be computed `plan` says (one reading of the
    definitions for all the indicators it plans)."""
    permissions.require(actor, "compute")
    return indicator_id if isinstance(indicator_id, Indicator) else get_indicator(actor, indicator_id)


@dataclass
class Work:
    """One indicator's computation, planned: which periods, how (full or incremental), with which formula."""

    indicator: Indicator
    definition: IndicatorDefinition
    periods: list[Period]
    mode: str  # "full" or "incremental"
    notes: list[str] = field(default_factory=list)
    sharing: str = ""  # the agreements in force when planned (`core.scope.agreements_fingerprint`)

    @property
    def job(self) -> engine.Job:
        keys = tuple(computable_keys(self.indicator, self.definition.formula))
        return engine.Job(self.definition.formula, keys, tuple(self.periods), self.indicator.frequency)


@dataclass
class Plans:
    works: list[Work] = field(default_factory=list)
    failed: list[tuple[Indicator, Exception]] = field(default_factory=list)
    current: list[Indicator] = field(default_factory=list)  # nothing to do: watermark at the head, same formula


def plan(actor: Actor, indicators: list[Indicator], head: int, *, span: tuple[dt.date, dt.date] | None = None,
         first_build: Callable[[Indicator], tuple[dt.date, dt.date]] | None = None,
         skip_current: bool = False) -> Plans:
    """What to compute for each indicator, with a few queries for all of them. Given `span`, a full rebuild of
    the periods overlapping it. Otherwise an incremental refresh: the periods touched by record changes between
    the watermark and `head` (all stored periods when the formula changed since); an indicator never computed
    gets a full rebuild over `first_build(indicator)` when given, or fails. With `skip_current`, indicators with
    nothing to do are listed apart instead of planned with no periods (which only moves the watermark)."""
    permissions.require(actor, "compute")
    out = Plans()
    definitions = engine.latest_definitions(indicators)
    marks = {m.indicator_id: m for m in ComputeWatermark.objects.filter(indicator__in=indicators)}
    sharing = _sharing({i.framework.organisation_id for i in indicators})
    changed = [i.pk for i in indicators if i.pk in marks and i.pk in definitions
               and (marks[i.pk].definition_id != definitions[i.pk].pk
                    or marks[i.pk].sharing != sharing[i.framework.organisation_id]
                    or not _same_keys(marks[i.pk], i, definitions[i.pk]))]
    stored: dict[Any, set[Period]] = {}
    for indicator_id, start, end in IndicatorValue.objects.filter(indicator__in=changed).values_list(
            "indicator", "period_start", "period_end").distinct():
        stored.setdefault(indicator_id, set()).add(Period(start, end))
    with engine.touched_periods_cache():  # the new change-log entries are read once for all indicators
        for indicator in indicators:
            try:
                definition = _computable(indicator, definitions.get(indicator.pk))
                mark = marks.get(indicator.pk)
                if span is not None or (mark is None and first_build is not None):
                    start, end = span or first_build(indicator)  # type: ignore[misc]
                    periods = list(iter_periods(start, end, indicator.frequency))
                    if not periods:
                        raise AssessmentValidationError([{"field": "end", "message": _(
                            "the range must end after it starts")}])
                    out.works.append(Work(indicator, definition, periods, "full",
                                          sharing=sharing[indicator.framework.organisation_id]))
                    continue
                if mark is None:
                    raise Conflict(_("indicator %(code)s was never computed in full; compute a period range "
                                     "first") % {"code": indicator.code})
                shared = sharing[indicator.framework.organisation_id]
                same_keys = _same_keys(mark, indicator, definition)
                if skip_current and mark.seq >= head and mark.definition_id == definition.pk \
                        and mark.sharing == shared and same_keys:
                    out.current.append(indicator)
                    continue
                periods_set = engine.changed_periods(definition.formula, mark.seq, head, indicator.frequency)
                notes = []
                if mark.definition_id != definition.pk:
                    periods_set |= stored.get(indicator.pk, set())
                    notes.append(_("the formula changed: all stored periods recomputed"))
                elif mark.sharing != shared:
                    periods_set |= stored.get(indicator.pk, set())
                    notes.append(_("the sharing agreements in force changed: all stored periods recomputed"))
                if mark.definition_id == definition.pk and not same_keys:
                    periods_set |= stored.get(indicator.pk, set())
                    notes.append(_("the breakdowns changed: all stored periods recomputed"))
                out.works.append(Work(indicator, definition, sorted(periods_set), "incremental", notes, shared))
            except AssessmentError as exc:
                out.failed.append((indicator, exc))
    return out


def _same_keys(mark: ComputeWatermark, indicator: Indicator, definition: IndicatorDefinition) -> bool:
    return mark.keys is None or sorted(mark.keys) == sorted(computable_keys(indicator, definition.formula))


def _sharing(organisation_ids: set[Any]) -> dict[Any, str]:
    return {organisation_id: agreements_fingerprint(organisation_id) for organisation_id in organisation_ids}


def compute(actor: Actor, indicator_id: Any, start: dt.date, end: dt.date) -> ComputeResult:
    """Full rebuild of one indicator: every period of its frequency overlapping [start, end)."""
    indicator = _computed(actor, indicator_id)
    cutoff = engine.current_seq()
    return _one(actor, plan(actor, [indicator], cutoff, span=(start, end)), cutoff)


def refresh(actor: Actor, indicator_id: Any) -> ComputeResult:
    """Incremental refresh of one indicator up to the change log's head."""
    indicator = _computed(actor, indicator_id)
    cutoff = engine.current_seq()
    return _one(actor, plan(actor, [indicator], cutoff), cutoff)


def _one(actor: Actor, plans: Plans, cutoff: int) -> ComputeResult:
    if plans.failed:
        raise plans.failed[0][1]
    [outcome] = run(actor, plans.works, cutoff)
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def run(actor: Actor, works: list[Work], cutoff: int,
        progress: Callable[[str, int], None] | None = None) -> list[ComputeResult | Exception]:
    """Carry out planned computations: one read of the records per organisation (`engine.read_columns`), every
    indicator's figures from it, then everything stored in one transaction (values, watermarks and one
    change-log entry per indicator). `cutoff` is the change-log head the plans were made up to, read before
    them; the records read after it hold at least that much. An indicator whose figures cannot be computed gets
    its exception in the result list and the others go on. For indicators shown on a dashboard the same
    columns also give each figure's share at sensitivity ceilings 0-2, kept for viewers of lower clearance
    (`CeilingFigure`). `progress(stage, done)` is told of "computed"
    indicators as they come and of the "stored" ones at the end."""
    out: dict[int, ComputeResult | Exception] = {}
    ready: list[tuple[int, Work, list[engine.Figure]]] = []
    ceilings: dict[int, list[tuple[int, engine.Figure]]] = {}
    shown = _shown_on_dashboards({w.indicator.framework.organisation_id for w in works})
    by_organisation: dict[Any, list[tuple[int, Work]]] = {}
    for number, work in enumerate(works):
        try:
            # A formula damaged in the database must fail alone, not the read shared with the others.
            formulas.validate(work.definition.formula)
        except formulas.FormulaError as exc:
            out[number] = exc
            continue
        by_organisation.setdefault(work.indicator.framework.organisation_id, []).append((number, work))
    for group in by_organisation.values():
        organisation = engine.organisation_actor(group[0][1].indicator.framework.organisation)
        columns, parts = engine.read_columns_for(organisation, [w.job for _n, w in group])
        cache: dict = {}
        for number, work in group:
            try:
                figures = engine.job_figures(organisation, work.job, columns, cache, parts)
                if figures and str(work.indicator.pk) in shown:
                    ceilings[number] = [(level, f) for level in CEILINGS for f in engine.job_figures(
                        organisation, dataclasses.replace(work.job, ceiling=level), columns, cache, parts)]
                ready.append((number, work, figures))
            except Exception as exc:  # one bad indicator must not stop the others; the caller decides
                out[number] = exc
            if progress is not None:
                progress("computed", len(ready))
    for (number, _work, _done), result in zip(ready, _store(actor, ready, ceilings, cutoff), strict=True):
        out[number] = result
    if progress is not None:
        progress("stored", len(ready))
    return [out[n] for n in range(len(works))]


def _same(v: IndicatorValue | _Stored, figure: engine.Figure) -> bool:
    return (v.value == figure.outcome.value and v.empty_reason == figure.outcome.reason
            and v.sensitivity == figure.sensitivity and v.record_count == figure.outcome.record_count)


@dataclass
class _Writes:
    """What storing many indicators' figures writes, gathered so each kind is one statement (or a few)."""

    create: list[IndicatorValue] = field(default_factory=list)
    update: list[IndicatorValue] = field(default_factory=list)
    gone: list[int] = field(default_factory=list)
    confirmed: dict[int | None, list[int]] = field(default_factory=dict)  # values only re-vouched for, by the
    # definition they move to (None: the one they have)
    # Per indicator: its work, result, the values replaced (ids), those created or changed, the top sensitivity.
    logs: list[tuple[Work, ComputeResult, list[int], list[IndicatorValue], int]] = field(default_factory=list)


def _shown_on_dashboards(organisation_ids: set[Any]) -> set[str]:
    """Ids of the indicators some dashboard of these organisations shows (their ceiling figures are kept)."""
    shown: set[str] = set()
    for ids in DashboardWidget.objects.filter(dashboard__organisation_id__in=organisation_ids).values_list(
            "indicators", flat=True):
        shown.update(str(i) for i in ids or [])
    return shown


def _store_ceilings(ready: list[tuple[int, Work, list[engine.Figure]]],
                    ceilings: dict[int, list[tuple[int, engine.Figure]]], cutoff: int) -> None:
    """Replace the ceiling figures of the periods just computed (none kept for an indicator no longer shown)."""
    rows = []
    for number, work, _figures in ready:
        if number not in ceilings:
            # Not shown: nothing made. Figures of an earlier run stay, unused: their cut-off is not the values'.
            continue
        CeilingFigure.objects.filter(indicator=work.indicator,
                                     period_start__in=[p.start for p in work.periods]).delete()
        rows += [CeilingFigure(indicator=work.indicator, definition=work.definition, ceiling=level,
                               period_start=f.period.start, disaggregation_key=disaggregation_key(f.disaggregation),
                               value=f.outcome.value, empty_reason=f.outcome.reason,
                               record_count=f.outcome.record_count, sensitivity=f.sensitivity, data_cutoff_seq=cutoff)
                 for level, f in ceilings.get(number, [])]
    CeilingFigure.objects.bulk_create(rows, batch_size=1000)


def _store(actor: Actor, ready: list[tuple[int, Work, list[engine.Figure]]],
           ceilings: dict[int, list[tuple[int, engine.Figure]]], cutoff: int) -> list[ComputeResult]:
    if not ready:
        return []
    now = timezone.now()
    label = actor.label if actor.user_id else SYSTEM_LABEL
    writes = _Writes()
    results = []
    with transaction.atomic():
        indicators = sorted({w.indicator.pk for _n, w, _f in ready})
        # One computation of an indicator at a time: two would insert the same (period, group) rows.
        list(Indicator.objects.select_for_update().filter(pk__in=indicators).order_by("pk").values_list("pk"))
        existing = _existing(ready)
        for _number, work, figures in ready:
            results.append(_diff(actor, work, figures, existing.get(work.indicator.pk, {}), cutoff, now, label,
                                 writes))
        before = _states_before(writes)
        for start in range(0, len(writes.gone), 900):  # under SQLite's limit on query parameters
            IndicatorValue.objects.filter(pk__in=writes.gone[start:start + 900]).delete()
        for definition_id, ids in writes.confirmed.items():
            moved = {} if definition_id is None else {"definition_id": definition_id}
            for start in range(0, len(ids), 900):
                IndicatorValue.objects.filter(pk__in=ids[start:start + 900]).update(
                    data_cutoff_seq=cutoff, produced_by_id=actor.user_id or None, produced_by_label=label,
                    produced_at=now, **moved)
        IndicatorValue.objects.bulk_create(writes.create, batch_size=1000)
        _update_rows(writes.update, ["value", "empty_reason", "record_count", "sensitivity", "source",
                                     "definition", "data_cutoff_seq", "produced_by", "produced_by_label",
                                     "produced_at", "qa_status", "comment"])
        # After the inserts: new values have their ids, which the entries show. Written raw (COPY on
        # PostgreSQL): an entry holds every changed value's state, and the ORM's insert escapes such texts
        # slowly.
        changelog.append_many([_entry(work, result, [before[pk] for pk in replaced], logged, top, cutoff)
                               for work, result, replaced, logged, top in writes.logs],
                              actor_id=actor.user_id, actor_label=actor.label)
        _move_watermarks([w for _n, w, _f in ready], cutoff, now)
        _store_ceilings(ready, ceilings, cutoff)
    return results


@dataclass(frozen=True)
class _Stored:
    """What comparing a stored value with a new figure needs (whole rows are read only for those replaced)."""

    pk: int
    value: Decimal | None
    empty_reason: str
    sensitivity: int
    record_count: int
    source: str
    definition_id: int | None


def _existing(ready: list[tuple[int, Work, list[engine.Figure]]]) -> dict[Any, dict[tuple, _Stored]]:
    """The stored values of the periods about to be computed, per indicator and (period start, group)."""
    starts = sorted({p.start for _n, w, _f in ready for p in w.periods})
    ids = [w.indicator.pk for _n, w, _f in ready if w.periods]
    out: dict[Any, dict[tuple, _Stored]] = {}
    if not ids:
        return out
    wanted = {(w.indicator.pk, p.start) for _n, w, _f in ready for p in w.periods}
    rows = IndicatorValue.objects.filter(indicator__in=ids, period_start__in=starts).values_list(
        "indicator", "period_start", "disaggregation_key", "pk", "value", "empty_reason", "sensitivity",
        "record_count", "source", "definition")
    for indicator_id, start, key, *fields in rows.iterator(5000):
        if (indicator_id, start) in wanted:
            out.setdefault(indicator_id, {})[(start, key)] = _Stored(*fields)
    return out


def _states_before(writes: _Writes) -> dict[int, dict[str, Any]]:
    """The full state of every value about to be changed or removed, for the change log (read before writing)."""
    pks = sorted({pk for _w, _r, replaced, _l, _t in writes.logs for pk in replaced})
    frequency = {work.indicator.pk: work.indicator.frequency for work, *_rest in writes.logs}
    versions = dict(IndicatorDefinition.objects.filter(indicator__in=list(frequency)).values_list("pk", "version"))
    out: dict[int, dict[str, Any]] = {}
    for start in range(0, len(pks), 900):
        for v in IndicatorValue.objects.filter(pk__in=pks[start:start + 900]):
            out[v.pk] = value_state(v, frequency[v.indicator_id], versions)
    return out


def _diff(actor: Actor, work: Work, figures: list[engine.Figure], existing: dict[tuple, _Stored],
          cutoff: int, now: dt.datetime, label: str, writes: _Writes) -> ComputeResult:
    """Compare one indicator's figures with its stored values; add the writes and its change-log entry."""
    indicator, definition, periods = work.indicator, work.definition, work.periods
    organisation_id = indicator.framework.organisation_id
    result = ComputeResult(indicator.code, work.mode, periods=len(periods), cutoff=cutoff, notes=list(work.notes))
    if not periods:
        return result
    replaced: list[int] = []  # values changed or removed: their states before go into the change-log entry
    logged: list[IndicatorValue] = []  # created or changed: what the change-log entry shows
    existing = dict(existing)
    for figure in figures:
        key = disaggregation_key(figure.disaggregation)
        old = existing.pop((figure.period.start, key), None)
        if old is not None and _same(old, figure) and old.source == DataSource.COMPUTED:
            # Confirmed by this run: only its provenance moves on, in one UPDATE for all such rows (grouped by
            # the definition they move to when that changes; None: it stays).
            result.unchanged += 1
            moved = definition.pk if old.definition_id != definition.pk else None
            writes.confirmed.setdefault(moved, []).append(old.pk)
            continue
        v = IndicatorValue(id=old.pk if old else None, indicator=indicator, organisation_id=organisation_id,
                           period_start=figure.period.start, period_end=figure.period.end,
                           disaggregation=figure.disaggregation, disaggregation_key=key)
        if old is not None:
            replaced.append(old.pk)
            result.changed += 1
        else:
            result.created += 1
        # A new or changed figure needs reviewing (again).
        v.qa_status, v.comment = QAStatus.UNREVIEWED, ""
        logged.append(v)
        v.value, v.empty_reason = figure.outcome.value, figure.outcome.reason
        v.record_count, v.sensitivity = figure.outcome.record_count, figure.sensitivity
        v.source, v.definition, v.data_cutoff_seq = DataSource.COMPUTED, definition, cutoff
        v.produced_by_id, v.produced_by_label, v.produced_at = actor.user_id or None, label, now
        (writes.update if old is not None else writes.create).append(v)
    gone = [v.pk for v in existing.values()]
    result.removed = len(gone)
    replaced += gone
    writes.gone += gone
    top = max([f.sensitivity for f in figures] + [indicator.sensitivity])
    writes.logs.append((work, result, replaced, logged, top))
    return result


def _entry(work: Work, result: ComputeResult, before: list[dict], logged: list[IndicatorValue], sensitivity: int,
           cutoff: int) -> changelog.PendingEntry:
    indicator = work.indicator
    after = [value_state(v, indicator.frequency) for v in logged]
    return changelog.PendingEntry(
        action="indicator.compute", object_type="indicator", object_id=str(indicator.id),
        organisation_id=indicator.framework.organisation_id, before=before or None, after=after or None,
        sensitivity=sensitivity, extra={
            "mode": work.mode, "cutoff": cutoff, "definition_version": work.definition.version,
            "periods": [label_of(p, indicator.frequency) for p in work.periods], "created": result.created,
            "changed": result.changed, "unchanged": result.unchanged, "removed": result.removed})


def _move_watermarks(works: list[Work], cutoff: int, now: dt.datetime) -> None:
    """An incremental run vouches for everything up to `cutoff`. A full rebuild of some periods does not vouch
    for the others: an existing watermark stays, unless it belongs to an earlier formula (then nothing else is
    current for this one anyway)."""
    marks = dict(ComputeWatermark.objects.filter(indicator__in=[w.indicator for w in works])
                 .values_list("indicator", "definition"))
    create: list[ComputeWatermark] = []
    # (new definition or None, sharing, breakdown keys) → indicators
    moves: dict[tuple[Any, str, tuple[str, ...]], list[Any]] = {}
    for work in works:
        definition_id = marks.get(work.indicator.pk)  # never None for an existing mark: the column is required
        if definition_id is None:
            create.append(ComputeWatermark(indicator=work.indicator, definition=work.definition, seq=cutoff,
                                           sharing=work.sharing, keys=sorted(work.job.keys), updated_at=now))
        elif definition_id != work.definition.pk:
            moves.setdefault((work.definition.pk, work.sharing, tuple(sorted(work.job.keys))), []).append(
                work.indicator.pk)
        elif work.mode == "incremental":
            moves.setdefault((None, work.sharing, tuple(sorted(work.job.keys))), []).append(work.indicator.pk)
    ComputeWatermark.objects.bulk_create(create, batch_size=1000)
    for (definition_id, sharing, keys), ids in moves.items():
        change = {} if definition_id is None else {"definition_id": definition_id}
        for start in range(0, len(ids), 900):
            ComputeWatermark.objects.filter(indicator__in=ids[start:start + 900]).update(
                seq=cutoff, sharing=sharing, keys=list(keys), updated_at=now, **change)


def _update_rows(rows: list[IndicatorValue], names: list[str]) -> None:
    """One parameterised UPDATE per row, sent together (executemany). Django's bulk_update builds a CASE
    expression per field and row, which cost most of an incremental refresh."""
    if not rows:
        return
    fields = [IndicatorValue._meta.get_field(name) for name in names]
    connection = connections[router.db_for_write(IndicatorValue)]
    quote = connection.ops.quote_name
    # Names come from the model's metadata, values are parameters.
    sql = "UPDATE {} SET {} WHERE {} = %s".format(  # noqa: S608
        quote(IndicatorValue._meta.db_table), ", ".join(f"{quote(f.column)} = %s" for f in fields),
        quote(IndicatorValue._meta.pk.column))
    params = [[f.get_db_prep_save(getattr(v, f.attname), connection) for f in fields] + [v.pk] for v in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


# ---------------------------------------------------------------- entering and importing


# The stored breakdown's canonical JSON (`IndicatorValue.disaggregation_key`) is at most this long.
BREAKDOWN_MAX = 400


def _unit_codes(organisation_id: Any) -> frozenset[str]:
    return frozenset(code for code, _name in core_services.organisation_units(organisation_id))


def _check_disaggregation(indicator: Indicator, disaggregation: dict[str, str], where: str,
                          units: frozenset[str] | None = None) -> list[dict[str, str]]:
    """Problems of a breakdown given by hand or in a CSV row. `units`: the organisation's unit codes, when the
    caller checks many rows (read here otherwise)."""
    problems = []
    if len(disaggregation_key(disaggregation)) > BREAKDOWN_MAX:
        problems.append({"field": where, "message": _(
            "the breakdown is too long (at most %(n)d characters in all); shorten its values") % {"n": BREAKDOWN_MAX}})
    for key, value in disaggregation.items():
        if key not in DISAGGREGATION_KEYS:
            problems.append({"field": f"{where}.{key}", "message": _("unknown key; use some of %(keys)s") % {
                "keys": ", ".join(DISAGGREGATION_KEYS)}})
        elif key not in indicator.disaggregation:
            problems.append({"field": f"{where}.{key}", "message": _(
                "indicator %(code)s is not broken down by %(key)s") % {"code": indicator.code, "key": key}})
        elif not str(value).strip():
            problems.append({"field": f"{where}.{key}", "message": _("give a value")})
        elif key == "unit":
            codes = units if units is not None else _unit_codes(indicator.framework.organisation_id)
            if str(value) not in codes:
                problems.append({"field": f"{where}.{key}", "message": _(
                    "%(code)s is not a unit of your organisation; use one of %(codes)s") % {
                    "code": value, "codes": ", ".join(sorted(codes))}})
    return problems


def _check_period(indicator: Indicator, label: str, where: str) -> tuple[Period | None, list[dict[str, str]]]:
    try:
        period, frequency = parse_label(label)
    except PeriodError:
        return None, [{"field": where, "message": _("not a period label such as 2026, 2026-Q2 or 2026-03")}]
    if frequency != indicator.frequency:
        message = _("indicator %(code)s is reported %(frequency)s; give a %(frequency)s period")
        return None, [{"field": where, "message": message % {"code": indicator.code,
                                                            "frequency": indicator.frequency}}]
    return period, []


def _by_hand(actor: Actor, indicator: Indicator, source: str) -> None:
    permissions.require(actor, "enter_values")
    if indicator.data_source != source:
        raise Conflict(_("indicator %(code)s is %(kind)s; its values are not %(source)s") % {
            "code": indicator.code, "kind": indicator.data_source, "source": source})


def _put(actor: Actor, indicator: Indicator, period: Period, disaggregation: dict[str, str], value: Decimal | None,
         reason: str, comment: str, source: str) -> tuple[IndicatorValue, dict | None]:
    key = disaggregation_key(disaggregation)
    v = IndicatorValue.objects.filter(indicator=indicator, period_start=period.start, disaggregation_key=key).first()
    before = value_state(v, indicator.frequency) if v else None
    v = v or IndicatorValue(indicator=indicator, organisation_id=indicator.framework.organisation_id,
                            period_start=period.start, period_end=period.end, disaggregation=disaggregation,
                            disaggregation_key=key)
    v.value, v.empty_reason, v.comment, v.source = value, reason, comment, source
    v.sensitivity, v.record_count, v.definition, v.data_cutoff_seq = indicator.sensitivity, None, None, None
    v.produced_by_id, v.produced_by_label, v.produced_at = actor.user_id, actor.label, timezone.now()
    v.qa_status = QAStatus.UNREVIEWED
    v.save()
    return v, before


def enter_value(actor: Actor, indicator_id: Any, payload: Any) -> IndicatorValue:
    """A value entered by hand for one period (and group), with a comment saying where it comes from."""
    data: EnteredValueIn = parse(EnteredValueIn, payload)
    with transaction.atomic():
        indicator = get_indicator(actor, indicator_id)
        _by_hand(actor, indicator, DataSource.ENTERED)
        period, problems = _check_period(indicator, data.period, "period")
        problems += _check_disaggregation(indicator, data.disaggregation, "disaggregation")
        if data.value is None and not data.empty_reason:
            problems.append({"field": "empty_reason", "message": _("without a value, say why there is none")})
        if problems:
            raise AssessmentValidationError(problems)
        assert period is not None
        v, before = _put(actor, indicator, period, data.disaggregation, data.value, data.empty_reason, data.comment,
                         DataSource.ENTERED)
        log(actor, "indicator_value.enter", "indicator", indicator.id, v.organisation_id, before,
            value_state(v, indicator.frequency), sensitivity=v.sensitivity)
    return v


@dataclass
class ImportResult:
    written: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


def import_values(actor: Actor, framework_id: Any, text: str, *, comment: str = "") -> ImportResult:
    """Values from CSV: columns indicator (code), period, value, optional empty_reason and comment, and one
    column per disaggregation key used (area, unit, category, sex, age_group; empty = not broken down).

    Every row is checked first; if any row is wrong nothing is written and each error names its row and column.
    """
    from sitaware.assessment.services import get_framework

    permissions.require(actor, "enter_values")
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    columns = [c.strip() for c in (reader.fieldnames or [])]
    missing = [c for c in ("indicator", "period", "value") if c not in columns]
    if missing:
        raise AssessmentValidationError([{"field": "file", "message": _("missing columns: %(names)s") % {
            "names": ", ".join(missing)}}])
    result = ImportResult()
    with transaction.atomic():
        fw = get_framework(actor, framework_id)
        indicators = {i.code: i for i in fw.indicators.select_related("framework")}
        units = _unit_codes(fw.organisation_id)
        rows = []
        for number, raw in enumerate(reader, start=2):  # row 1 is the header
            if number - 1 > IMPORT_MAX_ROWS:
                result.errors.append({"row": number, "field": "file", "message": _("too many rows")})
                break
            row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
            parsed = _import_row(row, number, indicators, result.errors, units)
            if parsed is not None:
                rows.append(parsed)
        if result.errors:
            return result
        for indicator, period, disaggregation, value, reason, note in rows:
            v, before = _put(actor, indicator, period, disaggregation, value, reason, note or comment,
                             DataSource.IMPORTED)
            log(actor, "indicator_value.import", "indicator", indicator.id, v.organisation_id, before,
                value_state(v, indicator.frequency), sensitivity=v.sensitivity)
            result.written += 1
    return result


def _import_row(row: dict[str, str], number: int, indicators: dict[str, Indicator],
                errors: list[dict[str, Any]], units: frozenset[str]) -> tuple | None:
    def error(column: str, message: str) -> None:
        errors.append({"row": number, "field": column, "message": message})

    indicator = indicators.get(row.get("indicator", ""))
    if indicator is None:
        error("indicator", _("no indicator %(code)s in this framework") % {"code": row.get("indicator", "")})
        return None
    if indicator.data_source != DataSource.IMPORTED:
        error("indicator", _("indicator %(code)s is %(kind)s, not imported") % {"code": indicator.code,
                                                                              "kind": indicator.data_source})
        return None
    period, problems = _check_period(indicator, row.get("period", ""), "period")
    disaggregation = {k: row[k] for k in DISAGGREGATION_KEYS if row.get(k)}
    problems += _check_disaggregation(indicator, disaggregation, "disaggregation", units)
    value: Decimal | None = None
    reason = row.get("empty_reason", "")
    if row.get("value"):
        try:
            value = Decimal(row["value"].replace(",", "."))
            if not value.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            problems.append({"field": "value", "message": _("not a number")})
    elif not reason:
        problems.append({"field": "value", "message": _("no value: give one, or say why in empty_reason")})
    for p in problems:
        error(p["field"].split(".")[-1], p["message"])
    if problems:
        return None
    return indicator, period, disaggregation, value, reason, row.get("comment", "")


# ---------------------------------------------------------------- reading


def _covers(actor: Actor, value: IndicatorValue) -> bool:
    """Whether `actor` sees every record the organisation's figure was computed over."""
    if actor.system:
        return True
    return actor.role != Role.REPORTER and actor.clearance >= value.sensitivity


@dataclass
class ValueView:
    state: dict[str, Any]
    partial: bool


PARTIAL_NOTE = gettext_noop("computed over the records your scope allows; the organisation's figure includes "
                            "records you may not see, so this figure is partial")


def read_values(actor: Actor, indicator_id: Any, *, since: dt.date | None = None, until: dt.date | None = None,
                disaggregation: dict[str, str] | None = None) -> list[ValueView]:
    """The indicator's values a viewer may see. A computed figure over records the viewer may not all see
    is recomputed over the viewer's own scope and marked partial; the organisation's figure is withheld,
    since out of scope must be indistinguishable from absent (also in aggregates)."""
    indicator = get_indicator(actor, indicator_id)
    qs = IndicatorValue.objects.filter(indicator=indicator).select_related("definition")
    if not actor.system:
        # Figures are their organisation's: sharing agreements share records, not the figures made from them.
        qs = qs.filter(organisation_id=actor.organisation_id)
    if since:
        qs = qs.filter(period_start__gte=since)
    if until:
        qs = qs.filter(period_start__lt=until)
    if disaggregation is not None:
        qs = qs.filter(disaggregation_key=disaggregation_key(disaggregation))
    visible = set(restrict(qs, actor).values_list("pk", flat=True))
    rows = list(qs.order_by("period_start", "disaggregation_key"))
    partial = _partial_figures(actor, indicator, [v for v in rows if v.source == DataSource.COMPUTED
                                                  and not _covers(actor, v)])
    out = []
    for v in rows:
        if v.pk in partial:
            out.append(ValueView(partial[v.pk], True))
        elif v.pk in visible:
            out.append(ValueView(value_state(v, indicator.frequency), False))
    return out


def latest_group_period(actor: Actor, indicator_id: Any) -> dt.date | None:
    """The start of the latest period for which the indicator has figures by group (area, unit, ...), among the
    figures of the actor's organisation; None if it has none."""
    indicator = get_indicator(actor, indicator_id)
    qs = IndicatorValue.objects.filter(indicator=indicator).exclude(disaggregation_key="{}")
    if not actor.system:
        qs = qs.filter(organisation_id=actor.organisation_id)
    return qs.order_by("-period_start").values_list("period_start", flat=True).first()


def _stored_partials(actor: Actor, indicator: Indicator, rows: list[IndicatorValue]) -> dict[int, dict[str, Any]]:
    """Partial figures kept by the run that made the values (`CeilingFigure`), for viewers whose share of the
    organisation's figure is its records at or below their clearance: every role but reporters (whose own
    unit's drafts and published records make another share). A value whose run kept none is left out."""
    out: dict[int, dict[str, Any]] = {}
    if actor.system or actor.role == Role.REPORTER or not actor.can("view") \
            or actor.organisation_id != indicator.framework.organisation_id or actor.clearance not in CEILINGS:
        return out
    kept = {(c.definition_id, c.data_cutoff_seq, c.period_start, c.disaggregation_key): c
            for c in CeilingFigure.objects.filter(indicator=indicator, ceiling=actor.clearance,
                                                  period_start__in={v.period_start for v in rows})}
    for v in rows:
        found = kept.get((v.definition_id, v.data_cutoff_seq, v.period_start, v.disaggregation_key))
        if found is not None:
            outcome = formulas.Outcome(found.value, found.empty_reason, found.record_count)
        elif (v.definition_id, v.data_cutoff_seq, v.period_start, "{}") in kept:
            # The run kept the period's total: no figure for this group means no record of it at this level.
            outcome = formulas.evaluate(v.definition.formula, {})
        else:
            continue
        out[v.pk] = _partial_state(actor, v, indicator.frequency, outcome)
    return out


def _partial_state(actor: Actor, v: IndicatorValue, frequency: str, outcome: formulas.Outcome,
                   **provenance: Any) -> dict[str, Any]:
    state = value_state(v, frequency)
    state.update(value=None if outcome.value is None else str(outcome.value),
                 empty_reason=_(outcome.reason) if outcome.reason else "", record_count=outcome.record_count,
                 sensitivity=min(v.sensitivity, actor.clearance), partial=True, partial_note=_(PARTIAL_NOTE),
                 **provenance)
    return state


def _partial_figures(actor: Actor, indicator: Indicator, rows: list[IndicatorValue]) -> dict[int, dict[str, Any]]:
    """Each value's share the viewer may see: kept by the run that made it when it could be (`_stored_partials`),
    else recomputed over the viewer's scope (inside the organisation's), one evaluation per definition version
    rather than one per value."""
    out = _stored_partials(actor, indicator, rows) if rows else {}
    rows = [v for v in rows if v.pk not in out]
    if not rows:
        return out
    organisation = engine.organisation_actor(indicator.framework.organisation)
    by_definition: dict[int, list[IndicatorValue]] = {}
    for v in rows:
        by_definition.setdefault(v.definition_id, []).append(v)
    now = timezone.now().isoformat()
    groups = list(by_definition.values())
    jobs = []
    for group in groups:
        definition = group[0].definition
        assert definition is not None
        keys = tuple(sorted({k for v in group for k in v.disaggregation}))
        jobs.append(engine.Job(definition.formula, keys, tuple(sorted({_period(v) for v in group})),
                               indicator.frequency))
    for group, evaluated in zip(groups, engine.evaluate_many(actor, jobs, within=organisation), strict=True):
        definition = group[0].definition
        assert definition is not None
        figures = {(f.period.start, disaggregation_key(f.disaggregation)): f for f in evaluated}
        for v in group:
            mine = figures.get((v.period_start, v.disaggregation_key))
            outcome = mine.outcome if mine else formulas.evaluate(definition.formula, {})
            out[v.pk] = _partial_state(actor, v, indicator.frequency, outcome, produced_by=actor.label,
                                       produced_at=now, data_cutoff_seq=None)
    return out


def review_value(actor: Actor, value_id: int, qa_status: str, comment: str = "") -> IndicatorValue:
    """Quality assurance of one value (R-PA-02). Nobody reviews a value they produced themselves."""
    permissions.require(actor, "review")
    if qa_status not in QAStatus.values:
        raise AssessmentValidationError([{"field": "qa_status", "message": _("use one of %(choices)s") % {
            "choices": ", ".join(QAStatus.values)}}])
    if qa_status != QAStatus.ACCEPTED and not comment.strip():
        raise AssessmentValidationError([{"field": "comment", "message": _(
            "say what is wrong with the value, so that its producer can act on it")}])
    with transaction.atomic():
        v = get_value(actor, value_id)
        if not _covers(actor, v):
            raise NotFound(_("no indicator value %(id)s") % {"id": value_id})
        if v.produced_by_id is not None and v.produced_by_id == actor.user_id:
            raise PermissionDenied(_("a value is reviewed by someone other than the person who produced it"))
        before = value_state(v, v.indicator.frequency)
        v.qa_status, v.comment = qa_status, comment.strip()
        v.save(update_fields=["qa_status", "comment"])
        log(actor, "indicator_value.review", "indicator", v.indicator_id, v.organisation_id, before,
            value_state(v, v.indicator.frequency), sensitivity=v.sensitivity)
    return v


def get_value(actor: Actor, value_id: int) -> IndicatorValue:
    qs = IndicatorValue.objects.select_related("indicator__framework", "definition").filter(pk=value_id)
    if not actor.system:
        qs = qs.filter(organisation_id=actor.organisation_id) if actor.can("view") else qs.none()
    v = qs.first()
    if v is None:
        raise NotFound(_("no indicator value %(id)s") % {"id": value_id})
    return v


def drill_down(actor: Actor, value_id: int) -> dict[str, Any]:
    """The ids of the records behind a computed figure, read now within the viewer's scope. For a viewer who
    sees everything the figure was computed over, they are exactly the records it counted (if no record
    changed since its data cut-off: `changed_since` says whether any did)."""
    v = get_value(actor, value_id)
    indicator = v.indicator
    if v.source != DataSource.COMPUTED or v.definition is None:
        raise Conflict(_("this value was %(source)s, not computed from records: there are no records behind it") % {
            "source": v.source})
    full = _covers(actor, v)
    organisation = engine.organisation_actor(indicator.framework.organisation)
    formula = v.definition.formula
    ids = engine.records_behind(organisation if full else actor, formula, indicator.frequency,
                                _period(v), v.disaggregation, within=None if full else organisation)
    item_type = operational.ITEM_TYPES.get(formula.get("type", ""), "record")
    if item_type != "record" and full and not actor.system:
        ids = operational.visible(actor, item_type, ids)
    elif full and not actor.system:
        # Belt and braces: never list a record the viewer may not open.
        from sitaware.records.services import scoped_records

        seen = {str(pk) for pk in scoped_records(actor).filter(pk__in=ids).values_list("pk", flat=True)}
        ids = [i for i in ids if i in seen]
    changed = engine.changed_periods(formula, v.data_cutoff_seq or 0, engine.current_seq(), indicator.frequency)
    # A partial viewer gets their own figure, never the organisation's (out of scope stays out of aggregates).
    state = value_state(v, indicator.frequency) if full else _partial_figures(actor, indicator, [v])[v.pk]
    return {"value": state, "record_ids": ids, "item_type": item_type, "partial": not full,
            "partial_note": _(PARTIAL_NOTE) if not full else "", "changed_since": _period(v) in changed}


# ---------------------------------------------------------------- checking


@dataclass
class Mismatch:
    period: str
    disaggregation: dict[str, str]
    stored: str | None
    recomputed: str | None


def reproduce(indicator: Indicator) -> list[Mismatch]:
    """Recompute every stored computed figure with the definition version that made it, store nothing, and
    name each figure that differs (or that the stored set lacks or has too many of). Figures only reproduce
    exactly while no record they read has changed since their data cut-off; a refresh settles that."""
    stored: dict[tuple[Any, str], IndicatorValue] = {}
    by_definition: dict[int, set[Period]] = {}
    for v in IndicatorValue.objects.filter(indicator=indicator, source=DataSource.COMPUTED):
        stored[(v.period_start, v.disaggregation_key)] = v
        if v.definition_id is not None:
            by_definition.setdefault(v.definition_id, set()).add(_period(v))
    organisation = engine.organisation_actor(indicator.framework.organisation)
    out: list[Mismatch] = []
    seen: set[tuple[Any, str]] = set()
    for definition_id, periods in sorted(by_definition.items()):
        definition = IndicatorDefinition.objects.get(pk=definition_id)
        keys = computable_keys(indicator, definition.formula)
        for figure in engine.evaluate(organisation, definition.formula, keys, periods, indicator.frequency):
            key = (figure.period.start, disaggregation_key(figure.disaggregation))
            seen.add(key)
            v = stored.get(key)
            recomputed = None if figure.outcome.value is None else str(figure.outcome.value)
            if v is None or not _same(v, figure):
                out.append(Mismatch(label_of(figure.period, indicator.frequency), figure.disaggregation,
                                    None if v is None or v.value is None else str(v.value), recomputed))
    for key, v in stored.items():
        if key not in seen:
            out.append(Mismatch(label_of(_period(v), indicator.frequency), v.disaggregation,
                                None if v.value is None else str(v.value), None))
    return out
