"""The annual analysis (年度分析) of a jurisdiction and year — the "5 problems, 4 measures" material
of the seed — and the sentences that state an alert's finding.

:func:`annual_analysis` gathers everything the page, the Word document (docxtpl, from the template
``templates/stats/analysis/annual_analysis.docx``) and the PDF (WeasyPrint) show, already worded
and formatted, so the three say exactly the same:

一、基本情况  the 23 indicators as of 31 December of the year (today for the current year), the
              period being the year, beside the previous year's;
二、主要变化  the headcount (I01) at each year end from the baseline year to the year, against the
              frozen stock baseline (I03);
三、存在的问题 the alerts raised in the year in the scope, per category: counts and up to three
              example units with their finding;
四、下一步措施 the measures of ``data/measures.yaml`` (an office edits that file).

Every word comes through Django's i18n (English msgids); Chinese comes only from data (rule names,
unit names, the measures).
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
from pathlib import Path
from typing import Any

import yaml
from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from bianzhi.accounts.permissions import require
from bianzhi.common.scoping import scope_of, scoped
from bianzhi.common.templatetags.bianzhi import date_zh
from bianzhi.divisions.choices import Level
from bianzhi.divisions.models import Division
from bianzhi.staffing import selectors as staffing_selectors
from bianzhi.staffing.choices import RuleTable
from bianzhi.staffing.models import Spell
from bianzhi.staffing.rules import RuleSet

from . import alerts, selectors
from .compute import CODES, counting_q, rate
from .models import Alert

DATA_DIR = Path(__file__).resolve().parent / "data"
MEASURES_FILE = DATA_DIR / "measures.yaml"
INDICATORS_FILE = DATA_DIR / "indicators.yaml"
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates" / "stats" / "analysis"
DOCX_TEMPLATE = TEMPLATE_DIR / "annual_analysis.docx"
PDF_TEMPLATE = "stats/analysis/annual_analysis_pdf.html"

EXAMPLES_PER_KIND = 3
UNIT_COUNTS = frozenset({"I15", "I16", "I17", "I23"})  # counts of units, not of people
RATES = frozenset({"I05", "I06", "I07", "I18", "I21"})
MONEY = frozenset({"I19", "I20", "I22"})
SPLITS = ("I08", "I09", "I13")
DASH = "—"

_DIGITS = "零一二三四五六七八九"


def cn_number(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 21 → 二十一 (1–99), for the numbering 一、（一）of a document."""
    if not 0 < n < 100:
        return str(n)
    tens, ones = divmod(n, 10)
    text = ("" if tens == 1 else _DIGITS[tens]) + "十" if tens else ""
    return text + (_DIGITS[ones] if ones else "")


# ------------------------------------------------------------------------------------ formatting


def fmt_count(value: Any) -> str:
    return DASH if value is None else f"{int(value):,}"


def fmt_signed(value: Any) -> str:
    """A change with its sign: +3, -2, and 0 without one."""
    if value is None:
        return DASH
    return f"{int(value):+,}" if int(value) else "0"


def fmt_rate(value: Any) -> str:
    """A rate (a number with 4 decimals) as a percentage with 2 decimals: -0.1429 → -14.29%."""
    if value is None:
        return DASH
    return f"{decimal.Decimal(str(value)) * 100:.2f}%"


def fmt_money(value: Any) -> str:
    return DASH if value is None else f"{decimal.Decimal(str(value)):,.2f}"


def fmt_value(code: str, value: Any) -> str:
    if code in RATES:
        return fmt_rate(value)
    if code in MONEY:
        return fmt_money(value)
    if isinstance(value, dict):
        return fmt_count(sum(value.values()))
    return fmt_count(value)


def fmt_change(code: str, current: Any, previous: Any) -> str:
    """This year against the previous one: a signed count, amount or percentage-point change."""
    if isinstance(current, dict) or isinstance(previous, dict):
        current = sum((current or {}).values())
        previous = sum((previous or {}).values())
    if current is None or previous is None:
        return DASH
    if code in RATES:
        points = (decimal.Decimal(str(current)) - decimal.Decimal(str(previous))) * 100
        return _("%(value)s pp") % {"value": f"{points:+.2f}" if points else "0.00"}
    if code in MONEY:
        amount = decimal.Decimal(str(current)) - decimal.Decimal(str(previous))
        return f"{amount:+,.2f}" if amount else "0.00"
    return fmt_signed(int(current) - int(previous))


def day_text(value: Any) -> str:
    """A date in prose, 2024年12月31日; ISO strings are accepted."""
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            return value
    return date_zh(value)


# ------------------------------------------------------------------------------------ findings


def finding_text(alert: Alert, names: RuleSet | None = None) -> str:
    """The finding of an alert as a sentence, built from its ``params``."""
    p: dict[str, Any] = dict(alert.params or {})
    kind = alert.kind
    try:
        if kind == "over_cap":
            return _("%(count)s people in post, above the cap of %(cap)s.") % {
                "count": fmt_count(p["count"]), "cap": fmt_count(p["cap"])}
        if kind == "key_post":
            post = names.name_of(RuleTable.KEY_POST, p["key_post"]) if names else p["key_post"]
            return _("A non-establishment employee holds a key post (%(post)s).") % {"post": post}
        if kind == "class_breach":
            post_class = names.name_of(RuleTable.POST_CLASS, p["post_class"]) if names else p["post_class"]
            return _("The post class %(post_class)s breached its control policy in %(year)s.") % {
                "post_class": post_class, "year": p["year"]}
        if kind == "budget_over_cap":
            return _("The budget of %(budget)s yuan for %(year)s is above the funding cap of %(cap)s yuan.") % {
                "budget": fmt_money(p["budget"]), "cap": fmt_money(p["cap"]), "year": p["year"]}
        if kind == "double_dipping":
            return _("From %(from)s to %(to)s, services were bought for work that the unit's own "
                     "non-establishment staff still did (suspected double dipping).") % {
                "from": day_text(p["from"]), "to": day_text(p["to"])}
        if kind == "contract_expired":
            return _("%(count)s people still in post after their labour contract expired.") % {
                "count": fmt_count(p["records"])}
        if kind == "roster_stale":
            return _("No change to the roster reported since %(date)s (%(days)s days).") % {
                "date": day_text(p["last_change"]), "days": fmt_count(p["days"])}
    except (KeyError, TypeError, ValueError, decimal.InvalidOperation):
        pass
    return "；".join(f"{k}：{v}" for k, v in sorted(p.items())) or alert.key


def kind_names() -> dict[str, str]:
    """Alert kind → its name (the rule table's Chinese name), in the rules' order."""
    return alerts.rule_names()


# ------------------------------------------------------------------------------------ scope


def scope_choices(actor: Any) -> list[Division]:
    """The jurisdictions an analysis may be made for: the user's own and those below it (towns and
    streets excepted); none to choose from for a unit operator (its unit only)."""
    if getattr(actor, "is_unit_bound", False) or not getattr(actor, "jurisdiction_id", None):
        return []
    return list(scoped(Division.objects.exclude(level=Level.TOWN), actor).order_by("path"))


def year_range(actor: Any, today: dt.date | None = None) -> tuple[int, int]:
    """The years an analysis may be made for: from the baseline year to this year."""
    today = today or timezone.localdate()
    base = staffing_selectors.ruleset_for(scope_of(actor).path, today).baseline_date.year
    return min(base, today.year), today.year


def default_year(actor: Any, today: dt.date | None = None) -> int:
    """The last complete year (this year when that is before the baseline year)."""
    today = today or timezone.localdate()
    first, last = year_range(actor, today)
    return max(first, last - 1)


# ------------------------------------------------------------------------------------ the analysis


def indicator_names() -> dict[str, str]:
    with open(INDICATORS_FILE, encoding="utf-8") as fh:
        return {row["code"]: row["name"] for row in yaml.safe_load(fh)["indicators"]}


def measures() -> list[dict[str, str]]:
    """The measures of ``data/measures.yaml``, numbered."""
    with open(MEASURES_FILE, encoding="utf-8") as fh:
        rows = yaml.safe_load(fh).get("measures") or []
    out = []
    for i, row in enumerate(rows, start=1):
        title = str(row.get("title", "")).strip()
        text = str(row.get("text", "")).strip()
        out.append({"number": cn_number(i), "title": title, "text": text,
                    "heading": f"（{cn_number(i)}）{title}{'' if title.endswith('。') else '。'}"})
    return out


def _unit_label(code: str) -> str:
    """The unit of measure of an indicator (人 / 个 / 元 / %)."""
    if code in RATES:
        return "%"
    if code in MONEY:
        return pgettext("unit of measure", "yuan")
    if code in UNIT_COUNTS:
        return pgettext("unit of measure", "units")
    return pgettext("unit of measure", "people")


def _figure_rows(current: dict[str, Any], previous: dict[str, Any], names: dict[str, str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for code in CODES:
        now, before = current.get(code), previous.get(code)
        rows.append({"code": code, "name": names.get(code, code), "unit": _unit_label(code),
                     "current": fmt_value(code, now), "previous": fmt_value(code, before),
                     "change": fmt_change(code, now, before), "sub": False})
        if code in SPLITS and isinstance(now, dict):
            before_split = before if isinstance(before, dict) else {}
            for key, n in now.items():
                rows.append({"code": "", "name": _("of which: %(name)s") % {"name": key}, "unit": _unit_label(code),
                             "current": fmt_count(n), "previous": fmt_count(before_split.get(key)),
                             "change": fmt_change(code, n, before_split.get(key)), "sub": True})
    return rows


def _split_text(split: dict[str, int]) -> str:
    return "、".join(_("%(name)s %(count)s") % {"name": name, "count": fmt_count(n)}
                    for name, n in split.items() if n) or _("none")


def _basic_paragraphs(v: dict[str, Any], p: dict[str, Any], scope: str, as_of: dt.date, year: int) -> list[str]:
    out = [_("As of %(date)s, %(scope)s had %(i01)s non-establishment staff, %(i02)s of them fiscally "
             "supported; %(i10)s of them serve in coordinator teams.") % {
        "date": date_zh(as_of), "scope": scope, "i01": fmt_count(v["I01"]), "i02": fmt_count(v["I02"]),
        "i10": fmt_count(v["I10"])}]
    ratios = []
    if v["I06"] is not None:
        ratios.append(_("the headcount is %(rate)s of the approved establishment") % {"rate": fmt_rate(v["I06"])})
    if v["I07"] is not None:
        ratios.append(_("%(rate)s of the actual in-establishment headcount") % {"rate": fmt_rate(v["I07"])})
    if ratios:
        out[0] += " " + _("Compared with the establishment, %(ratios)s.") % {"ratios": _(", ").join(ratios)}
    out.append(_("By situation: %(situations)s. By post class: %(classes)s.") % {
        "situations": _split_text(v["I08"]), "classes": _split_text(v["I09"])})
    out.append(_("In %(year)s, %(i12)s people were hired and %(i13)s left (%(reasons)s): a net change of "
                 "%(i14)s against %(prev_i14)s in %(prev_year)s.") % {
        "year": year, "i12": fmt_count(v["I12"]), "i13": fmt_count(sum(v["I13"].values())),
        "reasons": _split_text(v["I13"]), "i14": fmt_signed(v["I14"]), "prev_i14": fmt_signed(p.get("I14")),
        "prev_year": year - 1})
    if v["I19"] is not None or v["I20"] is not None:
        money = _("The budget for non-establishment staff in %(year)s was %(i19)s yuan and the spending "
                  "%(i20)s yuan, %(i22)s yuan per person.") % {
            "year": year, "i19": fmt_money(v["I19"]), "i20": fmt_money(v["I20"]), "i22": fmt_money(v["I22"])}
        if v["I21"] is not None:
            money += " " + _("Spending changed by %(rate)s against the baseline year.") % {"rate": fmt_rate(v["I21"])}
        out.append(money)
    else:
        out.append(_("No budget or spending for non-establishment staff was recorded for %(year)s.") % {"year": year})
    out.append(_("Units over their cap: %(i16)s; units breaching the post-class policy: %(i15)s; units cleared "
                 "to zero: %(i17)s (%(i18)s of the units with a baseline); units suspected of double dipping: "
                 "%(i23)s; people in key posts: %(i11)s.") % {
        "i16": fmt_count(v["I16"]), "i15": fmt_count(v["I15"]), "i17": fmt_count(v["I17"]),
        "i18": fmt_rate(v["I18"]), "i23": fmt_count(v["I23"]), "i11": fmt_count(v["I11"])})
    return out


def year_end_counts(units: QuerySet[Any], days: list[dt.date]) -> list[int]:
    """I01 (records counting on the day) on each of ``days``, in one query."""
    if not days:
        return []
    sums = Spell.objects.filter(unit__in=units).aggregate(
        **{f"d{i}": Count("id", filter=counting_q(day)) for i, day in enumerate(days)})
    return [int(sums[f"d{i}"] or 0) for i in range(len(days))]


def _trend(units: QuerySet[Any], base_year: int, year: int, as_of: dt.date, baseline: int) -> list[dict[str, Any]]:
    days = [dt.date(y, 12, 31) for y in range(min(base_year, year), year)] + [as_of]
    counts = year_end_counts(units, days)
    rows = []
    previous: int | None = None
    for day, n in zip(days, counts, strict=True):
        change = rate(n - baseline, baseline)
        rows.append({"year": day.year, "date": day, "date_text": date_zh(day), "i01": n, "i01_text": fmt_count(n),
                     "vs_base": n - baseline, "vs_base_text": fmt_signed(n - baseline), "rate": change,
                     "rate_text": fmt_rate(change),
                     "vs_prev_text": DASH if previous is None else fmt_signed(n - previous)})
        previous = n
    return rows


def _change_paragraphs(v: dict[str, Any], p: dict[str, Any], trend: list[dict[str, Any]], base_year: int,
                       as_of: dt.date, year: int) -> list[str]:
    baseline, now = v["I03"], v["I01"]
    values = {"date": date_zh(as_of), "i01": fmt_count(now), "i03": fmt_count(baseline), "base_year": base_year,
              "n": fmt_count(abs(now - baseline)), "rate": fmt_rate(v["I05"]).lstrip("-")}
    if now < baseline:
        text = _("Against the stock baseline of %(i03)s people at the end of %(base_year)s, the headcount of "
                 "%(i01)s on %(date)s is a reduction of %(n)s people (%(rate)s).") % values
    elif now > baseline:
        text = _("Against the stock baseline of %(i03)s people at the end of %(base_year)s, the headcount of "
                 "%(i01)s on %(date)s is an increase of %(n)s people (%(rate)s).") % values
    else:
        text = _("The headcount of %(i01)s on %(date)s equals the stock baseline of %(i03)s people at the end of "
                 "%(base_year)s.") % values
    out = [text]
    before = p.get("I01")
    if before is not None:
        diff = now - before
        if diff < 0:
            out.append(_("Compared with the end of %(prev_year)s (%(prev)s people), the headcount fell by %(n)s.")
                       % {"prev_year": year - 1, "prev": fmt_count(before), "n": fmt_count(-diff)})
        elif diff > 0:
            out.append(_("Compared with the end of %(prev_year)s (%(prev)s people), the headcount rose by %(n)s.")
                       % {"prev_year": year - 1, "prev": fmt_count(before), "n": fmt_count(diff)})
        else:
            out.append(_("The headcount is unchanged since the end of %(prev_year)s (%(prev)s people).")
                       % {"prev_year": year - 1, "prev": fmt_count(before)})
    if len(trend) > 1:
        lowest = min(trend, key=lambda r: (r["i01"], -r["year"]))
        highest = max(trend, key=lambda r: (r["i01"], -r["year"]))
        out.append(_("From %(first)s to %(last)s the year-end headcount ranged from %(low)s (%(low_year)s) to "
                     "%(high)s (%(high_year)s).") % {
            "first": trend[0]["year"], "last": trend[-1]["year"], "low": lowest["i01_text"],
            "low_year": lowest["year"], "high": highest["i01_text"], "high_year": highest["year"]})
    if v["I04"] < 0 and v["I21"] is not None and v["I21"] < 0:
        out.append(_("Both the headcount and the spending fell against the baseline (both fall)."))
    cleared = v["I17"]
    if cleared:
        out.append(_("%(n)s units have cleared their non-establishment staff to zero (%(rate)s of the units with "
                     "a baseline).") % {"n": fmt_count(cleared), "rate": fmt_rate(v["I18"])})
    return out


def alerts_of_year(actor: Any, *, path: str, unit: Any, year: int) -> QuerySet[Alert]:
    """The alerts raised in ``year`` in the scope (scoped to the actor)."""
    qs = alerts.alerts_in_scope(actor=actor).filter(raised_on__year=year, jurisdiction_path__startswith=path)
    if unit is not None:
        qs = qs.filter(unit=unit)
    return qs


def _problems(actor: Any, *, path: str, unit: Any, year: int, names: RuleSet) -> dict[str, Any]:
    rows = list(alerts_of_year(actor, path=path, unit=unit, year=year).order_by("-raised_on", "-id"))
    kinds = kind_names()
    order = {k: i for i, k in enumerate(kinds)}
    groups: dict[str, list[Alert]] = {}
    for a in rows:
        groups.setdefault(a.kind, []).append(a)
    categories = []
    table = []
    for number, kind in enumerate(sorted(groups, key=lambda k: (order.get(k, len(order)), k)), start=1):
        items = groups[kind]
        examples: list[dict[str, str]] = []
        seen: set[int] = set()
        for a in items:
            if a.unit_id in seen:
                continue
            seen.add(a.unit_id)
            if len(examples) < EXAMPLES_PER_KIND:
                examples.append({"unit": a.unit.name, "finding": finding_text(a, names)})
        resolved = sum(1 for a in items if a.status == "resolved")
        name = kinds.get(kind, kind)
        example_text = "；".join(f"{e['unit']}（{e['finding'].rstrip('.。')}）" for e in examples)
        text = _("%(count)s alerts concerning %(units)s units; %(resolved)s resolved, %(open)s still open.") % {
            "count": fmt_count(len(items)), "units": fmt_count(len(seen)), "resolved": fmt_count(resolved),
            "open": fmt_count(len(items) - resolved)}
        if example_text:
            text += " " + _("For example: %(examples)s.") % {"examples": example_text}
        categories.append({"kind": kind, "name": name, "number": cn_number(number),
                           "heading": f"（{cn_number(number)}）{name}。", "count": len(items), "units": len(seen),
                           "resolved": resolved, "open": len(items) - resolved, "examples": examples, "text": text})
        table.append({"name": name, "count": fmt_count(len(items)), "units": fmt_count(len(seen)),
                      "resolved": fmt_count(resolved), "open": fmt_count(len(items) - resolved)})
    total_units = len({a.unit_id for a in rows})
    if rows:
        intro = _("In %(year)s dynamic supervision raised %(count)s alerts in %(kinds)s categories, concerning "
                  "%(units)s units; %(resolved)s have been resolved.") % {
            "year": year, "count": fmt_count(len(rows)), "kinds": fmt_count(len(groups)),
            "units": fmt_count(total_units), "resolved": fmt_count(sum(c["resolved"] for c in categories))}
    else:
        intro = _("Dynamic supervision raised no alert in %(year)s.") % {"year": year}
    return {"paragraphs": [intro], "categories": categories, "rows": table, "total": len(rows),
            "units": total_units}


def annual_analysis(*, actor: Any, scope: str = "", year: int, today: dt.date | None = None) -> dict[str, Any]:
    """Everything the annual analysis shows, for ``scope`` (a division code; default the actor's
    jurisdiction; a unit operator's analysis is of its unit) and ``year``. Out of scope or unknown
    → :class:`~bianzhi.common.errors.BianzhiError` (``division_not_found``)."""
    require(actor, "stats.view")
    today = today or timezone.localdate()
    as_of = min(dt.date(year, 12, 31), today)
    unit_code = actor.unit.uscc if getattr(actor, "is_unit_bound", False) and actor.unit_id else ""
    params: dict[str, Any] = {"scope": "" if unit_code else scope, "unit": unit_code}
    current, resolved, _figures = selectors.indicators_for(actor=actor, as_of=as_of, start=dt.date(year, 1, 1),
                                                           end=as_of, year=year, **params)
    previous, _r, _f = selectors.indicators_for(actor=actor, as_of=dt.date(year - 1, 12, 31), year=year - 1, **params)
    v, p = current["indicators"], previous["indicators"]
    q = resolved.query
    scope_name = resolved.unit.name if resolved.unit is not None else resolved.division.name
    names = staffing_selectors.ruleset_for(q.path, as_of)
    base_year = names.baseline_date.year
    trend = _trend(q.units, base_year, year, as_of, v["I03"])
    problems = _problems(actor, path=q.path, unit=resolved.unit, year=year, names=names)
    indicator_labels = indicator_names()
    number = iter(range(1, 10))
    heading = {key: f"{cn_number(next(number))}、{text}" for key, text in (
        ("basic", _("Basic situation")), ("changes", _("Main changes")), ("problems", _("Problems found")),
        ("measures", _("Next steps")))}
    year_end = dt.date(year, 12, 31)
    return {
        "title": _("Annual analysis of the management of non-establishment staff in %(scope)s, %(year)s") % {
            "scope": scope_name, "year": year},
        "subtitle": _("(figures as of %(date)s)") % {"date": date_zh(as_of)},
        "scope_name": scope_name, "scope_code": resolved.division.code,
        "unit": resolved.unit, "division": resolved.division, "year": year, "as_of": as_of,
        "as_of_text": date_zh(as_of), "partial": as_of < year_end, "base_year": base_year,
        "intro": _("This analysis covers %(scope)s for %(year)s: the figures of the 23 statistical indicators "
                   "as of %(date)s compared with the previous year, the change against the stock baseline of "
                   "%(base_year)s, the problems found by dynamic supervision, and the measures for the next "
                   "step.") % {"scope": scope_name, "year": year, "date": date_zh(as_of), "base_year": base_year},
        "h": heading,
        "c": {  # column headings
            "code": _("Code"), "indicator": _("Indicator"), "unit": _("Unit of measure"),
            "current": _("Year %(year)s") % {"year": year}, "previous": _("Year %(year)s") % {"year": year - 1},
            "change": pgettext("difference", "Change"), "year_end": _("Year end"), "i01": _("Headcount"),
            "vs_base": _("Against the baseline"), "rate": _("Rate"), "vs_prev": _("Against the previous year"),
            "category": _("Category"), "alerts": _("Alerts"), "units": _("Units"), "resolved": _("Resolved"),
            "open": _("Still open"),
        },
        "captions": {
            "figures": _("Table 1. The 23 indicators, %(year)s and %(prev)s") % {"year": year, "prev": year - 1},
            "trend": _("Table 2. Headcount at each year end since %(base_year)s (stock baseline: %(i03)s)") % {
                "base_year": base_year, "i03": fmt_count(v["I03"])},
            "problems": _("Table 3. Alerts raised in %(year)s by category") % {"year": year},
        },
        "basic": {"paragraphs": _basic_paragraphs(v, p, scope_name, as_of, year),
                  "rows": _figure_rows(v, p, indicator_labels)},
        "changes": {"paragraphs": _change_paragraphs(v, p, trend, base_year, as_of, year), "rows": trend},
        "problems": problems,
        "measures": measures(),
        "signature": scope_of_actor_name(actor),
        "compiled_on": date_zh(today),
        "indicators": {"current": current, "previous": previous},
    }


def scope_of_actor_name(actor: Any) -> str:
    """Who compiled the analysis: the user's jurisdiction (and unit, for a unit operator)."""
    parts = [actor.jurisdiction.name] if getattr(actor, "jurisdiction_id", None) else []
    if getattr(actor, "is_unit_bound", False) and actor.unit_id:
        parts.append(actor.unit.name)
    return " ".join(parts)


# ------------------------------------------------------------------------------------ documents


def docx_bytes(context: dict[str, Any]) -> bytes:
    """The Word document: the committed template filled in by docxtpl (values XML-escaped)."""
    from docxtpl import DocxTemplate

    template = DocxTemplate(str(DOCX_TEMPLATE))
    template.render(_document_context(context), autoescape=True)
    buffer = io.BytesIO()
    template.save(buffer)
    return buffer.getvalue()


def pdf_bytes(context: dict[str, Any]) -> bytes:
    from bianzhi.documents.pdf import render_pdf

    return render_pdf(PDF_TEMPLATE, {"a": context})


def _document_context(context: dict[str, Any]) -> dict[str, Any]:
    """What the Word template sees: plain strings, lists and dicts (no model objects)."""
    keys = ("title", "subtitle", "scope_name", "scope_code", "year", "as_of_text", "intro", "h", "c", "captions",
            "basic", "changes", "problems", "measures", "signature", "compiled_on")
    return {k: context[k] for k in keys}


def filename(context: dict[str, Any], extension: str) -> str:
    return f"{context['title']}.{extension}"
