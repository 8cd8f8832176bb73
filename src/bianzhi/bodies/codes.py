"""One body, one code (一机构、一编码): ``YX`` + 6-digit division + 4-digit year of set-up +
5-digit sequence + 1 check character — 18 characters, like a unified social credit code.

The check character is ISO 7064 MOD 31-3 over the first 17 characters, with the alphabet of
GB 32100 (digits and the capital letters except I, O, S, V, Z), so a mistyped character or
two swapped neighbours are caught wherever a code is typed. The sequence is per division and
year, handed out by a gap-free counter and never reused (docs/bodies.md).
"""

from __future__ import annotations

import re

PREFIX = "YX"
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100: 31 characters
# [0-9], not \d: \d also matches other scripts' digits (٣, ３), which are not in the check alphabet.
PATTERN = re.compile(r"^YX[0-9]{6}[0-9]{4}[0-9]{5}[0-9A-HJ-NPQRTUWXY]$")


def check_char(body: str) -> str:
    """ISO 7064 MOD 31-3 check character of the first 17 characters."""
    if len(body) != 17 or any(c not in ALPHABET for c in body):
        raise ValueError("body")
    # weights 3^i mod 31 from the left, as GB 32100 does
    total = sum(ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(body))
    return ALPHABET[(31 - total % 31) % 31]


def make_code(division: str, year: int, sequence: int) -> str:
    body = f"{PREFIX}{division}{year:04d}{sequence:05d}"
    return body + check_char(body)


def is_valid(code: str) -> bool:
    code = (code or "").strip().upper()
    if not PATTERN.match(code):
        return False
    # "YX" itself is outside the check alphabet's digits: the letters X and Y are in it.
    return check_char(code[:17]) == code[17]


def parts(code: str) -> tuple[str, int, int]:
    """(division code, year, sequence) of a valid code."""
    return code[2:8], int(code[8:12]), int(code[12:17])
