"""Pages of the coordinating bodies: the registry (filters, sorting, export values), a body's page
(members current and past, task groups, history with the document numbers, documents, cases),
the set-up and change applications (through the approvals' apply view: the case carries the
right payload; bad input answers 422 with the service's code next to its field and writes
nothing), the similar-bodies check (htmx) and the reason the reviewer records on the case page.
A body of another district answers 404."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.test import Client
from python_calamine import CalamineWorkbook

from bianzhi.bodies import codes
from bianzhi.bodies.models import Body, BodyMember, TaskGroup
from bianzhi.workflow import services as wf
from bianzhi.workflow.models import Case
from tests.factories import make_unit

from .conftest import SETUP
from .test_procedure import TODAY, run, setup_body, submit

pytestmark = pytest.mark.django_db
SEQ = iter(range(900, 99999))


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def html(response) -> str:
    assert response.status_code == 200, response.status_code
    page = response.content.decode("utf-8")
    assert not re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page), "inline <script> found"
    assert not re.search(r"\sstyle\s*=", page), "style= attribute found"
    return page


def make_body(unit, name, *, members=(), kind="committee", status="active", duties="统筹协调有关工作。",
              year=2020) -> Body:
    """A body written straight to the registry (test data only; the procedure is tested elsewhere)."""
    division = unit.jurisdiction
    body = Body.objects.create(
        code=codes.make_code(division.code, year, next(SEQ)), name=name, jurisdiction=division,
        jurisdiction_path=division.path, kind=kind, lead_unit=unit, duties=duties, ground="major_work",
        set_up_document="测试〔2020〕1号", set_up_on=dt.date(year, 3, 1), status=status)
    BodyMember.objects.bulk_create([BodyMember(body=body, unit=m, valid_from=dt.date(year, 3, 1)) for m in members])
    return body


def sheet(response) -> list[list]:
    assert response.status_code == 200
    assert "spreadsheetml" in response["Content-Type"]
    book = CalamineWorkbook.from_filelike(io.BytesIO(b"".join(response.streaming_content)
                                                     if hasattr(response, "streaming_content")
                                                     else response.content))
    return book.get_sheet_by_name(book.sheet_names[0]).to_python()


def codes_in(page: str) -> list[str]:
    return re.findall(r'data-body="(YX[0-9A-Z]{16})"', page)


def setup_post(w, **changes) -> dict:
    data = {"name": "天河区防汛防旱指挥部", "kind": "headquarters", "lead_unit": str(w.tianhe_unit.pk),
            "office_unit": str(w.units[0].pk), "leader_posts": "总指挥：区长", "members": [str(u.pk) for u in w.units[:3]],
            "member_codes": f"{w.units[3].uscc}\n{w.units[4].uscc}", "duties": "组织指挥全区防汛防旱工作。",
            "ground": "law_requires", "basis": "《中华人民共和国防洪法》", "planned_end": "",
            "negative_within_department": "涉及水务、应急等多个部门。", "negative_inter_department": "需统一指挥。",
            "negative_same_as_existing": "区内无同类机构。", "over_cap_reason": "", "parent_body": ""}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


# ---------------------------------------------------------------------------------- registry


def test_registry_filters_sorting_and_export(bodies_world):
    w = bodies_world
    a = make_body(w.tianhe_unit, "天河区安全生产委员会", members=w.units[:3])
    b = make_body(w.units[5], "天河区消防工作领导小组", members=w.units[2:9], kind="leading_group")
    c = make_body(w.tianhe_unit, "天河区已撤销联席会议", members=[], kind="joint_meeting", status="revoked")
    y = make_body(w.yuexiu_unit, "越秀区安全生产委员会", members=[w.yuexiu_unit])
    reviewer = client_for(w.users.tianhe_reviewer)
    page = html(reviewer.get("/bodies/"))
    assert sorted(codes_in(page)) == sorted([a.code, b.code, c.code])
    assert "越秀" not in page
    assert codes_in(html(reviewer.get("/bodies/", {"kind": "leading_group"}))) == [b.code]
    assert codes_in(html(reviewer.get("/bodies/", {"status": "revoked"}))) == [c.code]
    assert codes_in(html(reviewer.get("/bodies/", {"lead_unit": w.units[5].pk}))) == [b.code]
    assert sorted(codes_in(html(reviewer.get("/bodies/", {"member_unit": w.units[2].pk})))) == sorted([a.code, b.code])
    assert codes_in(html(reviewer.get("/bodies/", {"q": "消防"}))) == [b.code]
    assert codes_in(html(reviewer.get("/bodies/", {"q": a.code[-6:]}))) == [a.code]
    # a unit of another district as a filter matches nothing (never everything)
    assert codes_in(html(reviewer.get("/bodies/", {"member_unit": w.yuexiu_unit.pk}))) == []
    assert codes_in(html(reviewer.get("/bodies/", {"sort": "-members"}))) == [b.code, a.code, c.code]
    # the city sees both districts and filters by jurisdiction
    city = client_for(w.users.city_reviewer)
    assert sorted(codes_in(html(city.get("/bodies/")))) == sorted([a.code, b.code, c.code, y.code])
    assert codes_in(html(city.get("/bodies/", {"jurisdiction": "440104"}))) == [y.code]

    rows = sheet(reviewer.get("/bodies/", {"member_unit": w.units[2].pk, "sort": "code", "export": "xlsx"}))
    data = [r for r in rows[4:] if r and r[0]]
    assert [r[0] for r in data] == sorted([a.code, b.code])
    row = next(r for r in data if r[0] == b.code)
    assert row[1:5] == ["天河区消防工作领导小组", "天河区", "领导小组", w.units[5].name]
    assert int(row[7]) == 7 and row[8].split("、") == sorted(u.name for u in w.units[2:9])
    assert row[15] and row[13] == dt.date(2020, 3, 1)


def test_body_page_tabs(bodies_world):
    w = bodies_world
    body, setup_case = setup_body(w)
    TaskGroup.objects.create(body=body, name="危化品专项小组", lead_unit=w.units[1], valid_from=TODAY,
                             duties="危险化学品安全专项整治。").members.set(w.units[1:3])
    rename = run(w, submit(w, "body_rename", body=body.code, name="天河区安全生产委员会（调整）", reason="规范名称"))
    members = run(w, submit(w, "body_members", body=body.code, members=[u.pk for u in w.units[1:6]],
                            reason="调整成员"))
    page = html(client_for(w.users.tianhe_reviewer).get(f"/bodies/{body.pk}/"))
    body.refresh_from_db()
    assert body.code in page and body.name in page
    current = re.search(r'data-testid="members-table".*?</table>', page, re.S).group(0)
    past = re.search(r'data-testid="past-members-table".*?</table>', page, re.S).group(0)
    assert sorted(re.findall(r'data-member="([^"]+)"', current)) == sorted(u.uscc for u in w.units[1:6])
    assert re.findall(r'data-member="([^"]+)"', past) == [w.units[0].uscc]
    assert "危化品专项小组" in page and w.units[2].name in re.search(
        r'data-testid="groups-table".*?</table>', page, re.S).group(0)
    history = re.search(r'data-testid="history-table".*?</table>', page, re.S).group(0)
    assert re.findall(r'data-change="(\w+)"', history) == ["set_up", "rename", "members"]
    numbers = [c.result_ref.split()[1] for c in (setup_case, rename, members)]
    for number in numbers:
        assert number in history
    documents = re.search(r'data-testid="documents-table".*?</table>', page, re.S).group(0)
    assert re.findall(r'data-document="([^"]+)"', documents) == numbers
    assert documents.count('data-testid="document-pdf"') == 3 and documents.count('data-testid="document-docx"') == 3
    cases = re.search(r'data-testid="cases-table".*?</table>', page, re.S).group(0)
    assert re.findall(r'data-case="([^"]+)"', cases) == [setup_case.number, rename.number, members.number]
    # the change buttons of an active body, for those who may apply
    assert {"apply-rename", "apply-merge", "apply-revoke", "apply-duties", "apply-members"} <= set(
        re.findall(r'data-testid="(apply-\w+)"', page))
    assert "apply-rename" not in html(client_for(w.users.leader).get(f"/bodies/{body.pk}/"))


def test_out_of_scope_bodies_answer_404(bodies_world):
    w = bodies_world
    body = make_body(w.tianhe_unit, "天河区安全生产委员会", members=w.units[:2])
    yuexiu = client_for(w.users.yuexiu_reviewer)
    for url in (f"/bodies/{body.pk}/", f"/bodies/{body.pk}/apply/rename/", f"/bodies/{body.pk}/apply/revoke/",
                "/bodies/999999/"):
        assert yuexiu.get(url).status_code == 404, url
    assert yuexiu.post(f"/bodies/{body.pk}/apply/rename/", {"body": body.code, "name": "x", "reason": "x"}
                       ).status_code == 404
    assert client_for(w.users.tianhe_reviewer).get(f"/bodies/{body.pk}/apply/rewrite/").status_code == 404
    assert Case.objects.count() == 0


# ---------------------------------------------------------------------------------- set-up


def test_set_up_form_submits_the_payload(bodies_world):
    w = bodies_world
    reviewer = client_for(w.users.tianhe_reviewer)
    page = html(reviewer.get("/bodies/apply/setup/"))
    for name in ("negative_within_department", "negative_inter_department", "negative_same_as_existing",
                 'data-testid="check-similar"', "parent_body"):
        assert name in page
    response = reviewer.post("/bodies/apply/setup/", setup_post(w, planned_end="2028-12-31"))
    assert response.status_code == 302, response.context["form"].errors if response.context else response
    case = Case.objects.get()
    assert response["Location"] == f"/approvals/cases/{case.pk}/"
    assert case.kind == "body_setup" and case.unit == w.tianhe_unit
    p = case.payload
    assert (p["name"], p["kind"], p["lead_unit"], p["office_unit"], p["ground"], p["planned_end"]) == (
        "天河区防汛防旱指挥部", "headquarters", w.tianhe_unit.pk, w.units[0].pk, "law_requires", "2028-12-31")
    assert sorted(p["members"]) == sorted(u.pk for u in w.units[:5])
    assert p["negative"] == {"within_department": "涉及水务、应急等多个部门。", "inter_department": "需统一指挥。",
                             "same_as_existing": "区内无同类机构。"}
    assert Body.objects.count() == 0  # nothing in the registry until the document is issued


def test_bad_set_up_answers_422_next_to_the_field_and_writes_nothing(bodies_world):
    w = bodies_world
    existing = make_body(w.tianhe_unit, "天河区防汛防旱指挥部")
    reviewer = client_for(w.users.tianhe_reviewer)
    cases = [
        ({}, {"name": ["body_name_taken"]}),
        ({"name": "新机构", "negative_inter_department": ""}, {"negative_inter_department": ["required"]}),
        ({"name": "新机构", "members": [str(u.pk) for u in w.units[:21]], "member_codes": ""},
         {"members": ["member_cap_exceeded"]}),
        ({"name": "新机构", "member_codes": w.yuexiu_unit.uscc}, {"members": ["unit_not_found"]}),
        ({"name": "新机构", "lead_unit": str(w.yuexiu_unit.pk)}, {"lead_unit": ["unit_not_found"]}),
        ({"name": "新机构", "ground": "mirrors_upper", "parent_body": existing.code},
         {"parent_body": ["parent_body_required"]}),
        ({"name": "新机构", "planned_end": "2028-13-01"}, {"planned_end": ["invalid"]}),
    ]
    for changes, expected in cases:
        response = reviewer.post("/bodies/apply/setup/", setup_post(w, **changes))
        assert response.status_code == 422, changes
        errors = response.context["form"].errors.as_data()
        assert {k: [e.code for e in v] for k, v in errors.items()} == expected, changes
        page = response.content.decode()
        assert 'data-testid="form-errors"' in page and "is-invalid" in page
        assert changes.get("name", "天河区防汛防旱指挥部") in page  # the input is kept
    assert Case.objects.count() == 0


def test_a_parent_code_with_a_wrong_check_character_is_body_code_invalid(bodies_world):
    w = bodies_world
    city = make_body(w.city_unit, "广州市安全生产委员会")
    wrong = city.code[:-1] + ("0" if city.code[-1] != "0" else "1")
    response = client_for(w.users.tianhe_reviewer).post(
        "/bodies/apply/setup/", setup_post(w, ground="mirrors_upper", parent_body=wrong))
    assert response.status_code == 422
    assert [e.code for e in response.context["form"].errors.as_data()["parent_body"]] == ["body_code_invalid"]


def test_a_mirrored_body_of_the_level_above_is_accepted(bodies_world):
    w = bodies_world
    city = make_body(w.city_unit, "广州市防汛防旱指挥部")
    response = client_for(w.users.tianhe_reviewer).post(
        "/bodies/apply/setup/", setup_post(w, ground="mirrors_upper", parent_body=city.code.lower()))
    assert response.status_code == 302
    assert Case.objects.get().payload["parent_body"] == city.code


def test_unit_operator_applies_for_its_own_unit(bodies_world):
    w = bodies_world
    operator = client_for(w.users.tianhe_operator)
    page = html(operator.get("/bodies/apply/setup/"))
    assert 'name="lead_unit"' not in page and 'name="member_codes"' in page
    response = operator.post("/bodies/apply/setup/", setup_post(w, lead_unit=str(w.yuexiu_unit.pk), members=None,
                                                                 office_unit="", member_codes=w.tianhe_unit.uscc))
    assert response.status_code == 302
    assert Case.objects.get().payload["lead_unit"] == w.tianhe_unit.pk


def test_unit_operator_names_other_departments_as_members(bodies_world):
    w = bodies_world
    response = client_for(w.users.tianhe_operator).post(
        "/bodies/apply/setup/", setup_post(w, members=None, office_unit="",
                                           member_codes="\n".join(u.uscc for u in w.units[:3])))
    assert response.status_code == 302


def test_similar_bodies_fragment(bodies_world):
    w = bodies_world
    close = make_body(w.tianhe_unit, "天河区安全生产委员会", duties=SETUP["duties"])
    make_body(w.units[3], "天河区全民健身工作领导小组", duties="统筹推进全民健身。")
    reviewer = client_for(w.users.tianhe_reviewer)
    page = html(reviewer.get("/bodies/similar/", {"name": "天河区安全生产工作领导小组", "duties": SETUP["duties"],
                                                  "lead_unit": w.tianhe_unit.pk}, HTTP_HX_REQUEST="true"))
    rows = re.findall(r'data-testid="similar-row" data-code="([^"]+)" data-score="([0-9.]+)"', page)
    assert rows[0][0] == close.code and float(rows[0][1]) > 0.5
    assert "list-group-item-warning" in page  # at or above the threshold
    assert "<html" not in page  # a fragment
    assert 'data-testid="similar-empty"' in html(reviewer.get("/bodies/similar/"))
    # another district's bodies are never candidates
    yx = client_for(w.users.yuexiu_reviewer).get("/bodies/similar/", {"name": "天河区安全生产委员会"})
    assert close.code not in html(yx)


# ---------------------------------------------------------------------------------- changes


def test_change_forms_are_prefilled_and_submit_their_payloads(bodies_world):
    w = bodies_world
    body = make_body(w.tianhe_unit, "天河区安全生产委员会", members=w.units[:3])
    other = make_body(w.tianhe_unit, "天河区消防安全委员会", members=w.units[3:5])
    reviewer = client_for(w.users.tianhe_reviewer)
    page = html(reviewer.get(f"/bodies/{body.pk}/apply/rename/"))
    assert f'value="{body.code}"' in page
    page = html(reviewer.get(f"/bodies/{body.pk}/apply/members/"))
    assert len(re.findall(r"<option value=\"\d+\" selected", page)) == 3
    posts = {
        "rename": ({"name": "天河区安全生产委员会（新）"}, {"name": "天河区安全生产委员会（新）"}),
        "duties": ({"duties": "新的职责。"}, {"duties": "新的职责。"}),
        "members": ({"members": [str(u.pk) for u in w.units[:2]], "member_codes": w.units[7].uscc},
                    {"members": [w.units[0].pk, w.units[1].pk, w.units[7].pk], "over_cap_reason": ""}),
        "revoke": ({"situation": "task_completed"}, {"situation": "task_completed"}),
        "merge": ({"others": other.code.lower()}, {"others": [other.code], "name": body.name}),
    }
    for word, (data, expected) in posts.items():
        response = reviewer.post(f"/bodies/{body.pk}/apply/{word}/", {"body": body.code, "reason": "调整", **data})
        assert response.status_code == 302, (word, response.context["form"].errors if response.context else "")
        case = Case.objects.latest("pk")
        assert case.kind == f"body_{word}"
        assert case.payload == {"body": body.code, "reason": "调整", **expected}, word
    body.refresh_from_db()
    assert body.name == "天河区安全生产委员会" and body.status == "active"  # nothing changes before the document


def test_bad_change_answers_422_and_writes_nothing(bodies_world):
    w = bodies_world
    body = make_body(w.tianhe_unit, "天河区安全生产委员会", members=w.units[:3])
    revoked = make_body(w.tianhe_unit, "天河区旧委员会", status="revoked")
    yx = make_body(w.yuexiu_unit, "越秀区委员会")
    wrong = body.code[:-1] + ("0" if body.code[-1] != "0" else "1")
    reviewer = client_for(w.users.tianhe_reviewer)
    cases = [
        ("rename", {"body": wrong, "name": "新名", "reason": "x"}, {"body": ["body_code_invalid"]}),
        ("rename", {"body": revoked.code, "name": "新名", "reason": "x"}, {"body": ["body_not_active"]}),
        ("rename", {"body": yx.code, "name": "新名", "reason": "x"}, {"body": ["body_not_found"]}),
        ("rename", {"body": body.code, "name": body.name, "reason": "x"}, {"name": ["nothing_changes"]}),
        ("rename", {"body": body.code, "name": "新名", "reason": ""}, {"reason": ["required"]}),
        ("merge", {"body": body.code, "others": wrong, "reason": "x"}, {"others": ["body_code_invalid"]}),
        ("merge", {"body": body.code, "others": yx.code, "reason": "x"}, {"others": ["body_not_found"]}),
        ("members", {"body": body.code, "members": [str(u.pk) for u in w.units[:3]], "reason": "x"},
         {"members": ["nothing_changes"]}),
    ]
    for word, data, expected in cases:
        response = reviewer.post(f"/bodies/{body.pk}/apply/{word}/", data)
        assert response.status_code == 422, (word, data)
        errors = response.context["form"].errors.as_data()
        assert {k: [e.code for e in v] for k, v in errors.items()} == expected, (word, data)
    assert Case.objects.count() == 0


def test_a_returned_application_is_revised_on_its_own_form(bodies_world):
    w = bodies_world
    reviewer = client_for(w.users.tianhe_reviewer)
    assert reviewer.post("/bodies/apply/setup/", setup_post(w)).status_code == 302
    case = Case.objects.get()
    wf.case_act(actor=w.users.reviewer2, case_id=case.pk, step="establishment", action="return",
                opinion="请补充依据", today=TODAY)
    page = html(reviewer.get(f"/approvals/cases/{case.pk}/revise/"))
    assert "区内无同类机构。" in page and w.units[3].uscc in page  # the answers and members are kept
    data = setup_post(w, basis="《防洪法》《防汛条例》", note="已补充依据")
    del data["lead_unit"]
    data.pop("members")
    data["member_codes"] = "\n".join(u.uscc for u in w.units[:5])
    data["office_unit"] = w.units[0].uscc
    response = reviewer.post(f"/approvals/cases/{case.pk}/revise/", data)
    assert response.status_code == 302, response.context["form"].errors if response.context else ""
    case.refresh_from_db()
    assert (case.status, case.round, case.payload["basis"], case.payload["lead_unit"]) == (
        "in_review", 2, "《防洪法》《防汛条例》", w.tianhe_unit.pk)
    assert sorted(case.payload["members"]) == sorted(u.pk for u in w.units[:5])


# ---------------------------------------------------------------------------------- the case page


def test_reviewer_records_why_similar_bodies_do_not_bar(bodies_world):
    w = bodies_world
    make_body(w.tianhe_unit, "天河区安全生产委员会", duties=SETUP["duties"])
    case = submit(w, name="天河区安全生产工作领导小组", kind="领导小组")
    reviewer2 = client_for(w.users.reviewer2)
    page = html(reviewer2.get(f"/approvals/cases/{case.pk}/"))
    assert 'name="similarity_reason"' in page and "天河区安全生产委员会" in page
    url = f"/approvals/cases/{case.pk}/act/"
    response = reviewer2.post(url, {"step": "establishment", "action": "approve", "opinion": "同意"})
    assert response.status_code == 422
    assert [e.code for e in response.context["decision"].errors.as_data()["similarity_reason"]] == [
        "similarity_reason_required"]
    case.refresh_from_db()
    assert case.stage_index == 0
    response = reviewer2.post(url, {"step": "establishment", "action": "approve", "opinion": "同意",
                                    "similarity_reason": "专项整治，期限一年。"})
    assert response.status_code == 302
    event = case.events.get(kind="approve")
    assert event.params["extras"] == {"similarity_reason": "专项整治，期限一年。"}
    # the next steps ask for nothing more than the opinion
    assert 'name="similarity_reason"' not in html(client_for(w.users.leader).get(f"/approvals/cases/{case.pk}/"))


def test_body_applications_list(bodies_world):
    w = bodies_world
    body, setup_case = setup_body(w)
    other = submit(w, "body_rename", body=body.code, name="天河区安全生产委员会（新）", reason="规范名称")
    hire = Case.objects.get(pk=setup_case.pk)
    hire.pk, hire.number, hire.kind = None, "SP-440106-2026-09999", "hire"  # an application of another kind
    hire.save()
    reviewer = client_for(w.users.tianhe_reviewer)
    page = html(reviewer.get("/bodies/applications/"))
    assert setup_case.number in page and other.number in page and page.count("SP-440106") == 2
    page = html(reviewer.get("/bodies/applications/", {"kind": "body_rename"}))
    assert other.number in page and setup_case.number not in page
    rows = sheet(reviewer.get("/bodies/applications/", {"export": "xlsx"}))
    assert sorted(r[0] for r in rows[4:] if r and r[0]) == sorted([setup_case.number, other.number])
    make_unit("440104", "越秀区另一局")
    assert "SP-440106" not in html(client_for(w.users.yuexiu_reviewer).get("/bodies/applications/"))
