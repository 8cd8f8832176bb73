"""The synthetic demo province on the real GB/T 2260 tree.

Units and people are synthetic: every name carries 示例 ("example") so nobody mistakes
them for real bodies, and every code is check-digit valid. The build is deterministic
(fixed random seed), runs in one transaction and writes one audit event per created
object plus one ``demo.build`` event, so ``bianzhi audit verify`` holds on the demo. The
编外人员 roster, its baseline and the coordinator pool come from :mod:`bianzhi.demo.roster`.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from bianzhi.accounts.choices import Role
from bianzhi.accounts.models import User
from bianzhi.common import audit
from bianzhi.common.codes import make_resident_id, make_uscc
from bianzhi.common.models import AuditEvent
from bianzhi.demo.roster import build_roster
from bianzhi.divisions.choices import Level
from bianzhi.divisions.models import Division
from bianzhi.orgs.choices import EstablishmentKind, FundingForm, UnitCategory, UnitChange, UnitStatus
from bianzhi.orgs.models import EstablishmentQuota, Person, Unit, UnitVersion, sealed_id_number

DEMO_PASSWORD = "Demo@2026bz"
SEED = 20191231

DEPARTMENTS = [
    "教育局", "卫生健康局", "民政局", "人力资源和社会保障局", "财政局", "城市管理和综合执法局",
    "市场监督管理局", "交通运输局", "水务局", "文化广电旅游体育局", "司法局", "住房和城乡建设局",
    "农业农村局", "自然资源局", "生态环境局", "应急管理局", "统计局", "医疗保障局", "退役军人事务局",
    "政务服务数据管理局",
]
MASS_ORGS = ["总工会", "共青团委员会", "妇女联合会"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗梁宋郑谢韩唐冯许邓曾彭萧蔡潘田董袁"
GIVEN = "明华国建平志强文军英芳玲娟秀敏静丽伟刚勇杰涛斌浩宇"

ROLE_SHORT = {
    Role.UNIT_OPERATOR: "operator",
    Role.ESTABLISHMENT_REVIEWER: "reviewer",
    Role.FINANCE_REVIEWER: "finance",
    Role.HR_REVIEWER: "hr",
    Role.DECISION_MAKER: "leader",
    Role.ISSUING_OFFICE: "office",
    Role.SUPERVISOR: "supervisor",
    Role.ADMINISTRATOR: "admin",
}
ACCOUNT_SCOPES = [("gd", "440000"), ("gz", "440100"), ("sz", "440300"), ("th", "440106")]
TIANHE_STREETS = ["示例一街道", "示例二街道", "示例三街道", "示例四街道", "示例五街道"]


@dataclass
class DemoAccount:
    username: str
    role: str
    jurisdiction: str
    unit: str


def is_built() -> bool:
    return AuditEvent.objects.filter(action="demo.build").exists()


class _Builder:
    def __init__(self, actor: User) -> None:
        self.actor = actor
        self.rng = random.Random(SEED)
        self.units: list[Unit] = []
        self.versions: list[UnitVersion] = []
        self.quotas: list[EstablishmentQuota] = []
        self.org_serial = 0

    def uscc(self, division: Division, category: str) -> str:
        self.org_serial += 1
        registration = {"party_government": "11", "public_institution": "12", "mass_organisation": "13"}.get(
            category, "19")
        body = f"D{self.org_serial:07d}"
        return make_uscc(registration, division.code[:6], body)

    def unit(self, division: Division, name: str, category: str, parent: Unit | None = None,
             set_up_on: dt.date | None = None) -> Unit:
        set_up_on = set_up_on or dt.date(self.rng.randint(1995, 2012), self.rng.randint(1, 12), 1)
        funding = FundingForm.FULL if category != UnitCategory.PUBLIC_INSTITUTION else self.rng.choice(
            [FundingForm.FULL, FundingForm.FULL, FundingForm.PARTIAL, FundingForm.SELF])
        unit = Unit(
            uscc=self.uscc(division, category), name=name, category=category, funding_form=funding,
            parent=parent, jurisdiction=division, jurisdiction_path=division.path, set_up_on=set_up_on,
        )
        self.units.append(unit)
        return unit

    def build_units(self) -> None:
        divisions = list(Division.objects.exclude(level=Level.TOWN).order_by("path"))
        for division in divisions:
            prefix = division.name
            if division.level == Level.PROVINCE:
                count = len(DEPARTMENTS)
            elif division.level == Level.CITY:
                count = 16
            else:
                count = 10
            for stem in DEPARTMENTS[:count]:
                dept = self.unit(division, f"{prefix}示例{stem}", UnitCategory.PARTY_GOVERNMENT)
                self.unit(division, f"{prefix}示例{stem[:-1]}事务服务中心", UnitCategory.PUBLIC_INSTITUTION,
                          parent=dept)
            for stem in MASS_ORGS[: 3 if division.level != Level.COUNTY else 1]:
                self.unit(division, f"{prefix}示例{stem}", UnitCategory.MASS_ORGANISATION)

    def save_units(self) -> None:
        # Parents first so that foreign keys resolve; bulk_create sets pks on both engines.
        parents = [u for u in self.units if u.parent is None]
        children = [u for u in self.units if u.parent is not None]
        Unit.objects.bulk_create(parents, batch_size=1000)
        for child in children:
            child.parent_id = child.parent.pk  # type: ignore[union-attr]
        Unit.objects.bulk_create(children, batch_size=1000)

    def history(self) -> None:
        """Versions from set-up; some units renamed in the 2019 reform, a few abolished in 2021."""
        reform = dt.date(2019, 3, 1)
        abolition = dt.date(2021, 7, 1)
        for unit in self.units:
            versions = []
            if unit.category == UnitCategory.PUBLIC_INSTITUTION and self.rng.random() < 0.15:
                old_name = unit.name.replace("事务服务中心", "管理所")
                versions.append(UnitVersion(
                    unit=unit, valid_from=unit.set_up_on, valid_to=reform, change=UnitChange.SET_UP, name=old_name,
                    category=unit.category, funding_form=unit.funding_form, parent=unit.parent,
                    jurisdiction=unit.jurisdiction, jurisdiction_path=unit.jurisdiction_path,
                ))
                versions.append(UnitVersion(
                    unit=unit, valid_from=reform, change=UnitChange.RENAME, name=unit.name, category=unit.category,
                    funding_form=unit.funding_form, parent=unit.parent, jurisdiction=unit.jurisdiction,
                    jurisdiction_path=unit.jurisdiction_path, document_ref="示例编发〔2019〕1号",
                ))
            else:
                versions.append(UnitVersion(
                    unit=unit, valid_from=unit.set_up_on, change=UnitChange.SET_UP, name=unit.name,
                    category=unit.category, funding_form=unit.funding_form, parent=unit.parent,
                    jurisdiction=unit.jurisdiction, jurisdiction_path=unit.jurisdiction_path,
                ))
            if unit.category == UnitCategory.PUBLIC_INSTITUTION and self.rng.random() < 0.03:
                unit.status = UnitStatus.ABOLISHED
                unit.ended_on = abolition
                versions[-1].valid_to = abolition
            self.versions.extend(versions)
        Unit.objects.bulk_update([u for u in self.units if u.status != UnitStatus.ACTIVE],
                                 ["status", "ended_on"], batch_size=1000)
        UnitVersion.objects.bulk_create(self.versions, batch_size=2000)

    def establishment(self) -> None:
        since = dt.date(2019, 1, 1)
        for unit in self.units:
            if unit.category in (UnitCategory.PARTY_GOVERNMENT, UnitCategory.MASS_ORGANISATION):
                kinds = [EstablishmentKind.ADMINISTRATIVE]
                if "司法" in unit.name and unit.category == UnitCategory.PARTY_GOVERNMENT:
                    kinds.append(EstablishmentKind.POLITICAL_LEGAL)
            else:
                kinds = [EstablishmentKind.PUBLIC_INSTITUTION]
            for kind in kinds:
                approved = self.rng.randint(8, 60)
                # Most units run a few vacancies; about one in twelve is over establishment.
                actual = approved + self.rng.randint(1, 4) if self.rng.random() < 0.08 else max(
                    approved - self.rng.randint(0, 6), 0)
                valid_to = unit.ended_on
                self.quotas.append(EstablishmentQuota(
                    unit=unit, kind=kind, approved=approved, actual=actual, valid_from=since, valid_to=valid_to,
                    document_ref="示例编发〔2019〕1号",
                ))
        EstablishmentQuota.objects.bulk_create(self.quotas, batch_size=2000)

    def towns(self) -> list[Division]:
        tianhe = Division.objects.get(code="440106")
        towns = []
        for i, name in enumerate(TIANHE_STREETS, start=1):
            code = f"440106{900 + i:03d}"
            town, _ = Division.objects.get_or_create(
                code=code, defaults={"name": name, "level": Level.TOWN, "parent": tianhe,
                                     "path": f"{tianhe.path}{code}/", "depth": tianhe.depth + 1},
            )
            towns.append(town)
        return towns

    def people(self) -> list[Person]:
        people = []
        serial = 0
        targets = [u for u in self.units if u.status == UnitStatus.ACTIVE and (
            u.jurisdiction.code.startswith("4401") or u.jurisdiction.code.startswith("4403"))]
        for unit in targets:
            for _ in range(3):
                serial += 1
                birth = dt.date(self.rng.randint(1965, 2000), self.rng.randint(1, 12), self.rng.randint(1, 28))
                region = unit.jurisdiction.code[:6]
                number = make_resident_id(region, birth, serial)
                name = self.rng.choice(SURNAMES) + "示" + self.rng.choice(GIVEN)
                sex = "M" if int(number[16]) % 2 == 1 else "F"
                people.append(Person(
                    **sealed_id_number(number), name=name, sex=sex, birth_date=birth,
                    education=self.rng.choice(["postgraduate", "bachelor", "bachelor", "college", "high_school"]),
                    jurisdiction=unit.jurisdiction, jurisdiction_path=unit.jurisdiction_path, unit=unit,
                ))
        Person.objects.bulk_create(people, batch_size=2000)
        return people


def _pick_unit(code: str) -> Unit:
    return Unit.objects.filter(jurisdiction__code=code, category=UnitCategory.PARTY_GOVERNMENT,
                               status=UnitStatus.ACTIVE).order_by("uscc").first()  # type: ignore[return-value]


def demo_accounts() -> list[DemoAccount]:
    accounts = []
    for prefix, code in ACCOUNT_SCOPES:
        division = Division.objects.get(code=code)
        for role, short in ROLE_SHORT.items():
            username = f"{prefix}_{short}"
            user = User.objects.filter(username=username).select_related("unit").first()
            unit_name = user.unit.name if user and user.unit else ""
            accounts.append(DemoAccount(username, str(Role(role).label), division.name, unit_name))
    return accounts


def _create_accounts(actor: User) -> list[audit.Entry]:
    from django.contrib.auth.hashers import make_password

    entries = []
    # Every demo account has the same published password: hash it once (a hash costs ~0.3 s).
    password_hash = make_password(DEMO_PASSWORD)
    for prefix, code in ACCOUNT_SCOPES:
        division = Division.objects.get(code=code)
        for role, short in ROLE_SHORT.items():
            username = f"{prefix}_{short}"
            unit = _pick_unit(code) if role == Role.UNIT_OPERATOR else None
            user = User(username=username, display_name=f"{division.name}{Role(role).label}（示例）", role=role,
                        jurisdiction=division, jurisdiction_path=division.path, unit=unit)
            user.password = password_hash
            user.save()
            entries.append(audit.entry_for("user.create", user, scope_path=division.path,
                                           after={"username": username, "role": role, "jurisdiction": code,
                                                  "unit": unit.uscc if unit else None}))
    return entries


@transaction.atomic
def build_demo(actor: User) -> dict[str, Any]:
    """Build the demo province once; a second call returns at once."""
    if is_built():
        return {"built": False}
    builder = _Builder(actor)
    towns = builder.towns()
    builder.build_units()
    builder.save_units()
    builder.history()
    builder.establishment()
    people = builder.people()
    roster = build_roster(actor)
    entries = [audit.Entry(action="division.add", scope_path=t.path, object_type="divisions.division",
                           object_id=str(t.pk), object_repr=str(t), after={"code": t.code, "name": t.name})
               for t in towns]
    entries += [audit.entry_for("unit.set_up", u, scope_path=u.jurisdiction_path,
                                after={"uscc": u.uscc, "name": u.name, "category": u.category,
                                       "jurisdiction": u.jurisdiction.code, "set_up_on": u.set_up_on})
                for u in builder.units]
    entries += _create_accounts(actor)
    counts = {"units": len(builder.units), "versions": len(builder.versions), "quotas": len(builder.quotas),
              "people": len(people), "towns": len(towns)}
    root = Division.objects.get(depth=0)
    entries.append(audit.Entry(action="demo.build", scope_path=root.path, object_type="demo",
                               object_repr="示例省份", after=counts))
    audit.record_many(actor, entries)
    from .cases import build_cases

    cases = {prefix: build_cases(prefix) for prefix in ("th", "sz")}
    from .funds import build_funds

    funds = build_funds(actor)
    from .bodies import build_bodies

    bodies = build_bodies(actor)  # the coordinating bodies of 深圳市 and the province, as a first load
    from bianzhi.stats.alerts import evaluate

    alerts = evaluate(actor=actor)  # what dynamic supervision finds in the demo province today
    return {"built": True, **counts, "roster": roster, "cases": cases, "funds": funds, "bodies": bodies,
            "alerts": alerts}
