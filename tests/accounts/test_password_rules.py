"""The password rules (MLPS 身份鉴别 a): length, character classes, not like the user name,
not a common password; the history rule is in test_login_policy."""

from __future__ import annotations

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from bianzhi.accounts.choices import Role
from tests.factories import make_user


@pytest.mark.parametrize("password, codes", [
    ("Kx9#mPq2vL", []),  # 10 characters, four classes
    ("kx9mpq2vlZ", []),  # ... or three of them
    ("kx9#mpq2vlz", []),
    ("Kx9#mP", ["password_too_short"]),
    ("kxmpqvlzab", ["password_classes"]),  # one class
    ("kxmpqvlz12", ["password_classes"]),  # two classes
    ("feder_1941", ["password_too_common"]),  # on the list of common passwords
    ("zhangwei2026!", ["password_too_similar"]),  # the user name inside
])
def test_password_rules(db, divisions, password, codes):
    user = make_user("zhangwei2026", Role.SUPERVISOR, "440106")
    if not codes:
        validate_password(password, user)
        return
    with pytest.raises(ValidationError) as refused:
        validate_password(password, user)
    found = {e.code for e in refused.value.error_list}
    assert set(codes) <= found, found
