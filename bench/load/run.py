"""Load test: 50 users for 60 s against gunicorn and PostgreSQL on loopback, in one command.

    uv run python bench/load/run.py [--database-url postgresql://postgres@127.0.0.1:5432/bianzhi_load]
        [--port 8765] [--workers 4] [--users 50] [--spawn-rate 10] [--duration 60s] [--reuse] [--write-docs]

1. drops and re-creates the database (its name must contain ``load``: the script never touches
   another one), then ``bianzhi migrate``, ``bianzhi load-rules``, ``bianzhi collectstatic`` and
   ``bianzhi check --deploy --fail-level WARNING`` as docs/deploy.md prescribes, and
   ``bench/load/prepare.py`` (the demo province, 20 more unit operators, API tokens, the
   fixture); ``--reuse`` keeps the database of the last run and only refreshes the fixture;
2. starts the server as production does: ``bianzhi serve --workers N`` (gunicorn, ``--threads 4``,
   plus the background task worker) with ``DJANGO_SETTINGS_MODULE=bianzhi.settings.production``
   and nothing overridden — secret key, allowed hosts and the personal-data key from the
   environment as docs/deploy.md requires; HTTPS redirect, HSTS and ``Secure`` cookies on. Where
   production has nginx in front, gunicorn here terminates TLS itself (a self-signed certificate
   for 127.0.0.1) and keeps idle client connections 75 s as nginx would, both given through
   ``GUNICORN_CMD_ARGS``, so the client speaks HTTPS and cookies and CSRF checks work as in a
   browser;
3. runs ``locust --headless -u 50 -r 10 -t 60s`` with bench/load/locustfile.py, measuring the
   CPU time of the server's processes, of locust and of the whole machine over the run;
4. stops the server (SIGTERM to its process group), then checks what the run left: the audit
   hash chain (``bianzhi audit verify``), the server log (no ``ERROR`` line, no traceback), and
   counts the cases the run submitted and decided;
5. prints the figures — requests, RPS, failures, p50/p95/p99 per group, per request and overall
   (exact percentiles of every response time, from the samples the locustfile writes) — and
   with ``--write-docs`` replaces the "Load" section of docs/benchmarks.md.

Everything the run writes goes to ``bench/load/out/`` (git-ignored): the fixture, locust's CSV
files, the samples, the access log and the server log. Exit code 0 only with zero failures, a
clean server log and an intact audit chain.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import json
import math
import os
import platform
import secrets
import signal
import subprocess
import sys
import time
from collections import defaultdict
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OUT = HERE / "out"
DOCS = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench/load/run.py: begin -->", "<!-- bench/load/run.py: end -->"
GROUPS = {  # the first word of a request's name → what the table calls it
    "login": "log in (form, POST, first page)",
    "static": "static files (first visit)",
    "browse": "lists, inbox, workbench (browse)",
    "open": "records (open)",
    "stats": "dashboard and indicators",
    "export": "Excel exports",
    "submit": "applications (submit)",
    "decide": "decisions and withdrawals",
    "api": "API reads",
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --------------------------------------------------------------------------- set-up


def admin_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/postgres", "", ""))


def recreate_database(url: str) -> None:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(admin_url(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (two days), so that the server speaks HTTPS."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_file.chmod(0o600)
    return cert_file, key_file


def server_env(args: argparse.Namespace) -> dict[str, str]:
    """Production settings, everything they require from the environment (docs/deploy.md)."""
    data = OUT / "data"
    data.mkdir(parents=True, exist_ok=True)
    key_file = OUT / "pii-key"  # the personal-data key of this database: kept while the database is
    if not key_file.exists() or not args.reuse:
        key_file.write_text(secrets.token_hex(32) + "\n")
        key_file.chmod(0o600)
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bianzhi.settings.production",
        "DATABASE_URL": args.database_url,
        "BIANZHI_DATA_DIR": str(data),
        "BIANZHI_SECRET_KEY": secrets.token_urlsafe(50),
        "BIANZHI_ALLOWED_HOSTS": "127.0.0.1",
        "BIANZHI_PII_KEY": key_file.read_text().strip(),
    }


def bianzhi(env: dict[str, str], *argv: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bianzhi", *argv], env=env, cwd=ROOT, text=True, check=True,
                          **kw)


def prepare(args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    if not args.reuse:
        log(f"database {urlsplit(args.database_url).path.lstrip('/')}: drop and create")
        recreate_database(args.database_url)
    for argv in (("migrate", "-v0"), ("load-rules",), ("collectstatic", "--noinput", "-v0"),
                 ("check", "--deploy", "--fail-level", "WARNING")):
        log("bianzhi " + " ".join(argv))
        started = time.monotonic()
        bianzhi(env, *argv, stdout=subprocess.DEVNULL)
        log(f"  {time.monotonic() - started:.1f} s")
    log("bench/load/prepare.py (demo province, operators, tokens, fixture)")
    subprocess.run([sys.executable, str(HERE / "prepare.py"), "--out", str(OUT / "fixture.json")], env=env,
                   cwd=ROOT, check=True)
    return json.loads((OUT / "fixture.json").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- the server


def start_server(args: argparse.Namespace, env: dict[str, str], cert: Path, key: Path) -> subprocess.Popen[bytes]:
    """``bianzhi serve`` in a process group of its own. Through ``GUNICORN_CMD_ARGS`` (gunicorn's own
    way to take settings from the environment) gunicorn plays the part of the TLS proxy of
    docs/deploy.md: it terminates TLS, and keeps idle client connections open 75 s as nginx does
    (``keepalive_timeout``) instead of gunicorn's 2 s — with 2 s, a client reusing a connection at
    the moment gunicorn closes it gets "connection closed without response" (browsers resend such a
    request, python-requests does not), an artefact of talking to gunicorn without the proxy."""
    access = (OUT / "access.log").open("wb")
    errors = (OUT / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bianzhi", "serve", "--host", "127.0.0.1", "--port", str(args.port),
         "--workers", str(args.workers)],
        env={**env, "GUNICORN_CMD_ARGS": f"--certfile={cert} --keyfile={key} --keep-alive 75"}, cwd=ROOT, stdout=access,
        stderr=errors, start_new_session=True,
    )
    import requests

    url = f"https://127.0.0.1:{args.port}/accounts/login/"
    deadline = time.monotonic() + 180  # on a busy machine, five processes importing Django take a while
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server stopped (exit {proc.returncode}); see {OUT / 'server.log'}")
        try:
            if requests.get(url, verify=str(cert), timeout=5).status_code == 200:
                return proc
        except requests.RequestException:
            pass
        time.sleep(0.5)
    stop_server(proc)
    raise SystemExit(f"the server did not answer within 180 s; see {OUT / 'server.log'}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's own process group (gunicorn, its workers, the task worker)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    time.sleep(1)  # the task worker, a sibling in the group, exits on the same signal
    try:
        os.killpg(proc.pid, 0)
    except ProcessLookupError:
        return
    os.killpg(proc.pid, signal.SIGKILL)


def process_cpu(pid: int) -> float:
    """CPU seconds of a process and its living descendants."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    hz = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]
    total = sum(fields[:8])
    return (total - idle) / hz, total / hz


def postgres_backends_cpu(database: str) -> float:
    """CPU seconds of the PostgreSQL backends serving ``database`` (the server's connections)."""
    import psutil

    total = 0.0
    for p in psutil.process_iter(["cmdline", "username"]):
        try:
            cmd = " ".join(p.info["cmdline"] or [])
            if cmd.startswith("postgres: ") and f" {database} " in cmd:
                t = p.cpu_times()
                total += t.user + t.system
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


def wait_for_quiet(limit: float, seconds: int) -> None:
    deadline = time.monotonic() + seconds
    while (load := float(Path("/proc/loadavg").read_text().split()[0])) >= limit:
        if time.monotonic() > deadline:
            log(f"load average still {load:.2f} after {seconds} s: starting anyway")
            return
        log(f"load average {load:.2f} ≥ {limit}: waiting")
        time.sleep(30)
    log(f"load average {load:.2f}")


SOLO_PAGES = (  # (account, path): each page once per round, one user, nothing else running
    ("gd_supervisor", "/"), ("gd_supervisor", "/orgs/units/"), ("gd_supervisor", "/staffing/roster/"),
    ("gd_supervisor", "/orgs/people/"), ("gd_supervisor", "/bodies/"), ("gd_supervisor", "/funds/"),
    ("gd_supervisor", "/orgs/establishment/"), ("gd_supervisor", "/staffing/caps/"),
    ("gd_supervisor", "/approvals/cases/"), ("gd_supervisor", "/stats/"), ("gd_supervisor", "/stats/indicators/"),
    ("gd_supervisor", "/stats/alerts/"), ("gd_supervisor", "/audit/"), ("gd_supervisor", "/orgs/units/?export=xlsx"),
    ("sz_reviewer", "/"), ("sz_reviewer", "/approvals/"), ("sz_reviewer", "/approvals/cases/{case}/"),
    ("sz_reviewer", "/orgs/units/{unit}/"), ("sz_reviewer", "/staffing/roster/?unit={unit}"),
)


def solo_pass(args: argparse.Namespace, fixture: dict[str, Any], cert: Path, rounds: int = 5) -> dict[str, Any]:
    """Each page alone: one user, warm, the median of ``rounds`` — the floor the loaded times compare
    with. Also the log-in itself (password check, PBKDF2) of a fresh session."""
    import statistics

    import psycopg
    import requests

    base = f"https://127.0.0.1:{args.port}"
    with psycopg.connect(args.database_url) as conn:
        case = conn.execute("SELECT min(c.id) FROM workflow_case c JOIN divisions_division d "
                            "ON d.id = c.jurisdiction_id WHERE d.code = '440300'").fetchone()[0]
    unit = next(o["unit"] for o in fixture["page_operators"] if o["jurisdiction"] == "440300")

    def login(username: str) -> tuple[requests.Session, float]:
        session = requests.Session()
        session.verify, session.trust_env = str(cert), False
        page = session.get(base + "/accounts/login/")
        token = page.text.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
        started = time.perf_counter()
        answer = session.post(base + "/accounts/login/", allow_redirects=False,
                              data={"csrfmiddlewaretoken": token, "username": username,
                                    "password": fixture["password"], "next": ""},
                              headers={"Origin": base, "Referer": base + "/accounts/login/"})
        elapsed = time.perf_counter() - started
        if answer.status_code != 302 or answer.headers.get("Location") != "/":
            raise SystemExit(f"solo pass: log-in of {username} answered {answer.status_code}")
        return session, elapsed

    sessions: dict[str, requests.Session] = {}
    logins = []
    for username in dict.fromkeys(u for u, _p in SOLO_PAGES):
        sessions[username], seconds = login(username)
        logins.append(seconds)
    times: dict[str, list[float]] = defaultdict(list)
    for round_ in range(rounds + 1):  # the first round warms up
        for username, path in SOLO_PAGES:
            url = base + path.format(case=case, unit=unit)
            started = time.perf_counter()
            answer = sessions[username].get(url, allow_redirects=False)
            elapsed = time.perf_counter() - started
            if answer.status_code != 200:
                raise SystemExit(f"solo pass: {path} answered {answer.status_code}")
            if round_:
                times[f"{username} {path}"].append(elapsed * 1000)
    return {"pages": {k: statistics.median(v) for k, v in times.items()},
            "login": statistics.median(logins) * 1000, "rounds": rounds}


# --------------------------------------------------------------------------- locust


def run_locust(args: argparse.Namespace, server: subprocess.Popen[bytes], cert: Path) -> dict[str, Any]:
    env = {**os.environ, "BIANZHI_LOAD_FIXTURE": str(OUT / "fixture.json"),
           "BIANZHI_LOAD_SAMPLES": str(OUT / "samples.json"), "BIANZHI_LOAD_CA": str(cert)}
    argv = [sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py"), "--headless",
            "-u", str(args.users), "-r", str(args.spawn_rate), "-t", args.duration,
            "--host", f"https://127.0.0.1:{args.port}", "--csv", str(OUT / "locust"), "--only-summary",
            "--stop-timeout", "10", "--exit-code-on-error", "0", "--loglevel", "WARNING"]
    log("locust " + " ".join(argv[4:]))
    database = urlsplit(args.database_url).path.lstrip("/")
    server_before = process_cpu(server.pid)
    pg_before = postgres_backends_cpu(database)
    busy_before, total_before = machine_busy()
    load_before = float(Path("/proc/loadavg").read_text().split()[0])
    started = time.monotonic()
    with (OUT / "locust.log").open("w") as out:
        proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        locust_cpu, server_after, pg_after = 0.0, server_before, pg_before
        while proc.poll() is None:
            locust_cpu = max(locust_cpu, process_cpu(proc.pid))
            server_after = process_cpu(server.pid)
            pg_after = postgres_backends_cpu(database)
            time.sleep(0.5)
    elapsed = time.monotonic() - started
    busy_after, total_after = machine_busy()
    if proc.returncode != 0:
        raise SystemExit(f"locust failed (exit {proc.returncode}); see {OUT / 'locust.log'}")
    wall = (total_after - total_before) / (os.cpu_count() or 1)
    return {
        "elapsed": elapsed, "load_before": load_before,
        "cpu": {"server": server_after - server_before, "postgres": pg_after - pg_before, "locust": locust_cpu,
                "machine": busy_after - busy_before, "capacity": wall * (os.cpu_count() or 1)},
    }


# --------------------------------------------------------------------------- after the run


def check_after(env: dict[str, str], database_url: str, started_at: dt.datetime) -> dict[str, Any]:
    import psycopg

    verify = subprocess.run([sys.executable, "-m", "bianzhi", "audit", "verify"], env=env, cwd=ROOT, text=True,
                            capture_output=True)
    log_text = (OUT / "server.log").read_text(errors="replace")
    bad = [line for line in log_text.splitlines() if " ERROR " in line or line.startswith("Traceback")]
    access = (OUT / "access.log").read_text(errors="replace").splitlines()
    five = [line for line in access if '" 5' in line]
    with psycopg.connect(database_url) as conn:
        cases = dict(conn.execute(
            "SELECT status, count(*) FROM workflow_case WHERE submitted_at >= %s GROUP BY status",
            (started_at,)).fetchall())
        steps = dict(conn.execute(
            "SELECT status, count(*) FROM workflow_step WHERE acted_at >= %s GROUP BY status",
            (started_at,)).fetchall())
        events = conn.execute("SELECT count(*) FROM common_auditevent WHERE at >= %s",
                              (started_at,)).fetchone()[0]
        pg_version = conn.execute("SHOW server_version").fetchone()[0]
    return {"audit_ok": verify.returncode == 0, "audit_output": (verify.stdout + verify.stderr).strip(),
            "server_errors": bad, "server_5xx": five, "cases": cases, "steps": steps, "audit_events": events,
            "postgresql": pg_version}


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest rank: the smallest value with at least p% of the values at or below it."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def summarise(samples: list[list[Any]]) -> dict[str, Any]:
    """Per request, per group and overall; the rate over the span from the first answer to the last."""
    seconds = max(s[4] for s in samples) - min(s[4] for s in samples) if samples else math.nan
    by_name: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    by_group: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    for name, group, ms, ok, _at in samples:
        by_name[name].append((ms, ok))
        by_group[group].append((ms, ok))

    def row(values: list[tuple[float, bool]]) -> dict[str, Any]:
        times = sorted(v for v, _ok in values)
        return {"requests": len(values), "failures": sum(1 for _v, ok in values if not ok),
                "rps": len(values) / seconds, "p50": percentile(times, 50), "p95": percentile(times, 95),
                "p99": percentile(times, 99), "max": times[-1] if times else math.nan}

    every = [(ms, ok) for _n, _g, ms, ok, _at in samples]
    # steady state: from the moment every user has logged in (the last log-in answer) on
    logged_in = max((at for _n, group, _ms, _ok, at in samples if group == "login"), default=math.nan)
    after = [(ms, ok) for _n, _g, ms, ok, at in samples if at > logged_in]
    steady_seconds = max(s[4] for s in samples) - logged_in if samples else math.nan
    steady = row(after)
    steady["rps"] = len(after) / steady_seconds if steady_seconds > 0 else math.nan
    return {"seconds": seconds, "overall": row(every), "steady": steady,
            "logged_in_after": logged_in - min(s[4] for s in samples) if samples else math.nan,
            "groups": {g: row(v) for g, v in by_group.items()},
            "names": {n: row(v) for n, v in by_name.items()}}


def machine() -> dict[str, str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown")
    mem = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), 0)
    return {"cpu": cpu, "cores": str(os.cpu_count()), "ram": f"{mem / 1024 / 1024:.1f} GiB",
            "os": platform.platform(), "python": platform.python_version(), "django": metadata.version("django"),
            "gunicorn": metadata.version("gunicorn"), "locust": metadata.version("locust"),
            "psycopg": metadata.version("psycopg")}


def ms(value: float) -> str:
    return f"{value:,.0f}"


def render(args: argparse.Namespace, fixture: dict[str, Any], stats: dict[str, Any], run: dict[str, Any],
           after: dict[str, Any], outcomes: dict[str, int], info: dict[str, str], solo: dict[str, Any]) -> str:
    o = stats["overall"]
    st = stats["steady"]
    cpu = run["cpu"]
    d = fixture["data"]
    refused = {k.split(":", 1)[1]: v for k, v in sorted(outcomes.items()) if k.startswith("refused:")}
    submitted = sum(v for k, v in outcomes.items() if k.startswith("submitted"))
    decided = {k: v for k, v in sorted(outcomes.items()) if k.split(":")[0] in ("approve", "return", "reject")}
    withdrawn = sum(v for k, v in outcomes.items() if k.startswith("withdrawn"))
    approvals_final = outcomes.get("approve:leading_group", 0)
    other = cpu["machine"] - cpu["server"] - cpu["postgres"] - cpu["locust"]
    lines = [
        "## Load",
        "",
        f"### {args.users} users for {args.duration}, gunicorn + PostgreSQL on loopback",
        "",
        f"Measured {dt.date.today().isoformat()} with `uv run python bench/load/run.py"
        + (f" --quiet-load {args.quiet_load:g}" if args.quiet_load is not None else "") + "` "
        "(bench/load/: the scenario is `locustfile.py`, the data `prepare.py`).",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['ram']} RAM; {info['os']}; Python {info['python']}, "
        f"PostgreSQL {after['postgresql']}; Django {info['django']}, psycopg {info['psycopg']}, "
        f"gunicorn {info['gunicorn']}, locust {info['locust']}. Server, database and load generator share the "
        "machine.",
        "",
        f"Server: `bianzhi serve --workers {args.workers}` (gunicorn, {args.workers} workers × 4 threads, "
        "plus the background task worker) with `bianzhi.settings.production` and nothing overridden "
        "(secret key, allowed hosts and personal-data key from the environment; HTTPS redirect, HSTS, "
        "`Secure` cookies, CSRF over HTTPS all on). Where production has nginx in front, gunicorn terminates "
        "TLS itself here and keeps idle client connections 75 s as nginx does, both through "
        "`GUNICORN_CMD_ARGS` (`--certfile/--keyfile` of a self-signed certificate for 127.0.0.1, "
        "`--keep-alive 75`; with gunicorn's own 2 s a client reusing a connection just as gunicorn closes it "
        "gets no answer, which browsers retry and the load generator would count as an error). "
        f"{args.workers} workers on {info['cores']} cores: the "
        "threads overlap the database "
        "round trips.",
        "",
        f"Data: the demo province (`bianzhi.demo.builder`, as `bianzhi demo` builds it) on PostgreSQL — "
        f"{d['units']:,} units, {d['people']:,} people, {d['records']:,} 编外人员 records, {d['bodies']:,} "
        f"coordinating bodies — plus {len(fixture['page_operators']) + len(fixture['api_operators'])} unit "
        "operators created through the user service, each bound to a unit with room under its caps, in the four "
        "jurisdictions that have the demo's reviewers and leaders (广东省, 广州市, 深圳市, 天河区).",
        "",
        f"Users ({args.users}, spawned {args.spawn_rate}/s, think time 1–3 s — far shorter than a person's, so "
        "they ask for as much as a few hundred people at work would): 16 unit operators in the browser "
        "(log in through the page; roster, people, their unit, their applications; hire applications through "
        "the form; withdrawals; roster export), 4 unit systems on the API with personal tokens (hire "
        "applications, withdrawals, reads), 14 reviewers of the establishment, finance and HR departments "
        "(units, roster, establishment, funds, caps, cases; decide the steps in their inbox on the case page: "
        "approve 85%, return 10%, reject 5%), 4 leading groups (dashboard, 23 indicators, alerts, bodies; the "
        "final decision), 12 supervisors, general offices and administrators (every list and the records behind "
        "them, dashboards, audit trail, Excel exports of units and bodies). Lists on a random page and sort "
        "order; records opened from the links of the list just read."
        + (f" The {len(fixture.get('totp', {}))} accounts whose role requires a second factor (leaders, "
           "administrators) log in with password and TOTP code (`prepare.py` enrols their devices)."
           if fixture.get("totp") else ""),
        "",
        f"**{o['requests']:,} requests in {stats['seconds']:.0f} s ({o['rps']:.1f}/s), {o['failures']} failures.** "
        f"p50 {ms(o['p50'])} ms, p95 {ms(o['p95'])} ms, p99 {ms(o['p99'])} ms (max {ms(o['max'])} ms).",
        "",
        f"Once every user had logged in ({stats['logged_in_after']:.0f} s after the first answer: {args.users} "
        f"password hashes, PBKDF2, come first), the remaining {st['requests']:,} requests ({st['rps']:.1f}/s, "
        f"{st['failures']} failures): p50 {ms(st['p50'])} ms, p95 {ms(st['p95'])} ms, p99 {ms(st['p99'])} ms.",
        "",
        "| requests | count | failures | req/s | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for group, label in GROUPS.items():
        if group in stats["groups"]:
            r = stats["groups"][group]
            lines.append(f"| {label} | {r['requests']:,} | {r['failures']} | {r['rps']:.1f} | {ms(r['p50'])} | "
                         f"{ms(r['p95'])} | {ms(r['p99'])} | {ms(r['max'])} |")
    lines.append(f"| **all** | **{o['requests']:,}** | **{o['failures']}** | **{o['rps']:.1f}** | "
                 f"**{ms(o['p50'])}** | **{ms(o['p95'])}** | **{ms(o['p99'])}** | **{ms(o['max'])}** |")
    lines += [
        "",
        "<details><summary>Per request</summary>",
        "",
        "| request | count | failures | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in sorted(stats["names"].items(), key=lambda kv: (kv[0].split(" ", 2)[1], kv[0])):
        lines.append(f"| `{name}` | {r['requests']:,} | {r['failures']} | {ms(r['p50'])} | {ms(r['p95'])} | "
                     f"{ms(r['p99'])} | {ms(r['max'])} |")
    lines += ["", "</details>", ""]
    lines += [
        f"The floor — each page alone, before the load (one user, warm, median of {solo['rounds']}; the "
        f"log-in POST alone: {ms(solo['login'])} ms, nearly all of it the PBKDF2 hash of the password):",
        "",
        "| account | page | ms |",
        "|---|---|---:|",
    ]
    for key, value in solo["pages"].items():
        account, path = key.split(" ", 1)
        lines.append(f"| {account} | `{path.replace('{case}', '<id>').replace('{unit}', '<id>')}` | {ms(value)} |")
    lines.append("")
    refusal_text = ", ".join(f"`{c}` {n}" for c, n in refused.items()) or "none"
    lines += [
        f"What the run did: {submitted} hire applications submitted ({outcomes.get('submitted (page)', 0)} on the "
        f"page, {outcomes.get('submitted (API)', 0)} on the API), {sum(decided.values())} step decisions "
        f"({', '.join(f'{k} {v}' for k, v in decided.items())}; {approvals_final} final approvals, each creating "
        f"a hire authorisation), {withdrawn} withdrawals. Expected business refusals (answered 422, counted as "
        f"successes only for these codes): {refusal_text}. In the database afterwards: "
        f"{sum(after['cases'].values())} cases submitted during the run "
        f"({', '.join(f'{k} {v}' for k, v in sorted(after['cases'].items()))}), {after['audit_events']:,} audit "
        f"events; `bianzhi audit verify`: {'the hash chain is intact' if after['audit_ok'] else 'BROKEN'}; server "
        f"log: {len(after['server_errors'])} error lines, {len(after['server_5xx'])} 5xx answers.",
        "",
        f"CPU over the run ({run['elapsed']:.0f} s × {info['cores']} cores = {cpu['capacity']:.0f} CPU-seconds): "
        f"gunicorn and the task worker {cpu['server']:.0f} s, their PostgreSQL backends {cpu['postgres']:.0f} s, "
        f"locust {cpu['locust']:.0f} s, everything else on the machine {max(other, 0):.0f} s; the machine was "
        f"{cpu['machine'] / cpu['capacity']:.0%} busy (load average {run['load_before']:.1f} when the run began"
        + ("; other work — other test suites — took the share named above, and the latencies are those of a "
           "shared machine" if other > 0.1 * cpu["capacity"] else "")
        + f"). The server spent {cpu['server'] / o['requests'] * 1000:.0f} ms "
        f"of CPU per request on average, its database backends {cpu['postgres'] / o['requests'] * 1000:.0f} ms: "
        f"at that cost {info['cores']} cores serve at most about "
        f"{int(info['cores']) * o['requests'] / (cpu['server'] + cpu['postgres']):.0f} requests/s, so with "
        f"{o['rps']:.0f}/s asked for, requests wait for a core — the difference between the times under load "
        "and the floor above.",
    ]
    return "\n".join(lines) + "\n"


def write_docs(section: str) -> None:
    block = f"{BEGIN}\n{section}{END}\n"
    text = DOCS.read_text(encoding="utf-8")
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _old, tail = rest.split(END, 1)
        text = head + block + tail.lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    DOCS.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get(
        "BIANZHI_LOAD_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/bianzhi_load"))
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--spawn-rate", type=int, default=10)
    parser.add_argument("--duration", default="60s")
    parser.add_argument("--reuse", action="store_true", help="keep the database of the last run")
    parser.add_argument("--quiet-load", type=float, default=None,
                        help="on a shared machine: before the load starts, wait (at most --quiet-wait seconds) "
                             "until the 1-minute load average is below this")
    parser.add_argument("--quiet-wait", type=int, default=1800)
    parser.add_argument("--write-docs", action="store_true", help="replace the Load section of docs/benchmarks.md")
    args = parser.parse_args()
    parts = urlsplit(args.database_url)
    name = parts.path.lstrip("/")
    if not parts.scheme.startswith("postgres") or "load" not in name:
        raise SystemExit("--database-url must name a PostgreSQL database whose name contains 'load' "
                         "(it is dropped and re-created)")
    OUT.mkdir(parents=True, exist_ok=True)
    for stale in ("samples.json", "access.log", "server.log", "locust.log"):
        (OUT / stale).unlink(missing_ok=True)
    env = server_env(args)
    fixture = prepare(args, env)
    cert, key = make_certificate(OUT / "tls")
    log(f"starting the server on https://127.0.0.1:{args.port} ({args.workers} workers)")
    server = start_server(args, env, cert, key)
    log("the server answers")
    if args.quiet_load is not None:
        wait_for_quiet(args.quiet_load, args.quiet_wait)
    log("each page alone (one user)")
    solo = solo_pass(args, fixture, cert)
    started_at = dt.datetime.now(dt.UTC)
    try:
        run = run_locust(args, server, cert)
    finally:
        log("stopping the server")
        stop_server(server)
    after = check_after(env, args.database_url, started_at)
    recorded = json.loads((OUT / "samples.json").read_text(encoding="utf-8"))
    stats = summarise(recorded["samples"])
    section = render(args, fixture, stats, run, after, recorded["outcomes"], machine(), solo)
    print()
    print(section)
    for line in (after["server_errors"] + after["server_5xx"])[:20]:
        print("server:", line)
    if not after["audit_ok"]:
        print(after["audit_output"])
    if args.write_docs:
        write_docs(section)
        log(f"written to {DOCS.relative_to(ROOT)}")
    ok = stats["overall"]["failures"] == 0 and after["audit_ok"] and not after["server_errors"] \
        and not after["server_5xx"]
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
