"""What every importer shares: options, parsed rows, file-level errors and a forgiving CSV reader. Pure: no Django.

An importer turns a file into record payloads (the shape of `schema.RecordCreate`) one row at a time. A row
it cannot read becomes a list of problems (row, field, message) and the import goes on; only a file that
cannot be read at all (not text, not the expected layout, required columns missing) raises ImportFileError.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from sitaware.records.taxonomy import Taxonomy

# Enough to hold a long narrative, small enough that a runaway quote cannot swallow memory.
csv.field_size_limit(1_000_000)
SNIFF_BYTES = 64 * 1024


class ImportFileError(ValueError):
    """The file as a whole cannot be imported; the job fails with this message."""

    def __init__(self, message: str, *, field: str = "file", row: int | None = None):
        self.field = field
        self.row = row
        super().__init__(message)

    def as_problem(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "message": str(self)}


@dataclass(frozen=True)
class ImportOptions:
    """Choices made for a whole file. `sensitivity` and `status` fill rows that do not give their own."""

    taxonomy: Taxonomy
    sensitivity: int | None = None
    status: str | None = None
    reporting_unit: str | None = None


@dataclass
class ParsedRow:
    """One row of the file: a payload to upsert, or the problems that stopped it."""

    row: int
    payload: dict[str, Any] | None = None
    problems: list[dict[str, Any]] = field(default_factory=list)


class Importer(ABC):
    """One file format. Subclasses read `self.path` and yield ParsedRows in file order."""

    format: ClassVar[str]
    label: ClassVar[str]

    def __init__(self, path: Path, options: ImportOptions) -> None:
        self.path = Path(path)
        self.options = options
        # Things worth telling the user once, e.g. columns that were ignored.
        self.notes: list[str] = []

    @abstractmethod
    def count(self) -> int:
        """How many rows the file holds (for progress); raises ImportFileError if it cannot be read."""

    @abstractmethod
    def rows(self) -> Iterator[ParsedRow]:
        """Every row, good or bad, in file order."""


# ---------------------------------------------------------------- reading text files


def check_text(path: Path, what: str) -> None:
    """Refuse binary files up front, with a message that says what was expected."""
    try:
        head = path.open("rb").read(SNIFF_BYTES)
    except OSError as exc:
        raise ImportFileError(f"cannot read the file: {exc.strerror or exc}") from None
    if not head.strip():
        raise ImportFileError(f"the file is empty; expected {what}")
    if b"\x00" in head:
        raise ImportFileError(f"this is not {what}: it contains binary data (is it a spreadsheet or an archive? "
                              "save it as CSV UTF-8 first)")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the sniff window is fine; anything earlier is not UTF-8.
        if exc.start < len(head) - 4:
            raise ImportFileError(f"this is not {what} in UTF-8 (byte {exc.start} is not UTF-8); "
                                  "save it with the UTF-8 encoding") from None


def _is_hxl_row(cells: list[str]) -> bool:
    filled = [c.strip() for c in cells if c.strip()]
    return bool(filled) and all(c.startswith("#") for c in filled)


@dataclass
class CsvTable:
    """A CSV file read as header + rows, tolerant of bad rows. `hxl` holds the hashtag row if there is one."""

    path: Path
    header: list[str] = field(default_factory=list)
    hxl: list[str] = field(default_factory=list)

    def _records(self) -> Iterator[tuple[int, list[str] | None, str | None]]:
        """(spreadsheet row number, cells or None, error) for every record after the header (row 1)."""
        with self.path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, strict=True)
            number = 0
            while True:
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    number += 1
                    yield number, None, f"malformed CSV near line {reader.line_num}: {exc}"
                    continue
                except UnicodeDecodeError as exc:
                    raise ImportFileError(
                        f"the file is not UTF-8 text after row {number}: {exc.reason}; save it with the UTF-8 "
                        "encoding", row=number + 1) from None
                number += 1
                if not any(c.strip() for c in cells):
                    # Blank lines and rows of bare commas (spreadsheets add them) hold no data.
                    continue
                yield number, cells, None

    def open(self, what: str) -> Iterator[tuple[int, list[str] | None, str | None]]:
        """Read the header (and HXL row if present); yield the data rows after them."""
        check_text(self.path, what)
        records = self._records()
        first = next(records, None)
        if first is None or first[1] is None or not any(c.strip() for c in first[1]):
            raise ImportFileError(f"the first row must be the column names of {what}", field="header", row=1)
        self.header = [c.strip() for c in first[1]]
        pending = next(records, None)
        if pending is not None and pending[1] is not None and _is_hxl_row(pending[1]):
            self.hxl = [c.strip() for c in pending[1]]
            pending = None
        if pending is not None:
            yield pending
        yield from records

    def count(self, what: str) -> int:
        return sum(1 for _ in self.open(what))


def require_columns(present: list[str] | set[str], required: tuple[str, ...], what: str) -> None:
    missing = [c for c in required if c not in present]
    if missing:
        raise ImportFileError(
            f"{what} needs the column(s) {', '.join(missing)}; the file has: {', '.join(present) or 'none'}",
            field="header", row=1,
        )


def row_shape_problem(row: int, cells: list[str], header: list[str]) -> dict[str, Any] | None:
    """A row whose cell count differs from the header's is misaligned: reading it would put values in the
    wrong fields, so it is reported instead."""
    if len(cells) > len(header) and any(c.strip() for c in cells[len(header):]):
        return {"row": row, "field": "row",
                "message": f"has {len(cells)} cells but the header has {len(header)} (an unquoted comma?)"}
    if len(cells) < len(header):
        return {"row": row, "field": "row",
                "message": f"has {len(cells)} cells but the header has {len(header)} (cut short?)"}
    if any("\x00" in c for c in cells):
        return {"row": row, "field": "row", "message": "contains a NUL character"}
    return None


class RowReader:
    """Typed access to one row's cells that collects every problem instead of stopping at the first."""

    def __init__(self, row: int, cells: dict[str, str]) -> None:
        self.row = row
        self.cells = cells
        self.problems: list[dict[str, Any]] = []

    def problem(self, field_name: str, message: str) -> None:
        self.problems.append({"row": self.row, "field": field_name, "message": message})

    def text(self, name: str, max_length: int | None = None) -> str:
        value = (self.cells.get(name) or "").strip()
        if max_length is not None and len(value) > max_length:
            # Outside datasets carry long source lists; keep what fits rather than refuse the event.
            value = value[: max_length - 1].rstrip() + "…"
        return value

    def required(self, name: str) -> str:
        value = self.text(name)
        if not value:
            self.problem(name, "is empty; every row needs it")
        return value

    def integer(self, name: str, *, default: int | None = None, minimum: int | None = None) -> int | None:
        raw = self.text(name)
        if not raw:
            if default is None:
                self.problem(name, "is empty; give a whole number")
            return default
        try:
            parsed = float(raw)
        except ValueError:
            self.problem(name, f"{raw!r} is not a whole number")
            return default
        if not parsed.is_integer():
            self.problem(name, f"{raw!r} is not a whole number")
            return default
        value = int(parsed)
        if minimum is not None and value < minimum:
            self.problem(name, f"{value} is below {minimum}")
            return default
        return value

    def number(self, name: str) -> float | None:
        raw = self.text(name)
        if not raw:
            self.problem(name, "is empty; give a number")
            return None
        try:
            value = float(raw)
        except ValueError:
            hint = " (use a decimal point, not a comma)" if "," in raw else ""
            self.problem(name, f"{raw!r} is not a number{hint}")
            return None
        if not math.isfinite(value):
            self.problem(name, f"{raw!r} is not a finite number")
            return None
        return value

    def coordinates(self, lat_name: str = "latitude", lon_name: str = "longitude") -> tuple[float, float] | None:
        lat, lon = self.number(lat_name), self.number(lon_name)
        if lat is None or lon is None:
            return None
        ok = True
        if not -90 <= lat <= 90:
            self.problem(lat_name, f"{lat} is outside -90..90 (are latitude and longitude swapped?)")
            ok = False
        if not -180 <= lon <= 180:
            self.problem(lon_name, f"{lon} is outside -180..180")
            ok = False
        return (lat, lon) if ok else None


def utc_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def parse_day(raw: str, formats: tuple[str, ...]) -> dt.date | None:
    """The calendar day of `raw`, trying ISO first (a time part, if any, is ignored), then `formats`."""
    text = raw.strip()
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        pass
    for fmt in formats:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


class FixedColumnsCsvImporter(Importer):
    """An importer for a CSV layout with named required columns (UCDP GED, ACLED): one row in, one record out."""

    required_columns: ClassVar[tuple[str, ...]] = ()

    def __init__(self, path, options: ImportOptions) -> None:
        super().__init__(path, options)
        self._table = CsvTable(self.path)

    def count(self) -> int:
        return self._table.count(self.label)

    def rows(self) -> Iterator[ParsedRow]:
        checked = False
        for number, cells, error in self._table.open(self.label):
            if not checked:
                require_columns(self._table.header, self.required_columns, self.label)
                checked = True
            if cells is None:
                yield ParsedRow(number, None, [{"row": number, "field": "row", "message": error}])
                continue
            shape = row_shape_problem(number, cells, self._table.header)
            if shape:
                yield ParsedRow(number, None, [shape])
                continue
            yield self._row(RowReader(number, dict(zip(self._table.header, cells, strict=False))))
        if not checked:
            require_columns(self._table.header, self.required_columns, self.label)

    @abstractmethod
    def _row(self, r: RowReader) -> ParsedRow:
        """Turn one well-shaped row into a payload, or into row errors."""

