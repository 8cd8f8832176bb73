"""Excel export (XlsxWriter): every list exports exactly what is filtered."""

from __future__ import annotations

import datetime as dt
import decimal
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.http import HttpResponse
from django.utils import timezone

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Column:
    header: str
    width: int = 14
    kind: str = "text"  # text | int | money | date


def workbook_bytes(title: str, columns: Sequence[Column], rows: Iterable[Sequence[Any]],
                   subtitle: str = "") -> bytes:
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "constant_memory": True})
    sheet = book.add_worksheet((title or "Sheet1")[:31])
    bold = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    title_fmt = book.add_format({"bold": True, "font_size": 14})
    date_fmt = book.add_format({"num_format": "yyyy-mm-dd"})
    int_fmt = book.add_format({"num_format": "#,##0"})
    money_fmt = book.add_format({"num_format": "#,##0.00"})
    sheet.write(0, 0, title, title_fmt)
    sheet.write(1, 0, subtitle)
    for c, column in enumerate(columns):
        sheet.set_column(c, c, column.width)
        sheet.write(3, c, column.header, bold)
    r = 4
    for row in rows:
        for c, value in enumerate(row):
            kind = columns[c].kind if c < len(columns) else "text"
            if value is None or value == "":
                sheet.write_blank(r, c, None)
            elif kind == "date" and isinstance(value, dt.date):
                sheet.write_datetime(r, c, dt.datetime.combine(value, dt.time()), date_fmt)
            elif kind == "int" and isinstance(value, int):
                sheet.write_number(r, c, value, int_fmt)
            elif kind == "money" and isinstance(value, (int, float, decimal.Decimal)):
                sheet.write_number(r, c, float(value), money_fmt)
            else:
                # Codes (USCC, ID numbers) are always written as text so no digit is lost.
                sheet.write_string(r, c, str(value))
        r += 1
    book.close()
    return buffer.getvalue()


def exported_on(actor: Any) -> str:
    """The subtitle of an exported list: who exported it and when."""
    from django.utils.translation import gettext

    return gettext("Exported on %(date)s by %(user)s") % {"date": timezone.localdate().isoformat(), "user": str(actor)}


def xlsx_response(filename: str, title: str, columns: Sequence[Column], rows: Iterable[Sequence[Any]],
                  subtitle: str = "") -> HttpResponse:
    content = workbook_bytes(title, columns, rows, subtitle=subtitle)
    stamp = timezone.localdate().strftime("%Y%m%d")
    name = f"{filename}-{stamp}.xlsx"
    response = HttpResponse(content, content_type=XLSX_MIME)
    response["Content-Disposition"] = f"attachment; filename=\"export-{stamp}.xlsx\"; filename*=UTF-8''{quote(name)}"
    return response
