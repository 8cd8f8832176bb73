"""Reading the exchange templates (requirement S13 / X4): .xlsx workbooks and UTF-8 CSV.

Every import (units, roster, funding, purchases, bodies) goes through the same three steps
here before its own checks:

1. :func:`read_table` turns the uploaded bytes into a header list and rows of raw cell
   values, each with the row number the user sees in Excel (the header is normally row
   1). Workbooks are read with python-calamine (first sheet); cell types are kept
   (``str``, ``float``, ``int``, ``bool``, ``date``, ``datetime``). CSV cells are text.
2. :class:`Template` (a tuple of :class:`Column` specs: Chinese header, field name,
   required, coercer) checks the header row — unknown, missing and duplicated columns,
   each reported — and then coerces every cell of every row, collecting **all** cell
   errors with row, column header, value and a stable code.
3. The import validates the records (batched look-ups), reports everything, and only then
   writes. :class:`ImportResult` is the common answer of every import.

Coercers are plain functions ``raw cell -> value`` raising :class:`CellError`; blank cells
never reach them (they become ``None``, or the ``required`` error for required columns).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import io
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from django.utils.translation import gettext_lazy as _

from .codes import ID_NUMERIC_CELL, CodeError, validate_uscc
from .errors import (
    INVALID_CHOICE,
    INVALID_DATE,
    INVALID_INTEGER,
    REQUIRED,
    TOO_LONG,
    BianzhiError,
    ErrorDetail,
    define,
)

FILE_UNREADABLE = define(
    "file_unreadable",
    _("The file could not be read: upload an Excel workbook (.xlsx) or a CSV file saved as UTF-8."),
)
FILE_EMPTY = define("file_empty", _("The file has no data rows below the header row."))
UNKNOWN_COLUMN = define(
    "unknown_column", _("Unknown column “%(column)s”: use exactly the column names of the template.")
)
MISSING_COLUMN = define("missing_column", _("The required column “%(column)s” is missing."))
DUPLICATE_COLUMN = define("duplicate_column", _("The column “%(column)s” appears more than once."))
DUPLICATE_KEY = define("duplicate_key", _("The same key already appears in row %(first)s of the file."))
INVALID_TEXT = define("invalid_text", _("Enter text here, not a number, date or true/false value."))

#: The signatures of the workbook formats calamine reads (zip-based xlsx/ods, OLE2 xls).
_WORKBOOK_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
_WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
_CSV_SUFFIXES = (".csv", ".txt")


class CellError(ValueError):
    """A cell value a coercer refuses; ``code`` is a stable error code."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


Coercer = Callable[[Any], Any]


# --------------------------------------------------------------------------- reading


@dataclass
class Table:
    """The first sheet of a file: normalised headers and rows of raw cells.

    ``rows`` holds ``(row number, cells)``; ``cells`` is aligned with ``headers`` (padded
    with ``""``). Entirely blank rows are dropped, but numbering is kept as in Excel.
    """

    headers: list[str]
    header_row: int
    rows: list[tuple[int, list[Any]]]
    format: str


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def normalise_header(value: Any) -> str:
    """Header cells: surrounding spaces and a required-marker ``*`` are not part of the name."""
    if is_blank(value):
        return ""
    try:
        name = as_text(value)
    except CellError:
        name = str(value)
    return "".join(name.split()).strip("*＊")


def column_letter(index: int) -> str:
    """0 → ``A``, 25 → ``Z``, 26 → ``AA``."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _unreadable() -> BianzhiError:
    return BianzhiError(FILE_UNREADABLE)


def _empty() -> BianzhiError:
    return BianzhiError(FILE_EMPTY)


def _looks_like_workbook(data: bytes, filename: str) -> bool:
    name = filename.lower()
    if name.endswith(_CSV_SUFFIXES) and not data.startswith(_WORKBOOK_MAGIC):
        return False
    return name.endswith(_WORKBOOK_SUFFIXES) or data.startswith(_WORKBOOK_MAGIC)


def _read_workbook(data: bytes) -> list[list[Any]]:
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        try:
            sheet = workbook.get_sheet_by_index(0)
            # skip_empty_area=False: row 0 of the answer is Excel's row 1, whatever is blank.
            return sheet.to_python(skip_empty_area=False)
        finally:
            workbook.close()
    except Exception as exc:  # calamine raises CalamineError, ZipError, XmlError, … for bad files
        raise _unreadable() from exc


def _read_csv(data: bytes) -> list[list[Any]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _unreadable() from exc
    try:
        return [list(record) for record in csv.reader(io.StringIO(text, newline=""))]
    except csv.Error as exc:
        raise _unreadable() from exc


def read_table(data: bytes, filename: str = "") -> Table:
    """Read the first sheet of a workbook, or a UTF-8 CSV (with or without BOM).

    Raises :class:`~bianzhi.common.errors.BianzhiError` with ``file_unreadable`` (not a
    workbook, truncated or corrupt, not UTF-8, or text with a NUL character — a UTF-16 file
    saved as .csv, or a damaged one; PostgreSQL text cannot hold one either) or
    ``file_empty`` (no header, or no data row below it). The header row is the first
    non-blank row.
    """
    if not data or not data.strip():
        raise _empty()
    workbook = _looks_like_workbook(data, filename)
    grid = _read_workbook(data) if workbook else _read_csv(data)
    if any(isinstance(cell, str) and "\x00" in cell for cells in grid for cell in cells):
        raise _unreadable()
    header_index = next((i for i, cells in enumerate(grid) if not all(is_blank(c) for c in cells)), None)
    if header_index is None:
        raise _empty()
    headers = [normalise_header(h) for h in grid[header_index]]
    rows: list[tuple[int, list[Any]]] = [
        (index + 1, grid[index])
        for index in range(header_index + 1, len(grid))
        if not all(is_blank(c) for c in grid[index])
    ]
    if not rows:
        raise _empty()
    # CSV records may be shorter or longer than the header: pad everything to one width,
    # so that cells under a missing header are still seen (and reported).
    width = max(len(headers), *(len(cells) for _, cells in rows))
    headers += [""] * (width - len(headers))
    rows = [(row, cells if len(cells) == width else [*cells, *([""] * (width - len(cells)))])
            for row, cells in rows]
    return Table(headers=headers, header_row=header_index + 1, rows=rows,
                 format="xlsx" if workbook else "csv")


# --------------------------------------------------------------------------- coercers


def as_text(value: Any) -> str:
    """Text of a cell: whole numbers lose their ``.0``; dates become ISO dates."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        raise CellError(INVALID_TEXT)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ") if value.time() != dt.time() else value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    raise CellError(INVALID_TEXT)


def text(max_length: int | None = None) -> Coercer:
    """A text coercer refusing longer values with ``too_long``."""

    def coerce(value: Any) -> str:
        result = as_text(value)
        if max_length is not None and len(result) > max_length:
            raise CellError(TOO_LONG, max=max_length)
        return result

    return coerce


_SCIENTIFIC = re.compile(r"^\d(\.\d+)?E\+?\d+$", re.IGNORECASE)


def as_code(value: Any) -> str:
    """A code column (USCC, ID number …): a numeric cell is ``numeric_code_cell``.

    An 18-digit code stored as an Excel number has lost its last digits (a double holds
    15–17 significant digits), so it cannot be repaired, only re-entered as text. The same
    goes for text that Excel already turned into scientific notation (``9.1440106E+17``).
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise CellError(ID_NUMERIC_CELL)
    result = "".join(as_text(value).split()).upper()
    if _SCIENTIFIC.match(result):
        raise CellError(ID_NUMERIC_CELL)
    return result


@functools.lru_cache(maxsize=65_536)
def _checked_uscc(code: str) -> tuple[str, str | None]:
    try:
        return validate_uscc(code), None
    except CodeError as exc:
        return code, exc.code


def as_uscc(value: Any) -> str:
    """A GB 32100 unified social credit code, check characters verified.

    Results are cached: a file names the same parent unit on many rows.
    """
    code, error = _checked_uscc(as_code(value))
    if error is not None:
        raise CellError(error)
    return code


_INTEGER_TEXT = re.compile(r"^\+?(\d+)(\.0*)?$")


def non_negative_int(maximum: int = 2_147_483_647, code: str = INVALID_INTEGER) -> Coercer:
    """Whole numbers ≥ 0: ``12``, ``12.0`` and ``"12"`` are 12; ``-1``, ``1.5``, ``"abc"`` are not."""

    def coerce(value: Any) -> int:
        number: int | None = None
        if isinstance(value, bool):
            number = None
        elif isinstance(value, int):
            number = value
        elif isinstance(value, float):
            number = int(value) if value.is_integer() else None
        elif isinstance(value, str):
            match = _INTEGER_TEXT.match(value.strip().replace(",", ""))
            # More digits than the maximum has is out of range; int() of over 4,300 digits would raise.
            digits = match.group(1).lstrip("0") if match else None
            number = int(digits or "0") if digits is not None and len(digits) <= len(str(maximum)) else None
        if number is None or number < 0 or number > maximum:
            raise CellError(code)
        return number

    return coerce


as_non_negative_int = non_negative_int()


_DATE_TEXT = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$"),
)


def as_date(value: Any) -> dt.date:
    """Excel date cells, or text ``YYYY-MM-DD``, ``YYYY/MM/DD``, ``YYYY.MM.DD``, ``YYYY年M月D日``.

    A date-time cell or text with a midnight time (``2021-03-04 00:00:00``, as spreadsheet
    programs write dates into CSV) is the date. Plain numbers are refused: a serial number
    is only a date when the cell is formatted as one.
    """
    if isinstance(value, dt.datetime):
        if value.time() != dt.time():
            raise CellError(INVALID_DATE)
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise CellError(INVALID_DATE)
    candidate = "".join(value.split())
    if candidate.endswith("00:00:00"):
        candidate = candidate[: -len("00:00:00")]
    for pattern in _DATE_TEXT:
        match = pattern.match(candidate)
        if match:
            try:
                return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
            except ValueError:
                break
    raise CellError(INVALID_DATE)


def choice(mapping: dict[str, str]) -> Coercer:
    """One of a fixed vocabulary: ``mapping`` is template word → stored value.

    The stored values themselves are accepted too, so an export re-imports unchanged.
    """
    accepted = dict(mapping)
    for stored in mapping.values():
        accepted.setdefault(stored, stored)
    allowed = " / ".join(mapping)

    def coerce(value: Any) -> str:
        word = as_text(value)
        try:
            return accepted[word]
        except KeyError:
            raise CellError(INVALID_CHOICE, allowed=allowed) from None

    return coerce


# --------------------------------------------------------------------------- templates


@dataclass(frozen=True)
class Column:
    """One column of an exchange template.

    ``header`` is the Chinese column name of the template, ``field`` the name the import
    code uses, ``required`` means the column must be present *and* every row must fill
    it, and ``coerce`` turns a non-blank raw cell into a value or raises :class:`CellError`.
    """

    header: str
    field: str
    required: bool = False
    coerce: Coercer = as_text


@dataclass(slots=True)
class Record:
    """One data row after coercion: ``values[field]`` is ``None`` when blank or bad."""

    row: int
    values: dict[str, Any]
    raw: dict[str, Any]
    bad: set[str]

    @property
    def ok(self) -> bool:
        return not self.bad


class Template:
    """An exchange template: its columns, the header check and the cell coercion."""

    def __init__(self, columns: Sequence[Column]) -> None:
        self.columns = tuple(columns)
        self.by_header = {c.header: c for c in self.columns}
        self.by_field = {c.field: c for c in self.columns}
        if len(self.by_header) != len(self.columns) or len(self.by_field) != len(self.columns):
            raise ValueError("duplicate header or field in template")

    def header(self, field_name: str) -> str:
        return self.by_field[field_name].header

    def header_errors(self, table: Table) -> list[ErrorDetail]:
        """Unknown, duplicated and missing columns, each one reported."""
        errors: list[ErrorDetail] = []
        seen: set[str] = set()
        for index, header in enumerate(table.headers):
            if not header:
                if any(index < len(cells) and not is_blank(cells[index]) for _, cells in table.rows):
                    letter = column_letter(index)
                    errors.append(ErrorDetail(UNKNOWN_COLUMN, field=letter, value="", row=table.header_row,
                                              params={"column": letter}))
                continue
            if header not in self.by_header:
                errors.append(ErrorDetail(UNKNOWN_COLUMN, field=header, value=header, row=table.header_row,
                                          params={"column": header}))
            elif header in seen:
                errors.append(ErrorDetail(DUPLICATE_COLUMN, field=header, value=header, row=table.header_row,
                                          params={"column": header}))
            seen.add(header)
        for column in self.columns:
            if column.required and column.header not in seen:
                errors.append(ErrorDetail(MISSING_COLUMN, field=column.header, row=table.header_row,
                                          params={"column": column.header}))
        return errors

    def records(self, table: Table, errors: list[ErrorDetail]) -> Iterator[Record]:
        """Coerce every row; cell errors are appended to ``errors``. Call after the header check."""
        positions = [
            (index, self.by_header[header])
            for index, header in enumerate(table.headers)
            if header in self.by_header
        ]
        present = {column.field for _, column in positions}
        absent = [c.field for c in self.columns if c.field not in present]
        for row, cells in table.rows:
            values: dict[str, Any] = dict.fromkeys(absent)
            raw: dict[str, Any] = dict.fromkeys(absent)
            bad: set[str] = set()
            for index, column in positions:
                cell = cells[index]
                raw[column.field] = cell
                if is_blank(cell):
                    values[column.field] = None
                    if column.required:
                        bad.add(column.field)
                        errors.append(ErrorDetail(REQUIRED, field=column.header, value=None, row=row))
                    continue
                try:
                    values[column.field] = column.coerce(cell)
                except CellError as exc:
                    values[column.field] = None
                    bad.add(column.field)
                    errors.append(ErrorDetail(exc.code, field=column.header, value=cell, row=row,
                                              params=exc.params))
            yield Record(row=row, values=values, raw=raw, bad=bad)

    def error(self, record: Record, field_name: str, code: str, **params: Any) -> ErrorDetail:
        """An error about one cell of a record, for the import's own checks."""
        record.bad.add(field_name)
        return ErrorDetail(code, field=self.header(field_name), value=record.raw.get(field_name),
                           row=record.row, params=params)

    def order_key(self) -> Callable[[ErrorDetail], tuple[int, int]]:
        """Sort errors by row, then by template column order."""
        order = {c.header: i for i, c in enumerate(self.columns)}

        def key(error: ErrorDetail) -> tuple[int, int]:
            return (error.row or 0, order.get(error.field or "", -1))

        return key


# --------------------------------------------------------------------------- results


@dataclass(slots=True)
class Change:
    """One row of an import preview.

    ``action`` is ``create`` or ``update``; for an update, ``fields`` maps the column
    header to ``(old, new)``. A created row's values are the row itself, so ``fields`` is
    left empty for it (it keeps a 50,000-row preview small).
    """

    row: int
    key: str
    label: str
    action: str
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "key": self.key, "label": self.label, "action": self.action,
                "fields": {k: [_plain(o), _plain(n)] for k, (o, n) in self.fields.items()}}


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


@dataclass
class ImportResult:
    """What every import answers: counts, all errors (nothing written when any), preview."""

    kind: str
    filename: str
    sha256: str
    dry_run: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[ErrorDetail] = field(default_factory=list)
    preview: list[Change] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def committed(self) -> bool:
        return self.ok and not self.dry_run

    @property
    def unreadable(self) -> bool:
        return any(e.code == FILE_UNREADABLE for e in self.errors)

    def counts(self) -> dict[str, int]:
        return {"rows": self.rows, "created": self.created, "updated": self.updated,
                "unchanged": self.unchanged}

    def as_dict(self, *, preview: bool = False) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "kind": self.kind, "file": self.filename, "sha256": self.sha256, "dry_run": self.dry_run,
            "committed": self.committed, **self.counts(), "errors": [e.as_dict() for e in self.errors],
        }
        if preview:
            answer["preview"] = [c.as_dict() for c in self.preview]
        return answer


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """Slices of at most ``size`` items (for batched ``IN (…)`` look-ups)."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Lists of at most ``size`` items from any iterable (``itertools.batched`` of Python 3.12)."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
