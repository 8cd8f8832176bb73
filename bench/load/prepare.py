"""The data of the load test: the demo province, extra unit operators, API tokens, and the
fixture the locustfile reads.

    DATABASE_URL=postgresql://…/bianzhi_load uv run python bench/load/prepare.py --out FIXTURE.json

Run after ``bianzhi migrate`` and ``bianzhi load-rules`` on the database ``DATABASE_URL`` names
(``bench/load/run.py`` does all three). Everything is written through the application's own
services (audited, like a real set-up):

1. the demo province (:func:`bianzhi.demo.builder.build_demo`, the data ``bianzhi demo`` builds
   on SQLite; the command itself refuses any other engine, the builder does not);
2. ``--operators`` more unit operators (``load_op_01`` …), each bound to a unit of its own in
   one of the four jurisdictions that have the demo's reviewers and leaders (广东省 440000,
   广州市 440100, 深圳市 440300, 天河区 440106) — the approval steps of a case belong to the
   departments of the case's own jurisdiction — chosen among the units with the most room under
   their caps, with a hire application each unit may make (its largest baseline situation and a
   post class that is neither at its cap nor to be reduced);
3. a personal API token for the operators that submit through the API (``--api-operators``), and
   a second factor (TOTP) for the accounts whose role requires one (leaders, administrators), whose
   secrets the locustfile uses to log in as an authenticator app would;
4. ``VACUUM ANALYZE`` (autovacuum would do it soon after such a load);
5. the fixture: the accounts of each kind of simulated user, the applications, the tokens, and
   the messages of the business refusals a concurrent run may meet (cap reached, a step already
   decided by another session of the same reviewer, …) as patterns, so that the locustfile can
   tell an expected refusal on a page from an error without importing Django.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

JURISDICTIONS = ("440000", "440100", "440300", "440106")
PREFIX = {"440000": "gd", "440100": "gz", "440300": "sz", "440106": "th"}
# Refusals a concurrent run meets by design (see the locustfile): these and only these count
# as expected business refusals; every other refusal is an error.
EXPECTED_REFUSALS = (
    "cap_exceeded",           # the unit's total cap is used up (final approvals consume places)
    "class_cap_exceeded",     # the same for the post class
    "step_already_decided",   # another session of the same account decided the step first
    "step_not_active",        # the case moved on (returned, rejected, withdrawn) meanwhile
    "case_closed",            # the case was decided or withdrawn meanwhile
)
MIN_ROOM = 3  # places of room a unit needs, in total and in its class, to be given an operator


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bianzhi.settings.base")
    import django

    django.setup()


def hire_payload(unit: Any, today: Any, min_room: int = MIN_ROOM) -> tuple[int, dict[str, Any]] | None:
    """(room, application) for the unit's roomiest post class, or None when it has no room."""
    from django.db.models import Sum

    from bianzhi.staffing import selectors
    from bianzhi.staffing.choices import RuleTable
    from bianzhi.staffing.models import BaselineCount

    ctx = selectors.unit_contexts([unit], today)[unit.pk]
    if not ctx.has_baseline or ctx.total_cap is None:
        return None
    total_room = ctx.total_cap - ctx.current_total - ctx.reserved_total
    rules = selectors.ruleset_for(unit.jurisdiction_path, today)
    best: tuple[int, dict[str, Any]] | None = None
    for post_class in ctx.baseline_classes:
        cap = ctx.class_caps.get(post_class)
        if cap is None or rules.policy_of(post_class) == "reduce":
            continue
        room = min(total_room, cap - ctx.current_by_class.get(post_class, 0) - ctx.reserved_by_class.get(post_class, 0))
        work_types = sorted(c for c, r in rules.table(RuleTable.WORK_TYPE).items() if r.parent_code == post_class)
        if room < min_room or not work_types:
            continue
        situation = (BaselineCount.objects.filter(unit=unit, post_class=post_class, count__gt=0)
                     .values("situation").annotate(n=Sum("count")).order_by("-n", "situation")
                     .values_list("situation", flat=True).first())
        if situation is None:
            continue
        payload = {
            "situation": situation, "post_class": post_class, "work_type": work_types[0], "quantity": 1,
            "post_names": [rules.name_of(RuleTable.WORK_TYPE, work_types[0]) + "岗"],
            "funding_source": "fiscal", "monthly_cost": "4800",
        }
        if best is None or room > best[0]:
            best = (room, payload)
    return best


def create_operators(count: int, password: str) -> list[dict[str, Any]]:
    """``count`` unit operators spread over the four jurisdictions, a roomy unit each (those of an
    earlier run on the same database are kept, with their units)."""
    from django.utils import timezone

    from bianzhi.accounts.models import User
    from bianzhi.accounts.services import system_user, user_create
    from bianzhi.orgs.models import Unit

    actor = system_user()
    today = timezone.localdate()
    existing = {u.username: u for u in User.objects.filter(username__startswith="load_op_").select_related("unit")}
    taken = set(User.objects.exclude(unit=None).values_list("unit_id", flat=True))
    candidates: dict[str, list[tuple[int, Any, dict[str, Any]]]] = {}
    for code in JURISDICTIONS:
        found = []
        for unit in Unit.objects.filter(jurisdiction__code=code, status="active").order_by("uscc"):
            if unit.pk in taken:
                continue
            best = hire_payload(unit, today)
            if best is not None:
                found.append((best[0], unit, best[1]))
        found.sort(key=lambda t: (-t[0], t[1].uscc))
        candidates[code] = found
    operators: list[dict[str, Any]] = []
    cursor = dict.fromkeys(JURISDICTIONS, 0)
    turn = 0
    while len(operators) < count:
        username = f"load_op_{len(operators) + 1:02d}"
        user = existing.get(username)
        if user is not None:
            best = hire_payload(user.unit, today, min_room=1)
            if best is None:
                raise SystemExit(f"{username}'s unit has no room left: rebuild the database (run.py without --reuse)")
            room, payload = best
        else:
            for _attempt in JURISDICTIONS:  # round robin: every jurisdiction gets its share
                code = JURISDICTIONS[turn % len(JURISDICTIONS)]
                turn += 1
                if cursor[code] < len(candidates[code]):
                    break
            else:
                raise SystemExit(f"only {len(operators)} units with room for an operator; asked for {count}")
            room, unit, payload = candidates[code][cursor[code]]
            cursor[code] += 1
            user = user_create(actor=actor, username=username, role="unit_operator", jurisdiction=code,
                               unit=unit.uscc, password=password, display_name=f"{unit.name}经办人（压测）")
        assert user.unit is not None
        operators.append({"username": username, "jurisdiction": user.jurisdiction.code, "unit": user.unit_id,
                          "unit_name": user.unit.name, "room": room, "hire": payload})
    return operators


def enrol_second_factors(usernames: list[str]) -> dict[str, dict[str, Any]]:
    """A confirmed TOTP device for every account whose role must log in with a second factor
    (``BIANZHI_TOTP_REQUIRED_ROLES``): {username: {"secret", "last_step"}} for the locustfile,
    which computes the codes as an authenticator app would. Nothing when the application has no
    second factor."""
    try:
        import pyotp

        from bianzhi.accounts import totp
        from bianzhi.accounts.services import totp_enrol_confirm, totp_enrolment_start
    except ImportError:
        return {}
    from bianzhi.accounts.models import User

    out = {}
    for user in User.objects.filter(username__in=usernames).order_by("username"):
        if not totp.is_required(user):
            continue
        device = totp.confirmed_device(user)
        if device is None:
            secret, _uri = totp_enrolment_start(user=user)
            code = pyotp.TOTP(secret, digits=totp.DIGITS, interval=totp.PERIOD).now()
            device = totp_enrol_confirm(user=user, code=code, during_login=False)
        else:
            secret = totp.decrypt_secret(device.secret, user.pk).secret
        out[user.username] = {"secret": secret, "last_step": device.last_step}
    return out


def refusal_patterns() -> dict[str, str]:
    """The zh-hans message of each expected refusal as a regular expression."""
    from django.utils import translation

    from bianzhi.common.errors import all_codes

    for module in ("bianzhi.staffing.errors", "bianzhi.workflow.errors"):  # codes register on import
        importlib.import_module(module)

    codes = all_codes()
    out = {}
    with translation.override("zh-hans"):
        for code in EXPECTED_REFUSALS:
            text = str(codes[code])
            parts = re.split(r"%\(\w+\)[sd]", text)
            out[code] = ".*?".join(re.escape(p) for p in parts)
    return out


def data_summary() -> dict[str, int]:
    from bianzhi.bodies.models import Body
    from bianzhi.orgs.models import Person, Unit
    from bianzhi.staffing.models import Spell
    from bianzhi.workflow.models import Case

    return {"units": Unit.objects.count(), "people": Person.objects.count(), "records": Spell.objects.count(),
            "bodies": Body.objects.count(), "cases": Case.objects.count()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="where to write the fixture (JSON)")
    parser.add_argument("--operators", type=int, default=20, help="unit operators to create")
    parser.add_argument("--api-operators", type=int, default=4, help="of them, how many use an API token")
    args = parser.parse_args()
    django_setup()
    from django.db import connection

    from bianzhi.accounts.models import User
    from bianzhi.accounts.services import system_user, token_create
    from bianzhi.demo.builder import DEMO_PASSWORD, build_demo

    started = time.monotonic()
    built = build_demo(system_user())
    print(f"demo province: {'built' if built.get('built') else 'already in place'} "
          f"({time.monotonic() - started:.1f} s)", flush=True)
    started = time.monotonic()
    operators = create_operators(args.operators, DEMO_PASSWORD)
    api_operators = operators[len(operators) - args.api_operators:]
    for op in api_operators:
        user = User.objects.get(username=op["username"])
        _token, op["token"] = token_create(actor=system_user(), user=user, name="load test", days=1)
    print(f"{len(operators)} unit operators ({len(api_operators)} with an API token) "
          f"({time.monotonic() - started:.1f} s)", flush=True)

    def demo(short: str, codes: tuple[str, ...] = JURISDICTIONS) -> list[str]:
        return [f"{PREFIX[c]}_{short}" for c in codes]

    fixture = {
        "password": DEMO_PASSWORD,
        "page_operators": operators[: len(operators) - args.api_operators],
        "api_operators": api_operators,
        # the three departments of the first stage, of each jurisdiction
        "reviewers": [u for c in JURISDICTIONS for u in demo("reviewer", (c,)) + demo("finance", (c,))
                      + demo("hr", (c,))],
        "leaders": demo("leader"),
        "browsers": [u for c in JURISDICTIONS for u in (f"{PREFIX[c]}_supervisor", f"{PREFIX[c]}_office",
                                                          f"{PREFIX[c]}_admin")],
        "refusals": refusal_patterns(),
        "data": data_summary(),
    }
    missing = [u for key in ("reviewers", "leaders", "browsers") for u in fixture[key]
               if not User.objects.filter(username=u).exists()]
    if missing:
        raise SystemExit(f"demo accounts missing: {', '.join(missing)}")
    fixture["totp"] = enrol_second_factors([u for key in ("reviewers", "leaders", "browsers") for u in fixture[key]])
    if fixture["totp"]:
        print(f"second factor (TOTP) enrolled for {len(fixture['totp'])} accounts: {', '.join(fixture['totp'])}",
              flush=True)
    started = time.monotonic()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    print(f"VACUUM ANALYZE ({time.monotonic() - started:.1f} s)", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(fixture, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"fixture: {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
