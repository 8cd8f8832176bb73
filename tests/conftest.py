from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from bianzhi.accounts.choices import Role

from .factories import make_unit, make_user

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def divisions(db):
    from bianzhi.divisions.services import divisions_load

    divisions_load()
    from bianzhi.divisions.models import Division

    province = Division.objects.get(code="440000")
    return province


@pytest.fixture
def world(divisions):
    """Two districts of 广州市 with units and users: 天河区 (440106) and 越秀区 (440104)."""
    tianhe_unit = make_unit("440106", "天河区测试局")
    tianhe_child = make_unit("440106", "天河区测试局下属中心", parent=tianhe_unit)
    yuexiu_unit = make_unit("440104", "越秀区测试局")
    city_unit = make_unit("440100", "广州市测试委员会")
    users = SimpleNamespace(
        province_admin=make_user("prov_admin", Role.ADMINISTRATOR, "440000"),
        city_reviewer=make_user("gz_reviewer", Role.ESTABLISHMENT_REVIEWER, "440100"),
        tianhe_reviewer=make_user("th_reviewer", Role.ESTABLISHMENT_REVIEWER, "440106"),
        tianhe_admin=make_user("th_admin", Role.ADMINISTRATOR, "440106"),
        tianhe_supervisor=make_user("th_supervisor", Role.SUPERVISOR, "440106"),
        tianhe_operator=make_user("th_operator", Role.UNIT_OPERATOR, "440106", unit=tianhe_unit),
        yuexiu_reviewer=make_user("yx_reviewer", Role.ESTABLISHMENT_REVIEWER, "440104"),
    )
    return SimpleNamespace(
        users=users, tianhe_unit=tianhe_unit, tianhe_child=tianhe_child, yuexiu_unit=yuexiu_unit,
        city_unit=city_unit,
    )


@pytest.fixture(autouse=True)
def _force_login_is_not_a_login_event(monkeypatch):
    """The test client's force_login is a shortcut, not a log-in: it writes no ``auth.login``
    audit row, so suites that count audit rows see only what they did. Real log-ins (the
    login page, ``client.login``) are audited as in production; see tests/accounts."""
    from django.contrib.auth.signals import user_logged_in
    from django.test import Client

    original = Client.force_login

    def force_login(self, user, backend=None):
        receiver = "bianzhi.accounts.logged_in"
        from bianzhi.accounts.login_policy import _on_logged_in

        user_logged_in.disconnect(dispatch_uid=receiver)
        try:
            original(self, user, backend)
        finally:
            user_logged_in.connect(_on_logged_in, dispatch_uid=receiver)

    monkeypatch.setattr(Client, "force_login", force_login)
