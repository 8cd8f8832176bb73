"""The statistical report (统计报表) of a jurisdiction on a date, and the workbooks of the
statistics pages. The report's rows are the jurisdiction itself, its own level (本级) and each
sub-jurisdiction — or, for a county-level jurisdiction (or one without sub-jurisdictions), each
unit; its columns are the 23 indicators, the split ones expanded into one column per value."""

from __future__ import annotations

import datetime as dt
import decimal
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from bianzhi.divisions.models import Division
from bianzhi.orgs.choices import UnitStatus
from bianzhi.orgs.models import Unit
from bianzhi.staffing import selectors as staffing_selectors

from . import figures as fig
from . import selectors
from .compute import CODES
from .models import IndicatorDefinition
from .selectors import SPLITS

RATE_CODES = frozenset({"I05", "I06", "I07", "I18", "I21"})
MONEY_CODES = frozenset({"I19", "I20", "I22"})
UNIT_COUNT_CODES = frozenset({"I15", "I16", "I17", "I23"})  # counts of units, not of people


def kind_of(code: str) -> str:
    return "rate" if code in RATE_CODES else "money" if code in MONEY_CODES else "count"


def measure_of(code: str) -> str:
    """The unit of measure shown beside an indicator: 人, 个 (units), % or 元."""
    if code in RATE_CODES:
        return "%"
    if code in MONEY_CODES:
        return pgettext("unit of measure", "yuan")
    if code in UNIT_COUNT_CODES:
        return pgettext("unit of measure", "units")
    return pgettext("unit of measure", "people")


def default_names() -> dict[str, str]:
    """Chinese names of the 23 (the catalogue's rows; the code when the catalogue is not loaded)."""
    names = dict(IndicatorDefinition.objects.filter(jurisdiction_path="", code__in=CODES)
                 .values_list("code", "name"))
    return {code: names.get(code, code) for code in CODES}


def display(code: str, value: Any) -> str:
    """A value for the pages: counts with thousands separators, rates as percentages with 2
    decimals, money in yuan with 2 decimals; an unknown value (empty denominator) is a dash."""
    if value is None:
        return "—"
    kind = kind_of(code)
    if kind == "rate":
        return f"{(decimal.Decimal(str(value)) * 100).quantize(decimal.Decimal('0.01')):,.2f}%"
    if kind == "money":
        return f"{decimal.Decimal(str(value)):,.2f}"
    return f"{int(value):,}"


def cell_value(code: str, value: Any) -> Any:
    """A value for a workbook cell: numbers as numbers (rates as decimals shown as %)."""
    if value is None:
        return None
    if kind_of(code) == "money":
        return float(decimal.Decimal(str(value)))
    if kind_of(code) == "rate":
        return float(value)
    return int(value)


# ------------------------------------------------------------------------------ the report


@dataclass
class ReportRow:
    label: str
    code: str  # the division code, or the unit's unified social credit code
    role: str  # total | own | child | unit
    values: dict[str, Any]
    params: dict[str, str] = field(default_factory=dict)  # the drill-down parameters of this row


@dataclass
class ReportColumn:
    code: str
    name: str
    split: str | None = None

    @property
    def kind(self) -> str:
        return kind_of(self.code)

    @property
    def measure(self) -> str:
        return measure_of(self.code)

    def value(self, row: ReportRow) -> Any:
        value = row.values.get(self.code)
        if self.split is not None:
            return (value or {}).get(self.split, 0)
        return value


@dataclass
class Report:
    division: Division
    as_of: dt.date
    start: dt.date
    end: dt.date
    year: int
    rows: list[ReportRow]
    columns: list[ReportColumn]
    unit_rows: bool

    @property
    def title(self) -> str:
        return _("%(scope)s non-establishment staff statistical report") % {"scope": self.division.name}


def _dates(resolved: selectors.Resolved) -> dict[str, str]:
    q = resolved.query
    return {"as_of": q.as_of.isoformat(), "from": q.start.isoformat(), "to": q.end.isoformat(), "year": str(q.year)}


def build_report(*, actor: Any, scope: str, as_of: Any) -> Report:
    """The report of a jurisdiction as of a day; the period and the year are those of the day.
    Raises the selector's errors (an out-of-scope jurisdiction answers like a missing one)."""
    total, resolved, figures = selectors.indicators_for(actor=actor, scope=scope, as_of=as_of)
    q = resolved.query
    division = resolved.division
    dates = _dates(resolved)
    rows = [ReportRow(division.name, division.code, "total", total["indicators"], {"scope": division.code, **dates})]
    own, _r, _f = selectors.indicators_for(actor=actor, scope=division.code, as_of=q.as_of, own_level=True)
    rows.append(ReportRow(_("%(scope)s (own level)") % {"scope": division.name}, division.code, "own",
                          own["indicators"], {"scope": division.code, "own_level": "1", **dates}))
    unit_rows = fig.rows_are_units(division)
    if unit_rows:
        rules = staffing_selectors.ruleset_for(q.path, q.as_of)
        values = fig.per_unit_values(q, figures)
        units = sorted(Unit.objects.filter(pk__in=list(values)), key=lambda u: (u.name, u.uscc))
        for unit in units:
            v = values[unit.pk]
            if unit.status != UnitStatus.ACTIVE and not _any_figure(v):
                continue
            rows.append(ReportRow(unit.name, unit.uscc, "unit", fig.named(v, rules), {"unit": unit.uscc, **dates}))
    else:
        for child in fig.sub_jurisdictions(division):
            data, _r, _f = selectors.indicators_for(actor=actor, scope=child.code, as_of=q.as_of)
            rows.append(ReportRow(child.name, child.code, "child", data["indicators"], {"scope": child.code, **dates}))
    return Report(division, q.as_of, q.start, q.end, q.year, rows, report_columns(rows), unit_rows)


def _any_figure(values: dict[str, Any]) -> bool:
    for value in values.values():
        if isinstance(value, dict):
            if any(value.values()):
                return True
        elif value:
            return True
    return False


def report_columns(rows: Sequence[ReportRow]) -> list[ReportColumn]:
    names = default_names()
    columns: list[ReportColumn] = []
    for code in CODES:
        if code in SPLITS:
            keys: list[str] = []
            for row in rows:
                keys.extend(k for k in (row.values.get(code) or {}) if k not in keys)
            columns.extend(ReportColumn(code, names[code], key) for key in keys)
        else:
            columns.append(ReportColumn(code, names[code]))
    return columns


def column_groups(columns: Sequence[ReportColumn]) -> list[tuple[ReportColumn, int]]:
    """(first column, span) of each indicator: the header cell over its split columns."""
    groups: list[tuple[ReportColumn, int]] = []
    for column in columns:
        if groups and groups[-1][0].code == column.code:
            groups[-1] = (groups[-1][0], groups[-1][1] + 1)
        else:
            groups.append((column, 1))
    return groups


def report_workbook(report: Report, compiled_by: str, compiled_on: dt.date) -> bytes:
    """The report as an .xlsx: title, scope and dates, a two-row header (indicator, split value),
    the unit of measure row, the rows, and who compiled it when."""
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet(_("Statistical report")[:31])
    title_fmt = book.add_format({"bold": True, "font_size": 16, "align": "center", "valign": "vcenter"})
    head = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "align": "center",
                            "valign": "vcenter"})
    measure_fmt = book.add_format({"italic": True, "border": 1, "align": "center", "font_color": "#555555"})
    text = book.add_format({"border": 1})
    bold_text = book.add_format({"border": 1, "bold": True})
    formats = {
        "count": book.add_format({"border": 1, "num_format": "#,##0"}),
        "rate": book.add_format({"border": 1, "num_format": "0.00%"}),
        "money": book.add_format({"border": 1, "num_format": "#,##0.00"}),
    }
    bold_formats = {k: book.add_format({"border": 1, "bold": True, "num_format": f.num_format})
                    for k, f in formats.items()}
    columns = report.columns
    last = len(columns) + 1
    sheet.merge_range(0, 0, 0, last, report.title, title_fmt)
    sheet.set_row(0, 28)
    sheet.merge_range(1, 0, 1, last, _("Scope: %(scope)s (%(code)s)    As of: %(as_of)s    Period: %(start)s to "
                                       "%(end)s    Year: %(year)s") % {
        "scope": report.division.name, "code": report.division.code, "as_of": report.as_of.isoformat(),
        "start": report.start.isoformat(), "end": report.end.isoformat(), "year": report.year})
    header, sub = 3, 4
    sheet.merge_range(header, 0, sub, 0, _("Unit") if report.unit_rows else _("Jurisdiction"), head)
    sheet.merge_range(header, 1, sub, 1, _("Unified social credit code") if report.unit_rows else _("Code"), head)
    c = 2
    for column, span in column_groups(columns):
        label = f"{column.code} {column.name}"
        if column.split is None:
            sheet.merge_range(header, c, sub, c, label, head)
        else:
            if span > 1:
                sheet.merge_range(header, c, header, c + span - 1, label, head)
            else:
                sheet.write(header, c, label, head)
            for i in range(span):
                sheet.write(sub, c + i, columns[c - 2 + i].split, head)
        c += span
    sheet.set_row(header, 48)
    sheet.set_row(sub, 32)
    measure_row = sub + 1
    sheet.write(measure_row, 0, _("Unit of measure"), measure_fmt)
    sheet.write(measure_row, 1, "", measure_fmt)
    for i, column in enumerate(columns):
        sheet.write(measure_row, 2 + i, column.measure, measure_fmt)
    r = measure_row + 1
    for row in report.rows:
        strong = row.role in ("total", "own")
        sheet.write_string(r, 0, row.label, bold_text if strong else text)
        sheet.write_string(r, 1, row.code, bold_text if strong else text)
        for i, column in enumerate(columns):
            value = cell_value(column.code, column.value(row))
            fmt = (bold_formats if strong else formats)[column.kind]
            if value is None:
                sheet.write_blank(r, 2 + i, None, fmt)
            else:
                sheet.write_number(r, 2 + i, value, fmt)
        r += 1
    r += 1
    sheet.write(r, 0, _("Compiled by: %(user)s    Compiled on: %(date)s") % {
        "user": compiled_by, "date": compiled_on.isoformat()})
    sheet.write(r + 1, 0, _("Rates are shown as percentages; an empty cell is a rate whose denominator is 0."))
    sheet.set_column(0, 0, 30)
    sheet.set_column(1, 1, 22)
    sheet.set_column(2, last, 12)
    sheet.freeze_panes(measure_row + 1, 2)
    sheet.set_landscape()
    sheet.fit_to_pages(1, 0)
    book.close()
    return buffer.getvalue()


# ------------------------------------------------------------------------------ the indicator table


@dataclass
class TableRow:
    code: str
    name: str
    item: str  # the split value, or ""
    value: Any
    measure: str


def indicators_workbook(title: str, subtitle: str, rows: Sequence[TableRow], exported: str) -> bytes:
    """The indicator table as an .xlsx, each value typed (counts, % and yuan formats)."""
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet(_("Indicators")[:31])
    head = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    formats = {"count": book.add_format({"num_format": "#,##0"}), "rate": book.add_format({"num_format": "0.00%"}),
               "money": book.add_format({"num_format": "#,##0.00"})}
    local_fmt = book.add_format({"num_format": "#,##0.####"})
    sheet.write(0, 0, title, book.add_format({"bold": True, "font_size": 14}))
    sheet.write(1, 0, subtitle)
    sheet.write(2, 0, exported)
    for c, label in enumerate((_("Code"), _("Indicator"), _("Item"), _("Value"), _("Unit of measure"))):
        sheet.write(4, c, label, head)
    r = 5
    for row in rows:
        sheet.write_string(r, 0, row.code)
        sheet.write_string(r, 1, row.name)
        sheet.write_string(r, 2, row.item)
        local = row.code not in CODES
        value = (None if row.value is None else float(row.value)) if local else cell_value(row.code, row.value)
        if value is None:
            sheet.write_blank(r, 3, None)
        else:
            sheet.write_number(r, 3, value, local_fmt if local else formats[kind_of(row.code)])
        sheet.write_string(r, 4, row.measure)
        r += 1
    sheet.set_column(0, 0, 8)
    sheet.set_column(1, 1, 28)
    sheet.set_column(2, 2, 18)
    sheet.set_column(3, 3, 16)
    sheet.set_column(4, 4, 10)
    book.close()
    return buffer.getvalue()
