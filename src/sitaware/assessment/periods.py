"""Reporting periods: which period a moment falls in, ranges of periods, and labels. Pure: no Django.

A period is a half-open range of UTC dates [start, end). Boundaries are at 00:00 UTC, because records
store aware datetimes and the database compares them in UTC; a mission that reports on local days
would shift every boundary, and must then do so here, in one place.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

FREQUENCIES = ("weekly", "monthly", "quarterly", "semiannual", "annual")
_MONTHS_PER = {"monthly": 1, "quarterly": 3, "semiannual": 6, "annual": 12}


@dataclass(frozen=True, order=True)
class Period:
    start: dt.date
    end: dt.date  # exclusive

    @property
    def start_at(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time.min, tzinfo=dt.UTC)

    @property
    def end_at(self) -> dt.datetime:
        return dt.datetime.combine(self.end, dt.time.min, tzinfo=dt.UTC)

    def contains(self, moment: dt.datetime) -> bool:
        return self.start_at <= moment < self.end_at

    def label(self, frequency: str) -> str:
        return label_of(self, frequency)


class PeriodError(ValueError):
    """A frequency or label that cannot be understood; the message says what is accepted."""


def _check(frequency: str) -> None:
    if frequency not in FREQUENCIES:
        raise PeriodError(f"unknown frequency {frequency!r}; use one of {', '.join(FREQUENCIES)}")


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + (day.month - 1) + months
    return dt.date(index // 12, index % 12 + 1, 1)


def period_of(moment: dt.datetime | dt.date, frequency: str) -> Period:
    """The period of `frequency` that contains `moment` (aware datetimes are taken in UTC)."""
    _check(frequency)
    if isinstance(moment, dt.datetime):
        if moment.tzinfo is None:
            raise PeriodError("a moment needs a time zone")
        day = moment.astimezone(dt.UTC).date()
    else:
        day = moment
    if frequency == "weekly":
        start = day - dt.timedelta(days=day.weekday())  # ISO weeks start on Monday
        return Period(start, start + dt.timedelta(days=7))
    months = _MONTHS_PER[frequency]
    first_month = (day.month - 1) // months * months + 1
    start = dt.date(day.year, first_month, 1)
    return Period(start, _add_months(start, months))


def periods_between(start: dt.date, end: dt.date, frequency: str) -> list[Period]:
    """Every period that overlaps [start, end), in order."""
    return list(iter_periods(start, end, frequency))


def iter_periods(start: dt.date, end: dt.date, frequency: str) -> Iterator[Period]:
    if end <= start:
        return
    period = period_of(start, frequency)
    while period.start < end:
        yield period
        period = period_of(period.end, frequency)


def spans(periods: Iterable[Period]) -> list[tuple[dt.datetime, dt.datetime]]:
    """Adjacent periods merged into time spans: a refresh of January 2020 and June 2026 reads two months,
    not the six years between them."""
    out: list[tuple[dt.datetime, dt.datetime]] = []
    for period in sorted(periods):
        if out and out[-1][1] >= period.start_at:
            out[-1] = (out[-1][0], max(out[-1][1], period.end_at))
        else:
            out.append((period.start_at, period.end_at))
    return out


def label_of(period: Period, frequency: str) -> str:
    _check(frequency)
    start = period.start
    if frequency == "weekly":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if frequency == "monthly":
        return f"{start.year}-{start.month:02d}"
    if frequency == "quarterly":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    if frequency == "semiannual":
        return f"{start.year}-S{(start.month - 1) // 6 + 1}"
    return f"{start.year}"


_LABELS = (
    (re.compile(r"^(\d{4})-W(\d{2})$"), "weekly"),
    (re.compile(r"^(\d{4})-(\d{2})$"), "monthly"),
    (re.compile(r"^(\d{4})-Q([1-4])$"), "quarterly"),
    (re.compile(r"^(\d{4})-S([12])$"), "semiannual"),
    (re.compile(r"^(\d{4})$"), "annual"),
)
LABEL_HELP = "a period label such as 2026, 2026-S1, 2026-Q2, 2026-03 or 2026-W09"


def parse_label(text: str) -> tuple[Period, str]:
    """A label (2026, 2026-S1, 2026-Q2, 2026-03, 2026-W09) as its period and frequency."""
    value = (text or "").strip().upper()
    for pattern, frequency in _LABELS:
        match = pattern.match(value)
        if not match:
            continue
        year = int(match.group(1))
        try:
            if frequency == "annual":
                return period_of(dt.date(year, 1, 1), frequency), frequency
            number = int(match.group(2))
            if frequency == "weekly":
                return period_of(dt.date.fromisocalendar(year, number, 1), frequency), frequency
            if frequency == "monthly":
                return period_of(dt.date(year, number, 1), frequency), frequency
            months = _MONTHS_PER[frequency]
            return period_of(dt.date(year, (number - 1) * months + 1, 1), frequency), frequency
        except ValueError:
            break
    raise PeriodError(f"{text!r} is not {LABEL_HELP}")
