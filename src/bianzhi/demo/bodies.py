"""The demo's 议事协调机构: a stock of 334 city-level bodies of 深圳市 (440300) and a few dozen of
the province (440000), loaded as a first load is — a generated template file through
:func:`bianzhi.bodies.importing.import_bodies` — so codes are assigned by the counters and every
body is audited.

Names are synthetic but read like real ones: "深圳市" + a policy field (安全生产, 河长制, 数字政府 …)
+ the form of body (工作领导小组, 委员会, 工作联席会议, 指挥部, 工作专班). Kinds, grounds, lead and
member units (the city-level units of the demo), set-up dates (2008–2025) and documents
(深办发〔2018〕12号) are drawn with a fixed seed. Most bodies have 3–15 member units; a few have
one (flagged "within one department's duties" in a review), a few more than the cap of 20 —
raised for supervision by the import, most of them with a recorded exception (their alert
resolved with the reason). Some active bodies have a planned end date in the past (candidates
for revocation); about one in ten is already revoked.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.utils import timezone

from bianzhi.bodies.importing import TEMPLATE, import_bodies
from bianzhi.bodies.models import Body
from bianzhi.common import audit
from bianzhi.common.errors import BianzhiError
from bianzhi.orgs.choices import UnitCategory, UnitStatus
from bianzhi.orgs.models import Unit

SEED = 20260334
CITY, PROVINCE = "440300", "440000"
CITY_BODIES, PROVINCE_BODIES = 334, 36

#: Policy fields a coordinating body is set up for; the first ones also exist at the province.
TOPICS = [
    "安全生产", "食品安全", "乡村振兴", "河长制", "林长制", "扫黑除恶", "营商环境", "数字政府", "招商引资",
    "文明城市创建", "防汛防旱防风", "森林防火", "禁毒", "国防动员", "双拥", "爱国卫生", "全民健身", "老龄工作",
    "妇女儿童", "残疾人工作", "民族宗教", "保密", "密码工作", "审计整改", "优化营商环境改革", "法治政府建设",
    "平安建设", "网络安全和信息化", "生态环境保护", "污染防治攻坚", "碳达峰碳中和", "节能减排", "水污染治理",
    "大气污染防治", "土壤污染防治", "垃圾分类", "海绵城市建设", "城市更新", "住房保障", "物业管理",
    "交通拥堵治理", "轨道交通建设", "重大项目建设", "口岸工作", "自由贸易试验区建设", "粤港澳大湾区建设",
    "前海合作区建设", "河套合作区建设", "科技创新", "知识产权", "人才工作", "高新技术产业发展", "金融风险防控",
    "防范和处置非法集资", "地方金融监管", "国资国企改革", "民营经济发展", "中小企业发展", "消费促进",
    "外贸稳增长", "统计工作", "第五次全国经济普查", "第七次全国人口普查", "农业普查", "耕地保护",
    "质量强市", "标准化战略", "药品安全", "疫苗管理", "医药卫生体制改革", "公共卫生应急", "传染病防控",
    "艾滋病防治", "精神卫生", "教育督导", "学前教育发展", "职业教育", "校园安全", "青少年工作",
    "就业工作", "根治欠薪", "劳动关系协调", "社会救助", "养老服务体系建设", "殡葬改革", "退役军人工作",
    "信访工作", "矛盾纠纷多元化解", "社区治理", "基层减负", "政务公开", "政务服务改革", "信用体系建设",
    "档案工作", "地方志编纂", "文化产业发展", "旅游发展", "体育赛事", "文物安全", "消防安全",
    "道路交通安全", "燃气安全", "建筑施工安全", "地质灾害防治", "地震工作", "气象防灾减灾", "人民防空",
    "反恐怖工作", "反走私综合治理", "打击治理电信网络诈骗", "未成年人保护", "关心下一代", "对口帮扶",
    "东西部协作", "援疆援藏", "海洋工作", "无线电管理", "数据要素市场化配置", "人工智能产业发展",
]
#: (name ending, kind in the template).
FORMS = [("工作领导小组", "领导小组"), ("委员会", "委员会"), ("工作联席会议", "联席会议"), ("指挥部", "指挥部"),
         ("工作专班", "其他")]
FORM_WEIGHTS = [40, 22, 26, 6, 6]
LAW_TOPICS = {"安全生产", "食品安全", "防汛防旱防风", "森林防火", "禁毒", "国防动员", "保密", "药品安全",
              "传染病防控", "人民防空", "消防安全", "道路交通安全", "反恐怖工作", "未成年人保护", "地震工作"}
EXCEPTION = "涉及全市各区和相关部门，确需全部纳入成员单位，经市委编委研究同意（示例）。"


def _units(code: str) -> tuple[list[Unit], list[Unit]]:
    """(lead candidates: party and government organs and mass organisations; all active units)."""
    units = list(Unit.objects.filter(jurisdiction__code=code, status=UnitStatus.ACTIVE).order_by("uscc"))
    leads = [u for u in units if u.category != UnitCategory.PUBLIC_INSTITUTION]
    return leads, units


def _names(rng: random.Random, place: str, topics: list[str], count: int) -> list[tuple[str, str, str]]:
    """``count`` distinct (name, kind, topic): one form per topic first, then further forms."""
    out: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    rounds = 0
    while len(out) < count:
        for topic in topics:
            if len(out) >= count:
                break
            ending, kind = rng.choices(FORMS, FORM_WEIGHTS)[0]
            name = f"{place}{topic}{ending}"
            if name in seen:
                continue
            seen.add(name)
            out.append((name, kind, topic))
        rounds += 1
        if rounds > 20:  # pragma: no cover - the topic list is long enough
            raise RuntimeError("not enough distinct body names")
    return out


def _rows(rng: random.Random, *, division: str, place: str, area: str, office_words: list[str], count: int,
          topics: list[str], today: dt.date) -> tuple[list[list[Any]], list[str]]:
    """The template rows of one jurisdiction, and the names of the over-cap bodies."""
    leads, units = _units(division)
    last_day = min(dt.date(2025, 12, 31), today)
    span = (last_day - dt.date(2008, 1, 1)).days
    names = _names(rng, place, topics, count)
    over, single = set(rng.sample(range(count), 6)), set(rng.sample(range(count), 4))
    single -= over
    revoked = set(rng.sample(range(count), round(count * 0.1)))
    rows, over_names = [], []
    for i, (name, kind, topic) in enumerate(names):
        lead = rng.choice(leads)
        if i in over:
            size = rng.randint(21, min(25, len(units)))
        elif i in single:
            size = 1
        else:
            size = min(rng.choice([3, 4, 5, 6, 6, 7, 8, 8, 9, 10, 11, 12, 13, 15, 18]), len(units))
        members = [lead, *rng.sample([u for u in units if u.pk != lead.pk], size - 1)]
        set_up = dt.date(2008, 1, 1) + dt.timedelta(days=rng.randint(0, span))
        end: dt.date | None = None
        if rng.random() < 0.2:  # a fixed term: some already over
            end = set_up + dt.timedelta(days=rng.randint(365, 365 * 6))
        if topic in LAW_TOPICS:
            ground = "法律法规明确规定"
        else:
            ground = rng.choices(["对应上级设立", "落实重大工作需要"], [45, 55])[0]
        status = "已撤销" if i in revoked and i not in over else "存续"
        if status == "存续" and i in over:
            over_names.append(name)
        document = f"{rng.choice(office_words)}〔{set_up.year}〕{rng.randint(1, 60)}号"
        duties = (f"贯彻落实上级关于{topic}工作的决策部署，统筹协调{area}{topic}工作，研究解决工作中的重大问题，"
                  f"督促检查各项任务落实。")
        values = {
            "code": None, "name": name, "division": division, "kind": kind, "lead": lead.uscc,
            "office": lead.uscc if rng.random() < 0.85 else None,
            "members": ";".join(u.uscc for u in members), "ground": ground, "document": document,
            "set_up_on": set_up.isoformat(), "duties": duties, "planned_end": end.isoformat() if end else None,
            "status": status,
        }
        rows.append([values[c.field] for c in TEMPLATE.columns])
    return rows, over_names


def _csv(rows: list[list[Any]]) -> bytes:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([c.header for c in TEMPLATE.columns])
    writer.writerows([["" if v is None else v for v in r] for r in rows])
    return buffer.getvalue().encode("utf-8")


def build_bodies(actor: Any) -> dict[str, int]:
    """Load the demo bodies through the bodies import; record the member-cap exceptions of most
    over-cap bodies (their alerts resolved with the reason). Runs in the caller's transaction."""
    from bianzhi.stats.alerts import alert_handle
    from bianzhi.stats.models import Alert

    today = timezone.localdate()
    rng = random.Random(SEED)
    city, over_city = _rows(rng, division=CITY, place="深圳市", area="全市",
                            office_words=["深办发", "深办", "深府办", "深府办函", "深编"], count=CITY_BODIES,
                            topics=TOPICS, today=today)
    province, over_province = _rows(rng, division=PROVINCE, place="广东省", area="全省",
                                    office_words=["粤办发", "粤府办", "粤编"], count=PROVINCE_BODIES,
                                    topics=TOPICS[:60], today=today)
    result = import_bodies(actor=actor, data=_csv(city + province), filename="示例议事协调机构.csv", today=today)
    if not result.ok:
        raise BianzhiError(result.errors)
    # The recorded exceptions: all but two of the over-cap bodies.
    excepted = over_city[2:] + over_province[1:]
    bodies = list(Body.objects.filter(name__in=excepted, status="active"))
    for body in bodies:
        body.over_cap_reason = EXCEPTION
    Body.objects.bulk_update(bodies, ["over_cap_reason"])
    audit.record_many(actor, [audit.entry_for("body.over_cap_exception", b, scope_path=b.jurisdiction_path,
                                              after={"code": b.code, "over_cap_reason": EXCEPTION})
                              for b in bodies])
    for alert in Alert.objects.filter(kind="member_cap", key__in=[f"member_cap:{b.code}" for b in bodies]):
        alert_handle(actor=actor, alert_id=alert.pk, action="resolve", note=EXCEPTION)
    return {"bodies": result.created, "city": len(city), "province": len(province),
            "over_cap": len(over_city) + len(over_province), "exceptions": len(bodies)}
