"""Computed indicators over records held as columns: every indicator of a plan from one read. Pure: numpy, no
Django.

One read of the records (`Columns`, filled by `engine.load_columns`) serves any number of formulas: each leaf
measure is a boolean mask over the columns (its filter), the periods and disaggregation groups are integer
indices, and counts, sums and the highest sensitivity per (period, group) are `bincount`s. Duration measures
keep their amounts: the groups' sorted values go to `formula.evaluate`, so medians and means are reduced by the
same code as on the query path (`engine.evaluate`), and figures are equal by construction, not by luck.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sitaware.assessment import formula as formulas
from sitaware.assessment.periods import Period, period_of

# Columns holding text values, by the name filters and breakdowns know them.
TEXT_COLUMNS = ("kind", "category", "status", "source_type", "unit", "area")
# The filter key that narrows each text column.
FILTER_COLUMNS = {"kinds": "kind", "statuses": "status", "source_types": "source_type", "units": "unit",
                  "admin1": "area"}
EPOCH = dt.date(1970, 1, 1)


def needs(formulas_in: Iterable[Mapping[str, Any]]) -> tuple[set[str], bool]:
    """What a read must hold for these formulas beyond the always-read columns: the sum fields, and whether
    any measure is a duration (reported_at then comes too)."""
    fields: set[str] = set()
    duration = False
    for formula in formulas_in:
        for measure in formulas.measures(formula).values():
            if measure["type"] == "sum":
                fields.add(measure["field"])
            duration = duration or measure["type"] == "duration"
    return fields, duration


class Vocabulary:
    """Text values of one column as small integer codes (None and "" are one value, as breakdowns show them)."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self._codes: dict[Any, int] = {}

    def code(self, raw: Any) -> int:
        found = self._codes.get(raw)
        if found is None:
            text = str(raw or "")
            found = self._codes.get(text)
            if found is None:
                found = len(self.values)
                self.values.append(text)
                self._codes[text] = found
            self._codes[raw] = found
        return found

    def codes(self, raws: Sequence[Any]) -> np.ndarray:
        """The codes of many values: each distinct value is looked at once, then a C-level lookup per row."""
        for raw in set(raws) - self._codes.keys():
            self.code(raw)
        return np.fromiter(map(self._codes.__getitem__, raws), dtype=np.int32, count=len(raws))

    def codes_where(self, test: Any) -> np.ndarray:
        return np.array([i for i, value in enumerate(self.values) if test(value)], dtype=np.int64)


@dataclass
class Columns:
    """Records as columns. `day` is the UTC day of occurred_at as days since 1970-01-01; `sums` holds one
    column per sum field read; `delay_us` is reported_at - occurred_at in microseconds (duration measures)."""

    day: np.ndarray
    sensitivity: np.ndarray
    text: dict[str, np.ndarray]
    vocab: dict[str, Vocabulary]
    sums: dict[str, np.ndarray] = field(default_factory=dict)
    delay_us: np.ndarray | None = None
    # Which read each row came from, when one measure's rows were read apart from another's (see `figures`).
    part: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.day)


class ColumnsBuilder:
    """Collects rows chunk by chunk (converted to arrays as they come, so a million rows never sit in memory
    as Python tuples) and hands out one `Columns`."""

    def __init__(self, sum_fields: Iterable[str], with_delay: bool):
        self.sum_fields = sorted(sum_fields)
        self.with_delay = with_delay
        self.vocab = {name: Vocabulary() for name in TEXT_COLUMNS}
        self._chunks: list[dict[str, np.ndarray]] = []

    def add(self, days: Sequence[int], sensitivity: Sequence[int], text: Mapping[str, Sequence[Any]],
            sums: Mapping[str, Sequence[int]], delay_us: Sequence[int] | None, part: int = 0) -> None:
        chunk = {"day": np.asarray(days, dtype=np.int32), "sensitivity": np.asarray(sensitivity, dtype=np.int8)}
        chunk["part"] = np.full(len(chunk["day"]), part, dtype=np.int8)
        for name in TEXT_COLUMNS:
            chunk[name] = self.vocab[name].codes(text[name])
        for name in self.sum_fields:
            chunk["sum:" + name] = np.asarray(sums[name], dtype=np.int64)
        if self.with_delay:
            chunk["delay"] = np.asarray(delay_us, dtype=np.int64)
        self._chunks.append(chunk)

    def build(self) -> Columns:
        def joined(name: str, dtype: Any) -> np.ndarray:
            return np.concatenate([c[name] for c in self._chunks]) if self._chunks else np.zeros(0, dtype=dtype)

        return Columns(
            day=joined("day", np.int32), sensitivity=joined("sensitivity", np.int8),
            text={name: joined(name, np.int32) for name in TEXT_COLUMNS}, vocab=self.vocab,
            sums={name: joined("sum:" + name, np.int64) for name in self.sum_fields},
            delay_us=joined("delay", np.int64) if self.with_delay else None, part=joined("part", np.int8))


# ---------------------------------------------------------------- filters


def _lookup(vocab: Vocabulary, codes: np.ndarray) -> np.ndarray:
    table = np.zeros(max(len(vocab.values), 1), dtype=bool)
    table[codes] = True
    return table


def mask_of(columns: Columns, flt: Mapping[str, Any], cache: dict | None = None) -> np.ndarray:
    """The rows a measure's filter selects (the same rules as `records.services.filter_records`: a parent
    category selects its children too). Masks per filter key are cached across measures when given `cache`."""
    mask = np.ones(len(columns), dtype=bool)
    for key in sorted(flt):
        wanted = flt[key]
        memo = (key, tuple(wanted) if isinstance(wanted, list) else wanted)
        part = cache.get(memo) if cache is not None else None
        if part is None:
            part = _key_mask(columns, key, wanted)
            if cache is not None:
                cache[memo] = part
        mask &= part
    return mask


def _key_mask(columns: Columns, key: str, wanted: Any) -> np.ndarray:
    if key == "sensitivity_max":
        return columns.sensitivity <= wanted
    if key == "categories":
        prefixes = tuple(f"{code}." for code in wanted)
        chosen = set(wanted)
        vocab = columns.vocab["category"]
        codes = vocab.codes_where(lambda value: value in chosen or value.startswith(prefixes))
        return _lookup(vocab, codes)[columns.text["category"]]
    name = FILTER_COLUMNS[key]
    vocab = columns.vocab[name]
    chosen = set(wanted)
    return _lookup(vocab, vocab.codes_where(lambda value: value in chosen))[columns.text[name]]


# ---------------------------------------------------------------- periods


def period_index(columns: Columns, periods: Sequence[Period], frequency: str,
                 cache: dict | None = None) -> np.ndarray:
    """Per row, the position of its period in `periods`, or -1 when its period is not wanted. Computed once
    per distinct day, not once per row."""
    memo = (frequency, tuple(periods))
    if cache is not None and memo in cache:
        return cache[memo]
    position = {p: i for i, p in enumerate(periods)}
    days, inverse = np.unique(columns.day, return_inverse=True)
    of_day = np.array([position.get(period_of(EPOCH + dt.timedelta(days=int(d)), frequency), -1) for d in days],
                      dtype=np.int64)
    out = of_day[inverse] if len(days) else np.zeros(0, dtype=np.int64)
    if cache is not None:
        cache[memo] = out
    return out


# ---------------------------------------------------------------- figures


@dataclass(frozen=True)
class ColumnFigure:
    """One figure: the period's position in the periods asked for, its group, the outcome, and the highest
    sensitivity among the records behind it."""

    period: int
    group: tuple[tuple[str, str], ...]
    outcome: formulas.Outcome
    sensitivity: int


class _Groups:
    """The (period, group) slots one formula fills: slot 0..P-1 the totals, then one block of P x V per key."""

    def __init__(self, columns: Columns, keys: Sequence[str], periods: int):
        self.keys = list(keys)
        self.periods = periods
        self.sizes = [max(len(columns.vocab[k].values), 1) for k in self.keys]
        self.offsets = []
        offset = periods
        for size in self.sizes:
            self.offsets.append(offset)
            offset += periods * size
        self.slots = offset
        self.columns = columns

    def slot_indices(self, rows: np.ndarray, period: np.ndarray) -> np.ndarray:
        """For selected rows (indices) with their period positions: one slot per row for the total, then one
        per key; concatenated (a row counts towards its total and one group per key)."""
        parts = [period]
        for key, size, offset in zip(self.keys, self.sizes, self.offsets, strict=True):
            parts.append(offset + period * size + self.columns.text[key][rows])
        return np.concatenate(parts) if parts else period

    def label(self, slot: int) -> tuple[int, tuple[tuple[str, str], ...]]:
        if slot < self.periods:
            return slot, ()
        for key, size, offset in zip(self.keys, self.sizes, self.offsets, strict=True):
            if slot < offset + self.periods * size:
                period, code = divmod(slot - offset, size)
                return period, ((key, self.columns.vocab[key].values[code]),)
        raise IndexError(slot)


def _amounts(columns: Columns, measure: Mapping[str, Any], rows: np.ndarray) -> np.ndarray | None:
    kind = measure["type"]
    if kind == "count":
        return None
    if kind == "duration":
        assert columns.delay_us is not None, "durations need the delay column"
        return columns.delay_us[rows]
    return columns.sums[measure["field"]][rows]


def figures(columns: Columns, formula: Mapping[str, Any], keys: Sequence[str], periods: Sequence[Period],
            frequency: str, cache: dict | None = None, parts: Mapping[str, int] | None = None,
            ceiling: int | None = None) -> list[ColumnFigure]:
    """Every figure of `formula` for `periods` (the same figures as `engine.evaluate`: a total for every period,
    one figure per value of each key found in the data), sorted by period then group. Given `parts`, each
    measure reads only the rows of its own read (`Columns.part`): a ratio's numerator and denominator read
    apart hold the records they share twice. Given `ceiling`, only records at or below that sensitivity
    count."""
    cache = {} if cache is None else cache
    where = period_index(columns, periods, frequency, cache.setdefault("periods", {}))
    groups = _Groups(columns, keys, len(periods))
    top = np.full(groups.slots, -1, dtype=np.int64)
    per_role: dict[str, Any] = {}
    for role, measure in formulas.measures(formula).items():
        selected = mask_of(columns, measure.get("filter", {}), cache.setdefault("masks", {})) & (where >= 0)
        if parts is not None:
            assert columns.part is not None
            selected &= columns.part == parts[role]
        if ceiling is not None:
            selected &= columns.sensitivity <= ceiling
        rows = np.flatnonzero(selected)
        slots = groups.slot_indices(rows, where[rows])
        repeat = 1 + len(groups.keys)
        np.maximum.at(top, slots, np.tile(columns.sensitivity[rows].astype(np.int64), repeat))
        amounts = _amounts(columns, measure, rows)
        count = np.bincount(slots, minlength=groups.slots)
        if measure["type"] == "duration":
            assert amounts is not None
            per_role[role] = ("values", count, _sorted_values(slots, np.tile(amounts, repeat), groups.slots))
        else:
            total = count if amounts is None else _exact_sums(slots, np.tile(amounts, repeat), groups.slots)
            per_role[role] = ("tally", count, total)
    present = np.zeros(groups.slots, dtype=bool)
    present[:groups.periods] = True  # every period has its total, even an empty one
    for _kind, count, _payload in per_role.values():
        present |= count > 0
    out = []
    for slot in np.flatnonzero(present):
        amounts_by_role: dict[str, Any] = {}
        for role, (kind, count, payload) in per_role.items():
            n = int(count[slot])
            if kind == "tally":
                amounts_by_role[role] = formulas.Tally(n, int(payload[slot]))
            else:
                starts, ordered = payload
                amounts_by_role[role] = ordered[starts[slot]:starts[slot] + n].tolist()
        period, group = groups.label(int(slot))
        out.append(ColumnFigure(period, group, formulas.evaluate(formula, amounts_by_role), max(int(top[slot]), 0)))
    out.sort(key=lambda f: (f.period, f.group))
    return out


def _exact_sums(slots: np.ndarray, amounts: np.ndarray, size: int) -> np.ndarray:
    """Integer sums per slot. bincount's float weights are exact below 2**53; beyond, add in integers."""
    if not len(amounts) or int(np.abs(amounts).sum()) < 2**53:
        return np.rint(np.bincount(slots, weights=amounts.astype(np.float64), minlength=size)).astype(np.int64)
    out = np.zeros(size, dtype=np.int64)
    np.add.at(out, slots, amounts)
    return out


def _sorted_values(slots: np.ndarray, amounts: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Amounts ordered by slot then value, with each slot's first position in that order."""
    order = np.lexsort((amounts, slots))
    counts = np.bincount(slots, minlength=size)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    return starts, amounts[order]
