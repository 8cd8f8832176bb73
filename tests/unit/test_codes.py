"""GB 32100 / GB 11714 / GB 11643 checks: table-driven cases and properties."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import uscc as stdnum_uscc

from bianzhi.common.codes import (
    CodeError,
    make_resident_id,
    make_uscc,
    mask_resident_id,
    org_code_check_char,
    validate_resident_id,
    validate_uscc,
)

GOOD_USCC = make_uscc("11", "440106", "MB2C3D4E")
GOOD_ID = make_resident_id("440106", dt.date(1990, 1, 1), 123)


def _with_bad_org_check(code: str) -> str:
    """Change only the embedded organisation-code check character, then fix the USCC check."""
    wrong = "1" if code[16] != "1" else "2"
    partial = code[:16] + wrong
    return partial + stdnum_uscc.calc_check_digit(partial)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (GOOD_USCC[:-1], "uscc_length"),
        (GOOD_USCC + "1", "uscc_length"),
        (GOOD_USCC[:-1] + ("0" if GOOD_USCC[-1] != "0" else "1"), "uscc_checksum"),
        ("11440106MB2C3D4EIK", "uscc_format"),
        (_with_bad_org_check(GOOD_USCC), "uscc_org_checksum"),
    ],
)
def test_uscc_errors(value, code):
    with pytest.raises(CodeError) as exc:
        validate_uscc(value)
    assert exc.value.code == code


def test_uscc_accepts_lowercase_and_spaces():
    assert validate_uscc(" " + GOOD_USCC.lower()[:9] + " " + GOOD_USCC.lower()[9:]) == GOOD_USCC


def test_org_code_check_char_known_value():
    # GB 11714 worked example: body D2143569 has check character X (11 - 255 mod 11 = 10 → X).
    assert org_code_check_char("D2143569") == "X"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("440106900101123", "id_legacy_15"),
        (GOOD_ID[:-1], "id_length"),
        (GOOD_ID[:10] + "AB" + GOOD_ID[12:], "id_format"),
        (GOOD_ID[:-1] + ("0" if GOOD_ID[-1] != "0" else "1"), "id_checksum"),
        (make_resident_id("440106", dt.date(1990, 1, 1), 1)[:10] + "0230" + "0011", "id_birth_date"),
        (make_resident_id("000000", dt.date(1990, 1, 1), 5), "id_birth_place"),
        (make_resident_id("440106", dt.date.today() + dt.timedelta(days=400), 5), "id_birth_date"),
    ],
)
def test_resident_id_errors(value, code):
    with pytest.raises(CodeError) as exc:
        validate_resident_id(value)
    assert exc.value.code == code


def test_resident_id_derives_sex_and_birth_date():
    rid = validate_resident_id(GOOD_ID)
    assert rid.birth_date == dt.date(1990, 1, 1)
    assert rid.sex == "M"  # sequence 123 is odd
    assert validate_resident_id(make_resident_id("440106", dt.date(1985, 6, 30), 124)).sex == "F"
    assert mask_resident_id(GOOD_ID) == GOOD_ID[:6] + "********" + GOOD_ID[14:]


ALLOWED = "0123456789ABCDEFGHJKLMNPQRTUWXY"


@given(
    registration=st.sampled_from(["11", "12", "13", "19", "51", "91"]),
    body=st.text(alphabet=ALLOWED, min_size=8, max_size=8),
)
def test_made_uscc_always_validates(registration, body):
    assert validate_uscc(make_uscc(registration, "440106", body)) == make_uscc(registration, "440106", body)


@given(
    body=st.text(alphabet=ALLOWED, min_size=8, max_size=8),
    position=st.integers(min_value=0, max_value=17),
    replacement=st.sampled_from(ALLOWED),
)
def test_any_single_character_change_of_a_uscc_is_detected(body, position, replacement):
    code = make_uscc("11", "440106", body)
    changed = code[:position] + replacement + code[position + 1:]
    if changed == code:
        return
    with pytest.raises(CodeError):
        validate_uscc(changed)


@given(
    birth=st.dates(min_value=dt.date(1930, 1, 1), max_value=dt.date(2005, 12, 31)),
    seq=st.integers(min_value=0, max_value=999),
    position=st.integers(min_value=14, max_value=16),
    digit=st.sampled_from("0123456789"),
)
def test_id_roundtrip_and_single_digit_errors(birth, seq, position, digit):
    number = make_resident_id("440106", birth, seq)
    rid = validate_resident_id(number)
    assert rid.birth_date == birth
    changed = number[:position] + digit + number[position + 1:]
    if changed != number:
        with pytest.raises(CodeError):
            validate_resident_id(changed)
