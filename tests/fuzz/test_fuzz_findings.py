"""The server errors the fuzz tests found (and their siblings in the same routes), pinned one by
one: each input now answers 422 (bad input, with the project's error codes) or 404 (no such
object) and writes nothing. Run on SQLite and PostgreSQL: the NUL characters failed on
PostgreSQL only, the integers past 2^63 on SQLite only."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client

from bianzhi.common import codes, tabular
from bianzhi.common.errors import BianzhiError

from .helpers import changed_rows, csv_bytes, row_counts, xlsx

API = "/api/v1"
HUGE = 2**63  # one past the largest 64-bit key


@pytest.fixture
def api(world: Any) -> Client:
    from bianzhi.accounts.services import token_create
    from bianzhi.common.rules_loader import load_all_rules

    load_all_rules()
    user = world.users.tianhe_reviewer
    plaintext = token_create(actor=user, user=user, name="findings")[1]
    return Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {plaintext}")


def refused(response: Any, status: int = 422) -> list[tuple[str, str | None]]:
    assert response.status_code == status, response.content
    return [(e["code"], e["column"]) for e in response.json()["errors"]]


@pytest.mark.parametrize("path,params,column", [
    ("/divisions", {"page": HUGE}, "page"),  # an OFFSET past 2^63 rows: "datatype mismatch"
    ("/units", {"page": 10**12, "page_size": 100}, "page"),
    ("/funds/double-dipping", {"unit": HUGE}, "unit"),  # a foreign key compared with a huge int
    ("/funds/conversions", {"unit": -HUGE}, "unit"),
    ("/funds/conversions", {"year": -1}, "year"),  # converted_on__year=-1: "year -1 is out of range"
    ("/funds/both-fall", {"year": 20000}, "year"),  # date(20000, 12, 31)
    ("/stats/alerts", {"unit": HUGE}, "unit"),
    ("/cases", {"unit": HUGE}, "unit"),
    ("/bodies", {"lead_unit": HUGE}, "lead_unit"),
])
def test_numbers_out_of_range_answer_422(api: Client, path: str, params: dict[str, Any], column: str) -> None:
    assert refused(api.get(f"{API}{path}", params)) == [("invalid_input", column)]


@pytest.mark.parametrize("params,column", [
    ({"as_of": "0001-01-01"}, "as_of"),  # the day before 1 January 1: "date value out of range"
    ({"from": "0001-01-01"}, "from"),
    ({"to": "9999-12-31"}, "to"),
])
def test_indicator_dates_outside_the_years_of_the_year_parameter_are_invalid(api: Client, params: dict[str, Any],
                                                                              column: str) -> None:
    assert refused(api.get(f"{API}/stats/indicators", params)) == [("invalid_date", column)]


def test_notification_ids_out_of_range_answer_422_and_mark_nothing(api: Client) -> None:
    before = row_counts()
    response = api.post(f"{API}/notifications/read", json.dumps({"ids": [HUGE]}), content_type="application/json")
    assert refused(response) == [("invalid_input", "ids.0")]
    assert changed_rows(before, row_counts()) == {}


@pytest.mark.parametrize("path,params,column", [
    ("/units", {"q": "天河\x00"}, "q"),
    ("/audit", {"actor_name": "\x00"}, "actor_name"),
    ("/bodies", {"jurisdiction": "\x00"}, "jurisdiction"),
    ("/funds/contracts", {"q": "\x00"}, "q"),
])
def test_a_nul_character_in_the_query_answers_422(api: Client, path: str, params: dict[str, Any],
                                                  column: str) -> None:
    # PostgreSQL text cannot hold U+0000: the query failed with a server error there.
    assert refused(api.get(f"{API}{path}", params)) == [("invalid_input", column)]


def test_a_nul_character_in_the_body_answers_422_and_writes_nothing(api: Client) -> None:
    before = row_counts()
    body = {"id_number": codes.make_resident_id("440106", dt.date(1990, 1, 1), 7), "name": "王五",
            "jurisdiction": "440106\x00"}
    response = api.post(f"{API}/people", json.dumps(body), content_type="application/json")
    assert refused(response) == [("invalid_input", "jurisdiction")]
    nested = api.post(f"{API}/bodies/similar", json.dumps({"name": "a", "duties": "b\x00"}),
                      content_type="application/json")
    assert refused(nested) == [("invalid_input", "duties")]
    assert changed_rows(before, row_counts()) == {}


@pytest.mark.parametrize("code", ["4401\x0006", "abc", "４４０１０６"])
def test_a_division_code_that_cannot_exist_is_not_found(api: Client, code: str) -> None:
    assert refused(api.get(f"{API}/divisions/{code}"), 404) == [("not_found", None)]


def test_other_scripts_digits_are_not_a_resident_id_and_full_width_ones_are_ascii() -> None:
    number = codes.make_resident_id("440106", dt.date(1990, 1, 1), 12)
    with pytest.raises(codes.CodeError) as refused_id:
        codes.validate_resident_id(number[:6] + number[6:17].translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
                                   + number[17])
    assert refused_id.value.code == "id_format"
    assert codes.validate_resident_id(number.translate(str.maketrans("0123456789", "０１２３４５６７８９"))).number == number


def test_a_body_code_with_other_scripts_digits_is_not_valid() -> None:
    from bianzhi.bodies import codes as body_codes

    code = body_codes.make_code("440106", 2020, 1)
    assert body_codes.is_valid(code)
    assert body_codes.is_valid(code[:5] + "٣" + code[6:]) is False  # raised ValueError("body")


def test_a_process_definition_with_a_list_for_a_role_is_a_problem_not_a_crash() -> None:
    from bianzhi.accounts.choices import Role
    from bianzhi.workflow.rules import check_definition

    definition = {"stages": [{"name": "审核", "steps": [{"code": "a", "name": "审核", "department": "编办",
                                                         "role": ["establishment_reviewer"], "days": 5,
                                                         "actions": ["approve"]}]}]}
    assert any("role" in p for p in check_definition(definition, Role.values))


def test_an_integer_cell_of_5000_digits_is_invalid_integer() -> None:
    with pytest.raises(tabular.CellError) as refused_cell:
        tabular.as_non_negative_int("9" * 5000)  # int() raised "Exceeds the limit (4300 digits)"
    assert refused_cell.value.code == "invalid_integer"
    assert tabular.as_non_negative_int("0" * 5000 + "12") == 12


@pytest.mark.parametrize("make", [xlsx, csv_bytes], ids=["xlsx", "csv"])
def test_a_file_with_a_nul_character_is_unreadable(make: Any) -> None:
    with pytest.raises(BianzhiError) as unreadable:
        tabular.read_table(make([["单位名称", "行政区划代码"], ["天河区测试局", "4401\x0006"]]), "units.file")
    assert unreadable.value.codes == ["file_unreadable"]


def test_a_units_import_with_a_nul_character_is_rejected_and_writes_nothing(world: Any) -> None:
    from bianzhi.accounts.services import system_user
    from bianzhi.orgs.importing import TEMPLATE, import_units

    headers = [c.header for c in TEMPLATE.columns]
    row = [world.tianhe_unit.uscc, "天河区测试局", None, "4401\x0006", "党政机关", "财政全额拨款", 5, None, None, 3]
    actor = system_user()  # made on first use
    before = row_counts()
    result = import_units(actor=actor, data=csv_bytes([headers, row]), filename="units.csv")
    assert [e.code for e in result.errors] == ["file_unreadable"]
    assert changed_rows(before, row_counts()) == {}
