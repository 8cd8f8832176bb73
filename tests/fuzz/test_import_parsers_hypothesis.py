"""Hypothesis over the five imports (``bianzhi import units|roster|funding|purchases|bodies``)
and the pure rules behind them.

Imports: generated workbooks (and CSV files, truncated workbooks, random bytes) with right,
shuffled, missing, duplicated and unknown header rows, blank rows above the header, and cells
of every type a spreadsheet holds — CJK and other text, huge text, whole and fractional
numbers, NaN and infinities, booleans, dates and date-times, formulas and formula-looking
text — mixed with values that pass (real credit codes, division codes, rule-table words), so
that the runs reach the row checks as well as the header checks. Properties:

- an import never raises: whatever the file, the answer is an
  :class:`~bianzhi.common.tabular.ImportResult` whose errors carry registered codes and rows
  of the file, and whose JSON (``--json``) serialises;
- a rejected import or a dry run writes nothing: the number of rows of every table, audit
  events included, is unchanged; a committed import leaves the audit chain valid.

Rules: the money and year parsers, the credit code, resident ID and body code checks, the
cell coercers of the templates and the process definition check answer a value or their own
error code for any input, and never anything else.

Bounded for the normal suite (``max_examples`` per test below, derandomised so a failure
reproduces); ``BIANZHI_FUZZ_RANDOM=1 BIANZHI_FUZZ_EXAMPLES=500`` runs a longer random search.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from bianzhi.common import codes, tabular
from bianzhi.common.errors import BianzhiError, all_codes

from .helpers import Formula, changed_rows, csv_bytes, row_counts, xlsx

RANDOM = os.environ.get("BIANZHI_FUZZ_RANDOM", "") not in ("", "0")
IMPORT_EXAMPLES = int(os.environ.get("BIANZHI_FUZZ_EXAMPLES", "50"))
RULE_EXAMPLES = max(IMPORT_EXAMPLES * 5, 200)

fuzz = settings(deadline=None, derandomize=not RANDOM, database=None, max_examples=IMPORT_EXAMPLES,
                suppress_health_check=list(HealthCheck))
fuzz_rules = settings(fuzz, max_examples=RULE_EXAMPLES)

TODAY = dt.date.today()


# --------------------------------------------------------------------------- cells

_CJK = "天河区越秀测试局中心编外人员经费购买服务合同议事协调机构领导小组委员会（）《》，。、；：０１２３４５６７８９年月日"
_TRICKY_TEXT = [
    "=SUM(A1:A2)", "=1/0", "=HYPERLINK(\"http://x\")", "@SUM(1)", "+1", "-1", "1e400", "-0", "NaN", "inf",
    "0x1F", "１２３", "2021-02-30", "2021-13-01", "2021年13月1日", "2021/2/29", "9999-12-31", "0001-01-01",
    "2021-03-04 00:00:00", "2021-03-04 12:00:00", " ", "\u3000", "#N/A", "#REF!", "TRUE", "是", "否",
    "12,345.678", "4,500.50", "¥100", "100元", "1.005", "١٢٣", "²", "Ⅻ", "X", "x", "\x00", "\ufeff",
    "9.1440106E+17", "91440106MA5XXXXX0X", "YX440106202000001X", "4401061990010112X", "2019年", "2019.0",
]


def _huge(char: str, n: int) -> str:
    return char * n


junk_cells: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.text(alphabet=_CJK + " \t\n;", max_size=40),
    st.sampled_from(_TRICKY_TEXT),
    st.integers(min_value=-(10**18), max_value=10**18),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(9999, 12, 31)),
    st.datetimes(min_value=dt.datetime(1900, 3, 1), max_value=dt.datetime(9999, 12, 31)),
    st.times(),
    st.builds(Formula, st.sampled_from(["=1+1", "=A1", '="440106"', "=NOW()", "=1/0", '="天河"&"区"'])),
    st.builds(_huge, st.sampled_from(["天", "a", "9", " "]), st.integers(min_value=100, max_value=32_767)),
)


def cells_for(plausible: list[Any], mode: str) -> st.SearchStrategy[Any]:
    """A cell of a column: in a ``clean`` row a value that passes, in a ``junk`` row anything
    at all, in a ``mixed`` row mostly the first."""
    if not plausible or mode == "junk":
        return junk_cells
    if mode == "clean":
        return st.sampled_from(plausible)
    # a value that passes, but for a NUL character (PostgreSQL text cannot hold one)
    with_nul = st.sampled_from(plausible).map(lambda v: f"{v}\x00" if isinstance(v, str) else v)
    return st.one_of(st.sampled_from(plausible), st.sampled_from(plausible), with_nul, junk_cells)


def _column_cells(header: str, plausible: dict[str, list[Any]], avoid: dict[str, Callable[[Any], bool]],
                  mode: str) -> st.SearchStrategy[Any]:
    if mode == "clean" and header not in plausible:
        return st.none()
    cells = cells_for(plausible.get(header, []), mode)
    bug = avoid.get(header)
    return cells.filter(lambda v: not bug(v)) if bug else cells


@dataclass
class File:
    """An import file as drawn (its grid, shown when a test fails) and its bytes."""

    grid: list[list[Any]]
    form: str
    filename: str
    cut: int = 0
    noise: bytes = b""

    def content(self) -> bytes:
        if self.form == "bytes":
            return self.noise
        if self.form == "csv":
            return csv_bytes(self.grid)
        data = xlsx(self.grid)
        return data[:self.cut % len(data)] if self.form == "truncated" else data

    def __repr__(self) -> str:
        def short(v: Any) -> Any:
            return f"<{len(v)} × {v[:1]!r}>" if isinstance(v, str) and len(v) > 60 else v
        grid = [[short(v) for v in row] for row in self.grid]
        return f"File({self.form}, {self.filename!r}, cut={self.cut}, noise={self.noise!r}, grid={grid!r})"


@st.composite
def files(draw: st.DrawFn, headers: list[str], plausible: dict[str, list[Any]],
          avoid: dict[str, Callable[[Any], bool]]) -> File:
    """An import file; ``avoid`` names the values of a column that trigger a known bug."""
    extra = ["备注", "序号", "", "*", "统一社会信用代码 ", "单位名称*", "Unnamed: 0"]
    header_row = draw(st.one_of(
        *[st.just(list(headers))] * 6,
        st.permutations(headers).map(list),
        st.lists(st.sampled_from(headers), min_size=1, max_size=len(headers) + 2),
        st.lists(st.one_of(st.sampled_from(headers + extra), st.text(max_size=8)), max_size=len(headers) + 2),
    ))
    width = draw(st.sampled_from([len(header_row)] * 4 + [max(len(header_row) - 1, 0), len(header_row) + 1]))
    columns = header_row[:width] + [""] * (width - len(header_row))

    def row(mode: str) -> st.SearchStrategy[list[Any]]:
        return st.tuples(*[_column_cells(h.strip("*").strip(), plausible, avoid, mode) for h in columns]).map(list)

    rows = draw(st.lists(st.sampled_from(["clean", "clean", "mixed", "junk"]).flatmap(row),
                         min_size=draw(st.sampled_from([1, 1, 1, 1, 0])), max_size=4))
    blank_above = draw(st.integers(min_value=0, max_value=2))
    grid: list[list[Any]] = [[None] * len(header_row)] * blank_above + [list(header_row)] + rows
    form = draw(st.sampled_from(["xlsx"] * 8 + ["csv", "csv", "truncated", "bytes"]))
    if form == "csv":
        return File(grid, form, "import.csv")
    if form == "bytes":
        return File([], form, draw(st.sampled_from(["import.xlsx", "import.csv", "import"])),
                    noise=draw(st.binary(max_size=200)))
    return File(grid, form, "import.xlsx", cut=draw(st.integers(min_value=0, max_value=10**6)))


# --------------------------------------------------------------------------- imports


@pytest.fixture
def base(world: Any) -> SimpleNamespace:
    """The world of tests/conftest.py with every rule table loaded, and the values that pass."""
    from bianzhi.accounts.services import system_user
    from bianzhi.common.rules_loader import load_all_rules
    from bianzhi.staffing.models import RuleItem

    load_all_rules()
    from tests.factories import next_uscc

    units = [world.tianhe_unit, world.tianhe_child, world.yuexiu_unit, world.city_unit]
    words = {table: list(RuleItem.objects.filter(table=table).values_list("name", flat=True)[:8])
             + list(RuleItem.objects.filter(table=table).values_list("code", flat=True)[:4])
             for table in ("situation", "post_class", "work_type", "key_post", "funding_source", "exit_reason",
                           "education", "service_item", "body_kind", "positive_ground")}
    return SimpleNamespace(
        actor=system_user(), usccs=[u.uscc for u in units] + [next_uscc("440106"), next_uscc("440104")],
        divisions=["440106", "440104", "440100", "440000", "440106001", "999999"], words=words,
    )


Kind = tuple[Callable[..., Any], list[str], dict[str, list[Any]], dict[str, Any], dict[str, Callable[[Any], bool]]]


def _kinds(b: SimpleNamespace) -> dict[str, Kind]:
    """Import kind → (importer, template headers, header → values that pass, extra arguments,
    header → values of a known bug)."""
    from bianzhi.bodies import codes as body_codes
    from bianzhi.bodies import importing as bodies
    from bianzhi.funds import importing as funds
    from bianzhi.orgs import importing as orgs
    from bianzhi.staffing import importing as roster

    optional: list[Any] = [None, None]
    dates = [dt.date(2019, 1, 1), dt.date(2021, 3, 4), TODAY, "2020-05-06", "2020/5/6", "2020年5月6日",
             dt.datetime(2021, 3, 4)]
    ids = [codes.make_resident_id("440106", dt.date(1990, 1, 1) + dt.timedelta(days=n), n) for n in range(1, 4)]
    counts = [0, 1, 5, 12, 5.0, "3"]
    money = [0, 4500, 4500.5, "4,500.50", "100000.00", 1e11]
    years = [2019, TODAY.year, float(TODAY.year), f"{TODAY.year}年", TODAY.year + 1]
    body_code = body_codes.make_code("440106", 2020, 1)
    plausible_units = {
        "统一社会信用代码": b.usccs, "单位名称": ["天河区新设中心", "越秀区测试局"], "上级单位代码": optional + b.usccs,
        "行政区划代码": b.divisions, "单位类别": list(orgs.CATEGORY_WORDS), "经费形式": list(orgs.FUNDING_WORDS),
        "行政编制数": optional + counts, "事业编制数": counts, "政法专项编制数": optional + counts,
        "实有在编人数": optional + counts,
    }
    w = b.words
    plausible_roster = {
        "统一社会信用代码": b.usccs, "姓名": ["张三", "李四"], "公民身份号码": ids, "情形": w["situation"],
        "岗位类别": w["post_class"], "工作内容": w["work_type"], "岗位名称": ["文员", "保安员"],
        "关键岗位": optional + w["key_post"], "审批编号": [*optional, "SP-2024-1"], "经费来源": w["funding_source"],
        "入职日期": dates, "离职日期": optional + dates, "离职原因": optional + w["exit_reason"],
        "合同到期日": optional + dates, "学历": optional + w["education"], "月人均成本": optional + money,
    }
    plausible_funding = {"统一社会信用代码": b.usccs, "年度": years, "预算数": optional + money, "支出数": optional + money}
    plausible_purchases = {
        "合同编号": ["HT-2024-001", "HT-2024-002"], "统一社会信用代码": b.usccs, "服务目录项": w["service_item"],
        "开始日期": dates, "结束日期": dates, "金额": money,
    }
    plausible_bodies = {
        "机构编码": [*optional, body_code, body_code.lower(), body_code[:-1] + "0"], "机构名称": ["天河区安全生产委员会"],
        "行政区划代码": b.divisions, "机构类型": w["body_kind"], "牵头单位代码": b.usccs, "办公室设在": optional + b.usccs,
        "成员单位代码": [*optional, ";".join(b.usccs[:2]), "、".join(b.usccs[:3]), b.usccs[0]], "设立依据": w["positive_ground"],
        "设立文号": ["穗天委〔2020〕1号"], "设立日期": dates, "主要职责": ["统筹协调全区安全生产工作。"],
        "到期日期": optional + dates, "状态": list(bodies.STATUS_WORDS),
    }
    headers = {name: [c.header for c in template.columns] for name, template in (
        ("units", orgs.TEMPLATE), ("roster", roster.TEMPLATE), ("funding", funds.funding_template(TODAY)),
        ("purchases", funds.PURCHASE_TEMPLATE), ("bodies", bodies.TEMPLATE))}
    return {
        "units": (orgs.import_units, headers["units"], plausible_units, {}, {}),
        "roster": (roster.import_roster, headers["roster"], plausible_roster,
                   {"mode": st.sampled_from([roster.REGISTER, roster.INVENTORY])}, {}),
        "funding": (funds.import_funding, headers["funding"], plausible_funding, {}, {}),
        "purchases": (funds.import_purchases, headers["purchases"], plausible_purchases, {}, {}),
        "bodies": (bodies.import_bodies, headers["bodies"], plausible_bodies, {}, {}),
    }


@pytest.mark.parametrize("kind", ["units", "roster", "funding", "purchases", "bodies"])
@fuzz
@given(data=st.data())
def test_an_import_answers_every_file_and_a_rejected_one_writes_nothing(base: SimpleNamespace, kind: str,
                                                                        data: st.DataObject) -> None:
    from bianzhi.common.audit import verify_chain
    from bianzhi.common.tabular import ImportResult

    importer, headers, plausible, extra_strategies, avoid = _kinds(base)[kind]
    file = data.draw(files(headers, plausible, avoid), label="file")
    content, filename, grid_rows = file.content(), file.filename, len(file.grid)
    dry_run = data.draw(st.booleans(), label="dry_run")
    extra = {name: data.draw(strategy, label=name) for name, strategy in extra_strategies.items()}

    before = row_counts()
    result = importer(actor=base.actor, data=content, filename=filename, dry_run=dry_run, **extra)
    after = row_counts()

    assert isinstance(result, ImportResult)
    event("committed" if result.committed else "valid, dry run" if result.ok else
          f"rejected: {', '.join(sorted({e.code for e in result.errors})[:3])}")
    registered = all_codes()
    for error in result.errors:
        assert error.code in registered, error
        assert error.row is None or 1 <= error.row <= max(grid_rows, 1), error
    json.dumps(result.as_dict(preview=True), ensure_ascii=False)
    if not result.ok or dry_run:
        assert not result.committed
        assert changed_rows(before, after) == {}, (result.errors, changed_rows(before, after))
    if not result.ok:
        assert (result.created, result.updated) == (0, 0)
    if result.committed and changed_rows(before, after):
        assert verify_chain().ok


# --------------------------------------------------------------------------- pure rules

anything: st.SearchStrategy[Any] = st.one_of(
    junk_cells, st.decimals(allow_nan=True, allow_infinity=True), st.binary(max_size=10),
    st.lists(st.integers(), max_size=2), st.just(object()),
)


@fuzz_rules
@given(value=anything)
def test_parse_yuan_answers_an_amount_or_money_invalid(value: Any) -> None:
    from bianzhi.funds import errors, rules

    try:
        amount = rules.parse_yuan(value)
    except ValueError as exc:
        assert str(exc) == errors.MONEY_INVALID
        return
    assert isinstance(amount, decimal.Decimal)
    assert 0 <= amount < rules.MAX_YUAN and amount == amount.quantize(decimal.Decimal("0.01"))


@fuzz_rules
@given(value=st.one_of(anything, st.integers(), st.integers().map(str), st.integers().map(lambda n: f"{n}年")))
def test_parse_year_answers_a_year_or_year_invalid(value: Any) -> None:
    from bianzhi.funds import errors, rules

    try:
        year = rules.parse_year(value, TODAY)
    except ValueError as exc:
        assert str(exc) == errors.YEAR_INVALID
        return
    assert rules.FIRST_YEAR <= year <= TODAY.year + 1


_DIGITS = st.characters(categories=["Nd"])
_id_like = st.one_of(
    st.text(max_size=20), st.text(alphabet="0123456789Xx \u3000", min_size=15, max_size=19),
    st.text(alphabet=st.characters(categories=("Nd", "No", "Nl")), min_size=18, max_size=18),
    st.builds(lambda n: codes.make_resident_id("440106", dt.date(1990, 1, 1), n), st.integers(0, 999)),
    # a valid number with some digits written in another script (٣, ３, ໓ …)
    st.builds(lambda n, digits: "".join(d if c.isdigit() and d else c for c, d in zip(
        codes.make_resident_id("440106", dt.date(1990, 1, 1), n), digits, strict=True)),
        st.integers(0, 999), st.lists(st.one_of(st.just(""), _DIGITS), min_size=18, max_size=18)),
)


@fuzz_rules
@given(value=_id_like)
def test_resident_id_validation_answers_an_id_or_a_code_error(value: str) -> None:
    try:
        parsed = codes.validate_resident_id(value)
    except codes.CodeError as exc:
        assert exc.code in all_codes()
        return
    assert len(parsed.number) == 18 and parsed.number.isascii()
    assert parsed.sex in ("M", "F") and parsed.birth_date <= TODAY
    assert codes.validate_resident_id(parsed.number) == parsed


def test_full_width_id_digits_are_ascii_and_other_scripts_are_refused() -> None:
    number = codes.make_resident_id("440106", dt.date(1990, 1, 1), 12)
    full_width = number.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    assert codes.validate_resident_id(full_width).number == number
    for other in ("٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹", "०१२३४५६७८९"):
        with pytest.raises(codes.CodeError) as refused:
            codes.validate_resident_id(number[:6] + number[6:17].translate(str.maketrans("0123456789", other))
                                       + number[17])
        assert refused.value.code == "id_format"


@fuzz_rules
@given(region=st.sampled_from(["440106", "440104", "110101", "650102"]),
       birth=st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY), sequence=st.integers(0, 999),
       position=st.integers(0, 16), digit=st.sampled_from("0123456789"))
def test_a_made_resident_id_validates_and_one_changed_digit_does_not(region: str, birth: dt.date, sequence: int,
                                                                    position: int, digit: str) -> None:
    number = codes.make_resident_id(region, birth, sequence)
    parsed = codes.validate_resident_id(number)
    assert (parsed.birth_date, parsed.region) == (birth, region)
    assume(number[position] != digit)
    with pytest.raises(codes.CodeError):
        codes.validate_resident_id(number[:position] + digit + number[position + 1:])


_uscc_like = st.one_of(
    st.text(max_size=20), st.text(alphabet="0123456789ABCDEFGHJKLMNPQRTUWXYIOSVZ ", min_size=17, max_size=19),
    st.text(alphabet=st.characters(categories=("Nd", "Lu", "Ll")), min_size=18, max_size=18),
)


@fuzz_rules
@given(value=_uscc_like)
def test_credit_code_validation_answers_a_code_or_a_code_error(value: str) -> None:
    try:
        number = codes.validate_uscc(value)
    except codes.CodeError as exc:
        assert exc.code in all_codes()
        return
    assert len(number) == 18 and number == codes.normalise_uscc(number)


_body_like = st.one_of(
    st.text(max_size=20), st.none(),
    st.text(alphabet="YX0123456789ABCDEFGHJKLMNPQRTUWXYIOSVZ", min_size=18, max_size=18),
    # \d matches every script's digits: ``YX`` + 15 digits of any script + a check character
    st.builds(lambda digits, last: "YX" + "".join(digits) + last, st.lists(_DIGITS, min_size=15, max_size=15),
              st.sampled_from("0123456789ABCXY")),
)


@fuzz_rules
@given(value=_body_like)
def test_body_code_check_never_raises(value: str | None) -> None:
    from bianzhi.bodies import codes as body_codes

    assert body_codes.is_valid(value) in (True, False)  # type: ignore[arg-type]


@fuzz_rules
@given(division=st.from_regex(r"\A[0-9]{6}\Z"), year=st.integers(1000, 9999), sequence=st.integers(0, 99_999),
       data=st.data())
def test_a_made_body_code_validates_and_a_typo_or_swap_does_not(division: str, year: int, sequence: int,
                                                               data: st.DataObject) -> None:
    from bianzhi.bodies import codes as body_codes

    code = body_codes.make_code(division, year, sequence)
    assert body_codes.is_valid(code) and body_codes.parts(code) == (division, year, sequence)
    assert body_codes.is_valid(code.lower())
    i = data.draw(st.integers(2, 17), label="position")
    other = data.draw(st.sampled_from(body_codes.ALPHABET).filter(lambda c: c != code[i]), label="character")
    assert not body_codes.is_valid(code[:i] + other + code[i + 1:])
    j = data.draw(st.integers(2, 15), label="swap")
    assume(code[j] != code[j + 1])
    assert not body_codes.is_valid(code[:j] + code[j + 1] + code[j] + code[j + 2:])


@fuzz_rules
@given(value=anything)
def test_the_template_cell_coercers_answer_a_value_or_a_cell_error(value: Any) -> None:
    coercers: list[Callable[[Any], Any]] = [
        tabular.as_text, tabular.text(10), tabular.as_code, tabular.as_uscc, tabular.as_non_negative_int,
        tabular.as_date, tabular.choice({"是": "yes", "否": "no"}),
    ]
    registered = all_codes()
    for coerce in coercers:
        try:
            coerce(value)
        except tabular.CellError as exc:
            assert exc.code in registered
    assert isinstance(tabular.normalise_header(value), str)


@fuzz_rules
@given(value=anything)
def test_the_import_specific_coercers_answer_a_value_or_a_cell_error(value: Any) -> None:
    from bianzhi.bodies import importing as bodies
    from bianzhi.funds import importing as funds
    from bianzhi.staffing import importing as roster

    registered = all_codes()
    for coerce in (funds.as_yuan, funds.year_coercer(TODAY), roster.as_cost, roster.as_resident_id,
                   bodies.as_body_code, bodies.as_code_list):
        try:
            coerce(value)
        except tabular.CellError as exc:
            assert exc.code in registered


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=10)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12,
)
step_like = st.fixed_dictionaries({}, optional={
    "code": json_values, "name": json_values, "department": json_values, "role": json_values,
    "days": json_values, "actions": json_values, "return_to": json_values, "opinion_required": json_values,
})
definitions = st.one_of(
    json_values,
    st.fixed_dictionaries({"stages": st.lists(st.one_of(json_values, st.fixed_dictionaries(
        {"name": json_values, "steps": st.one_of(json_values, st.lists(st.one_of(step_like, json_values), max_size=3))}
    )), max_size=3)}),
)


@fuzz_rules
@given(definition=definitions)
def test_the_process_definition_check_lists_problems_for_any_json(definition: Any) -> None:
    from bianzhi.accounts.choices import Role
    from bianzhi.workflow import rules

    problems = rules.check_definition(definition, Role.values)
    assert isinstance(problems, list) and all(isinstance(p, str) for p in problems)


def test_a_rejected_import_really_is_detected(base: SimpleNamespace) -> None:
    """The import property can fail: a file with a bad row is rejected and the counts hold;
    the same file with the row fixed is committed and the counts move."""
    from bianzhi.funds.importing import import_funding

    headers = ["统一社会信用代码", "年度", "预算数", "支出数"]
    good = [headers, [base.usccs[0], 2019, None, 1000]]
    bad = [headers, [base.usccs[0], 2019, None, 1000], [base.usccs[0], "二〇一九", None, "x"]]
    before = row_counts()
    rejected = import_funding(actor=base.actor, data=xlsx(bad), filename="f.xlsx")
    assert not rejected.ok and changed_rows(before, row_counts()) == {}
    assert {e.code for e in rejected.errors} >= {"year_invalid", "money_invalid"}
    committed = import_funding(actor=base.actor, data=xlsx(good), filename="f.xlsx")
    assert committed.committed and changed_rows(before, row_counts())
    with pytest.raises(BianzhiError):
        tabular.read_table(b"", "f.xlsx")


# --------------------------------------------------------------------------- known bugs


@pytest.mark.parametrize("value", [1e28, 1e300, "1e28", 10**40])
def test_a_huge_cost_number_cell_is_cost_invalid(value: Any) -> None:
    from bianzhi.staffing import importing as roster

    with pytest.raises(tabular.CellError) as refused:
        roster.as_cost(value)
    assert refused.value.code == "cost_invalid"
