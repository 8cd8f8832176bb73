"""Load scenario: 50 concurrent users of one province working in bianzhi at once.

    BIANZHI_LOAD_FIXTURE=bench/load/out/fixture.json \\
        BIANZHI_LOAD_CA=bench/load/out/tls/cert.pem \\
        uv run locust -f bench/load/locustfile.py --headless -u 50 -r 10 -t 60s --host https://127.0.0.1:8765

(``bench/load/run.py`` builds the data, starts gunicorn, runs this and reports.) The fixture
comes from ``bench/load/prepare.py``: the accounts, the application each unit operator makes,
the API tokens and the messages of the expected business refusals.

Five kinds of user, their numbers fixed (``fixed_count``, 50 in all), every one with an account
of its own where the demo has enough (the three departments' reviewers of four jurisdictions are
twelve accounts for fourteen users, so two reviewers work in two browser tabs each):

* ``PageOperator`` (16): a unit operator in the browser — logs in through the page, reads its
  unit's roster, people, unit page and applications, **submits hire applications through the
  form** (用人申请), withdraws one of its open applications now and then, exports its roster;
* ``ApiOperator`` (4): a unit's system submitting through the REST API with a personal token
  (``Authorization: Bearer``): its cases, roster, unit, notifications, **hire applications**
  and withdrawals;
* ``Reviewer`` (14): establishment, finance and HR reviewers of 广东省, 广州市, 深圳市 and
  天河区 — browse units, roster, establishment, funds and cases, open records, and **decide the
  steps in their inbox** (待办) on the case page: approve (85%), return (10%), reject (5%);
* ``Leader`` (4): the leading group of each jurisdiction — log in with password and TOTP code
  (their role requires the second factor, as the administrators' does) — dashboard, the 23
  indicators, alerts, bodies, and **the final decision** on the cases at their step (approval creates the
  hire authorisation and takes places under the unit's cap);
* ``Browser`` (12): supervisors, general offices and administrators — every list (units,
  roster, people, bodies, funds, contracts, cases, documents, alerts, audit), the records
  behind them, the dashboards, and Excel exports now and then.

Lists are read on a random page and sort order, records are opened from the links of the list
just read, as a person clicks. Think time: 1–3 s between tasks.

The server speaks HTTPS (``run.py`` gives gunicorn a self-signed certificate for 127.0.0.1; the
client trusts the certificate ``BIANZHI_LOAD_CA`` names), so the production settings run
unchanged: ``Secure`` cookies, the strict Origin/Referer check of CSRF over HTTPS. Page forms are posted as a browser
posts them: the form's CSRF token, ``Origin`` and ``Referer`` headers.

What counts as an error: any answer but the expected one — 200 for a page or an API read (a
redirect, e.g. to the log-in page after a lost session, is an error), the redirect a form answers
with on success, 201/200 for an API write — and a connection error or time-out. A 422 is a success only when every error in it
is one of the business refusals a concurrent run meets by design — a unit's cap used up by the
approvals of the run, a step another tab of the same reviewer decided first, a case decided or
withdrawn meanwhile (``EXPECTED_REFUSALS`` in prepare.py): those are counted apart, by code.
Every sample (name, group, time, outcome, when) is written to ``BIANZHI_LOAD_SAMPLES`` at the end.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import itertools
import json
import os
import random
import re
import struct
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from locust import HttpUser, between, events, task

FIXTURE: dict[str, Any] = json.loads(Path(os.environ["BIANZHI_LOAD_FIXTURE"]).read_text(encoding="utf-8"))
REFUSALS = {code: re.compile(pattern) for code, pattern in FIXTURE["refusals"].items()}
TIMEOUT = 60

SAMPLES: list[tuple[str, str, float, bool, float]] = []  # (name, group, milliseconds, success, end time)
OUTCOMES: Counter[str] = Counter()  # business outcomes: submitted, approved, refused:<code>, …

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
STEP_INPUT = re.compile(r'name="step" value="([^"]+)"')
STATIC = re.compile(r'(?:href|src)="(/static/[^"]+)"')
FORM_ERRORS = re.compile(r'data-testid="form-errors".*?<ul[^>]*>(.*?)</ul>', re.S)  # common/_form_errors.html
ERROR_ITEM = re.compile(r"<li>(.*?)</li>", re.S)
RECORDS = {  # kind → the link to a record on a list page, the record's path
    "unit": "/orgs/units/{}/",
    "person": "/orgs/people/{}/",
    "record": "/staffing/roster/{}/",
    "body": "/bodies/{}/",
    "case": "/approvals/cases/{}/",
    "alert": "/stats/alerts/{}/",
}
LINKS = {kind: re.compile('href="' + re.escape(path).replace(r"\{\}", r"(\d+)") + '"') for kind, path in RECORDS.items()}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
REASONS = ["窗口业务量增加，申请补充服务人员", "新增业务系统运维任务，现有人员不足", "退休人员空缺，申请补充",
           "承接上级下放事项，工作量增加", "临时性专项工作任务增加"]


@events.request.add_listener
def _sample(request_type: str, name: str, response_time: float, exception: Any = None, **_kw: Any) -> None:
    SAMPLES.append((f"{request_type} {name}", name.split(" ", 1)[0], response_time, exception is None, time.time()))


@events.test_stop.add_listener
def _write_samples(**_kw: Any) -> None:
    out = os.environ.get("BIANZHI_LOAD_SAMPLES")
    if out:
        Path(out).write_text(json.dumps({"samples": SAMPLES, "outcomes": OUTCOMES}, ensure_ascii=False),
                             encoding="utf-8")


def totp_code(secret: str, step: int) -> str:
    """RFC 6238: HMAC-SHA1 of the time step, 6 digits (what an authenticator app shows)."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def refusal_codes(response: Any) -> list[str] | None:
    """The codes of a 422 when every one is an expected business refusal, else None."""
    if response.headers.get("Content-Type", "").startswith("application/json"):
        try:
            codes = [e["code"] for e in response.json()["errors"]]
        except (ValueError, KeyError, TypeError):
            return None
        return codes if codes and all(c in REFUSALS for c in codes) else None
    codes = []
    for text in form_errors(response.text):  # every error listed on top of the form must be expected
        code = next((c for c, pattern in REFUSALS.items() if pattern.search(text)), None)
        if code is None:
            return None
        codes.append(code)
    return codes or None


def form_errors(page: str) -> list[str]:
    block = FORM_ERRORS.search(page)
    return [html.unescape(item).strip() for item in ERROR_ITEM.findall(block.group(1))] if block else []


class Base(HttpUser):
    abstract = True
    wait_time = between(1, 3)
    accounts: list[str] = []
    _next: Any = None

    def on_start(self) -> None:
        cls = type(self)
        if cls._next is None:
            cls._next = itertools.cycle(cls.accounts)
        self.username = next(cls._next)
        self.client.verify = os.environ.get("BIANZHI_LOAD_CA") or True
        parts = urlsplit(self.host)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.client.headers.update({"User-Agent": "bianzhi-load/1 (locust)", "Accept-Language": "zh-CN,zh;q=0.9"})
        self.login()

    # ----------------------------------------------------------------- requests

    def get(self, path: str, name: str, *, expect: str | None = None, **kw: Any) -> Any:
        """GET a page (no redirects followed); success = 200 and, if given, ``expect`` in the body."""
        with self.client.get(path, name=name, allow_redirects=False, catch_response=True, timeout=TIMEOUT,
                             **kw) as r:
            if r.status_code != 200:
                r.failure(f"{r.status_code} {r.headers.get('Location', '')} {r.error or ''}".strip())
            elif expect is not None and expect not in r.text:
                r.failure(f"not the page asked for ({expect!r} missing)")
            else:
                r.success()
            return r

    def post_form(self, path: str, name: str, data: dict[str, Any], referer: str, *, redirect: str) -> Any:
        """POST a page form as a browser does (Origin, Referer, CSRF token); success = 302 to ``redirect``
        (a pattern), or a 422 that carries only expected business refusals."""
        headers = {"Origin": self.origin, "Referer": self.origin + referer}
        with self.client.post(path, data=data, name=name, headers=headers, allow_redirects=False,
                              catch_response=True, timeout=TIMEOUT) as r:
            if r.status_code == 302 and re.fullmatch(redirect, r.headers.get("Location", "")):
                r.success()
            elif r.status_code == 422 and (codes := refusal_codes(r)):
                OUTCOMES.update(f"refused:{c}" for c in codes)
                r.success()
            else:
                r.failure(f"{r.status_code} {r.headers.get('Location', '')} {form_errors(r.text)[:3]}")
            return r

    def login(self) -> None:
        page = self.get("/accounts/login/", "login form", expect="csrfmiddlewaretoken")
        for path in sorted(set(STATIC.findall(page.text))):  # a browser's first visit; cached after
            self.get(path, "static")
        token = CSRF_INPUT.search(page.text)
        data = {"csrfmiddlewaretoken": token.group(1) if token else "", "username": self.username,
                "password": FIXTURE["password"], "next": ""}
        r = self.post_form("/accounts/login/", "login POST", data, "/accounts/login/",
                           redirect="/|/accounts/login/verify/")
        if r.headers.get("Location") == "/accounts/login/verify/":
            self.second_factor()
        self.get("/", "browse workbench")

    def second_factor(self) -> None:
        """The code of the authenticator app; a code is good once, so wait for a time step later than
        the last one this account used."""
        device = FIXTURE["totp"][self.username]
        page = self.get("/accounts/login/verify/", "login code form", expect="csrfmiddlewaretoken")
        while (step := int(time.time() // 30)) <= (device["last_step"] or 0):
            time.sleep(30 - time.time() % 30 + 0.1)
        token = CSRF_INPUT.search(page.text)
        data = {"csrfmiddlewaretoken": token.group(1) if token else "", "code": totp_code(device["secret"], step)}
        self.post_form("/accounts/login/verify/", "login code POST", data, "/accounts/login/verify/", redirect="/")
        device["last_step"] = step

    # ----------------------------------------------------------------- building blocks

    def list_and_open(self, list_path: str, list_name: str, kind: str, open_name: str, *, pages: int = 3,
                      sorts: tuple[str, ...] = ("",), params: str = "") -> int | None:
        """Read a list on a random page and sort, then open one of its records (if any)."""
        query = [f"page={random.randint(1, pages)}"]
        if sort := random.choice(sorts):
            query.append(f"sort={sort}")
        if params:
            query.append(params)
        r = self.get(f"{list_path}?{'&'.join(query)}", list_name)
        ids = LINKS[kind].findall(r.text) if r.status_code == 200 else []
        if not ids:
            return None
        pk = int(random.choice(ids))
        self.get(RECORDS[kind].format(pk), open_name)
        return pk

    def export(self, path: str, name: str) -> None:
        with self.client.get(path, name=name, allow_redirects=False, catch_response=True, timeout=TIMEOUT) as r:
            if r.status_code == 200 and r.headers.get("Content-Type", "").startswith(XLSX) and r.content[:2] == b"PK":
                r.success()
            else:
                r.failure(f"{r.status_code} {r.headers.get('Content-Type', '')}")

    def decide(self, actions: tuple[tuple[str, int], ...]) -> None:
        """待办 → a case → my decision on its step, from the case page's own form."""
        inbox = self.get("/approvals/", "browse inbox")
        ids = sorted(set(LINKS["case"].findall(inbox.text))) if inbox.status_code == 200 else []
        if not ids:
            return
        pk = random.choice(ids)
        page = self.get(f"/approvals/cases/{pk}/", "open case")
        step = STEP_INPUT.search(page.text) if page.status_code == 200 else None
        token = CSRF_INPUT.search(page.text) if page.status_code == 200 else None
        if step is None or token is None:  # nothing for me to decide there now (e.g. just decided)
            return
        action = random.choices([a for a, _w in actions], weights=[w for _a, w in actions])[0]
        data = {"csrfmiddlewaretoken": token.group(1), "step": step.group(1), "action": action,
                "return_to": "applicant" if action == "return" else "",
                "opinion": {"approve": "同意。", "return": "请补充岗位职责说明后再报。",
                            "reject": "不符合控制要求，不予同意。"}[action]}
        r = self.post_form(f"/approvals/cases/{pk}/act/", "decide case (page)", data, f"/approvals/cases/{pk}/",
                           redirect=f"/approvals/cases/{pk}/")
        if r.status_code == 302:
            OUTCOMES[f"{action}:{step.group(1)}"] += 1


class PageOperator(Base):
    fixed_count = 16
    operators = FIXTURE["page_operators"]
    accounts = [o["username"] for o in operators]

    def on_start(self) -> None:
        super().on_start()
        self.me = next(o for o in self.operators if o["username"] == self.username)

    @task(2)
    def workbench(self) -> None:
        self.get("/", "browse workbench")

    @task(3)
    def roster(self) -> None:
        self.list_and_open("/staffing/roster/", "browse roster", "record", "open record", pages=2,
                           sorts=("", "name", "-hire_date", "unit"))

    @task(1)
    def people(self) -> None:
        self.list_and_open("/orgs/people/", "browse people", "person", "open person", pages=1)

    @task(2)
    def my_unit(self) -> None:
        self.get(f"/orgs/units/{self.me['unit']}/", "open unit")

    @task(2)
    def my_applications(self) -> None:
        self.list_and_open("/approvals/mine/", "browse my applications", "case", "open case", pages=1)

    @task(4)
    def apply_hire(self) -> None:
        form = self.get("/approvals/apply/hire/", "submit hire form (page)", expect="csrfmiddlewaretoken")
        token = CSRF_INPUT.search(form.text) if form.status_code == 200 else None
        if token is None:
            return
        hire = self.me["hire"]
        data = {**{k: v for k, v in hire.items() if k != "post_names"}, "post_names": "\n".join(hire["post_names"]),
                "reason": random.choice(REASONS), "csrfmiddlewaretoken": token.group(1)}
        r = self.post_form("/approvals/apply/hire/", "submit hire POST (page)", data, "/approvals/apply/hire/",
                           redirect=r"/approvals/cases/\d+/")
        if r.status_code == 302:
            OUTCOMES["submitted (page)"] += 1
            self.get(r.headers["Location"], "open case")

    @task(1)
    def withdraw(self) -> None:
        mine = self.get("/approvals/mine/", "browse my applications")
        ids = LINKS["case"].findall(mine.text) if mine.status_code == 200 else []
        if not ids:
            return
        pk = random.choice(ids)
        page = self.get(f"/approvals/cases/{pk}/", "open case")
        if f'action="/approvals/cases/{pk}/withdraw/"' not in page.text or random.random() < 0.5:
            return
        token = CSRF_INPUT.search(page.text)
        data = {"csrfmiddlewaretoken": token.group(1) if token else "", "reason": "情况变化，撤回申请。"}
        r = self.post_form(f"/approvals/cases/{pk}/withdraw/", "decide withdraw (page)", data,
                           f"/approvals/cases/{pk}/", redirect=f"/approvals/cases/{pk}/")
        if r.status_code == 302:
            OUTCOMES["withdrawn (page)"] += 1

    @task(1)
    def notifications(self) -> None:
        self.get("/approvals/notifications/", "browse notifications")

    @task(1)
    def export_roster(self) -> None:
        if random.random() < 0.5:
            self.export("/staffing/roster/?export=xlsx", "export roster (own unit)")


class ApiOperator(Base):
    fixed_count = 4
    operators = FIXTURE["api_operators"]
    accounts = [o["username"] for o in operators]

    def login(self) -> None:
        self.me = next(o for o in self.operators if o["username"] == self.username)
        self.client.headers["Authorization"] = f"Bearer {self.me['token']}"
        self.api_get("/api/v1/me", "api me")

    def api_get(self, path: str, name: str) -> Any:
        with self.client.get(path, name=name, catch_response=True, timeout=TIMEOUT) as r:
            if r.status_code == 200 and r.headers.get("Content-Type", "").startswith("application/json"):
                r.success()
            else:
                r.failure(f"{r.status_code} {r.text[:200]}")
            return r

    def api_post(self, path: str, name: str, body: dict[str, Any], ok: int) -> Any:
        with self.client.post(path, json=body, name=name, catch_response=True, timeout=TIMEOUT) as r:
            if r.status_code == ok:
                r.success()
            elif r.status_code == 422 and (codes := refusal_codes(r)):
                OUTCOMES.update(f"refused:{c}" for c in codes)
                r.success()
            else:
                r.failure(f"{r.status_code} {r.text[:300]}")
            return r

    @task(2)
    def my_cases(self) -> None:
        self.api_get("/api/v1/cases/mine", "api cases mine")

    @task(2)
    def roster(self) -> None:
        self.api_get(f"/api/v1/staffing/roster?unit={self.me['unit']}&page={random.randint(1, 2)}", "api roster")

    @task(1)
    def unit(self) -> None:
        self.api_get(f"/api/v1/units/{self.me['unit']}", "api unit")

    @task(1)
    def notifications(self) -> None:
        self.api_get("/api/v1/notifications?unread=true", "api notifications")

    @task(4)
    def apply_hire(self) -> None:
        body = {**self.me["hire"], "reason": random.choice(REASONS)}
        r = self.api_post("/api/v1/cases/hire", "submit hire (API)", body, 201)
        if r.status_code == 201:
            OUTCOMES["submitted (API)"] += 1
            self.api_get(f"/api/v1/cases/{r.json()['id']}", "api case")

    @task(1)
    def withdraw(self) -> None:
        r = self.api_get("/api/v1/cases/mine", "api cases mine")
        items = r.json().get("items", []) if r.status_code == 200 else []
        open_ids = [c["id"] for c in items if c["status"] in ("in_review", "returned")]
        if open_ids and random.random() < 0.5:
            w = self.api_post(f"/api/v1/cases/{random.choice(open_ids)}/withdraw", "decide withdraw (API)",
                              {"reason": "情况变化，撤回申请。"}, 200)
            if w.status_code == 200:
                OUTCOMES["withdrawn (API)"] += 1


class Reviewer(Base):
    fixed_count = 14
    accounts = FIXTURE["reviewers"]

    @task(5)
    def review(self) -> None:
        self.decide((("approve", 85), ("return", 10), ("reject", 5)))

    @task(2)
    def units(self) -> None:
        self.list_and_open("/orgs/units/", "browse units", "unit", "open unit", pages=3, sorts=("", "name", "-name"))

    @task(2)
    def roster(self) -> None:
        self.list_and_open("/staffing/roster/", "browse roster", "record", "open record", pages=5,
                           sorts=("", "name", "-hire_date", "unit"))

    @task(1)
    def establishment(self) -> None:
        self.get("/orgs/establishment/", "browse establishment")

    @task(1)
    def cases(self) -> None:
        self.list_and_open("/approvals/cases/", "browse cases", "case", "open case", pages=2)

    @task(1)
    def funds(self) -> None:
        self.get("/funds/", "browse funds")

    @task(1)
    def caps(self) -> None:
        self.get("/staffing/caps/", "browse caps")


class Leader(Base):
    fixed_count = 4
    accounts = FIXTURE["leaders"]

    @task(4)
    def review(self) -> None:
        self.decide((("approve", 90), ("return", 10)))

    @task(2)
    def dashboard(self) -> None:
        self.get("/stats/", "stats dashboard")

    @task(2)
    def indicators(self) -> None:
        self.get("/stats/indicators/", "stats indicators")

    @task(1)
    def alerts(self) -> None:
        self.list_and_open("/stats/alerts/", "browse alerts", "alert", "open alert", pages=2)

    @task(1)
    def bodies(self) -> None:
        self.list_and_open("/bodies/", "browse bodies", "body", "open body", pages=3,
                           sorts=("", "name", "-members"))


class Browser(Base):
    fixed_count = 12
    accounts = FIXTURE["browsers"]

    @task(3)
    def units(self) -> None:
        self.list_and_open("/orgs/units/", "browse units", "unit", "open unit", pages=5, sorts=("", "name", "-name"))

    @task(3)
    def roster(self) -> None:
        self.list_and_open("/staffing/roster/", "browse roster", "record", "open record", pages=10,
                           sorts=("", "name", "-hire_date", "unit"))

    @task(1)
    def people(self) -> None:
        self.list_and_open("/orgs/people/", "browse people", "person", "open person", pages=5,
                           sorts=("", "name", "-birth_date"))

    @task(2)
    def bodies(self) -> None:
        self.list_and_open("/bodies/", "browse bodies", "body", "open body", pages=3,
                           sorts=("", "name", "-members"))

    @task(1)
    def funds(self) -> None:
        self.get("/funds/", "browse funds")

    @task(1)
    def contracts(self) -> None:
        self.get("/funds/contracts/", "browse contracts")

    @task(1)
    def cases(self) -> None:
        self.list_and_open("/approvals/cases/", "browse cases", "case", "open case", pages=2)

    @task(1)
    def documents(self) -> None:
        self.get("/documents/", "browse documents")

    @task(1)
    def dashboard(self) -> None:
        self.get("/stats/", "stats dashboard")

    @task(1)
    def indicators(self) -> None:
        self.get("/stats/indicators/", "stats indicators")

    @task(1)
    def alerts(self) -> None:
        self.list_and_open("/stats/alerts/", "browse alerts", "alert", "open alert", pages=3)

    @task(1)
    def audit(self) -> None:
        if not self.username.endswith("_office"):  # 办公厅 may not read the audit trail
            self.get("/audit/", "browse audit")

    @task(1)
    def export(self) -> None:
        if random.random() < 0.5:
            path, name = random.choice([("/orgs/units/?export=xlsx", "export units"),
                                        ("/bodies/?export=xlsx", "export bodies")])
            self.export(path, name)
