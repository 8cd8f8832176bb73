"""Benchmark of the 23 indicators (INDICATORS.md) for the whole province against a floor: a
hand-written SQL script doing the same counts over the same rows on the same engine.

    uv run python bench/indicators.py [--records 100000] [--units 3000] [--database-url URL]
                                      [--repeat 5] [--write-docs] [--explain]

1. builds a fresh database — a temporary SQLite file by default, or, with a ``postgresql://``
   URL, a temporary database on that server, dropped after — with the migrations, the rule
   tables, ``--units`` units over Guangdong's real county-level divisions (skewed sizes, a few
   large ones), their establishment quotas (some superseded), ``--records`` non-establishment
   records of as many people (one record each: the overlap guard never fires) hired 2015–today,
   about 30% ended with a reason, every situation, post class and work type (the work type of
   its post class), about 0.3% with a key post, about 2% of the units cleared (every record
   ended); the current baseline of the province (2019-12-31, unit × situation × post class,
   counted from the data), cap changes (total and class caps, approved exceptions), 编外人员经费
   of 2019 and of this year, and purchase contracts for about 1% of the units. Everything is
   written in bulk (``executemany`` on SQLite, ``COPY`` on PostgreSQL); the set-up is not
   measured. PostgreSQL's tables are vacuumed and analysed after the load (autovacuum would do
   it); SQLite is left as the application leaves it (no ``ANALYZE``, unless ``--analyze``);
2. measures, warm (each phase once first, then ``--repeat`` rounds, the best kept):
   ``api`` — the full answer of ``GET /api/v1/stats/indicators?scope=440000&as_of=<today>``
   through Django's test client (a province administrator, logged in), JSON parse included;
   ``compute`` — :func:`bianzhi.stats.compute.compute` alone; ``floor`` — the hand-written SQL
   (:func:`floor`): one plain statement per figure (as-of counts, splits, baseline, quotas,
   period hires and leaves, per-unit counts and caps, per-unit per-class counts on a−1 and b,
   funding, the twelve month-end counts, the contract/record overlap join), on the same
   connection, and the few lines of Python that turn its rows into the 23 figures;
3. asserts that the floor's 23 figures equal the API's (a floor doing different work is no
   floor), reports the time of each query of ``compute``'s best round and of each part of the
   floor's, profiles ``compute`` once more (cProfile), prints a table and the api/floor ratio
   (the issue's line: 3×, goal 1×), and with ``--write-docs`` replaces its section of
   ``docs/benchmarks.md`` (one per database and size); ``--explain`` prints the plans of
   ``compute``'s slowest queries (EXPLAIN QUERY PLAN, EXPLAIN ANALYZE).

Timings are wall-clock (``time.perf_counter``) around the call only.
"""

from __future__ import annotations

import argparse
import calendar
import contextlib
import cProfile
import datetime as dt
import decimal
import os
import pstats
import random
import re
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from importlib import metadata
from itertools import islice
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from units_import import (  # the shared helpers of the units benchmark
    DOCS,
    ROOT,
    counties,
    django_setup,
    machine,
    temporary_postgres,
)

BEGIN, END = "<!-- bench/indicators.py: begin -->", "<!-- bench/indicators.py: end -->"
LIMIT, GOAL = 3.0, 1.0
PROVINCE = "440000"
TODAY = dt.date.today()
YEAR = TODAY.year
BASE_DAY = dt.date(2019, 12, 31)
START = dt.date(2015, 1, 1)
RATE = decimal.Decimal("0.0001")
CENT = decimal.Decimal("0.01")

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗梁宋郑谢韩唐冯许邓曾彭萧蔡潘田董袁于余叶蒋杜苏魏程吕丁沈任姚卢钟"
GIVEN = "明华国建平志强文军英芳玲娟秀敏静丽伟刚勇杰涛斌浩宇嘉欣怡婷晓雪梅兰燕霞红丹健锋鹏辉俊波超海东晨阳佳琪"
SITUATIONS = ["labour_contract"] * 4 + ["dispatched"] * 3 + ["coordinator"] * 2 + ["rehired_retiree", "temporary"]
CLASSES = ["general_auxiliary"] * 4 + ["professional"] * 2 + ["enforcement_auxiliary"] * 2 + ["logistics"] * 3
FUNDING = ["fiscal"] * 6 + ["own_funds"] * 3 + ["other"]
REASONS = ["contract_expired"] * 3 + ["resigned"] * 3 + ["dismissed", "retired", "retired", "to_purchased_service",
                                                          "group_transfer", "other"]
EDUCATION = ["postgraduate", "bachelor", "bachelor", "college", "college", "high_school", ""]
KEY_POSTS = ["personnel", "finance", "classified"]
ITEMS = ["property_management"] * 7 + ["catering", "official_vehicles", "it_operations"]


def batched(rows: Iterable[Any], size: int) -> Iterable[list[Any]]:
    it = iter(rows)
    while part := list(islice(it, size)):
        yield part


def rate(numerator: Any, denominator: Any) -> float | None:
    if not denominator:
        return None
    return float((decimal.Decimal(numerator) / decimal.Decimal(denominator)).quantize(
        RATE, rounding=decimal.ROUND_HALF_EVEN))


def money(value: Any) -> decimal.Decimal:
    """A SUM of a decimal column as the engine returns it (SQLite: a float) in yuan and fen."""
    if isinstance(value, float):
        value = repr(value)
    return decimal.Decimal(value or 0).quantize(CENT, rounding=decimal.ROUND_HALF_EVEN)


# --------------------------------------------------------------------------- the data


def insert(model: Any, fields: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> None:
    """Bulk INSERT of plain values: ``COPY`` on PostgreSQL, ``executemany`` on SQLite."""
    from django.db import connection

    meta = model._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    columns = ", ".join(quote(meta.get_field(name).column) for name in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(f"SELECT setval(pg_get_serial_sequence(%s, 'id'), (SELECT MAX(id) FROM {table}))",
                           [meta.db_table])
            return
        sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"

        def plain(value: Any) -> Any:
            if isinstance(value, dt.date):
                return value.isoformat()
            if isinstance(value, decimal.Decimal):
                return str(value)
            return value

        for part in batched(rows, 5000):
            cursor.executemany(sql, [tuple(plain(v) for v in row) for row in part])


def build(units: int, records: int, analyze: bool) -> dict[str, Any]:
    """The database of the benchmark; returns what it holds."""
    from django.core.management import call_command
    from django.db import connection, transaction

    from bianzhi.accounts.choices import Role
    from bianzhi.accounts.models import User
    from bianzhi.common.codes import _region_known, make_resident_id, make_uscc
    from bianzhi.common.rules_loader import load_all_rules
    from bianzhi.divisions.models import Division
    from bianzhi.funds.models import PurchaseContract, UnitFunding
    from bianzhi.orgs.choices import EstablishmentKind, FundingForm, UnitCategory, UnitChange
    from bianzhi.orgs.models import EstablishmentQuota, Person, Unit, UnitVersion, sealed_id_number
    from bianzhi.staffing.models import Baseline, BaselineCount, CapChange, RuleItem, Spell

    rnd = random.Random(20191231)
    call_command("migrate", verbosity=0)
    load_all_rules()
    division = {d.code: d for d in Division.objects.all()}
    province = division[PROVINCE]
    admin = User(username="bench_admin", role=Role.ADMINISTRATOR, jurisdiction=province,
                 jurisdiction_path=province.path, display_name="省级管理员")
    admin.set_unusable_password()
    admin.save()
    work_types: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for code, name, parent in RuleItem.objects.filter(table="work_type", jurisdiction_path="").values_list(
            "code", "name", "parent_code"):
        work_types[parent].append((code, name))
    places = counties()
    set_up = dt.date(2010, 1, 1)

    with transaction.atomic():
        Unit.objects.bulk_create([
            Unit(uscc=make_uscc("12" if i % 3 else "11", places[i % len(places)][0], f"J{i:07d}"),
                 name=f"{places[i % len(places)][1]}指标测试单位{i}",
                 category=UnitCategory.PUBLIC_INSTITUTION if i % 3 else UnitCategory.PARTY_GOVERNMENT,
                 funding_form=FundingForm.FULL, jurisdiction=division[places[i % len(places)][0]],
                 jurisdiction_path=division[places[i % len(places)][0]].path, set_up_on=set_up)
            for i in range(units)
        ], batch_size=1000)
        unit_list = list(Unit.objects.order_by("pk"))
        UnitVersion.objects.bulk_create([
            UnitVersion(unit=u, valid_from=set_up, change=UnitChange.SET_UP, name=u.name, category=u.category,
                        funding_form=u.funding_form, jurisdiction_id=u.jurisdiction_id,
                        jurisdiction_path=u.jurisdiction_path)
            for u in unit_list
        ], batch_size=1000)
        quotas = []
        for i, u in enumerate(unit_list):
            kind = (EstablishmentKind.PUBLIC_INSTITUTION if u.category == UnitCategory.PUBLIC_INSTITUTION
                    else EstablishmentKind.ADMINISTRATIVE)
            approved = 20 + i % 37
            if i % 4 == 0:  # an approval superseded in 2022
                quotas.append(EstablishmentQuota(unit=u, kind=kind, approved=approved + 5, actual=approved,
                                                 valid_from=dt.date(2012, 1, 1), valid_to=dt.date(2022, 1, 1)))
                quotas.append(EstablishmentQuota(unit=u, kind=kind, approved=approved, actual=approved - i % 5,
                                                 valid_from=dt.date(2022, 1, 1)))
            else:
                quotas.append(EstablishmentQuota(unit=u, kind=kind, approved=approved, actual=approved - i % 5,
                                                 valid_from=dt.date(2012, 1, 1)))
            if i % 30 == 0:
                quotas.append(EstablishmentQuota(unit=u, kind=EstablishmentKind.POLITICAL_LEGAL, approved=5,
                                                 actual=4, valid_from=dt.date(2012, 1, 1)))
        EstablishmentQuota.objects.bulk_create(quotas, batch_size=1000)

    # Records: one person each; unit sizes skewed (a few large units), 2% of the units cleared.
    weights = [min(rnd.paretovariate(1.2), 40.0) for _ in unit_list]
    cumulative, total = [], 0.0
    for w in weights:
        total += w
        cumulative.append(total)
    cleared = {u.pk for u in rnd.sample(unit_list, max(1, units // 50))}
    regions = [code for code, _name in places if _region_known(code)]
    issued: set[str] = set()
    people: list[tuple[Any, ...]] = []
    spells: list[tuple[Any, ...]] = []
    base_cells: dict[tuple[int, str, str], int] = defaultdict(int)
    span_old = (BASE_DAY - START).days + 1
    span_new = (TODAY - BASE_DAY).days
    exits = key_posts = 0
    for n in range(1, records + 1):
        unit = rnd.choices(unit_list, cum_weights=cumulative)[0]
        number = ""
        while not number or number in issued:
            birth = dt.date(1962, 1, 1) + dt.timedelta(days=rnd.randrange(365 * 40))
            number = make_resident_id(rnd.choice(regions), birth, rnd.randrange(1000))
        issued.add(number)
        sex = "M" if int(number[16]) % 2 else "F"
        education = rnd.choice(EDUCATION)
        name = rnd.choice(SURNAMES) + rnd.choice(GIVEN) + (rnd.choice(GIVEN) if rnd.random() < 0.7 else "")
        people.append((n, number, name, sex, birth, education, unit.jurisdiction_id, unit.jurisdiction_path,
                       unit.pk))
        if rnd.random() < 0.72:  # most of the stock predates the baseline; fewer hires since
            hire = START + dt.timedelta(days=rnd.randrange(span_old))
        else:
            hire = BASE_DAY + dt.timedelta(days=1 + rnd.randrange(span_new))
        leave = None
        if (unit.pk in cleared or rnd.random() < 0.29) and (TODAY - hire).days > 1:
            # four exits in five after the baseline day (the reduction), the others any day after hire
            after = max(hire, BASE_DAY) if rnd.random() < 0.8 else hire
            leave = after + dt.timedelta(days=1 + rnd.randrange((TODAY - after).days))
        situation, post_class = rnd.choice(SITUATIONS), rnd.choice(CLASSES)
        work_type, post_name = rnd.choice(work_types[post_class])
        key_post = ""
        if rnd.random() < 0.003:
            key_post = rnd.choice(KEY_POSTS)
            key_posts += 1
        exits += leave is not None
        cost = decimal.Decimal(rnd.randrange(280000, 900000)) / 100 if rnd.random() < 0.9 else None
        spells.append((n, n, unit.pk, unit.jurisdiction_path, situation, post_class, work_type, post_name, key_post,
                       rnd.choice(FUNDING), hire, leave, rnd.choice(REASONS) if leave else "",
                       hire + dt.timedelta(days=365 * rnd.choice((1, 2, 3))), education, cost, "inventory"))
        if hire <= BASE_DAY and (leave is None or leave > BASE_DAY):
            base_cells[(unit.pk, situation, post_class)] += 1
    with transaction.atomic():
        people = [(n, *sealed_id_number(number).values(), *rest) for n, number, *rest in people]
        insert(Person, ["id", "id_number_enc", "id_number_index", "id_number_masked", "name", "sex", "birth_date", "education", "jurisdiction",
                        "jurisdiction_path", "unit"], people)
        insert(Spell, ["id", "person", "unit", "jurisdiction_path", "situation", "post_class", "work_type",
                       "post_name", "key_post", "funding_source", "hire_date", "leave_date", "exit_reason",
                       "contract_end", "education", "monthly_cost", "source"], spells)
    del people, issued

    # The current baseline of the province, caps, funding and contracts.
    per_unit: dict[int, int] = defaultdict(int)
    for (unit_id, _s, _c), count in base_cells.items():
        per_unit[unit_id] += count
    with transaction.atomic():
        baseline = Baseline.objects.create(jurisdiction=province, jurisdiction_path=province.path, as_of=BASE_DAY,
                                           total=sum(base_cells.values()), taken_by=admin)
        BaselineCount.objects.bulk_create([
            BaselineCount(baseline=baseline, unit_id=u, situation=s, post_class=c, count=count)
            for (u, s, c), count in sorted(base_cells.items())
        ], batch_size=2000)
        caps = []
        for u in unit_list:
            base = per_unit.get(u.pk, 0)
            draw = rnd.random()
            if draw < 0.10:  # a total cap set below (or at) the baseline, sometimes changed twice
                first = dt.date(2021 + rnd.randrange(4), 1 + rnd.randrange(12), 1)
                caps.append(CapChange(unit=u, cap=max(0, base - rnd.randrange(0, 4)), valid_from=first,
                                      document_ref="粤编外〔2021〕1号"))
                if rnd.random() < 0.3:
                    caps.append(CapChange(unit=u, cap=max(0, base - rnd.randrange(2, 6)),
                                          valid_from=first + dt.timedelta(days=200), document_ref="粤编外〔2023〕2号"))
            elif draw < 0.15:  # a class cap for the general auxiliary posts
                cell = sum(n for (uid, _s, c), n in base_cells.items() if uid == u.pk and c == "general_auxiliary")
                caps.append(CapChange(unit=u, post_class="general_auxiliary", cap=max(0, cell - 1),
                                      valid_from=dt.date(2022, 7, 1), document_ref="粤编外〔2022〕3号"))
            elif draw < 0.17:  # an approved exception for professional posts this year
                cell = sum(n for (uid, _s, c), n in base_cells.items() if uid == u.pk and c == "professional")
                caps.append(CapChange(unit=u, post_class="professional", cap=cell + 2, is_exception=True,
                                      valid_from=dt.date(YEAR, 3, 1), document_ref=f"粤编外〔{YEAR}〕4号"))
        CapChange.objects.bulk_create(caps, batch_size=1000)
        fundings = []
        for u in unit_list:
            base = per_unit.get(u.pk, 0)
            spent_2019 = decimal.Decimal(base * rnd.randrange(6_000_000, 9_000_000)) / 100
            fundings.append(UnitFunding(unit=u, jurisdiction_path=u.jurisdiction_path, year=2019,
                                        budget=spent_2019 + 1000, spending=spent_2019))
            if rnd.random() < 0.95:
                spent = (spent_2019 * decimal.Decimal(rnd.uniform(0.7, 1.05))).quantize(CENT)
                fundings.append(UnitFunding(unit=u, jurisdiction_path=u.jurisdiction_path, year=YEAR,
                                            budget=(spent * decimal.Decimal("1.08")).quantize(CENT), spending=spent))
        UnitFunding.objects.bulk_create(fundings, batch_size=1000)
        buyers = rnd.sample(unit_list, max(1, units // 100))
        contracts = []
        for i, u in enumerate(buyers):
            start = dt.date(YEAR, 1, 1) + dt.timedelta(days=rnd.randrange(180))
            contracts.append(PurchaseContract(number=f"GM-{YEAR}-{i:05d}", unit=u,
                                              jurisdiction_path=u.jurisdiction_path, item=rnd.choice(ITEMS), start=start,
                                              end=start + dt.timedelta(days=364),
                                              amount=decimal.Decimal(rnd.randrange(100_000, 2_000_000))))
        PurchaseContract.objects.bulk_create(contracts)
    version = ""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE")  # the state autovacuum leaves an insert-only table in
        elif analyze:
            cursor.execute("ANALYZE")
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
    return {"units": units, "records": records, "exits": exits, "key_posts": key_posts, "cleared": len(cleared),
            "baseline": sum(base_cells.values()), "cells": len(base_cells), "caps": len(caps),
            "quotas": len(quotas), "fundings": len(fundings), "contracts": len(contracts), "server_version": version,
            "analyzed": connection.vendor == "postgresql" or analyze}


# --------------------------------------------------------------------------- the floor


def floor(path: str, as_of: dt.date, a: dt.date, b: dt.date, year: int,
          timings: dict[str, float] | None = None) -> dict[str, Any]:
    """The 23 figures by hand: one plain SQL statement per figure, no ORM, on Django's connection
    (the same one the API uses), written for both engines; the splits keyed by code."""
    from django.db import connection

    scope = "unit_id IN (SELECT u.id FROM orgs_unit u WHERE u.jurisdiction_path LIKE %s)"
    like = path + "%"
    counts = "s.hire_date <= %s AND (s.leave_date IS NULL OR s.leave_date > %s)"
    before = a - dt.timedelta(days=1)
    clock = [time.perf_counter()]

    def lap(name: str) -> None:
        if timings is not None:
            now = time.perf_counter()
            timings[name] = timings.get(name, 0.0) + now - clock[0]
            clock[0] = now

    with connection.cursor() as cur:
        def rows(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
            cur.execute(sql, params)
            return cur.fetchall()

        # As of d: totals, splits.
        i01, i02, i11, i10 = rows(
            f"SELECT COUNT(*), SUM(CASE WHEN s.funding_source = 'fiscal' THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN s.key_post <> '' THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN s.situation = 'coordinator' THEN 1 ELSE 0 END) "
            f"FROM staffing_spell s WHERE s.{scope} AND {counts}", [like, as_of, as_of])[0]
        i08 = dict(rows(f"SELECT s.situation, COUNT(*) FROM staffing_spell s WHERE s.{scope} AND {counts} "
                        "GROUP BY s.situation", [like, as_of, as_of]))
        i09 = dict(rows(f"SELECT s.post_class, COUNT(*) FROM staffing_spell s WHERE s.{scope} AND {counts} "
                        "GROUP BY s.post_class", [like, as_of, as_of]))
        lap("as-of counts and splits (3 statements)")

        # The baseline: its sum, and its cells per unit and class.
        i03 = rows(f"SELECT SUM(c.count) FROM staffing_baselinecount c JOIN staffing_baseline b "
                   f"ON b.id = c.baseline_id WHERE b.is_current = %s AND c.{scope}", [True, like])[0][0] or 0
        base_class = {(u, c): n for u, c, n in rows(
            f"SELECT c.unit_id, c.post_class, SUM(c.count) FROM staffing_baselinecount c JOIN staffing_baseline b "
            f"ON b.id = c.baseline_id WHERE b.is_current = %s AND c.{scope} GROUP BY c.unit_id, c.post_class",
            [True, like])}
        lap("baseline sum and cells (2)")

        # Establishment in force on d.
        approved, actual = rows(
            f"SELECT SUM(q.approved), SUM(q.actual) FROM orgs_establishmentquota q WHERE q.{scope} "
            "AND q.valid_from <= %s AND (q.valid_to IS NULL OR q.valid_to > %s)", [like, as_of, as_of])[0]
        lap("quotas in force (1)")

        # The period: hires, leaves by reason.
        i12 = rows(f"SELECT COUNT(*) FROM staffing_spell s WHERE s.{scope} AND s.hire_date BETWEEN %s AND %s",
                   [like, a, b])[0][0]
        i13 = dict(rows(f"SELECT s.exit_reason, COUNT(*) FROM staffing_spell s WHERE s.{scope} "
                        "AND s.leave_date BETWEEN %s AND %s GROUP BY s.exit_reason", [like, a, b]))
        lap("period hires and leaves (2)")

        # Per unit on d, and the caps in force (the latest change on or before the day).
        now = dict(rows(f"SELECT s.unit_id, COUNT(*) FROM staffing_spell s WHERE s.{scope} AND {counts} "
                        "GROUP BY s.unit_id", [like, as_of, as_of]))
        latest_cap = (f"SELECT c.unit_id, c.post_class, c.cap FROM staffing_capchange c WHERE c.{scope} "
                      "AND c.valid_from <= %s AND NOT EXISTS (SELECT 1 FROM staffing_capchange l "
                      "WHERE l.unit_id = c.unit_id AND l.post_class = c.post_class AND l.valid_from <= %s "
                      "AND (l.valid_from > c.valid_from OR (l.valid_from = c.valid_from AND l.id > c.id)))")
        caps_d = {(u, c): cap for u, c, cap in rows(latest_cap, [like, as_of, as_of])}
        lap("per-unit counts and caps on d (2)")

        # Per unit and post class on a−1 and on b, class caps on b, exceptions approved in [a, b].
        pair = (f"SELECT s.unit_id, s.post_class, COUNT(*) FROM staffing_spell s WHERE s.{scope} AND {counts} "
                "GROUP BY s.unit_id, s.post_class")
        on_a = {(u, c): n for u, c, n in rows(pair, [like, before, before])}
        on_b = {(u, c): n for u, c, n in rows(pair, [like, b, b])}
        caps_b = {(u, c): cap for u, c, cap in rows(latest_cap, [like, b, b])}
        exceptions = set(rows(f"SELECT DISTINCT c.unit_id, c.post_class FROM staffing_capchange c WHERE c.{scope} "
                              "AND c.is_exception = %s AND c.valid_from BETWEEN %s AND %s", [like, True, a, b]))
        # Each unit under the post-class policies of its own jurisdiction: the deepest row on its path.
        in_force = "r.valid_from <= %s AND (r.valid_to IS NULL OR r.valid_to > %s)"
        chosen: dict[tuple[int, str], tuple[int, Any, str]] = {}
        for unit_id, code, kind, depth, since in rows(
                "SELECT u.id, r.code, r.policy, LENGTH(r.jurisdiction_path), r.valid_from FROM orgs_unit u "
                "JOIN staffing_ruleitem r ON r.\"table\" = 'post_class' AND (r.jurisdiction_path = '' "
                f"OR u.jurisdiction_path LIKE r.jurisdiction_path || '%%') AND {in_force} "
                "WHERE u.jurisdiction_path LIKE %s", [b, b, like]):
            if (unit_id, code) not in chosen or (depth, since) >= chosen[(unit_id, code)][:2]:
                chosen[(unit_id, code)] = (depth, since, kind)
        policy = {key: kind for key, (_depth, _since, kind) in chosen.items()}
        lap("per unit × class on a−1 and b, caps, exceptions, policies (5)")
        rule = f"r.jurisdiction_path = '' AND {in_force}"

        # The year and the baseline year.
        setting = rows(f"SELECT r.value FROM staffing_ruleitem r WHERE r.\"table\" = 'setting' "
                       f"AND r.code = 'baseline_date' AND {rule}", [b, b])
        base_year = int(setting[0][0][:4]) if setting else 2019
        budget, spent = rows(f"SELECT SUM(f.budget), SUM(f.spending) FROM funds_unitfunding f WHERE f.{scope} "
                             "AND f.year = %s", [like, year])[0]
        base_spent = rows(f"SELECT SUM(f.spending) FROM funds_unitfunding f WHERE f.{scope} AND f.year = %s",
                          [like, base_year])[0][0]
        lap("funding of the year and the baseline year (3)")

        months = [rows(f"SELECT COUNT(*) FROM staffing_spell s WHERE s.{scope} AND {counts}", [like, day, day])[0][0]
                  for day in (dt.date(year, m, calendar.monthrange(year, m)[1]) for m in range(1, 13))]
        lap("month-end counts (12)")

        # Double dipping: a contract in force in [a, b] and a record of a work type its item replaces
        # counting on a day of both.
        i23 = rows(
            "SELECT COUNT(DISTINCT c.unit_id) FROM funds_purchasecontract c "
            "JOIN staffing_ruleitem r ON r.\"table\" = 'service_item' AND r.code = c.item AND " + rule + " "
            "JOIN staffing_spell s ON s.unit_id = c.unit_id "
            "AND (',' || r.value || ',') LIKE ('%%,' || s.work_type || ',%%') "
            f"WHERE c.{scope} AND c.\"start\" <= %s AND c.\"end\" >= %s "
            "AND s.hire_date <= %s AND s.hire_date <= c.\"end\" "
            "AND (s.leave_date IS NULL OR (s.leave_date > %s AND s.leave_date > c.\"start\"))",
            [b, b, like, b, a, b, a])[0][0]
        lap("contract/record overlap (1)")

    # The few lines that turn the rows into the figures.
    base_unit: dict[int, int] = defaultdict(int)
    for (u, _c), n in base_class.items():
        base_unit[u] += n
    total_cap = {u: caps_d.get((u, ""), base) for u, base in base_unit.items()}
    for (u, c), cap in caps_d.items():
        if c == "":
            total_cap.setdefault(u, cap)
    i16 = sum(1 for u, cap in total_cap.items() if now.get(u, 0) > cap)
    i17 = sum(1 for u, base in base_unit.items() if base > 0 and now.get(u, 0) == 0)
    with_base = sum(1 for base in base_unit.values() if base > 0)
    long_enough = b >= a.replace(year=a.year + 1) - dt.timedelta(days=1) if (a.month, a.day) != (2, 29) else \
        b >= a.replace(year=a.year + 1, day=28) - dt.timedelta(days=1)
    breaching = set()
    for key in set(on_a) | set(on_b):
        before_n, after_n = on_a.get(key, 0), on_b.get(key, 0)
        cap = caps_b.get(key, base_class.get(key))
        kind = policy.get(key, "")
        if kind == "hold_total":
            breach = cap is not None and after_n > cap
        elif kind == "control_increase":
            breach = after_n > before_n and not (key in exceptions and cap is not None and after_n <= cap)
        elif kind == "optimise_stock":
            breach = after_n > before_n
        else:
            breach = kind == "reduce" and long_enough and 0 < before_n <= after_n
        if breach:
            breaching.add(key[0])
    i20 = money(spent) if spent is not None else None
    average = decimal.Decimal(sum(months)) / 12
    lap("Python: figures from the rows")
    return {
        "I01": i01, "I02": i02 or 0, "I03": i03, "I04": i01 - i03, "I05": rate(i01 - i03, i03),
        "I06": rate(i01, approved), "I07": rate(i01, actual), "I08": i08, "I09": i09, "I10": i10 or 0,
        "I11": i11 or 0, "I12": i12, "I13": i13, "I14": i12 - sum(i13.values()), "I15": len(breaching),
        "I16": i16, "I17": i17, "I18": rate(i17, with_base),
        "I19": money(budget) if budget is not None else None, "I20": i20,
        "I21": rate(i20 - money(base_spent), money(base_spent)) if i20 is not None and base_spent else None,
        "I22": money(i20 / average) if i20 is not None and average else None, "I23": i23,
    }


def floor_json(values: dict[str, Any], names: dict[str, dict[str, str]]) -> dict[str, Any]:
    """The floor's figures in the form of the API's JSON (splits keyed by name, zeros included)."""
    out: dict[str, Any] = {}
    for code, value in values.items():
        if code in names:
            split = {name: 0 for name in names[code].values()}
            for key, n in value.items():
                split[names[code].get(key, key)] = split.get(names[code].get(key, key), 0) + n
            out[code] = split
        elif isinstance(value, decimal.Decimal):
            out[code] = f"{value:.2f}"
        else:
            out[code] = value
    return out


# --------------------------------------------------------------------------- measuring


def query_label(sql: str) -> str:
    s = sql.lower()
    if "staffing_spell" in s:
        if s.count("count(") >= 12:
            return "12 month-end counts (one aggregate)"
        if "funding_source" in s:
            return "as-of counts by unit × situation × class"
        if "exit_reason" in s:
            return "leaves in the period by reason"
        if "work_type" in s:
            return "records for double dipping"
        if s.count("count(") >= 2:
            return "per unit × class on a−1 and b"
        return "hires in the period"
    for table, label in (("staffing_baselinecount", "baseline cells"), ("staffing_capchange", "caps"),
                         ("establishmentquota", "quotas in force"), ("unitfunding", "funding sums"),
                         ("purchasecontract", "contracts"), ("staffing_ruleitem", "rule tables"),
                         ("staffing_baseline", "baselines")):
        if table in s:
            return label
    return "other"


def traced(call: Callable[[], Any]) -> tuple[float, list[tuple[float, str, Any]]]:
    """Run ``call`` once, recording the time and SQL of each query."""
    from django.db import connection

    found: list[tuple[float, str, Any]] = []

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            found.append((time.perf_counter() - started, sql, params))

    started = time.perf_counter()
    with connection.execute_wrapper(wrapper):
        call()
    return time.perf_counter() - started, found


def plan_summary(sql: str, params: Any) -> str:
    """The plan of one query on one line (EXPLAIN QUERY PLAN / EXPLAIN (COSTS OFF))."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("EXPLAIN (COSTS OFF) " + sql, params)
            nodes = [row[0].strip().removeprefix("->").strip() for row in cursor.fetchall()]
            return " → ".join(n for n in nodes if ":" not in n)
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return "; ".join(row[3] for row in cursor.fetchall())


def explain(queries: list[tuple[float, str, Any]], top: int) -> None:
    """Print the plans of the slowest queries (EXPLAIN QUERY PLAN / EXPLAIN ANALYZE)."""
    from django.db import connection

    for seconds, sql, params in sorted(queries, key=lambda q: -q[0])[:top]:
        print(f"\n--- {seconds:.3f} s  {query_label(sql)}\n{sql}\n{params}", file=sys.stderr)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            else:
                cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            for row in cursor.fetchall():
                print("   ", " | ".join(str(v) for v in row), file=sys.stderr)


def function_name(func: tuple[str, int, str]) -> str:
    """A profiled function as ``package/module.py:line(name)``, or the built-in's name."""
    filename, line, name = func
    if filename == "~":  # a built-in: "<method 'fetchmany' of 'sqlite3.Cursor' objects>", "<function …>"
        return re.sub(r" at 0x[0-9a-f]+", "", name).strip("<>{}")
    parts = Path(filename).parts
    for anchor in ("site-packages", "src"):
        if anchor in parts:
            parts = parts[len(parts) - parts[::-1].index(anchor):]
            break
    else:
        path = Path(filename).resolve()
        parts = path.relative_to(ROOT).parts if path.is_relative_to(ROOT) else (path.name,)
    return f"{'/'.join(parts)}:{line}({name})"


def measure(repeat: int, profile_top: int, do_explain: bool) -> dict[str, Any]:
    from django.db import connection
    from django.test import Client

    from bianzhi.accounts.models import User
    from bianzhi.staffing import selectors as staffing_selectors
    from bianzhi.stats.compute import compute
    from bianzhi.stats.selectors import SPLITS, resolve

    admin = User.objects.get(username="bench_admin")
    client = Client()
    client.force_login(admin)
    params = {"scope": PROVINCE, "as_of": TODAY.isoformat()}
    resolved = resolve(actor=admin, scope=PROVINCE, as_of=TODAY)
    q = resolved.query
    path = resolved.division.path
    rules = staffing_selectors.ruleset_for(q.path, q.as_of)
    names = {code: {row.code: row.name for row in rules.table(table).values()} for code, table in SPLITS.items()}

    def api() -> dict[str, Any]:
        response = client.get("/api/v1/stats/indicators", params)
        if response.status_code != 200:
            raise SystemExit(f"API answered {response.status_code}: {response.content[:500]!r}")
        return response.json()

    def run_compute() -> Any:
        return compute(q)

    part_runs: list[dict[str, float]] = []

    def run_floor() -> dict[str, Any]:
        parts: dict[str, float] = {}
        values = floor(path, q.as_of, q.start, q.end, q.year, parts)
        part_runs.append(parts)
        return values

    phases: dict[str, Callable[[], Any]] = {"floor": run_floor, "compute": run_compute, "api": api}
    answers = {name: call() for name, call in phases.items()}  # warm-up, and the answers compared
    times: dict[str, list[float]] = {name: [] for name in phases}
    traces: dict[str, list[list[tuple[float, str, Any]]]] = {name: [] for name in phases}
    for round_ in range(repeat):
        for name, call in phases.items():
            # the time of each query is recorded too (a wrapper around 16–31 executes: no measurable cost)
            seconds, found = traced(call)
            times[name].append(seconds)
            traces[name].append(found)
        print(f"round {round_ + 1}: " + ", ".join(f"{n} {times[n][-1]:.3f} s" for n in phases), file=sys.stderr)
    best = {name: min(range(repeat), key=lambda i, n=name: times[n][i]) for name in phases}

    # A floor doing different work is no floor: every one of the 23 must agree with the API's.
    api_values = answers["api"]["indicators"]
    floor_values = floor_json(answers["floor"], names)
    differ = {code: (api_values.get(code), floor_values.get(code)) for code in floor_values
              if api_values.get(code) != floor_values.get(code)}
    if differ or set(api_values) != set(floor_values):
        raise SystemExit(f"the floor and the API disagree: {differ}")
    for code in ("I01", "I03", "I12", "I16", "I20"):
        assert api_values[code] == floor_values[code], code

    # Where the time goes: compute's queries in its best round, and a cProfile of one more run.
    queries = traces["compute"][best["compute"]]
    by_label: dict[str, list[float]] = defaultdict(list)
    for seconds, sql, _params in queries:
        by_label[query_label(sql)].append(seconds)
    profiler = cProfile.Profile()
    profiler.enable()
    run_compute()
    profiler.disable()
    stats = pstats.Stats(profiler)
    total_time = stats.total_tt  # type: ignore[attr-defined]
    top = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:profile_top]  # type: ignore[attr-defined]
    profile = [(function_name(func), tt, tt / total_time) for func, (_cc, _nc, tt, _ct, _callers) in top]
    slowest = max(queries, key=lambda found: found[0])
    plan = (query_label(slowest[1]), plan_summary(slowest[1], slowest[2]))
    if do_explain:
        explain(queries, 4)
    api_queries = traces["api"][best["api"]]
    return {
        "seconds": {name: times[name][best[name]] for name in phases},
        "all": times,
        "floor_parts": part_runs[1 + best["floor"]],  # the warm-up's run is the first
        "floor_statements": len(traces["floor"][0]),
        "compute_queries": {label: (len(v), sum(v)) for label, v in by_label.items()},
        "compute_traced": times["compute"][best["compute"]],
        "compute_sql": sum(s for s, _q, _p in queries),
        "compute_count": len(queries),
        "api_sql": sum(s for s, _q, _p in api_queries),
        "api_count": len(api_queries),
        "profile": profile,
        "plan": plan,
        "profile_total": total_time,
        "values": api_values,
        "period": (q.start, q.end),
        "vendor": connection.vendor,
    }


# --------------------------------------------------------------------------- report


def render(data: dict[str, Any], result: dict[str, Any], info: dict[str, str], database: str, repeat: int,
           url_given: bool) -> str:
    seconds = result["seconds"]
    floor_s = seconds["floor"]
    records, units = data["records"], data["units"]
    values = result["values"]
    a, b = result["period"]
    lines = [
        f"### Indicators (all 23, the province), {records:,} records — {database}",
        "",
        f"Measured {dt.date.today().isoformat()} with `uv run python bench/indicators.py"
        f"{' --database-url …' if url_given else ''} --records {records} --units {units}"
        f"{f' --repeat {repeat}' if repeat != 5 else ''}`.",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['ram']} RAM; {info['os']}; Python "
        f"{info['python']}, SQLite {info['sqlite']}"
        + (f", PostgreSQL {info['postgresql']}" if info.get("postgresql") else "")
        + f"; Django {info['django']}" + (f", psycopg {info['psycopg']}" if info.get("psycopg") else "") + ".",
        "",
        f"The data: {records:,} records of as many people over {units:,} units of the 122 county-level divisions "
        f"(skewed sizes), hired 2015–{TODAY.year}, {data['exits']:,} ended ({data['exits'] / records:.0%}) with a "
        f"reason, {data['key_posts']:,} with a key post, {data['cleared']} units cleared; every situation, post class "
        f"and work type. The province's current baseline of 2019-12-31: {data['baseline']:,} records in "
        f"{data['cells']:,} unit × situation × class cells; {data['caps']} cap changes (total caps, class caps, "
        f"approved exceptions), {data['quotas']:,} establishment quotas (some superseded), {data['fundings']:,} "
        f"funding rows (2019 and {YEAR}), {data['contracts']} purchase contracts. "
        + ("Tables vacuumed and analysed after the load (`VACUUM ANALYZE`, as autovacuum would)."
           if database == "PostgreSQL" else "Tables analysed after the load (`ANALYZE`)." if data["analyzed"]
           else "No `ANALYZE` (the application never runs it; `--analyze` gives the same plans)."),
        "",
        f"The question: `GET /api/v1/stats/indicators?scope=440000&as_of={TODAY.isoformat()}` (period "
        f"{a.isoformat()}–{b.isoformat()}, year {YEAR}); the answer: I01 = {values['I01']:,}, I03 = "
        f"{values['I03']:,}, I12 = {values['I12']:,}, I15 = {values['I15']:,}, I16 = {values['I16']:,}, "
        f"I17 = {values['I17']}, I20 = {values['I20']}, I23 = {values['I23']}. The floor's 23 figures equal the "
        "API's (asserted).",
        "",
        "| phase | seconds | × floor |",
        "|---|---:|---:|",
        f"| floor: hand-written SQL ({result['floor_statements']} statements) + the figures | {floor_s:.3f} | 1.0 |",
        f"| `compute()` alone ({result['compute_count']} queries) | {seconds['compute']:.3f} | "
        f"{seconds['compute'] / floor_s:.2f} |",
        f"| API answer (test client, JSON parsed; {result['api_count']} queries) | {seconds['api']:.3f} | "
        f"{seconds['api'] / floor_s:.2f} |",
    ]
    ratio = seconds["api"] / floor_s
    verdict = ("meets the goal" if ratio <= GOAL else "is within the line, not at the goal" if ratio <= LIMIT
               else "is OVER the line")
    compute_sql = result["compute_sql"]
    compute_total = result["compute_traced"]
    queries = sorted(result["compute_queries"].items(), key=lambda kv: -kv[1][1])
    named = "; ".join(f"{label} {sec:.3f} s" + (f" ({n} queries)" if n > 1 else "")
                      for label, (n, sec) in queries[:4])
    parts = sorted(result["floor_parts"].items(), key=lambda kv: -kv[1])
    floor_named = "; ".join(f"{label} {sec:.3f} s" for label, sec in parts[:3])
    profile = ", ".join(f"`{name}` {share:.0%}" for name, _tt, share in result["profile"][:4])
    added = seconds["api"] - seconds["compute"]
    slowest, plan = result["plan"]
    lines += [
        "",
        f"The API answer takes {ratio:.2f}× the floor: it {verdict} (the issue: at most {LIMIT:.0f}×, goal "
        f"{GOAL:.0f}×). Each figure is the best of {repeat} warm rounds (after one warm-up run of each), all on "
        "one connection.",
        "",
        f"Where the time goes. `compute()` spends {compute_sql:.3f} s of {compute_total:.3f} s in its "
        f"{result['compute_count']} queries ({compute_sql / compute_total:.0%}; the rest is Django turning the "
        f"grouped rows — up to units × situations × classes — into Python): {named}. The plan of the slowest "
        f"({slowest}): `{plan}`"
        + (" — one probe of the (unit, hire date) index per unit in scope, then each row read from the table in "
           "unit order" if "(unit_id=?" in plan else "")
        + f". cProfile of one `compute()`, by own time: {profile}. The API adds "
        + (f"{added:.3f} s" if added > 0.0005 else "nothing measurable")
        + " to `compute()` (the scope, the rule tables again for the names, the session, the JSON). The floor "
        f"reads the records in 21 of its {result['floor_statements']} statements (as of d four times, the "
        f"period twice, a−1 and b, each of the twelve month ends, the overlap join): {floor_named}; "
        "`compute()` folds the same counts into five aggregates over the records (as of d by unit × "
        "situation × class with conditional counts, a−1 and b in one, the twelve month ends in one, hires, "
        "leaves by reason).",
    ]
    return "\n".join(lines) + "\n"


def write_docs(section: str, database: str, records: int) -> None:
    begin = BEGIN.replace(" -->", f" {database} {records} -->")
    end = END.replace(" -->", f" {database} {records} -->")
    block = f"{begin}\n{section}{end}\n"
    text = DOCS.read_text(encoding="utf-8")
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _old, tail = rest.split(end, 1)
        text = head + block + tail.lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    DOCS.write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--units", type=int, default=3_000)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", ""),
                        help="postgresql://user@host:port/db — a temporary database is created on that server")
    parser.add_argument("--repeat", type=int, default=5, help="warm rounds of each phase (the best is kept)")
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--explain", action="store_true", help="print the plans of compute()'s slowest queries")
    parser.add_argument("--analyze", action="store_true",
                        help="ANALYZE the SQLite file after the load too (PostgreSQL's always is)")
    args = parser.parse_args()

    postgres = args.database_url.startswith(("postgres://", "postgresql://"))
    database = "PostgreSQL" if postgres else "SQLite"
    info = machine()
    info.pop("python-calamine", None)
    with contextlib.suppress(metadata.PackageNotFoundError):
        info["psycopg"] = metadata.version("psycopg")
    drop = None
    with tempfile.TemporaryDirectory(prefix="bianzhi-bench-") as tmp:
        (Path(tmp) / "static").mkdir()  # STATIC_ROOT, so that WhiteNoise finds it
        os.environ.update(DJANGO_SETTINGS_MODULE="bianzhi.settings.base", BIANZHI_DATA_DIR=tmp,
                          BIANZHI_ALLOWED_HOSTS="testserver,127.0.0.1,localhost")
        if postgres:
            os.environ["DATABASE_URL"], drop = temporary_postgres(args.database_url)
        else:
            os.environ["DATABASE_URL"] = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        try:
            django_setup()
            from django.db import connections

            started = time.perf_counter()
            data = build(args.units, args.records, args.analyze)
            if data["server_version"]:
                info["postgresql"] = data["server_version"]
            print(f"built {args.records:,} records over {args.units:,} units in {time.perf_counter() - started:.1f} s",
                  file=sys.stderr)
            result = measure(args.repeat, 8, args.explain)
            for name, tt, share in result["profile"]:
                print(f"  {share:6.1%} {tt:7.3f} s  {name}", file=sys.stderr)
            for label, (n, sec) in sorted(result["compute_queries"].items(), key=lambda kv: -kv[1][1]):
                print(f"  compute query {sec:7.3f} s ×{n:<2} {label}", file=sys.stderr)
            for label, sec in sorted(result["floor_parts"].items(), key=lambda kv: -kv[1]):
                print(f"  floor part    {sec:7.3f} s     {label}", file=sys.stderr)
            section = render(data, result, info, database, args.repeat, postgres)
        finally:
            if postgres:
                from django.db import connections

                connections.close_all()
            if drop is not None:
                drop()
    print(section)
    if args.write_docs:
        write_docs(section, database, args.records)
        print(f"updated {DOCS.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
