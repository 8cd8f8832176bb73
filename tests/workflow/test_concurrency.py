"""Caps hold under concurrency (S6): final approvals race on PostgreSQL and on SQLite (a file
database, several connections), as in production."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection

from bianzhi.common.errors import BianzhiError
from bianzhi.staffing import services
from bianzhi.staffing.models import HireAuthorisation
from bianzhi.workflow import services as wf
from bianzhi.workflow.models import Case
from tests.workflow.conftest import HIRE

TODAY = dt.date(2026, 11, 26)


def race(calls):
    """Run the calls at the same moment, each in a thread with its own connection."""
    barrier = threading.Barrier(len(calls))
    results, failures, crashes = [], [], []

    def run(call):
        try:
            barrier.wait()
            results.append(call())
        except BianzhiError as exc:
            failures.append(exc.codes)
        except Exception as exc:
            crashes.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert crashes == []
    return results, failures


@pytest.mark.django_db(transaction=True)
def test_concurrent_final_approvals_never_pass_the_cap(flow):
    u = flow.users
    unit = flow.tianhe_unit
    # in post: 2 普通辅助岗 + 1 后勤保障岗 → caps raised to give exactly 10 places
    services.cap_set(actor=u.tianhe_reviewer, unit_id=unit.pk, cap=13, valid_from=dt.date(2026, 1, 1))
    services.cap_set(actor=u.tianhe_reviewer, unit_id=unit.pk, cap=12, valid_from=dt.date(2026, 1, 1),
                     post_class="general_auxiliary")
    cases = []
    for _ in range(50):
        case = wf.case_submit(actor=u.tianhe_operator, kind="hire", data=dict(HIRE), today=TODAY)
        for who, step in ((u.tianhe_reviewer, "establishment"), (u.finance, "finance"), (u.hr, "hr")):
            wf.case_act(actor=who, case_id=case.pk, step=step, action="approve", opinion="同意", today=TODAY)
        cases.append(case)
    assert Case.objects.filter(stage_index=1, status="in_review").count() == 50

    results, failures = race([
        (lambda pk=case.pk: wf.case_act(actor=u.leader, case_id=pk, step="leading_group", action="approve",
                                        opinion="同意", today=TODAY))
        for case in cases
    ])
    assert len(results) == 10 and len(failures) == 40
    assert all("cap_exceeded" in codes for codes in failures)
    assert Case.objects.filter(status="approved").count() == 10
    assert Case.objects.filter(status="in_review", steps__code="leading_group", steps__status="active").count() == 40
    auths = HireAuthorisation.objects.filter(unit=unit)
    assert (auths.count(), sum(a.quantity for a in auths)) == (10, 10)
    assert len({a.number for a in auths}) == 10


@pytest.mark.django_db(transaction=True)
def test_concurrent_submissions_get_distinct_sequential_numbers(flow):
    u = flow.users
    services.cap_set(actor=u.tianhe_reviewer, unit_id=flow.tianhe_unit.pk, cap=40, valid_from=dt.date(2026, 1, 1))
    services.cap_set(actor=u.tianhe_reviewer, unit_id=flow.tianhe_unit.pk, cap=40, valid_from=dt.date(2026, 1, 1),
                     post_class="general_auxiliary")
    results, failures = race([
        lambda: wf.case_submit(actor=u.tianhe_operator, kind="hire", data=dict(HIRE), today=TODAY)
        for _ in range(12)
    ])
    assert failures == []
    assert sorted(c.number for c in results) == [f"SP-440106-2026-{n:05d}" for n in range(1, 13)]
