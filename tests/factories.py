"""Small builders for tests: units with valid codes, users of every role."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from bianzhi.accounts.choices import Role
from bianzhi.accounts.models import User
from bianzhi.common.codes import make_uscc
from bianzhi.divisions.models import Division
from bianzhi.orgs.choices import FundingForm, UnitCategory, UnitChange
from bianzhi.orgs.models import Unit, UnitVersion

_counter = itertools.count(1)
PASSWORD = "Test-Passw0rd!"


def next_uscc(division: str = "440106", registration: str = "11") -> str:
    n = next(_counter)
    body = f"T{n:07d}"
    return make_uscc(registration, division, body)


def make_unit(division_code: str, name: str | None = None, *, parent: Unit | None = None,
              category: str = UnitCategory.PARTY_GOVERNMENT, set_up_on: dt.date = dt.date(2010, 1, 1)) -> Unit:
    """A unit written straight to the tables (with its first version), no audit: test data only."""
    division = Division.objects.get(code=division_code)
    uscc = next_uscc(division_code[:6])
    unit = Unit.objects.create(
        uscc=uscc, name=name or f"测试单位{uscc[-6:]}", category=category, funding_form=FundingForm.FULL,
        parent=parent, jurisdiction=division, jurisdiction_path=division.path, set_up_on=set_up_on,
    )
    UnitVersion.objects.create(
        unit=unit, valid_from=set_up_on, change=UnitChange.SET_UP, name=unit.name, category=unit.category,
        funding_form=unit.funding_form, parent=parent, jurisdiction=division, jurisdiction_path=division.path,
    )
    return unit


def make_user(username: str, role: str, division_code: str, unit: Unit | None = None) -> User:
    division = Division.objects.get(code=division_code)
    user = User(username=username, role=role, jurisdiction=division, jurisdiction_path=division.path,
                unit=unit if role == Role.UNIT_OPERATOR else None, display_name=username)
    user.set_password(PASSWORD)
    user.save()
    return user


def clear_id(person: Any) -> str:
    """The plain ID number of a person, for assertions (the application itself only decrypts
    through the audited reveal service)."""
    from bianzhi.common import pii
    from bianzhi.orgs.models import ID_NUMBER_FIELD

    return pii.decrypt(person.id_number_enc, field=ID_NUMBER_FIELD)
