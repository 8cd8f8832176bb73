"""A 天河区 user cannot see, count, export or reach anything of 越秀区 through any route.

Every URL pattern of the project must be classified below; a new route that is not
classified fails the test, so nobody can add a route that skips this check.
"""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from python_calamine import CalamineWorkbook

from bianzhi.common.codes import make_resident_id
from bianzhi.orgs import services as org_services
from bianzhi.orgs.models import Person
from tests.factories import clear_id

from ..factories import make_user

# Anything that identifies 越秀区 data; none of it may appear in any answer to a 天河区 user.
YUEXIU_UNIT_NAME = "越秀区测试局"
YUEXIU_PERSON_NAME = "越秀测试人"


def _walk(patterns, prefix="", namespace=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = p.namespace or namespace
            if p.namespace and namespace:
                ns = f"{namespace}:{p.namespace}"
            yield from _walk(p.url_patterns, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern):
            name = f"{namespace}:{p.name}" if namespace else (p.name or "")
            yield prefix + str(p.pattern), name


@pytest.fixture
def yuexiu(world, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    admin = world.users.province_admin
    org_services.quota_set(actor=admin, unit_id=world.yuexiu_unit.pk, kind="administrative", approved=10,
                           actual=14, on=dt.date(2020, 1, 1))
    org_services.quota_set(actor=admin, unit_id=world.tianhe_unit.pk, kind="administrative", approved=10,
                           actual=8, on=dt.date(2020, 1, 1))
    org_services.unit_rename(actor=admin, unit_id=world.yuexiu_unit.pk, name=YUEXIU_UNIT_NAME,
                             on=dt.date(2021, 1, 1))
    person = org_services.person_create(actor=admin, id_number=make_resident_id("440104", dt.date(1990, 1, 1), 123), name=YUEXIU_PERSON_NAME,
                                        unit_id=world.yuexiu_unit.pk)
    yuexiu_admin = make_user("yx_admin", "administrator", "440104")
    staffing = _yuexiu_staffing(world, person, yuexiu_admin)
    from bianzhi.accounts.services import token_create

    token, _plaintext = token_create(actor=yuexiu_admin, user=yuexiu_admin, name="越秀")
    staffing["token"] = token
    from bianzhi.common.models import AuditEvent

    event = AuditEvent.objects.filter(scope_path__startswith="440000/440100/440104/").order_by("-seq").first()
    assert event is not None
    return {
        "unit": world.yuexiu_unit, "person": person, "user": yuexiu_admin, "audit_seq": event.seq, **staffing,
        "markers": [YUEXIU_UNIT_NAME, YUEXIU_PERSON_NAME, world.yuexiu_unit.uscc, "越秀", "yx_admin",
                    clear_id(person), staffing["body"].code],
    }


def _yuexiu_staffing(world, person, yuexiu_admin) -> dict:
    """越秀区 编外人员 objects: a coordinator's record assigned to a 越秀区 street, a baseline, a
    bulk operation, a local rule row, and an import job of a 越秀区 user (plus 天河区 data, so
    that the 天河区 pages have figures to show)."""
    from django.utils import timezone

    from bianzhi.divisions.models import Division
    from bianzhi.staffing import bulk, pool, services, tasks
    from bianzhi.staffing.models import RuleItem, Spell

    admin = world.users.province_admin
    services.rules_load()

    def record(unit, who, situation="coordinator", post_class="enforcement_auxiliary", work_type="urban_management"):
        return Spell.objects.create(
            person=who, unit=unit, jurisdiction_path=unit.jurisdiction_path, situation=situation, post_class=post_class,
            work_type=work_type, post_name="越秀岗位" if unit == world.yuexiu_unit else "岗位",
            funding_source="fiscal", hire_date=dt.date(2018, 1, 1), source="form")

    spell = record(world.yuexiu_unit, person)
    tianhe_person = org_services.person_create(
        actor=admin, id_number=make_resident_id("440106", dt.date(1990, 2, 2), 127), name="天河测试人",
        unit_id=world.tianhe_unit.pk)
    record(world.tianhe_unit, tianhe_person)
    for code, name in (("440104001", "越秀测试街道"), ("440106001", "天河测试街道")):
        parent = Division.objects.get(code=code[:6])
        Division.objects.create(code=code, name=name, level="town", parent=parent, path=f"{parent.path}{code}/",
                                depth=parent.depth + 1)
    pool.pool_assign(actor=admin, spell_id=spell.pk, town_code="440104001", valid_from=dt.date(2020, 1, 1),
                     department_id=world.yuexiu_unit.pk, task="越秀巡查")
    baseline = services.baseline_take(actor=admin, scope="440104", as_of=dt.date(2019, 12, 31))
    services.baseline_take(actor=admin, scope="440106", as_of=dt.date(2019, 12, 31))
    operation = bulk.bulk_preview(actor=admin, kind="downsizing", unit_id=world.yuexiu_unit.pk,
                                  leave_date=timezone.localdate(), criteria={"situation": "coordinator"})
    rule = RuleItem.objects.create(table="key_post", code="yuexiu_probe", name="越秀专项岗位",
                                   jurisdiction=world.yuexiu_unit.jurisdiction,
                                   jurisdiction_path=world.yuexiu_unit.jurisdiction_path,
                                   valid_from=dt.date(2020, 1, 1), source_document="越秀区补充规定")
    job = "f" * 32
    tasks.job_update(job, job=job, user=yuexiu_admin.pk, sha256="0" * 64, filename="越秀花名册.xlsx",
                     mode="inventory", dry_run=True, state=tasks.RUNNING, phase="validate", done=1, total=2)
    tasks.report_path(job).write_bytes(b"")
    case, attachment, notification = _yuexiu_case(world)
    contract = _yuexiu_funds(world)
    alert = _yuexiu_alert(world, spell)
    document = _yuexiu_document(world)
    body = _yuexiu_body(world)
    return {"spell": spell, "baseline": baseline, "bulk": operation, "rule": rule, "job": job, "case": case,
            "attachment": attachment, "notification": notification, "contract": contract, "alert": alert,
            "document": document, "body": body}


def _yuexiu_body(world):
    """A 越秀区 coordinating body with a member (and a 天河区 one, so that the 天河区 registry has a row)."""
    from bianzhi.bodies.codes import make_code
    from bianzhi.bodies.models import Body, BodyMember

    for unit, sequence, name in ((world.tianhe_unit, 1, "天河区测试领导小组"), (world.yuexiu_unit, 1, "越秀区测试领导小组")):
        division = unit.jurisdiction
        body = Body.objects.create(
            code=make_code(division.code, 2020, sequence), name=name, jurisdiction=division,
            jurisdiction_path=division.path, kind="leading_group", lead_unit=unit, duties="统筹协调测试工作。",
            ground="major_work", set_up_document="测试〔2020〕1号", set_up_on=dt.date(2020, 3, 1))
        BodyMember.objects.create(body=body, unit=unit, valid_from=dt.date(2020, 3, 1))
    return body


def _yuexiu_document(world):
    """A 越秀区 official document (and a 天河区 one, so that the 天河区 list has a row)."""
    from bianzhi.documents import services as documents

    documents.offices_load()
    admin = world.users.province_admin
    documents.document_issue(actor=admin, division="440106", title="关于天河区测试事项的通知",
                             addressees="各有关单位", body="天河测试正文。", written_on=dt.date(2021, 6, 1))
    return documents.document_issue(actor=admin, division="440104", title="关于越秀区测试局有关事项的通知",
                                    addressees="越秀区测试局", body="越秀测试正文。", cc="越秀区人民政府办公室",
                                    written_on=dt.date(2021, 6, 1))


def _yuexiu_alert(world, spell):
    """A 越秀区 alert naming the 越秀区 record (and a 天河区 one, so that the 天河区 alert pages,
    counters and the annual analysis have something to show)."""
    from bianzhi.stats.models import Alert

    for unit, records, post in ((world.tianhe_unit, [], "finance"), (world.yuexiu_unit, [spell.pk], "yuexiu_probe")):
        alert = Alert.objects.create(kind="key_post", key=f"key_post:probe{unit.pk}", unit=unit,
                                     jurisdiction_path=unit.jurisdiction_path, params={"key_post": post},
                                     records=records, raised_on=dt.date(2021, 6, 1))
    return alert


def _yuexiu_funds(world):
    """越秀区 funding, a control plan, a local catalogue item and a contract that makes the unit
    double dipping with its coordinator (plus 天河区 funding and a contract, so that the 天河区
    pages have figures to show)."""
    from decimal import Decimal

    from bianzhi.funds import services as funds
    from bianzhi.funds.models import ControlPlan
    from bianzhi.staffing.models import RuleItem

    admin = world.users.province_admin
    funds.catalogue_load()
    RuleItem.objects.create(table="service_item", code="yuexiu_patrol", name="越秀巡查服务", value="urban_management",
                            jurisdiction=world.yuexiu_unit.jurisdiction,
                            jurisdiction_path=world.yuexiu_unit.jurisdiction_path, valid_from=dt.date(2020, 1, 1),
                            source_document="越秀区补充规定")
    for unit in (world.yuexiu_unit, world.tianhe_unit):
        funds.funding_set(actor=admin, unit_id=unit.pk, year=2019, spending="100000")
        funds.funding_set(actor=admin, unit_id=unit.pk, year=2021, budget="90000", spending="80000")
    contract = funds.contract_create(actor=admin, unit_id=world.yuexiu_unit.pk, number="越秀-HT-001",
                                     item="yuexiu_patrol", start="2020-01-01", end="2035-12-31", amount="50000")
    funds.contract_create(actor=admin, unit_id=world.tianhe_unit.pk, number="TH-HT-001", item="property_management",
                          start="2020-01-01", end="2035-12-31", amount="50000")
    ControlPlan.objects.create(jurisdiction=world.yuexiu_unit.jurisdiction,
                               jurisdiction_path=world.yuexiu_unit.jurisdiction_path, year=2022,
                               amount=Decimal("1000000"), case_number="越秀-SP-1", approved_on=dt.date(2021, 12, 1))
    return contract


def _yuexiu_case(world):
    """A 越秀区 cap change application with an attachment, and the notice it sent."""
    from bianzhi.workflow import services as wf
    from bianzhi.workflow.models import Notification

    wf.processes_load()
    make_user("yx_finance", "finance_reviewer", "440104")
    case = wf.case_submit(actor=world.users.yuexiu_reviewer, kind="cap_change",
                          data={"unit": world.yuexiu_unit.pk, "post_class": "", "cap": 3, "reason": "越秀探测"},
                          uploads=[wf.Upload("越秀附件.pdf", b"%PDF-1.4 yuexiu")])
    notification = Notification.objects.filter(case=case).first()
    assert notification is not None
    return case, case.attachments.get(), notification


def _no_markers(text: str, markers: list[str], where: str) -> None:
    for marker in markers:
        assert marker not in text, f"{where} leaks {marker!r}"


def _body_text(response) -> str:
    content_type = response.get("Content-Type", "")
    if "spreadsheetml" in content_type:
        book = CalamineWorkbook.from_filelike(io.BytesIO(response.content))
        cells = []
        for name in book.sheet_names:
            for row in book.get_sheet_by_name(name).to_python():
                cells.extend(str(c) for c in row)
        return "\n".join(cells)
    if hasattr(response, "streaming_content"):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


# route name -> how to probe it. Kinds:
#   "list": GET (and GET ?export=xlsx) must answer 200 without any 越秀区 marker
#   "page": GET must answer 200 (or a redirect) without any marker
#   ("object", key, methods): the URL is built with the 越秀区 object; every method answers 404
#   ("create", payload): POST with 越秀区 references; answer must be 4xx without markers
#   ("query", ["CODE?query", …]): GET the route with CODE in the path and 越秀区 named in the query
#       (UNIT_USCC: the 越秀区 unit's code); each answer must be 4xx without markers
#   "skip-auth": authentication routes
ROUTES = {
    "api:openapi-json": "page", "api:openapi-view": "page", "api:api-root": "skip-auth",
    "api:me": "page",
    "api:user_list": "list", "api:user_create": ("create", {"username": "probe1", "role": "supervisor",
                                                            "jurisdiction": "440104", "password": "Probe-Passw0rd!"}),
    "api:division_list": "list", "api:division_detail": ("object", "division", ["GET"]),
    "api:division_add_town": ("object", "division", ["POST"]),
    "api:unit_list": "list", "api:unit_set_up": ("create", {"uscc": "", "name": "探测", "category": "other",
                                                            "funding_form": "full", "jurisdiction": "440104",
                                                            "set_up_on": "2020-01-01"}),
    "api:unit_tree_as_of": "list", "api:unit_detail": ("object", "unit", ["GET"]),
    "api:unit_history": ("object", "unit", ["GET"]), "api:unit_establishment": ("object", "unit", ["GET"]),
    "api:unit_merge": ("create", {"target": "UNIT", "sources": ["UNIT"], "on": "2022-01-01"}),
    "api:unit_rename": ("object", "unit", ["POST"]), "api:unit_abolish": ("object", "unit", ["POST"]),
    "api:unit_quota_set": ("object", "unit_kind", ["PUT"]),
    "api:establishment_list": "list",
    "api:person_list": "list", "api:person_create": ("create", {"id_number": make_resident_id("440104", dt.date(1991, 1, 1), 125), "name": "探测",
                                                                "unit": "UNIT"}),
    "api:person_detail": ("object", "person", ["GET"]),
    "api:person_reveal_id": ("object", "person", ["POST"]),
    "api:audit_list": "list", "api:audit_detail": ("object", "audit", ["GET"]),
    "accounts:login": "skip-auth", "accounts:logout": "skip-auth", "accounts:password_change": "page",
    "accounts:user_list": "list", "accounts:user_create": "page",
    "accounts:user_detail": ("object", "user", ["GET"]), "accounts:user_set_active": ("object", "user", ["POST"]),
    "accounts:token_list": "page", "accounts:token_revoke": ("object", "token", ["POST"]),
    "accounts:login_totp": "skip-auth", "accounts:login_totp_enrol": "skip-auth", "accounts:totp": "page",
    "accounts:user_totp_reset": ("object", "user", ["POST"]),
    "divisions:division_list": "list", "divisions:division_detail": ("object", "division", ["GET"]),
    "divisions:division_add_town": ("object", "division", ["GET", "POST"]),
    "orgs:unit_list": "list", "orgs:unit_tree": "list", "orgs:unit_new": "page",
    "orgs:unit_detail": ("object", "unit", ["GET"]), "orgs:unit_rename": ("object", "unit", ["GET", "POST"]),
    "orgs:unit_merge": ("object", "unit", ["GET", "POST"]), "orgs:unit_abolish": ("object", "unit", ["GET", "POST"]),
    "orgs:unit_establishment": ("object", "unit", ["GET", "POST"]),
    "orgs:establishment_list": "list", "orgs:person_list": "list", "orgs:person_new": "page",
    "orgs:person_detail": ("object", "person", ["GET"]),
    "orgs:person_reveal": ("object", "person", ["POST"]),
    "orgs:unit_import": "page", "orgs:unit_import_template": "page", "orgs:unit_import_report": "page",
    "bodies:import": "page", "bodies:import_template": "page", "bodies:import_report": "page",
    "common:workbench": "page", "common:audit_list": "list", "common:audit_detail": ("object", "audit", ["GET"]),
    # 编外人员 API
    "api:staffing_roster_list": "list", "api:staffing_roster_detail": ("object", "spell", ["GET"]),
    "api:staffing_roster_create": ("create", {
        "unit": "UNIT", "id_number": make_resident_id("440104", dt.date(1992, 3, 3), 129), "name": "探测",
        "situation": "labour_contract", "post_class": "general_auxiliary", "work_type": "clerical",
        "post_name": "探测", "funding_source": "fiscal", "hire_date": "2022-01-01"}),
    "api:staffing_roster_exit": ("object", "spell", ["POST"]),
    "api:staffing_baseline_list": "list", "api:staffing_baseline_detail": ("object", "baseline", ["GET"]),
    "api:staffing_baseline_counts": ("object", "baseline", ["GET"]),
    "api:staffing_baseline_take": ("create", {"scope": "440104", "as_of": "2019-12-31", "retake": True}),
    "api:staffing_cap_list": "list",
    "api:staffing_cap_set": ("create", {"unit": "UNIT", "cap": 5, "valid_from": "2022-01-01"}),
    "api:staffing_authorisation_list": "list",
    "api:staffing_authorisation_create": ("create", {"unit": "UNIT", "post_class": "general_auxiliary",
                                                     "quantity": 1, "valid_from": "2022-01-01"}),
    "api:staffing_pool_totals": "list", "api:staffing_pool_members": "list",
    "api:staffing_pool_assign": ("create", {"spell": "SPELL", "town": "440104001", "valid_from": "2022-01-01"}),
    "api:staffing_bulk_list": "list",
    "api:staffing_bulk_preview": ("create", {"kind": "downsizing", "unit": "UNIT", "leave_date": "2022-01-01"}),
    "api:staffing_bulk_detail": ("object", "bulk", ["GET"]), "api:staffing_bulk_records": ("object", "bulk", ["GET"]),
    "api:staffing_bulk_apply": ("object", "bulk", ["POST"]), "api:staffing_bulk_cancel": ("object", "bulk", ["POST"]),
    "api:staffing_rule_list": "list",
    "api:staffing_rule_add": ("create", {"table": "key_post", "code": "probe", "name": "探测",
                                         "valid_from": "2022-01-01", "jurisdiction": "440104",
                                         "source_document": "探测"}),
    "api:staffing_rule_close": ("object", "rule", ["POST"]),
    # 编外人员 pages
    "staffing:roster_list": "list", "staffing:roster_new": "page",
    "staffing:roster_detail": ("object", "spell", ["GET"]), "staffing:roster_exit": ("object", "spell", ["GET", "POST"]),
    "staffing:baseline_list": "list", "staffing:baseline_detail": ("object", "baseline", ["GET"]),
    "staffing:cap_list": "list", "staffing:cap_change": "page",
    "staffing:authorisation_list": "list", "staffing:authorisation_new": "page",
    "staffing:pool": "list", "staffing:pool_assign": ("object", "spell", ["GET", "POST"]),
    "staffing:bulk_list": "list", "staffing:bulk_new": "page",
    "staffing:bulk_detail": ("object", "bulk", ["GET"]), "staffing:bulk_apply": ("object", "bulk", ["GET", "POST"]),
    "staffing:bulk_cancel": ("object", "bulk", ["GET", "POST"]),
    "staffing:rule_list": "list", "staffing:rule_close": ("object", "rule", ["GET", "POST"]),
    "staffing:roster_import": "page", "staffing:roster_import_template": "page",
    "staffing:roster_import_report": "page",
    "staffing:roster_import_job": ("object", "job", ["GET"]),
    "staffing:roster_import_job_status": ("object", "job", ["GET"]),
    "staffing:roster_import_job_report": ("object", "job", ["GET"]),
    # approvals
    "api:case_list": "list", "api:case_inbox": "list", "api:case_mine": "list",
    "api:case_get": ("object", "case", ["GET"]), "api:case_act": ("object", "case", ["POST"]),
    "api:case_withdraw": ("object", "case", ["POST"]), "api:case_resubmit": ("object", "case", ["POST"]),
    "api:case_submit_hire": ("create", {"unit": "UNIT", "situation": "coordinator",
                                        "post_class": "enforcement_auxiliary", "work_type": "urban_management",
                                        "quantity": 1, "post_names": ["探测"], "funding_source": "fiscal",
                                        "reason": "探测"}, "th_reviewer"),
    "api:case_submit_cap_change": ("create", {"unit": "UNIT", "cap": 9, "reason": "探测"}, "th_reviewer"),
    "api:process_list": "list",
    "api:process_define": ("create", {"code": "hire", "jurisdiction": "440104", "source_document": "探测",
                                      "definition": {"stages": [{"name": "探测", "steps": []}]}}),
    "api:notification_list": "list", "api:notification_read": ("own", {"ids": "NOTIFICATION"}),
    "workflow:inbox": "page", "workflow:done": "page", "workflow:mine": "page", "workflow:case_list": "list",
    "workflow:case_detail": ("object", "case", ["GET"]), "workflow:case_act": ("object", "case", ["POST"]),
    "workflow:case_withdraw": ("object", "case", ["POST"]), "workflow:case_revise": ("object", "case", ["GET", "POST"]),
    "workflow:case_pdf": ("object", "case", ["GET"]), "workflow:attachment": ("object", "attachment", ["GET"]),
    "workflow:apply_hire": ("page-as", "th_reviewer"), "workflow:apply_cap": ("page-as", "th_reviewer"), "workflow:notifications": "page",
    "workflow:process_list": "page",
    # acts only on the caller's own jurisdiction (the code names a process, not an object)
    "workflow:process_edit": "page",
    # funds pages
    "funds:funding_list": "list", "funds:funding_set": "page",
    "funds:funding_import": "page", "funds:funding_import_template": "page",
    "funds:funding_import_report": "page",
    "funds:plan_list": "list", "funds:apply_plan": ("page-as", "th_operator"),
    "funds:catalogue": "list", "funds:contract_list": "list", "funds:contract_new": "page",
    "funds:contract_import": "page", "funds:contract_import_template": "page",
    "funds:contract_import_report": "page",
    "funds:double_dipping": "list", "funds:both_fall": "list", "funds:conversion_list": "list",
    "funds:exit_to_service": ("object", "spell_query", ["GET", "POST"]),
    # funds API
    "api:funds_funding_list": "list", "api:funds_plan_list": "list", "api:funds_catalogue": "list",
    "api:funds_funding_set": ("create", {"unit": "UNIT", "year": 2022, "budget": "1"}, None, "PUT"),
    "api:funds_contract_list": "list",
    "api:funds_contract_create": ("create", {"unit": "UNIT", "number": "探测-1", "item": "property_management",
                                             "start": "2022-01-01", "end": "2022-12-31", "amount": "1"}),
    "api:funds_contract_detail": ("object", "contract", ["GET"]),
    "api:funds_double_dipping": "list", "api:funds_both_fall": "list", "api:funds_conversion_list": "list",
    "api:funds_conversion_create": ("create", {"spell": "SPELL", "leave_date": "2022-01-01",
                                               "contract_number": "探测"}),
    # statistics API (scope defaults to the caller's jurisdiction)
    "api:stats_indicators": "list",
    # alerts (pages and API) and the annual analysis; the documents are asked for 越秀区 by code
    "stats:alert_list": "list", "stats:alert_detail": ("object", "alert", ["GET"]),
    "stats:alert_handle": ("object", "alert", ["POST"]),
    "api:stats_alert_list": "list", "api:stats_alert_detail": ("object", "alert", ["GET"]),
    "api:stats_alert_handle": ("object", "alert", ["POST"]),
    "stats:analysis": "page",
    "stats:analysis_docx": ("object", "yuexiu_scope", ["GET"]),
    "stats:analysis_pdf": ("object", "yuexiu_scope", ["GET"]),
    # statistics pages (scope defaults to the caller's jurisdiction); a drill-down names its scope
    # in the query: 越秀区 by code or by unit answers the indicators page's error (4xx)
    "stats:dashboard": "page", "stats:indicators": "list", "stats:report": "list", "stats:catalogue": "list",
    "stats:drill": ("query", ["I01?scope=440104", "I01?unit=UNIT_USCC", "I03?scope=440104&export=xlsx",
                              "I16?unit=UNIT_USCC&export=xlsx", "I20?scope=440104&year=2021",
                              "I08?scope=440104&key=coordinator"]),
    # official documents
    "documents:document_list": "list", "documents:document_detail": ("object", "document", ["GET"]),
    "documents:pdf": ("object", "document", ["GET"]), "documents:docx": ("object", "document", ["GET"]),
    "documents:document_void": ("object", "document", ["POST"]),
    # coordinating bodies (pages and API); an application names the 越秀区 unit as lead and member
    "bodies:body_list": "list", "bodies:case_list": "list", "bodies:similar": "page",
    "bodies:body_detail": ("object", "body", ["GET"]), "bodies:apply_change": ("object", "body", ["GET", "POST"]),
    "bodies:apply_setup": ("page-as", "th_reviewer"),
    "api:bodies_list": "list", "api:bodies_detail": ("object", "body", ["GET"]),
    "api:bodies_by_code": ("object", "body_code", ["GET"]),
    "api:bodies_similar": ("create", {"name": "越秀区测试领导小组", "duties": "探测", "jurisdiction": "440104"}),
    "api:bodies_apply": ("create", {"name": "探测", "kind": "committee", "lead_unit": "UNIT", "members": ["UNIT"],
                                    "duties": "探测", "ground": "major_work", "negative": {}}, "th_reviewer"),
}

# The users a route the administrator may not use is probed as.
PROBE_USERS = {"th_reviewer": "tianhe_reviewer", "th_operator": "tianhe_operator"}


def _object_url(pattern: str, key: str, yx: dict) -> str:
    if key == "spell_query":  # the record is named in the query: ?spell=<id>
        return f"/{pattern}?spell={yx['spell'].pk}"
    if key == "yuexiu_scope":  # a document of a year, asked for 越秀区: ?scope=440104
        return "/" + pattern.replace("<int:year>", "2021") + "?scope=440104"
    values = {
        "unit": {"<int:id>": yx["unit"].pk, "<int:pk>": yx["unit"].pk, "<kind>": "administrative"},
        "unit_kind": {"<int:id>": yx["unit"].pk, "<kind>": "administrative"},
        "person": {"<int:id>": yx["person"].pk, "<int:pk>": yx["person"].pk},
        "user": {"<int:pk>": yx["user"].pk, "<int:id>": yx["user"].pk},
        "token": {"<int:pk>": yx["token"].pk},
        "division": {"<code>": "440104", "<str:code>": "440104"},
        "audit": {"<int:seq>": yx["audit_seq"]},
        "spell": {"<int:id>": yx["spell"].pk, "<int:pk>": yx["spell"].pk},
        "baseline": {"<int:id>": yx["baseline"].pk, "<int:pk>": yx["baseline"].pk},
        "bulk": {"<int:id>": yx["bulk"].pk, "<int:pk>": yx["bulk"].pk},
        "rule": {"<int:id>": yx["rule"].pk, "<int:pk>": yx["rule"].pk},
        "job": {"<str:job>": yx["job"]},
        "case": {"<int:id>": yx["case"].pk, "<int:pk>": yx["case"].pk},
        "attachment": {"<int:pk>": yx["case"].pk, "<int:attachment_id>": yx["attachment"].pk},
        "contract": {"<int:id>": yx["contract"].pk, "<int:pk>": yx["contract"].pk},
        "alert": {"<int:id>": yx["alert"].pk, "<int:pk>": yx["alert"].pk},
        "document": {"<int:pk>": yx["document"].pk},
        "body": {"<int:id>": yx["body"].pk, "<int:pk>": yx["body"].pk, "<str:change>": "rename"},
        "body_code": {"<code>": yx["body"].code},
    }[key]
    url = "/" + pattern
    for placeholder, value in values.items():
        url = url.replace(placeholder, str(value))
    assert "<" not in url, f"unfilled placeholder in {url}"
    return url


@pytest.mark.django_db
def test_every_route_hides_yuexiu_from_a_tianhe_user(world, yuexiu):
    routes = list(_walk(get_resolver().url_patterns))
    unclassified = sorted({name for _, name in routes} - set(ROUTES))
    assert not unclassified, f"classify these routes in ROUTES: {unclassified}"

    client = Client()
    client.force_login(world.users.tianhe_admin)
    markers = yuexiu["markers"]
    probed = 0
    for pattern, name in routes:
        kind = ROUTES[name]
        url = "/" + pattern
        if kind == "skip-auth":
            continue
        if kind in ("list", "page") or kind[0] == "page-as":
            if "<" in pattern:
                continue
            prober = client
            if kind[0] == "page-as":  # a page the administrator may not use: probe as a user who may
                prober = Client()
                prober.force_login(getattr(world.users, PROBE_USERS[kind[1]]))
            for suffix in ("", "?export=xlsx") if kind == "list" else ("",):
                response = prober.get(url + suffix, {"date": "2022-01-01"} if "as-of" in url else None)
                assert response.status_code in (200, 302), f"{name} {url}{suffix} → {response.status_code}"
                _no_markers(_body_text(response), markers, f"{name} {url}{suffix}")
                probed += 1
        elif kind[0] == "object":
            _, key, methods = kind
            url = _object_url(pattern, key, yuexiu)
            for method in methods:
                if method == "GET":
                    response = client.get(url)
                elif method == "PUT":
                    response = client.put(url, data=json.dumps({"approved": 1, "actual": 1, "on": "2022-01-01"}),
                                          content_type="application/json")
                else:
                    is_api = url.startswith("/api/")
                    body = {"name": "探测", "on": "2022-01-01", "code": "440104901", "active": "0",
                            "leave_date": "2022-01-01", "exit_reason": "resigned", "document_ref": "探测",
                            "valid_to": "2022-01-01", "town": "440104001", "valid_from": "2022-01-01",
                            "step": "establishment", "action": "approve", "opinion": "探测"}
                    response = (client.post(url, data=json.dumps(body), content_type="application/json")
                                if is_api else client.post(url, body))
                assert response.status_code == 404, f"{name} {method} {url} → {response.status_code}"
                _no_markers(_body_text(response), markers, f"{name} {method} {url}")
                probed += 1
        elif kind[0] == "query":
            for probe in kind[1]:
                code, query = probe.split("?", 1)
                url = "/" + pattern.replace("<str:code>", code) + "?" + query.replace("UNIT_USCC", yuexiu["unit"].uscc)
                response = client.get(url)
                assert 400 <= response.status_code < 500, f"{name} GET {url} → {response.status_code}"
                _no_markers(_body_text(response), markers, f"{name} GET {url}")
                probed += 1
        elif kind[0] == "own":
            payload = {k: ([yuexiu["notification"].pk] if v == "NOTIFICATION" else v) for k, v in kind[1].items()}
            response = client.post(url, data=json.dumps(payload), content_type="application/json")
            assert response.status_code == 200, f"{name} POST {url} → {response.status_code}"
            _no_markers(_body_text(response), markers, f"{name} POST {url}")
            yuexiu["notification"].refresh_from_db()
            assert yuexiu["notification"].read_at is None
            probed += 1
        elif kind[0] == "create":
            substitutes = {"UNIT": yuexiu["unit"].pk, "SPELL": yuexiu["spell"].pk}
            payload = {k: (substitutes[v] if isinstance(v, str) and v in substitutes
                           else [yuexiu["unit"].pk] if v == ["UNIT"] else v)
                       for k, v in kind[1].items()}
            if name == "api:unit_set_up":
                from bianzhi.common.codes import make_uscc

                payload["uscc"] = make_uscc("11", "440104", "PRBE0001")
            from bianzhi.funds.models import PurchaseContract, ServiceConversion, UnitFunding
            from bianzhi.workflow.models import Case, ProcessDefinition

            def counts():
                return (Person.objects.count(), Case.objects.count(), ProcessDefinition.objects.count(),
                        list(UnitFunding.objects.values_list("pk", "budget", "spending").order_by("pk")),
                        PurchaseContract.objects.count(), ServiceConversion.objects.count())

            before = counts()
            prober = client
            if len(kind) > 2 and kind[2]:  # a route the administrator may not use: probe as a user who may
                prober = Client()
                prober.force_login(getattr(world.users, PROBE_USERS[kind[2]]))
            method = kind[3] if len(kind) > 3 else "POST"
            url = url.replace("<kind>", "body_setup")  # the kind of application in the path
            send = prober.put if method == "PUT" else prober.post
            response = send(url, data=json.dumps(payload), content_type="application/json")
            assert response.status_code in (404, 422), f"{name} {method} {url} → {response.status_code}"
            _no_markers(_body_text(response), markers, f"{name} {method} {url}")
            assert counts() == before
            probed += 1
    assert probed >= 50


@pytest.mark.django_db
def test_unit_operator_sees_only_its_unit(world):
    client = Client()
    client.force_login(world.users.tianhe_operator)
    response = client.get("/api/v1/units")
    names = [item["name"] for item in response.json()["items"]]
    assert names == [world.tianhe_unit.name]
    assert client.get(f"/api/v1/units/{world.tianhe_child.pk}").status_code == 404
    assert client.get(f"/orgs/units/{world.tianhe_child.pk}/").status_code == 404
