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
def yuexiu(world):
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
    from bianzhi.common.models import AuditEvent

    event = AuditEvent.objects.filter(scope_path__startswith="440000/440100/440104/").order_by("-seq").first()
    assert event is not None
    return {
        "unit": world.yuexiu_unit, "person": person, "user": yuexiu_admin, "audit_seq": event.seq,
        "markers": [YUEXIU_UNIT_NAME, YUEXIU_PERSON_NAME, world.yuexiu_unit.uscc, "越秀", "yx_admin",
                    person.id_number],
    }


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
    "api:audit_list": "list", "api:audit_detail": ("object", "audit", ["GET"]),
    "accounts:login": "skip-auth", "accounts:logout": "skip-auth",
    "accounts:user_list": "list", "accounts:user_create": "page",
    "accounts:user_detail": ("object", "user", ["GET"]), "accounts:user_set_active": ("object", "user", ["POST"]),
    "divisions:division_list": "list", "divisions:division_detail": ("object", "division", ["GET"]),
    "divisions:division_add_town": ("object", "division", ["GET", "POST"]),
    "orgs:unit_list": "list", "orgs:unit_tree": "list", "orgs:unit_new": "page",
    "orgs:unit_detail": ("object", "unit", ["GET"]), "orgs:unit_rename": ("object", "unit", ["GET", "POST"]),
    "orgs:unit_merge": ("object", "unit", ["GET", "POST"]), "orgs:unit_abolish": ("object", "unit", ["GET", "POST"]),
    "orgs:unit_establishment": ("object", "unit", ["GET", "POST"]),
    "orgs:establishment_list": "list", "orgs:person_list": "list", "orgs:person_new": "page",
    "orgs:person_detail": ("object", "person", ["GET"]),
    "orgs:unit_import": "page", "orgs:unit_import_template": "page", "orgs:unit_import_report": "page",
    "common:workbench": "page", "common:audit_list": "list", "common:audit_detail": ("object", "audit", ["GET"]),
}


def _object_url(pattern: str, key: str, yx: dict) -> str:
    values = {
        "unit": {"<int:id>": yx["unit"].pk, "<int:pk>": yx["unit"].pk, "<kind>": "administrative"},
        "unit_kind": {"<int:id>": yx["unit"].pk, "<kind>": "administrative"},
        "person": {"<int:id>": yx["person"].pk, "<int:pk>": yx["person"].pk},
        "user": {"<int:pk>": yx["user"].pk, "<int:id>": yx["user"].pk},
        "division": {"<code>": "440104", "<str:code>": "440104"},
        "audit": {"<int:seq>": yx["audit_seq"]},
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
        if kind in ("list", "page"):
            if "<" in pattern:
                continue
            for suffix in ("", "?export=xlsx") if kind == "list" else ("",):
                response = client.get(url + suffix, {"date": "2022-01-01"} if "as-of" in url else None)
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
                    body = {"name": "探测", "on": "2022-01-01", "code": "440104901", "active": "0"}
                    response = (client.post(url, data=json.dumps(body), content_type="application/json")
                                if is_api else client.post(url, body))
                assert response.status_code == 404, f"{name} {method} {url} → {response.status_code}"
                _no_markers(_body_text(response), markers, f"{name} {method} {url}")
                probed += 1
        elif kind[0] == "create":
            payload = {k: (yuexiu["unit"].pk if v == "UNIT" else [yuexiu["unit"].pk] if v == ["UNIT"] else v)
                       for k, v in kind[1].items()}
            if name == "api:unit_set_up":
                from bianzhi.common.codes import make_uscc

                payload["uscc"] = make_uscc("11", "440104", "PRBE0001")
            before = (Person.objects.count(),)
            response = client.post(url, data=json.dumps(payload), content_type="application/json")
            assert response.status_code in (404, 422), f"{name} POST {url} → {response.status_code}"
            _no_markers(_body_text(response), markers, f"{name} POST {url}")
            assert (Person.objects.count(),) == before
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
