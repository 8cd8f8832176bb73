"""Benchmark of the units import against its floor, python-calamine's parse of the same file.

    uv run python bench/units_import.py [--rows 50000] [--database-url URL] [--write-docs]

1. writes a units workbook (XlsxWriter) with valid codes spread over Guangdong's real
   county-level divisions (``src/bianzhi/divisions/data/guangdong.yaml``), one bureau per
   ten units with its nine sub-units as children (parents are in the same file);
2. prepares a fresh database: a temporary SQLite file by default, or, with a
   ``postgresql://`` URL, a temporary database created on that server and dropped after;
3. runs every phase in its own process, so that each peak RSS is that phase's own:
   ``parse`` (calamine alone: open + read the first sheet into Python lists), ``dry-run``
   (read + validate + preview, nothing written), ``commit`` (the full import, in one
   transaction with its 50,001 audit events) and ``re-import`` (the same file again: a
   no-op); ``--repeat`` rounds (default 3), each on a fresh database, the best kept;
4. prints a table and the import/parse ratios, and with ``--write-docs`` replaces its
   section of ``docs/benchmarks.md`` (one section per database).

Timings are wall-clock (``time.perf_counter``) around the call only; peak RSS is
``getrusage(RUSAGE_SELF).ru_maxrss`` of the phase's process.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DIVISIONS = ROOT / "src" / "bianzhi" / "divisions" / "data" / "guangdong.yaml"
DOCS = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench/units_import.py: begin -->", "<!-- bench/units_import.py: end -->"

PHASES = ("parse", "dry-run", "commit", "re-import")
HEADERS = [
    "统一社会信用代码",
    "单位名称",
    "上级单位代码",
    "行政区划代码",
    "单位类别",
    "经费形式",
    "行政编制数",
    "事业编制数",
    "政法专项编制数",
    "实有在编人数",
]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------- the file


def counties() -> list[tuple[str, str]]:
    import yaml

    with open(DIVISIONS, encoding="utf-8") as fh:
        rows = yaml.safe_load(fh)["divisions"]
    return [(str(r["code"]), r["name"]) for r in rows if r["level"] == "county"]


def write_workbook(path: Path, rows: int) -> None:
    import xlsxwriter

    from bianzhi.common.codes import make_uscc

    places = counties()
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = workbook.add_worksheet("单位")
    sheet.write_row(0, 0, HEADERS)
    bureau = ""
    for i in range(rows):
        code, name = places[(i // 10) % len(places)]
        uscc = make_uscc("12" if i % 10 else "11", code, f"B{i:07d}")
        r = i + 1
        if i % 10 == 0:  # a bureau: party and government organ, administrative establishment
            bureau = uscc
            sheet.write_row(r, 0, [uscc, f"{name}第{i // 10}局", "", code, "党政机关", "财政全额拨款"])
            sheet.write_number(r, 6, 20 + i % 17)
            if i % 30 == 0:
                sheet.write_number(r, 8, 5)
            sheet.write_number(r, 9, 18 + i % 11)
        else:  # its sub-units: public institutions
            funding = ("财政全额拨款", "财政差额拨款", "自收自支")[i % 3]
            sheet.write_row(
                r, 0, [uscc, f"{name}第{i // 10}局下属中心{i % 10}", bureau, code, "事业单位", funding]
            )
            sheet.write_number(r, 7, 5 + i % 23)
            sheet.write_number(r, 9, 4 + i % 19)
    workbook.close()


# --------------------------------------------------------------------------- phases (child processes)


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bianzhi.settings.base")
    import django

    django.setup()


def phase_setup() -> dict[str, Any]:
    django_setup()
    from django.core.management import call_command
    from django.db import connection

    from bianzhi.accounts.services import system_user
    from bianzhi.divisions.services import divisions_load

    call_command("migrate", verbosity=0)
    divisions_load()
    system_user()
    version = ""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
    return {"vendor": connection.vendor, "server_version": version}


def phase_parse(path: Path) -> dict[str, Any]:
    from python_calamine import CalamineWorkbook

    baseline = peak_rss_mib()
    started = time.perf_counter()
    workbook = CalamineWorkbook.from_path(str(path))
    grid = workbook.get_sheet_by_index(0).to_python(skip_empty_area=False)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "peak_rss_mib": peak_rss_mib(),
        "baseline_rss_mib": baseline,
        "rows": len(grid) - 1,
    }


def phase_import(path: Path, dry_run: bool) -> dict[str, Any]:
    django_setup()
    from bianzhi.accounts.services import system_user
    from bianzhi.common import audit
    from bianzhi.orgs.importing import import_units

    # The time spent appending to the audit hash chain, to show it apart.
    record_many = audit.record_many
    spent = [0.0]

    def timed_record_many(*args: Any, **kwargs: Any) -> int:
        started = time.perf_counter()
        try:
            return record_many(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - started

    audit.record_many = timed_record_many
    actor = system_user()
    data = path.read_bytes()
    baseline = peak_rss_mib()
    started = time.perf_counter()
    result = import_units(actor=actor, data=data, filename=path.name, dry_run=dry_run)
    seconds = time.perf_counter() - started
    if result.errors:
        raise SystemExit(f"import rejected: {[e.as_dict() for e in result.errors[:5]]}")
    return {
        "seconds": seconds,
        "audit_seconds": spent[0],
        "peak_rss_mib": peak_rss_mib(),
        "baseline_rss_mib": baseline,
        **result.counts(),
    }


def run_phase(name: str, path: Path, env: dict[str, str]) -> dict[str, Any]:
    answer = subprocess.run(
        [sys.executable, __file__, "--phase", name, "--file", str(path)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(answer.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- databases


def temporary_postgres(url: str) -> tuple[str, Any]:
    """Create a fresh database next to the one ``url`` names; return its URL and a dropper."""
    import psycopg

    parts = urlsplit(url)
    name = f"bianzhi_bench_{uuid.uuid4().hex[:8]}"
    admin = urlunsplit(
        (
            parts.scheme.replace("postgresql", "postgresql"),
            parts.netloc,
            parts.path or "/postgres",
            parts.query,
            "",
        )
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, "")), drop


# --------------------------------------------------------------------------- report


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "ram": ram,
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "django": metadata.version("django"),
        "python-calamine": metadata.version("python-calamine"),
    }


def render(
    rows: int, size: int, results: dict[str, dict[str, Any]], info: dict[str, str], database: str, repeat: int
) -> str:
    parse = results["parse"]["seconds"]
    lines = [
        f"### Units import, {rows:,} rows ({size / 1024 / 1024:.1f} MiB .xlsx) — {database}",
        "",
        f"Measured {dt.date.today().isoformat()} with `uv run python bench/units_import.py"
        f"{' --database-url …' if database != 'SQLite' else ''} --rows {rows}`.",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['ram']} RAM; {info['os']}; Python "
        f"{info['python']}, SQLite {info['sqlite']}"
        + (f", PostgreSQL {info['postgresql']}" if info.get("postgresql") else "")
        + f"; Django {info['django']}, python-calamine {info['python-calamine']}.",
        "",
        "| phase | seconds | rows/s | × parse | peak RSS (MiB) |",
        "|---|---:|---:|---:|---:|",
    ]
    labels = {
        "parse": "calamine parse (floor)",
        "dry-run": "import, dry run (read + validate + preview)",
        "commit": "import, commit (all writes + audit)",
        "re-import": "re-import of the same file (no-op)",
    }
    for name in ("parse", "dry-run", "commit", "re-import"):
        r = results[name]
        lines.append(
            f"| {labels[name]} | {r['seconds']:.2f} | {rows / r['seconds']:,.0f} | "
            f"{r['seconds'] / parse:.1f} | {r['peak_rss_mib']:.0f} |"
        )
    commit = results["commit"]
    audit_share = commit["audit_seconds"]
    lines += [
        "",
        f"Of the commit, {audit_share:.2f} s ({audit_share / commit['seconds']:.0%}) is "
        f"`bianzhi.common.audit.record_many` appending the {commit['created'] + 1:,} audit events; "
        f"the rest is {(commit['seconds'] - audit_share) / parse:.1f}× the parse. Each figure is the best "
        f"of {repeat} rounds, each round on a fresh database, each phase in a process of its own.",
        "",
        f"The commit wrote {commit['created']:,} units, {commit['created']:,} unit versions, their "
        f"quotas and {commit['created'] + 1:,} audit events (SM3 hash chain) in one transaction. Peak RSS "
        f"is the whole process (Django loaded: ~{results['commit']['baseline_rss_mib']:.0f} MiB before "
        "the import).",
    ]
    return "\n".join(lines) + "\n"


def write_docs(section: str, database: str) -> None:
    begin = BEGIN.replace(" -->", f" {database} -->")
    end = END.replace(" -->", f" {database} -->")
    block = f"{begin}\n{section}{end}\n"
    if DOCS.exists():
        text = DOCS.read_text(encoding="utf-8")
    else:
        text = (
            "# Benchmarks\n\nMeasured figures of bianzhi's own code, each next to its floor (the library it\n"
            "builds on doing the least possible work on the same input). Re-run the scripts in `bench/`\n"
            "to refresh them.\n\n"
        )
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _old, tail = rest.split(end, 1)
        text = head + block + tail.lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", ""),
        help="postgresql://user@host:port/db — a temporary database is created on that server",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of the read-only phases (the best is kept)"
    )
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase:
        path = Path(args.file)
        if args.phase == "setup":
            answer = phase_setup()
        elif args.phase == "parse":
            answer = phase_parse(path)
        else:
            answer = phase_import(path, dry_run=args.phase == "dry-run")
        print(json.dumps(answer))
        return

    with tempfile.TemporaryDirectory(prefix="bianzhi-bench-") as tmp:
        tmpdir = Path(tmp)
        path = tmpdir / "units.xlsx"
        started = time.perf_counter()
        write_workbook(path, args.rows)
        print(
            f"wrote {path.name}: {args.rows:,} rows, {path.stat().st_size / 1024 / 1024:.1f} MiB "
            f"in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
        base_env = dict(
            os.environ, DJANGO_SETTINGS_MODULE="bianzhi.settings.base", BIANZHI_DATA_DIR=str(tmpdir)
        )
        postgres = args.database_url.startswith(("postgres://", "postgresql://"))
        database = "PostgreSQL" if postgres else "SQLite"
        info = machine()
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in PHASES}
        drops = []
        try:
            # Each round: a fresh database, then every phase in order (the re-import follows the
            # commit it repeats). The best round of each phase is reported.
            for round_ in range(args.repeat):
                env = dict(base_env)
                if postgres:
                    env["DATABASE_URL"], drop = temporary_postgres(args.database_url)
                    drops.append(drop)
                else:
                    env["DATABASE_URL"] = f"sqlite:///{tmpdir / f'bench-{round_}.sqlite3'}"
                setup = run_phase("setup", path, env)
                if setup["server_version"]:
                    info["postgresql"] = setup["server_version"]
                for name in PHASES:
                    runs[name].append(run_phase(name, path, env))
                print(
                    f"round {round_ + 1}: "
                    + ", ".join(f"{n} {runs[n][-1]['seconds']:.2f} s" for n in PHASES),
                    file=sys.stderr,
                )
        finally:
            for drop in drops:
                drop()
        results = {name: min(found, key=lambda r: r["seconds"]) for name, found in runs.items()}
        section = render(args.rows, path.stat().st_size, results, info, database, args.repeat)
    print(section)
    if args.write_docs:
        write_docs(section, database)
        print(f"updated {DOCS.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
