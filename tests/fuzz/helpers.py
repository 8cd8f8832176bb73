"""Shared by the fuzz tests: the row count of every table, and workbooks built in memory."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from typing import Any

import xlsxwriter
from django.apps import apps
from django.db import connection


class Formula(str):
    """A cell written as a real formula (its cached value is what a reader sees)."""


def tables() -> list[str]:
    return sorted({m._meta.db_table for m in apps.get_models() if m._meta.managed and not m._meta.proxy})


def row_counts() -> dict[str, int]:
    """The number of rows of every table of the project (audit events included), in one query."""
    names = tables()
    quote = connection.ops.quote_name
    sql = "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {quote(t)})" for t in names)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        row = cursor.fetchone()
    return dict(zip(names, row, strict=True))


def changed_rows(before: dict[str, int], after: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {t: (n, after[t]) for t, n in before.items() if after.get(t) != n}


def xlsx(grid: Sequence[Sequence[Any]]) -> bytes:
    """A one-sheet workbook in memory, each cell written with its own type: ``str`` as text
    (a leading ``=`` stays text), :class:`Formula` as a formula, ``bool``/``int``/``float`` as
    booleans and numbers (NaN and infinities become Excel errors), dates and times as
    date-formatted numbers, ``None`` left blank."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "nan_inf_to_errors": True,
                                        "strings_to_formulas": False, "strings_to_numbers": False,
                                        "strings_to_urls": False})
    sheet = book.add_worksheet("Sheet1")
    date_format = book.add_format({"num_format": "yyyy-mm-dd"})
    datetime_format = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    for r, cells in enumerate(grid):
        for c, value in enumerate(cells):
            if value is None:
                continue
            if isinstance(value, Formula):
                sheet.write_formula(r, c, str(value))
            elif isinstance(value, str):
                sheet.write_string(r, c, value)
            elif isinstance(value, bool):
                sheet.write_boolean(r, c, value)
            elif isinstance(value, (int, float)):
                sheet.write_number(r, c, value)
            elif isinstance(value, dt.datetime):
                sheet.write_datetime(r, c, value, datetime_format)
            elif isinstance(value, (dt.date, dt.time)):
                sheet.write_datetime(r, c, value, date_format)
            else:
                raise TypeError(f"cannot write {value!r}")
    book.close()
    return buffer.getvalue()


def csv_bytes(grid: Sequence[Sequence[Any]]) -> bytes:
    """The same grid as a UTF-8 CSV with BOM (cells as text, quoted when needed)."""
    import csv

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for cells in grid:
        writer.writerow(["" if v is None else str(v) for v in cells])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
