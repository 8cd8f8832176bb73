"""The demo province's 编外人员 roster: records from 2015-01-01 to today.

Built by :func:`build_roster` inside ``build_demo``'s transaction, after the units exist and
the rule tables are loaded. Deterministic (fixed seed; only "today" moves the last months).

How it is made. Every selected unit gets a few *streams* (one situation, one post class,
a few work types of that class, one funding source). Each stream has a target count at four
points — 2015-01-01, the baseline 2019-12-31, 2021-12-31 and today — and is simulated month
by month: people leave at random (resignations, contracts ending), and the stream hires or
lets people go to land exactly on its target at each month end. So the counts as of
2019-12-31 and 2021-12-31 are set by construction, and the 广州市 city-level (市本级)
targets are calibrated to the seed: −14.5% against 2019 at the end of 2021, more than half of
its city-level 党政机关 cleared to zero, logistics posts cut, and the refuse-collection
staff of the city's urban-management centre moved out on one day as one whole-group
transfer (at one tenth of the seed's 2,600). People are then assigned to records in date
order; about one in seven hires is someone who left another unit of the same city earlier,
so a person never counts in two records on one day. A few key-post records, units over
their cap and the coordinator pool of 广州市 are added for the alerts and pages to find.
"""

from __future__ import annotations

import datetime as dt
import heapq
import random
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from itertools import pairwise
from typing import Any

from django.db import connection
from django.db.models import Count, Max, Sum
from django.utils import timezone

from bianzhi.common import audit, pii
from bianzhi.common.codes import CodeError, make_resident_id, validate_resident_id
from bianzhi.divisions.choices import Level
from bianzhi.divisions.models import Division
from bianzhi.orgs.choices import FundingForm, UnitCategory
from bianzhi.orgs.models import Person, Unit, sealed_id_number
from bianzhi.staffing.bulk import selection_digest, snapshot
from bianzhi.staffing.choices import BulkKind, BulkStatus, RuleTable, SpellSource
from bianzhi.staffing.models import BaselineCount, BulkOperation, PoolAssignment, RuleItem, Spell
from bianzhi.staffing.selectors import counting_on
from bianzhi.staffing.services import baseline_take

SEED = 20211231
START = dt.date(2015, 1, 1)
BASELINE_DAY = dt.date(2019, 12, 31)
CHECK_DAY = dt.date(2021, 12, 31)
TRANSFER_DAY = dt.date(2021, 7, 1)
POOL_START = dt.date(2021, 3, 1)
PROVINCE = "440000"
GUANGZHOU = "440100"
SHENZHEN = "440300"
TIANHE = "440106"

TARGET_CHANGE = Decimal("-0.145")  # 广州市本级, 2021-12-31 against 2019-12-31
CLEARED_ORGANS = 10  # of the 16 city-level 党政机关 of 广州市
CLEARED_SIZE = (4, 14)  # their rosters at the baseline: small offices that could go to zero
RECEIVER = "广州市示例环卫集团有限公司"
TRANSFER_DOCUMENT = "示例穗编字〔2021〕12号"
POOL_DOCUMENT = "示例穗编字〔2021〕5号"
# The refuse-collection group: (situation, count at 2019-12-31, count on the day before the move, post name).
GROUP = (("labour_contract", 160, 158, "环卫工人"), ("dispatched", 110, 108, "垃圾收运工"))
# Demo towns under more districts of 广州市 (天河区 gets five from the builder).
DEMO_TOWNS = {"440104": "越秀", "440105": "海珠", "440111": "白云", "440113": "番禺"}
TOWN_NUMERALS = "一二三"
POOL_SIZE = 100
MOVE_SHARE = 0.15

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗梁宋郑谢韩唐冯许邓曾彭萧蔡潘田董袁于余叶蒋杜苏魏程吕丁沈任姚卢钟姜崔谭陆范汪廖石金韦贾夏付方邹熊白孟秦邱侯江尹薛闫段雷龙黎史陶贺毛郝顾龚邵万覃武钱戴严莫孔向常汤康易乔赖文"
GIVEN = "明华国建平志强文军英芳玲娟秀敏静丽伟刚勇杰涛斌浩宇嘉欣怡婷晓雪梅兰燕霞红丹健锋鹏辉俊波超海东晨阳佳琪子轩思颖诗雨凯琳慧倩"

GENERAL = ("clerical", "counter_service", "archives", "mail", "data_entry", "general_affairs")
# Stream recipes: (situation, work types, share of the unit's roster). The post class is the
# work types' class in the rule tables.
ORGAN_STREAMS: list[tuple[str, tuple[str, ...] | None, float]] = [
    ("labour_contract", GENERAL, 0.30),
    ("dispatched", GENERAL, 0.15),
    ("dispatched", ("security", "cleaning", "driver", "canteen", "maintenance"), 0.25),
    ("labour_contract", None, 0.10),  # professional: by department
    ("rehired_retiree", ("archives", "general_affairs"), 0.05),
    ("temporary", ("cleaning", "greening", "canteen"), 0.05),
]
INSTITUTION_STREAMS: list[tuple[str, tuple[str, ...] | None, float]] = [
    ("labour_contract", None, 0.35),
    ("labour_contract", GENERAL, 0.20),
    ("dispatched", ("counter_service", "data_entry", "archives"), 0.10),
    ("dispatched", ("security", "cleaning", "canteen", "greening"), 0.20),
    ("labour_contract", ("driver", "maintenance"), 0.10),
    ("temporary", ("data_entry", "general_affairs"), 0.05),
]
MASS_STREAMS: list[tuple[str, tuple[str, ...] | None, float]] = [
    ("labour_contract", ("clerical", "general_affairs", "archives"), 0.6),
    ("dispatched", ("security", "cleaning"), 0.4),
]
PROFESSIONAL: list[tuple[str, tuple[str, ...]]] = [
    ("教育", ("teaching",)), ("卫生健康", ("medical",)), ("市场监督", ("testing",)),
    ("政务服务数据", ("information_technology",)), ("司法", ("legal",)), ("住房和城乡建设", ("engineering",)),
    ("水务", ("engineering",)), ("交通运输", ("engineering",)), ("自然资源", ("engineering",)),
    ("农业农村", ("engineering", "testing")), ("生态环境", ("testing", "engineering")),
]
DEFAULT_PROFESSIONAL: tuple[str, ...] = ("information_technology", "legal")
# Departments with coordinators (协管员/辅助人员): work types and share of the organ's roster.
COORDINATORS: list[tuple[str, tuple[str, ...], float]] = [
    ("城市管理", ("urban_management",), 0.45), ("市场监督", ("market_supervision",), 0.35),
    ("交通运输", ("traffic",), 0.35), ("应急管理", ("enforcement_general",), 0.2),
    ("生态环境", ("enforcement_general",), 0.2), ("民政", ("general_affairs",), 0.25),
]
POOL_TASKS = {
    "urban_management": "市容环境巡查", "market_supervision": "市场巡查", "traffic": "交通秩序疏导",
    "enforcement_general": "综合执法辅助", "general_affairs": "社区综合服务",
}
POST_NAMES = {
    "clerical": "文秘", "counter_service": "窗口服务员", "archives": "档案管理员", "mail": "收发员",
    "data_entry": "数据录入员", "general_affairs": "综合事务员", "information_technology": "信息技术员",
    "legal": "法律助理", "engineering": "工程技术员", "medical": "医技人员", "teaching": "教学辅助人员",
    "testing": "检验检测员", "auxiliary_police": "辅警", "urban_management": "城管协管员",
    "traffic": "交通协管员", "market_supervision": "市场监管协管员", "enforcement_general": "综合执法辅助员",
    "security": "保安员", "cleaning": "保洁员", "driver": "驾驶员", "canteen": "厨工", "greening": "绿化工",
    "maintenance": "维修工",
}
COORDINATOR_POST_NAMES = {"general_affairs": "社区协管员"}
KEY_POSTS = [
    ("personnel", "general_affairs", "人事专员"), ("finance", "data_entry", "出纳"),
    ("classified", "archives", "涉密档案管理员"),
]

# Roster size at the baseline by place and unit category.
SIZES: dict[str, dict[str, tuple[int, int]]] = {
    "big_city": {UnitCategory.PARTY_GOVERNMENT: (15, 45), UnitCategory.PUBLIC_INSTITUTION: (100, 280),
                 UnitCategory.MASS_ORGANISATION: (3, 10)},
    "province": {UnitCategory.PARTY_GOVERNMENT: (10, 40), UnitCategory.PUBLIC_INSTITUTION: (20, 80),
                 UnitCategory.MASS_ORGANISATION: (3, 8)},
    "district": {UnitCategory.PARTY_GOVERNMENT: (8, 30), UnitCategory.PUBLIC_INSTITUTION: (15, 60),
                 UnitCategory.MASS_ORGANISATION: (2, 6)},
    "city": {UnitCategory.PARTY_GOVERNMENT: (6, 25), UnitCategory.PUBLIC_INSTITUTION: (12, 50),
             UnitCategory.MASS_ORGANISATION: (2, 6)},
    "county": {UnitCategory.PARTY_GOVERNMENT: (3, 15), UnitCategory.PUBLIC_INSTITUTION: (5, 25),
               UnitCategory.MASS_ORGANISATION: (1, 4)},
}
# Share of units with a roster: all of 广州市本级, most of 广州 and 深圳, a sample elsewhere.
COVERAGE = {"big_city": 1.0, "district": 0.85, "province": 0.3, "city": 0.12, "county": 0.12}

# Monthly chance that someone leaves, by situation.
ATTRITION = {"labour_contract": 0.006, "dispatched": 0.010, "coordinator": 0.008, "rehired_retiree": 0.012,
             "temporary": 0.025}
CONTRACT_YEARS = {"labour_contract": 3, "dispatched": 2, "coordinator": 1, "rehired_retiree": 1}
LEAVE_REASONS = (("resigned", "contract_expired", "dismissed", "other"), (55, 30, 5, 10))
CUT_REASONS = {  # the 2020–2021 clean-up
    "logistics": (("to_purchased_service", "contract_expired", "dismissed", "other"), (50, 30, 10, 10)),
    "": (("contract_expired", "resigned", "to_purchased_service", "dismissed", "other"), (50, 20, 10, 10, 10)),
}
MOVABLE = {"resigned", "contract_expired", "to_purchased_service", "other"}
EDUCATION = {
    "professional": (("postgraduate", "bachelor", "college"), (25, 60, 15)),
    "general_auxiliary": (("postgraduate", "bachelor", "college", "high_school"), (5, 45, 40, 10)),
    "enforcement_auxiliary": (("bachelor", "college", "high_school"), (20, 45, 35)),
    "logistics": (("bachelor", "college", "high_school"), (5, 25, 70)),
}
COST = {"professional": (6500, 8200), "general_auxiliary": (4800, 6800), "enforcement_auxiliary": (4600, 6400),
        "logistics": (4000, 5400)}


def _month_index(day: dt.date) -> int:
    return (day.year - START.year) * 12 + day.month - 1


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


@dataclass(eq=False)
class _Unit:
    pk: int
    name: str
    stem: str
    category: str
    funding_form: str
    code: str
    jurisdiction_id: int
    path: str
    city: str
    place: str
    ended_on: dt.date | None


@dataclass(eq=False)
class _Stream:
    unit: _Unit
    situation: str
    post_class: str
    work_types: tuple[str, ...]
    funding: str
    start: int
    baseline: int
    check: int = 0
    today: int = 0
    post_name: str = ""
    end: tuple[int, dt.date, str] | None = None  # month, leave date, reason: everyone leaves then
    keys: list[tuple[int, int]] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class _Spell:
    stream: _Stream
    hire: dt.date
    work_type: str
    leave: dt.date | None = None
    reason: str = ""
    person: int = -1
    key_post: str = ""
    post_name: str = ""
    pk: int = 0


@dataclass(slots=True, eq=False)
class _Person:
    birth: dt.date
    male: bool
    education: str
    region: str
    name: str
    id_number: str = ""
    last: _Spell | None = None


class _Roster:
    def __init__(self, actor: Any) -> None:
        self.actor = actor
        self.rng = random.Random(SEED)
        self.today = timezone.localdate()
        self.months: list[tuple[dt.date, dt.date]] = []
        first = START
        while first <= self.today:
            following = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
            self.months.append((first, min(following - dt.timedelta(days=1), self.today)))
            first = following
        self.last_month = len(self.months) - 1
        self.work_class = {r.code: r.parent_code for r in RuleItem.objects.filter(
            table=RuleTable.WORK_TYPE, jurisdiction__isnull=True)}
        if not self.work_class:
            raise RuntimeError("load the rule tables first (bianzhi load-rules)")
        self.streams: list[_Stream] = []
        self.spells: list[_Spell] = []
        self.registered: set[str] = set()
        self.people: list[_Person] = []
        self.units: list[_Unit] = []
        self.cleared: set[int] = set()
        self.over_cap_units: list[_Unit] = []
        self.person_pk: dict[str, int] = {}
        self.movers = 0

    # -- plan -------------------------------------------------------------------------------

    def post_class(self, work_types: tuple[str, ...]) -> str:
        classes = {self.work_class[w] for w in work_types}
        if len(classes) != 1:
            raise RuntimeError(f"work types of more than one post class: {work_types}")
        return classes.pop()

    def load_units(self) -> None:
        rows = Unit.objects.order_by("uscc").values_list(
            "pk", "name", "category", "funding_form", "jurisdiction__code", "jurisdiction_id", "jurisdiction_path",
            "ended_on")
        for pk, name, category, funding_form, code, jurisdiction_id, path, ended_on in rows:
            parts = path.strip("/").split("/")
            city = parts[1] if len(parts) > 1 else parts[0]
            if code == PROVINCE:
                place = "province"
            elif code in (GUANGZHOU, SHENZHEN):
                place = "big_city"
            elif city in (GUANGZHOU, SHENZHEN):
                place = "district"
            else:
                place = "city" if len(parts) == 2 else "county"
            if ended_on is not None and ended_on <= BASELINE_DAY:
                continue
            if code != GUANGZHOU and self.rng.random() >= COVERAGE[place]:
                continue
            stem = name.split("示例", 1)[-1]
            self.units.append(_Unit(pk, name, stem, category, funding_form, code, jurisdiction_id, path, city,
                                    place, ended_on))

    def plan(self) -> None:
        organs = [u for u in self.units if u.code == GUANGZHOU and u.category == UnitCategory.PARTY_GOVERNMENT
                  and u.ended_on is None and not u.stem.startswith(("城市管理", "市场监督", "交通运输"))]
        self.cleared = {u.pk for u in self.rng.sample(organs, min(CLEARED_ORGANS, len(organs)))}
        for unit in self.units:
            low, high = CLEARED_SIZE if unit.pk in self.cleared else SIZES[unit.place].get(unit.category, (2, 6))
            size = self.rng.randint(low, high)
            if unit.category == UnitCategory.PARTY_GOVERNMENT:
                recipes = list(ORGAN_STREAMS)
                for stem, work_types, share in COORDINATORS:
                    if unit.stem.startswith(stem):
                        recipes.append(("coordinator", work_types, share))
            elif unit.category == UnitCategory.PUBLIC_INSTITUTION:
                recipes = INSTITUTION_STREAMS
            else:
                recipes = MASS_STREAMS
            for situation, recipe_types, share in recipes:
                work_types = recipe_types or next(
                    (w for stem, w in PROFESSIONAL if unit.stem.startswith(stem)), DEFAULT_PROFESSIONAL)
                baseline = round(size * share)
                if baseline == 0 and share >= 0.25:
                    baseline = 1
                if baseline == 0:
                    continue
                self.add_stream(unit, situation, work_types, baseline)
        self.group_transfer_streams()
        for stream in self.streams:
            if stream.end is None:
                self.set_check(stream)
        self.calibrate_guangzhou()
        for stream in self.streams:
            if stream.end is None:
                self.set_today(stream)
        self.over_cap()

    def add_stream(self, unit: _Unit, situation: str, work_types: tuple[str, ...], baseline: int,
                   post_name: str = "") -> _Stream:
        post_class = self.post_class(work_types)
        if unit.category == UnitCategory.PUBLIC_INSTITUTION and unit.funding_form == FundingForm.SELF:
            funding = "own_funds"
        elif unit.category == UnitCategory.PUBLIC_INSTITUTION and unit.funding_form == FundingForm.PARTIAL:
            funding = self.rng.choice(("fiscal", "own_funds"))
        else:
            funding = "other" if situation == "temporary" and self.rng.random() < 0.5 else "fiscal"
        stream = _Stream(unit=unit, situation=situation, post_class=post_class, work_types=work_types,
                         funding=funding, start=round(baseline * self.rng.uniform(0.7, 0.95)), baseline=baseline,
                         post_name=post_name)
        if unit.ended_on is not None:
            stream.end = (_month_index(unit.ended_on), unit.ended_on, "other")
        self.streams.append(stream)
        return stream

    def group_transfer_streams(self) -> None:
        centre = next(u for u in self.units if u.code == GUANGZHOU and u.stem.startswith("城市管理")
                      and u.category == UnitCategory.PUBLIC_INSTITUTION)
        self.group_unit = centre
        # The group is every cleaner of the centre: its other logistics staff do other work.
        for stream in self.streams:
            if stream.unit is centre and "cleaning" in stream.work_types:
                stream.work_types = tuple(w for w in stream.work_types if w != "cleaning")
        for situation, baseline, before, post_name in GROUP:
            stream = self.add_stream(centre, situation, ("cleaning",), baseline, post_name)
            stream.funding = "fiscal"
            stream.check = stream.today = 0
            stream.end = (_month_index(TRANSFER_DAY), TRANSFER_DAY, "group_transfer")
            stream.keys = [(0, stream.start), (_month_index(BASELINE_DAY), baseline),
                           (_month_index(TRANSFER_DAY) - 1, before)]

    def set_check(self, stream: _Stream) -> None:
        if stream.post_class == "logistics":
            factor = self.rng.uniform(0.6, 0.85)
        elif stream.situation == "coordinator":
            factor = self.rng.uniform(0.85, 1.0)
        else:
            factor = self.rng.uniform(0.88, 1.0)
        stream.check = min(round(stream.baseline * factor), stream.baseline)

    def set_today(self, stream: _Stream) -> None:
        factor = self.rng.uniform(0.6, 0.9) if stream.post_class == "logistics" else self.rng.uniform(0.9, 1.0)
        stream.today = min(round(stream.check * factor), stream.baseline)

    def calibrate_guangzhou(self) -> None:
        """广州市本级: clear most 党政机关, then adjust the others to land on the target change."""
        city = [s for s in self.streams if s.unit.code == GUANGZHOU]
        for stream in city:
            if stream.unit.pk in self.cleared:
                stream.check = 0
        total = sum(s.baseline for s in city)
        goal = int((total * (1 + TARGET_CHANGE)).to_integral_value(ROUND_HALF_EVEN))
        diff = goal - sum(s.check for s in city if s.end is None)
        adjustable = [s for s in city if s.end is None and s.unit.pk not in self.cleared]
        self.rng.shuffle(adjustable)
        # Keep the logistics cuts: raise the other classes first; lower logistics first.
        logistics = [s for s in adjustable if s.post_class == "logistics"]
        others = [s for s in adjustable if s.post_class != "logistics"]
        for group in ((others, logistics) if diff > 0 else (logistics, others)):
            moved = True
            while diff and moved:
                moved = False
                for stream in group:
                    if diff > 0 and stream.check < stream.baseline:
                        stream.check += 1
                        diff -= 1
                        moved = True
                    elif diff < 0 and stream.check > max(1, stream.baseline // 2):
                        stream.check -= 1
                        diff += 1
                        moved = True
                    if not diff:
                        break
        if diff:
            raise RuntimeError("广州市 city-level calibration is infeasible")

    def over_cap(self) -> None:
        """A few units (outside 广州市本级) whose count today is above their baseline."""
        by_unit: dict[int, list[_Stream]] = defaultdict(list)
        for stream in self.streams:
            if stream.end is None:
                by_unit[stream.unit.pk].append(stream)
        for code, n in ((TIANHE, 2), ("440104", 1), ("440304", 1), ("440305", 1), ("", 2)):
            units = sorted({s.unit.pk: s.unit for streams in by_unit.values() for s in streams
                            if (s.unit.code == code if code else s.unit.city not in (GUANGZHOU, SHENZHEN))
                            and s.unit.category != UnitCategory.MASS_ORGANISATION}.values(), key=lambda u: u.pk)
            for unit in self.rng.sample(units, min(n, len(units))):
                streams = by_unit[unit.pk]
                general = next((s for s in streams if s.post_class == "general_auxiliary"
                                and s.situation == "labour_contract"), streams[0])
                deficit = sum(s.baseline - s.today for s in streams if s is not general)
                general.today = general.baseline + deficit + self.rng.randint(2, 4)
                self.over_cap_units.append(unit)

    # -- simulate ---------------------------------------------------------------------------

    def simulate(self) -> None:
        baseline_m, check_m = _month_index(BASELINE_DAY), _month_index(CHECK_DAY)
        for stream in self.streams:
            if not stream.keys:
                stream.keys = [(0, stream.start), (baseline_m, stream.baseline)]
                if stream.end is not None:
                    stream.keys.append((stream.end[0] - 1, round(stream.baseline * 0.9)))
                else:
                    stream.keys += [(check_m, stream.check), (self.last_month, stream.today)]
            self.run(stream)

    def target(self, stream: _Stream, month: int) -> int:
        keys = stream.keys
        for (m0, v0), (m1, v1) in pairwise(keys):
            if m0 <= month <= m1:
                if month in (m0, m1):
                    return v0 if month == m0 else v1
                return max(round(v0 + (v1 - v0) * (month - m0) / (m1 - m0)), 0)
        return keys[-1][1]

    def run(self, stream: _Stream) -> None:
        rng = self.rng
        active: list[_Spell] = []
        rate = ATTRITION[stream.situation]
        cut_reasons = CUT_REASONS.get(stream.post_class, CUT_REASONS[""])
        cut_from, cut_to = _month_index(dt.date(2020, 1, 1)), _month_index(CHECK_DAY)
        for month, (first, last) in enumerate(self.months):
            if stream.end is not None and month >= stream.end[0]:
                _, day, reason = stream.end
                for spell in active:
                    spell.leave, spell.reason = day, reason
                return
            target = self.target(stream, month)
            if month == 0:
                active.extend(self.hire(stream, START) for _ in range(target))
                continue
            expected = len(active) * rate
            leaving = int(expected) + (rng.random() < expected - int(expected))
            if leaving:
                self.leave(active, leaving, first, last, LEAVE_REASONS)
            change = target - len(active)
            span = (last - first).days + 1
            if change > 0:
                active.extend(self.hire(stream, first + dt.timedelta(days=rng.randrange(span)))
                              for _ in range(change))
            elif change < 0:
                reasons = cut_reasons if cut_from <= month <= cut_to else LEAVE_REASONS
                self.leave(active, -change, first, last, reasons)

    def hire(self, stream: _Stream, day: dt.date) -> _Spell:
        spell = _Spell(stream=stream, hire=day, work_type=self.rng.choice(stream.work_types))
        self.spells.append(spell)
        return spell

    def leave(self, active: list[_Spell], n: int, first: dt.date, last: dt.date,
              reasons: tuple[tuple[str, ...], tuple[int, ...]]) -> None:
        eligible = [i for i, s in enumerate(active) if s.hire < last]
        chosen = set(self.rng.sample(eligible, min(n, len(eligible))))
        for i in chosen:
            spell = active[i]
            earliest = max(first, spell.hire + dt.timedelta(days=1))
            spell.leave = earliest + dt.timedelta(days=self.rng.randrange((last - earliest).days + 1))
            spell.reason = self.rng.choices(reasons[0], reasons[1])[0]
        active[:] = [s for i, s in enumerate(active) if i not in chosen]

    def key_posts(self) -> None:
        """Key-post records still in post today in 天河区 and 广州市本级 units (not over cap)."""
        today_by_unit: dict[int, int] = defaultdict(int)
        baseline_by_unit: dict[int, int] = defaultdict(int)
        streams_by_unit: dict[int, list[_Stream]] = defaultdict(list)
        for stream in self.streams:
            baseline_by_unit[stream.unit.pk] += stream.baseline
            today_by_unit[stream.unit.pk] += stream.today
            streams_by_unit[stream.unit.pk].append(stream)
        over = {u.pk for u in self.over_cap_units}
        for code in (TIANHE, GUANGZHOU):
            units = sorted({s.unit.pk: s.unit for s in self.streams if s.unit.code == code and s.end is None
                            and s.unit.pk not in over and s.unit.pk not in self.cleared
                            and today_by_unit[s.unit.pk] < baseline_by_unit[s.unit.pk]}.values(),
                           key=lambda u: u.pk)
            for unit, (key_post, work_type, post_name) in zip(self.rng.sample(units, len(KEY_POSTS)), KEY_POSTS,
                                                              strict=True):
                stream = next((s for s in streams_by_unit[unit.pk] if s.situation == "labour_contract"
                               and s.post_class == "general_auxiliary"), streams_by_unit[unit.pk][0])
                day = dt.date(2022, 3, 1) + dt.timedelta(days=self.rng.randrange((self.today -
                                                                                  dt.date(2022, 3, 1)).days))
                spell = _Spell(stream=stream, hire=day, work_type=work_type, key_post=key_post,
                               post_name=post_name)
                if self.work_class[work_type] != stream.post_class:
                    raise RuntimeError("key-post work type outside the stream's post class")
                self.spells.append(spell)

    # -- people -----------------------------------------------------------------------------

    def regions(self) -> tuple[dict[str, list[str]], list[str]]:
        """Real Guangdong region codes for ID numbers: the counties of each city (the city's own code
        for a city without counties, such as 东莞市), and all of them for people from elsewhere."""
        by_city: dict[str, list[str]] = defaultdict(list)
        cities: list[str] = []
        for code, level in Division.objects.filter(code__startswith="44", level__in=(Level.CITY, Level.COUNTY)
                                                   ).order_by("code").values_list("code", "level"):
            try:
                validate_resident_id(make_resident_id(code, dt.date(1990, 1, 1), 1))
            except CodeError:
                continue
            if level == Level.CITY:
                cities.append(code)
            else:
                by_city[code[:4] + "00"].append(code)
        for city in cities:
            by_city.setdefault(city, [city])
        return by_city, sorted(code for codes in by_city.values() for code in codes)

    def assign_people(self) -> None:
        rng = self.rng
        by_city, every = self.regions()
        taken: set[str] = set()
        self.registered = set(Person.objects.values_list("id_number_index", flat=True))  # blind indexes
        waiting: dict[str, list[tuple[dt.date, int, int]]] = defaultdict(list)
        ready: dict[str, list[int]] = defaultdict(list)
        counter = 0
        self.spells.sort(key=lambda s: (s.hire, s.stream.unit.pk))
        for spell in self.spells:
            stream = spell.stream
            city = stream.unit.city
            heap = waiting[city]
            while heap and heap[0][0] <= spell.hire:
                ready[city].append(heapq.heappop(heap)[2])
            person_index = -1
            pool = ready[city]
            if (spell.hire > START and pool and stream.situation != "rehired_retiree"
                    and rng.random() < MOVE_SHARE):
                i = rng.randrange(len(pool))
                candidate = pool[i]
                if spell.hire.year - self.people[candidate].birth.year <= 57:
                    pool[i] = pool[-1]
                    pool.pop()
                    person_index = candidate
                    self.movers += 1
            if person_index < 0:
                person_index = self.new_person(spell, by_city.get(city) or every, every, taken)
            spell.person = person_index
            self.people[person_index].last = spell
            if spell.leave is not None and spell.reason in MOVABLE:
                counter += 1
                heapq.heappush(heap, (spell.leave, counter, person_index))
        for spell in self.spells:
            person = self.people[spell.person]
            if (spell.leave is not None and spell.reason in ("resigned", "contract_expired", "other")
                    and spell.leave.year - person.birth.year >= 60):
                spell.reason = "retired"

    def new_person(self, spell: _Spell, local: list[str], every: list[str], taken: set[str]) -> int:
        rng = self.rng
        year = spell.hire.year
        if spell.stream.situation == "rehired_retiree":
            birth_year = rng.randint(1960, 1965)
        else:
            low, high = max(1960, year - 55), min(2003, year - 19)
            birth_year = max(rng.randint(low, high), rng.randint(low, high))  # leaning young
        birth = dt.date(birth_year, rng.randint(1, 12), rng.randint(1, 28))
        region = rng.choice(local) if rng.random() < 0.75 else rng.choice(every)
        while True:
            sequence = rng.randrange(1000)
            number = make_resident_id(region, birth, sequence)
            if number not in taken and (not self.registered or pii.blind_index(number) not in self.registered):
                taken.add(number)
                break
        choices, weights = EDUCATION[spell.stream.post_class]
        name = rng.choice(SURNAMES) + "示" + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
        self.people.append(_Person(birth=birth, male=sequence % 2 == 1, education=rng.choices(choices, weights)[0],
                                   region=region, name=name, id_number=number))
        return len(self.people) - 1

    # -- write ------------------------------------------------------------------------------

    def contract_end(self, spell: _Spell) -> dt.date | None:
        years = CONTRACT_YEARS.get(spell.stream.situation)
        if years is None:
            return None
        if spell.leave is not None and spell.reason == "contract_expired":
            return spell.leave - dt.timedelta(days=1)
        horizon = spell.leave - dt.timedelta(days=1) if spell.leave is not None else self.today
        end = _add_years(spell.hire, years) - dt.timedelta(days=1)
        while end < horizon:
            end = _add_years(end + dt.timedelta(days=1), years) - dt.timedelta(days=1)
        return end

    def cost(self, spell: _Spell) -> Decimal:
        low, high = COST[spell.stream.post_class]
        value = self.rng.randint(low, high) * (1 + 0.03 * (spell.hire.year - START.year))
        return Decimal(min(int(value) // 10 * 10, 9000))

    def write(self) -> BulkOperation:
        units = {u.pk: u for u in self.units}
        date = connection.ops.adapt_datefield_value
        before = Person.objects.aggregate(highest=Max("pk"))["highest"] or 0
        sealed = {p.id_number: sealed_id_number(p.id_number) for p in self.people if p.last is not None}
        _insert(Person, ("id_number_enc", "id_number_index", "id_number_masked", "name", "sex", "birth_date",
                         "education", "jurisdiction", "jurisdiction_path", "unit"), [
            (*sealed[p.id_number].values(), p.name, "M" if p.male else "F", date(p.birth), p.education,
             units[p.last.stream.unit.pk].jurisdiction_id, p.last.stream.unit.path, p.last.stream.unit.pk)
            for p in self.people if p.last is not None])
        number_of = {columns["id_number_index"]: number for number, columns in sealed.items()}
        person_pk = {number_of[index]: pk for index, pk in
                     Person.objects.filter(pk__gt=before).values_list("id_number_index", "pk")}
        group = [s for s in self.spells if s.reason == "group_transfer"]
        operation = BulkOperation.objects.create(
            kind=BulkKind.GROUP_TRANSFER, status=BulkStatus.APPLIED, unit_id=self.group_unit.pk,
            jurisdiction_path=self.group_unit.path,
            criteria={"work_type": "cleaning"},
            leave_date=TRANSFER_DAY, exit_reason="group_transfer", receiver=RECEIVER,
            document_ref=TRANSFER_DOCUMENT, count=len(group), created_by=self.actor,
            applied_at=timezone.make_aware(dt.datetime(2021, 6, 30, 10, 0)),
        )
        BulkOperation.objects.filter(pk=operation.pk).update(
            created_at=timezone.make_aware(dt.datetime(2021, 6, 25, 9, 30)))
        rows = []
        for spell in self.spells:
            stream = spell.stream
            person = self.people[spell.person]
            work_type = spell.work_type
            if stream.post_name:
                post_name = stream.post_name
            elif spell.post_name:
                post_name = spell.post_name
            elif stream.situation == "coordinator":
                post_name = COORDINATOR_POST_NAMES.get(work_type, POST_NAMES[work_type])
            else:
                post_name = POST_NAMES[work_type]
            contract_end = self.contract_end(spell)
            rows.append((
                person_pk[person.id_number], stream.unit.pk, stream.unit.path, stream.situation, stream.post_class,
                work_type, post_name, spell.key_post, stream.funding, date(spell.hire),
                None if spell.leave is None else date(spell.leave), spell.reason,
                None if contract_end is None else date(contract_end), person.education,
                connection.ops.adapt_decimalfield_value(self.cost(spell), 12, 2),
                operation.pk if spell.reason == "group_transfer" else None, SpellSource.DEMO.value,
            ))
        _insert(Spell, ("person", "unit", "jurisdiction_path", "situation", "post_class", "work_type", "post_name",
                        "key_post", "funding_source", "hire_date", "leave_date", "exit_reason", "contract_end",
                        "education", "monthly_cost", "operation", "source"), rows)
        self.person_pk = person_pk
        operation.selection_digest = selection_digest(list(operation.spells.values_list("pk", flat=True)))
        operation.save(update_fields=["selection_digest"])
        return operation

    def towns(self) -> list[Division]:
        parents = {d.code: d for d in Division.objects.filter(code__in=list(DEMO_TOWNS))}
        towns = []
        for code, short in DEMO_TOWNS.items():
            parent = parents[code]
            for i, numeral in enumerate(TOWN_NUMERALS, start=1):
                town_code = f"{code}{900 + i:03d}"
                town, _ = Division.objects.get_or_create(
                    code=town_code, defaults={"name": f"示例{short}{numeral}街道", "level": Level.TOWN,
                                              "parent": parent, "path": f"{parent.path}{town_code}/",
                                              "depth": parent.depth + 1})
                towns.append(town)
        return towns

    def pool(self, new_towns: list[Division]) -> list[PoolAssignment]:
        rng = self.rng
        city = Division.objects.get(code=GUANGZHOU)
        towns = sorted(new_towns + list(Division.objects.filter(
            code__startswith=TIANHE, level=Level.TOWN).exclude(pk__in=[t.pk for t in new_towns])),
            key=lambda t: t.code)
        by_district: dict[str, list[Division]] = defaultdict(list)
        for town in towns:
            by_district[town.code[:6]].append(town)
        candidates = [s for s in self.spells if s.stream.situation == "coordinator" and s.leave is None
                      and (s.stream.unit.code == GUANGZHOU or s.stream.unit.code in by_district)]
        chosen = rng.sample(candidates, min(POOL_SIZE, len(candidates)))
        spell_pk = {(person, unit, hire): pk for pk, person, unit, hire in Spell.objects.filter(
            situation="coordinator", leave_date__isnull=True, jurisdiction_path__startswith=city.path,
        ).values_list("pk", "person_id", "unit_id", "hire_date")}
        for spell in chosen:
            spell.pk = spell_pk[(self.person_pk[self.people[spell.person].id_number], spell.stream.unit.pk,
                                 spell.hire)]
        chosen.sort(key=lambda s: s.pk)
        rows = []
        for spell in chosen:
            options = by_district.get(spell.stream.unit.code) or towns
            town = rng.choice(options)
            start = max(spell.hire, POOL_START)
            task = POOL_TASKS[spell.work_type]
            common = {"spell_id": spell.pk, "city": city, "department_id": spell.stream.unit.pk,
                      "task": task, "document_ref": POOL_DOCUMENT}
            days = (self.today - start).days
            if days > 120 and rng.random() < 0.12 and len(options) > 1:
                moved = start + dt.timedelta(days=rng.randint(60, days - 1))
                rows.append(PoolAssignment(town=town, valid_from=start, valid_to=moved, **common))
                town = rng.choice([t for t in options if t.pk != town.pk])
                start = moved
            rows.append(PoolAssignment(town=town, valid_from=start, **common))
        PoolAssignment.objects.bulk_create(rows, batch_size=2000)
        return rows


def _insert(model: Any, fields: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Bulk INSERT of database-ready values: ``COPY`` on PostgreSQL, ``executemany`` elsewhere
    (``bulk_create`` prepares every value through its field: most of the time at this size)."""
    meta = model._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    columns = ", ".join(quote(meta.get_field(name).column) for name in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"
        for i in range(0, len(rows), 5000):
            cursor.executemany(sql, rows[i:i + 5000])


def roster_figures(today: dt.date | None = None) -> dict[str, Any]:
    """The calibrated figures, read back from the database."""
    today = today or timezone.localdate()
    city = Spell.objects.filter(unit__jurisdiction__code=GUANGZHOU)
    before = counting_on(city, BASELINE_DAY).count()
    after = counting_on(city, CHECK_DAY).count()
    change = (Decimal(after - before) / before).quantize(Decimal("0.0001"), ROUND_HALF_EVEN) if before else None
    organs = list(Unit.objects.filter(jurisdiction__code=GUANGZHOU, category=UnitCategory.PARTY_GOVERNMENT)
                  .values_list("pk", flat=True))

    def by_unit(day: dt.date) -> dict[int, int]:
        return dict(counting_on(Spell.objects.filter(unit_id__in=organs), day).values_list("unit_id")
                    .annotate(n=Count("id")).values_list("unit_id", "n"))

    organs_before, organs_after = by_unit(BASELINE_DAY), by_unit(CHECK_DAY)
    with_staff = [u for u in organs if organs_before.get(u, 0) > 0]
    cleared = [u for u in with_staff if organs_after.get(u, 0) == 0]
    caps = dict(BaselineCount.objects.filter(baseline__is_current=True).values_list("unit_id")
                .annotate(n=Sum("count")).values_list("unit_id", "n"))
    now = dict(counting_on(Spell.objects.all(), today).values_list("unit_id").annotate(n=Count("id"))
               .values_list("unit_id", "n"))
    return {
        "gz_city_2019": before, "gz_city_2021": after, "gz_city_change": change,
        "gz_organs": len(with_staff), "gz_organs_cleared": len(cleared),
        "key_posts_today": counting_on(Spell.objects.exclude(key_post=""), today).count(),
        "over_cap_units": sum(1 for unit, n in now.items() if unit in caps and n > caps[unit]),
    }


def build_roster(actor: Any) -> dict[str, Any]:
    """Build the roster, take the 2019-12-31 baseline of the province, and audit it (caller's transaction)."""
    roster = _Roster(actor)
    roster.load_units()
    roster.plan()
    roster.simulate()
    roster.key_posts()
    roster.assign_people()
    new_towns = roster.towns()
    operation = roster.write()
    assignments = roster.pool(new_towns)
    baseline = baseline_take(actor=actor, scope=PROVINCE, as_of=BASELINE_DAY, note="示例数据")
    figures = roster_figures(roster.today)
    counts = {
        "spells": len(roster.spells), "people": sum(1 for p in roster.people if p.last is not None),
        "movers": roster.movers, "units": len({s.stream.unit.pk for s in roster.spells}),
        "group_transfer": operation.count, "pool_assignments": len(assignments), "towns": len(new_towns),
        "baseline_total": baseline.total, **figures,
    }
    entries = [audit.Entry(action="division.add", scope_path=t.path, object_type="divisions.division",
                           object_id=str(t.pk), object_repr=str(t), after={"code": t.code, "name": t.name})
               for t in new_towns]
    root = Division.objects.get(code=PROVINCE)
    entries.append(audit.entry_for("bulk.apply", operation, scope_path=operation.jurisdiction_path,
                                   after=snapshot(operation) | {"applied_at": operation.applied_at}))
    entries.append(audit.Entry(action="demo.roster", scope_path=root.path, object_type="demo",
                               object_repr="示例编外人员名册", after={**counts, "operation": operation.pk}))
    audit.record_many(actor, entries)
    return counts
