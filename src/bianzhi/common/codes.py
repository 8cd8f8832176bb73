"""National codes: GB 32100 unified social credit code (USCC) and GB 11643 resident ID.

Pure functions. Validation returns the normalised code or raises :class:`CodeError`
with a stable error code; the ``make_*`` helpers compute check characters for
synthetic (demo and test) data.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _
from stdnum import exceptions as stdnum_exceptions
from stdnum.cn import ric, uscc

from .errors import define

USCC_LENGTH = define("uscc_length", _("A unified social credit code has 18 characters."))
USCC_FORMAT = define("uscc_format", _("The unified social credit code contains characters that are not allowed."))
USCC_CHECKSUM = define("uscc_checksum", _("The check character of the unified social credit code is wrong."))
USCC_ORG_CHECKSUM = define(
    "uscc_org_checksum",
    _("The check character of the organisation code inside the unified social credit code is wrong."),
)
ID_LEGACY_15 = define(
    "id_legacy_15", _("15-digit legacy ID numbers are not accepted: enter the 18-digit citizen ID number.")
)
ID_LENGTH = define("id_length", _("A citizen ID number has 18 characters."))
ID_FORMAT = define("id_format", _("A citizen ID number is 17 digits followed by a digit or X."))
ID_CHECKSUM = define("id_checksum", _("The check digit of the citizen ID number is wrong."))
ID_BIRTH_DATE = define("id_birth_date", _("The birth date inside the citizen ID number is not a real date."))
ID_BIRTH_PLACE = define("id_birth_place", _("The region code inside the citizen ID number is unknown."))
ID_NUMERIC_CELL = define(
    "numeric_code_cell",
    _("The code was stored as a number and has lost digits: format the column as text and enter it again."),
)


class CodeError(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def org_code_check_char(body: str) -> str:
    """GB 11714 check character for the 8-character organisation code body."""
    total = sum(_ALPHABET.index(c) * w for c, w in zip(body, _ORG_WEIGHTS, strict=True))
    value = 11 - total % 11
    return {10: "X", 11: "0"}.get(value, str(value))


def normalise_uscc(value: str) -> str:
    return "".join(str(value).split()).upper()


def validate_uscc(value: str) -> str:
    """Validate a GB 32100-2015 code, including the embedded GB 11714 organisation code."""
    number = normalise_uscc(value)
    if len(number) != 18:
        raise CodeError(USCC_LENGTH)
    try:
        uscc.validate(number)
    except stdnum_exceptions.InvalidChecksum:
        raise CodeError(USCC_CHECKSUM) from None
    except stdnum_exceptions.ValidationError:
        raise CodeError(USCC_FORMAT) from None
    org = number[8:17]
    if any(c not in _ALPHABET for c in org[:8]) or org[8] != org_code_check_char(org[:8]):
        raise CodeError(USCC_ORG_CHECKSUM)
    return number


def make_uscc(registration: str, division: str, org_body: str) -> str:
    """Build a valid USCC from a 2-char registration class, 6-digit division and 8-char body."""
    if len(registration) != 2 or len(division) != 6 or len(org_body) != 8:
        raise ValueError("registration 2, division 6, organisation body 8 characters")
    partial = f"{registration}{division}{org_body}{org_code_check_char(org_body)}"
    return partial + uscc.calc_check_digit(partial)


@dataclass(frozen=True)
class ResidentId:
    number: str
    birth_date: dt.date
    sex: str  # "M" or "F"
    region: str


def _region_known(region: str) -> bool:
    """The region code exists in the national list (in any period).

    python-stdnum's ``get_birth_place`` also requires the region to have existed in the birth
    year, but a number carries the region where it was first issued — for everyone born before
    1985 that is years after birth (天河区, 440106, dates from 1985) — so that stricter check
    would refuse real, valid numbers.
    """
    from stdnum import numdb

    return any(props for _, props in numdb.get("cn/loc").info(region))


def validate_resident_id(value: str) -> ResidentId:
    """Validate a GB 11643-1999 citizen ID number and derive birth date and sex.

    Full-width digits and ``Ｘ`` (as a Chinese input method types them) are the ASCII ones;
    any other script's digits (``str.isdigit`` accepts ``٣`` and ``²``) are ``id_format``, so
    that one person never has two spellings of one number."""
    number = unicodedata.normalize("NFKC", "".join(str(value).split())).upper()
    if len(number) == 15 and number.isascii() and number.isdigit():
        raise CodeError(ID_LEGACY_15)
    if len(number) != 18:
        raise CodeError(ID_LENGTH)
    if not number.isascii() or not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise CodeError(ID_FORMAT)
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise CodeError(ID_BIRTH_DATE) from None
    if birth.year < 1900 or birth > dt.date.today():
        raise CodeError(ID_BIRTH_DATE)
    if number[17] != ric.calc_check_digit(number):
        raise CodeError(ID_CHECKSUM)
    if not _region_known(number[:6]):
        raise CodeError(ID_BIRTH_PLACE)
    sex = "M" if int(number[16]) % 2 == 1 else "F"
    return ResidentId(number=number, birth_date=birth, sex=sex, region=number[:6])


def make_resident_id(region: str, birth: dt.date, sequence: int) -> str:
    """Build a valid ID number: 6-digit region, birth date, 3-digit sequence (odd = male)."""
    partial = f"{region}{birth:%Y%m%d}{sequence % 1000:03d}"
    return partial + ric.calc_check_digit(partial + "0")


def mask_resident_id(number: str) -> str:
    """``440106199001011234`` → ``440106********1234``."""
    if len(number) != 18:
        return "*" * len(number)
    return number[:6] + "*" * 8 + number[14:]
