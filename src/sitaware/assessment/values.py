"""Indicator values: computing and storing them (full and incremental), entering and importing them by
hand, and reading them within scope, with provenance (R-PA-02)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import connections, router, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from sitaware.assessment import engine, permissions
from sitaware.assessment import formula as formulas
from sitaware.assessment.errors import AssessmentValidationError, Conflict, NotFound
from sitaware.assessment.models import (
    DISAGGREGATION_KEYS,
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
from sitaware.core.canonical import canonical_json
from sitaware.core.choices import Role
from sitaware.core.scope import Actor, restrict

SYSTEM_LABEL = "system"
IMPORT_MAX_ROWS = 50_000


def disaggregation_key(disaggregation: dict[str, str]) -> str:
    return canonical_json(dict(sorted(disaggregation.items())))


def _period(value: IndicatorValue) -> Period:
    return Period(value.period_start, value.period_end)


def value_state(v: IndicatorValue, frequency: str) -> dict[str, Any]:
    """A value as the change log keeps it and the API shows it (with its provenance)."""
    return {
        "id": v.pk, "indicator": str(v.indicator_id), "period": label_of(_period(v), frequency),
        "period_start": v.period_start.isoformat(), "period_end": v.period_end.isoformat(),
        "disaggregation": v.disaggregation, "value": None if v.value is None else str(v.value),
        # Reasons are stored in English (they are data) and shown in the reader's language.
        "empty_reason": _(v.empty_reason) if v.empty_reason else "", "record_count": v.record_count, "source": v.source,
        "produced_by": v.produced_by_label, "produced_at": v.produced_at.isoformat(),
        "definition_version": v.definition.version if v.definition_id else None,
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


def _computed(actor: Actor, indicator_id: Any) -> tuple[Indicator, IndicatorDefinition]:
    permissions.require(actor, "compute")
    indicator = indicator_id if isinstance(indicator_id, Indicator) else get_indicator(actor, indicator_id)
    if indicator.data_source != DataSource.COMPUTED:
        raise Conflict(_("indicator %(code)s is %(source)s, not computed from records") % {
            "code": indicator.code, "source": indicator.data_source})
    definition = engine.definition_for(indicator)
    if definition is None:
        raise AssessmentValidationError([{"field": "formula", "message": _(
            "indicator %(code)s has no formula yet") % {"code": indicator.code}}])
    return indicator, definition


def _lock(indicator: Indicator) -> None:
    # One computation of an indicator at a time: two would insert the same (period, group) rows.
    Indicator.objects.select_for_update().filter(pk=indicator.pk).values_list("pk", flat=True).first()


def compute(actor: Actor, indicator_id: Any, start: dt.date, end: dt.date) -> ComputeResult:
    """Full rebuild: every period of the indicator's frequency overlapping [start, end)."""
    indicator, definition = _computed(actor, indicator_id)
    periods = list(iter_periods(start, end, indicator.frequency))
    if not periods:
        raise AssessmentValidationError([{"field": "end", "message": _("the range must end after it starts")}])
    with transaction.atomic():
        _lock(indicator)
        cutoff = engine.current_seq()
        result = _store(actor, indicator, definition, periods, cutoff, "full")
        mark = ComputeWatermark.objects.filter(indicator=indicator).first()
        # A full rebuild of some periods does not vouch for the others: an existing watermark stays, unless
        # it belongs to an earlier formula (then nothing else is current for this one anyway).
        if mark is None or mark.definition_id != definition.pk:
            ComputeWatermark.objects.update_or_create(
                indicator=indicator, defaults={"definition": definition, "seq": cutoff, "updated_at": timezone.now()})
    return result


def refresh(actor: Actor, indicator_id: Any) -> ComputeResult:
    """Incremental: recompute only the periods touched by record changes since the watermark."""
    indicator, definition = _computed(actor, indicator_id)
    with transaction.atomic():
        _lock(indicator)
        mark = ComputeWatermark.objects.filter(indicator=indicator).first()
        if mark is None:
            raise Conflict(_("indicator %(code)s was never computed in full; compute a period range first") % {
                "code": indicator.code})
        cutoff = engine.current_seq()
        periods = engine.touched_periods(mark.seq, cutoff, indicator.frequency)
        notes = []
        if mark.definition_id != definition.pk:
            # The formula changed: every stored figure is recomputed with the new one.
            stored = IndicatorValue.objects.filter(indicator=indicator).values_list("period_start", "period_end")
            periods |= {Period(s, e) for s, e in stored.distinct()}
            notes.append(_("the formula changed: all stored periods recomputed"))
        result = _store(actor, indicator, definition, sorted(periods), cutoff, "incremental")
        result.notes += notes
        mark.definition, mark.seq, mark.updated_at = definition, cutoff, timezone.now()
        mark.save()
    return result


def _same(v: IndicatorValue, figure: engine.Figure) -> bool:
    return (v.value == figure.outcome.value and v.empty_reason == figure.outcome.reason
            and v.sensitivity == figure.sensitivity and v.record_count == figure.outcome.record_count)


def _store(actor: Actor, indicator: Indicator, definition: IndicatorDefinition, periods: list[Period],
           cutoff: int, mode: str) -> ComputeResult:
    organisation = indicator.framework.organisation
    result = ComputeResult(indicator.code, mode, periods=len(periods), cutoff=cutoff)
    if not periods:
        return result
    figures = engine.evaluate(engine.organisation_actor(organisation), definition.formula, computable_keys(indicator),
                              periods, indicator.frequency)
    existing = {(v.period_start, v.disaggregation_key): v for v in IndicatorValue.objects.filter(
        indicator=indicator, period_start__in=[p.start for p in periods]).select_related("definition")}
    now = timezone.now()
    label = actor.label if actor.user_id else SYSTEM_LABEL
    before: list[dict] = []
    create: list[IndicatorValue] = []
    update: list[IndicatorValue] = []
    logged: list[IndicatorValue] = []  # created or changed: what the change-log entry shows
    confirmed: list[int] = []
    for figure in figures:
        key = disaggregation_key(figure.disaggregation)
        old = existing.pop((figure.period.start, key), None)
        v = old or IndicatorValue(indicator=indicator, organisation=organisation, period_start=figure.period.start,
                                  period_end=figure.period.end, disaggregation=figure.disaggregation,
                                  disaggregation_key=key)
        if old is not None and _same(old, figure) and old.source == DataSource.COMPUTED:
            # Confirmed by this run: only its provenance moves on, in one UPDATE for all such rows below.
            result.unchanged += 1
            confirmed.append(old.pk)
            continue
        if old is not None:
            before.append(value_state(old, indicator.frequency))
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
        (update if old is not None else create).append(v)
    gone = list(existing.values())
    result.removed = len(gone)
    before += [value_state(v, indicator.frequency) for v in gone]
    if gone:
        IndicatorValue.objects.filter(pk__in=[v.pk for v in gone]).delete()
    for start in range(0, len(confirmed), 900):  # under SQLite's limit on query parameters
        IndicatorValue.objects.filter(pk__in=confirmed[start:start + 900]).update(
            definition=definition, data_cutoff_seq=cutoff, produced_by_id=actor.user_id or None,
            produced_by_label=label, produced_at=now)
    IndicatorValue.objects.bulk_create(create, batch_size=1000)
    _update_rows(update, ["value", "empty_reason", "record_count", "sensitivity", "source", "definition",
                          "data_cutoff_seq", "produced_by", "produced_by_label", "produced_at", "qa_status", "comment"])
    after = [value_state(v, indicator.frequency) for v in logged]
    sensitivity = max([f.sensitivity for f in figures] + [indicator.sensitivity])
    log(actor, "indicator.compute", "indicator", indicator.id, organisation.pk, before or None, after or None,
        sensitivity=sensitivity, mode=mode, cutoff=cutoff, definition_version=definition.version,
        periods=[label_of(p, indicator.frequency) for p in periods], created=result.created,
        changed=result.changed, unchanged=result.unchanged, removed=result.removed)
    return result


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


def _check_disaggregation(indicator: Indicator, disaggregation: dict[str, str], where: str) -> list[dict[str, str]]:
    problems = []
    for key, value in disaggregation.items():
        if key not in DISAGGREGATION_KEYS:
            problems.append({"field": f"{where}.{key}", "message": _("unknown key; use some of %(keys)s") % {
                "keys": ", ".join(DISAGGREGATION_KEYS)}})
        elif key not in indicator.disaggregation:
            problems.append({"field": f"{where}.{key}", "message": _(
                "indicator %(code)s is not broken down by %(key)s") % {"code": indicator.code, "key": key}})
        elif not str(value).strip():
            problems.append({"field": f"{where}.{key}", "message": _("give a value")})
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
        rows = []
        for number, raw in enumerate(reader, start=2):  # row 1 is the header
            if number - 1 > IMPORT_MAX_ROWS:
                result.errors.append({"row": number, "field": "file", "message": _("too many rows")})
                break
            row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
            parsed = _import_row(row, number, indicators, result.errors)
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
                errors: list[dict[str, Any]]) -> tuple | None:
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
    problems += _check_disaggregation(indicator, disaggregation, "disaggregation")
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


def _partial_figures(actor: Actor, indicator: Indicator, rows: list[IndicatorValue]) -> dict[int, dict[str, Any]]:
    """Figures recomputed over the viewer's scope (inside the organisation's), one evaluation per definition
    version rather than one per value."""
    out: dict[int, dict[str, Any]] = {}
    if not rows:
        return out
    organisation = engine.organisation_actor(indicator.framework.organisation)
    by_definition: dict[int, list[IndicatorValue]] = {}
    for v in rows:
        by_definition.setdefault(v.definition_id, []).append(v)
    now = timezone.now().isoformat()
    for group in by_definition.values():
        definition = group[0].definition
        assert definition is not None
        keys = sorted({k for v in group for k in v.disaggregation})
        figures = {(f.period.start, disaggregation_key(f.disaggregation)): f for f in engine.evaluate(
            actor, definition.formula, keys, {_period(v) for v in group}, indicator.frequency, within=organisation)}
        for v in group:
            mine = figures.get((v.period_start, v.disaggregation_key))
            outcome = mine.outcome if mine else formulas.evaluate(definition.formula, {})
            state = value_state(v, indicator.frequency)
            state.update(value=None if outcome.value is None else str(outcome.value),
                         empty_reason=_(outcome.reason) if outcome.reason else "", record_count=outcome.record_count,
                         produced_by=actor.label, produced_at=now, data_cutoff_seq=None,
                         sensitivity=min(v.sensitivity, actor.clearance), partial=True, partial_note=_(PARTIAL_NOTE))
            out[v.pk] = state
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
    ids = engine.records_behind(organisation if full else actor, v.definition.formula, indicator.frequency,
                                _period(v), v.disaggregation, within=None if full else organisation)
    if full and not actor.system:
        # Belt and braces: never list a record the viewer may not open.
        from sitaware.records.services import scoped_records

        seen = {str(pk) for pk in scoped_records(actor).filter(pk__in=ids).values_list("pk", flat=True)}
        ids = [i for i in ids if i in seen]
    changed = engine.touched_periods(v.data_cutoff_seq or 0, engine.current_seq(), indicator.frequency)
    # A partial viewer gets their own figure, never the organisation's (out of scope stays out of aggregates).
    state = value_state(v, indicator.frequency) if full else _partial_figures(actor, indicator, [v])[v.pk]
    return {"value": state, "record_ids": ids, "partial": not full,
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
    keys = computable_keys(indicator)
    for definition_id, periods in sorted(by_definition.items()):
        definition = IndicatorDefinition.objects.get(pk=definition_id)
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
