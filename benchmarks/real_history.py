"""Lint the whole Alembic history of a real public project, installed from PyPI.

Run by hand (it downloads packages):

    .venv/bin/python benchmarks/real_history.py                 # MLflow's tracking store
    .venv/bin/python benchmarks/real_history.py --package mlflow-skinny==3.17.2
    .venv/bin/python benchmarks/real_history.py --table [PROJECT …] [--root /tmp/rh]

It creates a scratch virtualenv outside the repository, installs the project and this
checkout into it, and runs ``schemashift lint --alembic-config`` on the project's own
migrations for PostgreSQL and for MySQL: every revision is listed with its status, and
the wall time of each run is printed. Nothing of the project is copied into this repo.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROJECTS = {
    # package → (import name, alembic.ini inside the package, cwd-relative script_location root)
    "mlflow-skinny": ("mlflow", "mlflow/store/db_migrations/alembic.ini"),
}


# The real-history table (benchmarks/README.md): the versions measured there, and the extra
# packages each needs in its scratch venv (prefect runs its PostgreSQL revisions on asyncpg).
PINS: dict[str, tuple[str, ...]] = {
    "prefect": ("prefect==3.9.1", "asyncpg"),
    "dagster": ("dagster==1.13.29",),
    "optuna": ("optuna==5.1.0",),
    "jupyterhub": ("jupyterhub==6.1.1",),
    "neutron": ("neutron==29.0.0",),
    "zenml": ("zenml[local]==0.98.0",),  # its migrations import sqlmodel
}
# project → (ini inside site-packages, or a generated one: (script_location, glob of version
# dirs, ``{dialect}`` = Alembic's dialect name: prefect picks its dir per dialect in env.py)),
# dialects.
TABLE: dict[str, tuple[str | tuple[str, str], tuple[str, ...]]] = {
    "prefect": (("prefect/server/database/_migrations", "versions/{dialect}"),
                ("postgres", "sqlite")),
    "dagster": ("dagster/_core/storage/runs/sqlite/alembic/alembic.ini", ("sqlite",)),
    "optuna": ("optuna/storages/_rdb/alembic.ini", ("sqlite", "postgres", "mysql")),
    "jupyterhub": (("jupyterhub/alembic", ""), ("sqlite",)),
    "neutron": (("neutron/db/migration/alembic_migrations", "versions/*/*"), ("mysql",)),
    "zenml": (("zenml/zen_stores/migrations", ""), ("mysql", "sqlite")),
}  # fmt: skip
ALEMBIC_NAMES = {"postgres": "postgresql", "mysql": "mysql", "sqlite": "sqlite"}
# The driver a project's own env.py replays on, where its revisions need it: prefect sends
# `format('%I.%I')` through exec_driver_sql, which asyncpg passes as it is and psycopg
# reads as a placeholder.
REPLAY_DRIVERS = {("prefect", "postgres"): "postgresql+asyncpg"}


def _ini(site: Path, spec: str | tuple[str, str], scratch: Path, dialect: str) -> Path:
    if isinstance(spec, str):
        return site / spec
    location, versions = spec
    text = f"[alembic]\nscript_location = {site / location}\n"
    if versions:
        pattern = versions.format(dialect=ALEMBIC_NAMES[dialect])
        dirs = [site / location / "versions", *sorted(
            d for d in (site / location).glob(pattern) if d.is_dir() and d.name != "__pycache__")]
        text += f"version_locations = {' '.join(map(str, dirs))}\npath_separator = space\n"
    ini = scratch / f"alembic-{dialect}.ini"
    ini.write_text(text)
    return ini


def _run(venv: Path, ini: Path, cwd: Path, *args: str) -> tuple[int, str]:
    proc = subprocess.run([str(venv / "bin" / "schemashift"), "lint", "--alembic-config",
                           str(ini), *args], cwd=cwd, capture_output=True, text=True,
                          check=False)  # fmt: skip
    return proc.returncode, proc.stdout


def _venv(venv: Path, packages: tuple[str, ...]) -> None:
    """A scratch venv with the project, then this checkout (editable, so a fix here is
    measured without reinstalling) and PyMySQL for the MariaDB replays."""
    python = venv / "bin" / "python"
    if (venv / "bin" / "schemashift").exists():
        return
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, *packages], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[mysql]"], check=True)


@contextlib.contextmanager
def _scratch_database(dialect: str, server: dict[str, str], name: str,
                      scratch: Path) -> Iterator[str]:  # fmt: skip
    """An empty database for one replay: a file on SQLite, else created on the server
    and dropped afterwards."""
    if dialect == "sqlite":
        db = scratch / f"{name}.db"
        db.unlink(missing_ok=True)
        yield f"sqlite:///{db}"
        return
    import sqlalchemy as sa

    url = sa.engine.make_url(server[dialect])
    db_name = f"rh_{name}_{uuid.uuid4().hex[:8]}"
    quoted = f'"{db_name}"' if dialect == "postgres" else f"`{db_name}`"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {quoted}")
    try:
        yield url.set(database=db_name).render_as_string(hide_password=False)
    finally:
        force = " WITH (FORCE)" if dialect == "postgres" else ""
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted}{force}")
        admin.dispose()


def _analysed(out: str) -> tuple[list[dict[str, Any]], int]:
    revs = json.loads(out)["revisions"]
    return revs, sum(r["status"] == "analysed" for r in revs)


def table(root: Path, projects: list[str], server: dict[str, str], replay: bool) -> int:
    """Per project and dialect: revisions analysed offline, the exit code, whether JSON and
    SARIF parse, and the ``--replay-database`` count on a scratch database of that dialect,
    for the projects installed in scratch venvs under ``root`` (``root/<project>``, created
    on first use). The revisions not analysed follow the table, with their reasons."""
    print("| project | dialect | revisions | analysed offline | % | exit | JSON+SARIF parse "
          "| analysed with --replay-database | replay exit |")
    print("|---|---|---|---|---|---|---|---|---|")
    misses: list[str] = []
    for name in projects:
        spec, dialects = TABLE[name]
        venv = root / name
        _venv(venv, PINS[name])
        site = Path(subprocess.run(
            [str(venv / "bin" / "python"), "-c",
             "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True).stdout.strip())  # fmt: skip
        with tempfile.TemporaryDirectory(prefix="schemashift-rh-") as tmp:
            scratch = Path(tmp)
            for dialect in dialects:
                ini = _ini(site, spec, scratch, dialect)
                start = time.perf_counter()
                rc, out = _run(venv, ini, ini.parent, "--dialect", dialect, "--format", "json")
                elapsed = time.perf_counter() - start
                try:
                    revs, done = _analysed(out)
                    _, sarif = _run(venv, ini, ini.parent, "--dialect", dialect,
                                    "--format", "sarif")  # fmt: skip
                    json.loads(sarif)
                    parse = "yes"
                except (ValueError, KeyError):
                    revs, done, parse = [], 0, "NO"
                misses += [f"- {name} {dialect} offline {r['revision']} ({r['status']}, "
                           f"line {r.get('line')}): {r.get('error')}"
                           for r in revs if r["status"] != "analysed"]  # fmt: skip
                replayed = rrc = ""
                if replay and (dialect == "sqlite" or server.get(dialect)):
                    with _scratch_database(dialect, server, name, scratch) as url:
                        driver = REPLAY_DRIVERS.get((name, dialect))
                        if driver:
                            url = url.replace(url.split("://")[0], driver, 1)
                        rrc_, rout = _run(venv, ini, ini.parent, "--replay-database", url,
                                          "--format", "json")  # fmt: skip
                    rrc = str(rrc_)
                    try:
                        rrevs, rdone = _analysed(rout)
                        replayed = f"{rdone}/{len(rrevs)}"
                        first = next((r for r in rrevs if r["status"] != "analysed"), None)
                        if first is not None:
                            misses.append(f"- {name} {dialect} replay {first['revision']} "
                                          f"(line {first.get('line')}): {first.get('error')}")
                    except (ValueError, KeyError):
                        replayed = "no JSON"
                pct = f"{100 * done / len(revs):.1f}" if revs else "-"
                print(f"| {name} | {dialect} | {len(revs)} | {done} | {pct} | {rc} | {parse} "
                      f"| {replayed} | {rrc} |  ({elapsed:.1f} s offline)", flush=True)
    print("\nNot analysed (offline: every one; replay: the first, the rest are not run):")
    print("\n".join(misses) or "- none")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", default="mlflow-skinny==3.17.2")
    parser.add_argument("--venv", type=Path, help="reuse this scratch venv")
    parser.add_argument("--table", nargs="*", metavar="PROJECT",
                        help=f"print the real-history table ({', '.join(TABLE)}: default all)")
    parser.add_argument("--root", type=Path, default=Path("/tmp/rh"),
                        help="where the --table projects' venvs are (ROOT/<project>)")
    parser.add_argument("--postgres-url", default=os.environ.get("SCHEMASHIFT_TEST_POSTGRES_URL"),
                        help="a login that may CREATE DATABASE, for the PostgreSQL replays")
    parser.add_argument("--mysql-url", default=os.environ.get("SCHEMASHIFT_TEST_MYSQL_URL"),
                        help="a login that may CREATE DATABASE, for the MariaDB replays")
    parser.add_argument("--no-replay", action="store_true", help="--table: offline only")
    args = parser.parse_args()
    if args.table is not None:
        server = {k: v for k, v in (("postgres", args.postgres_url),
                                    ("mysql", args.mysql_url)) if v}  # fmt: skip
        return table(args.root, args.table or list(TABLE), server, not args.no_replay)
    name = args.package.split("==")[0]
    if name not in PROJECTS:
        print(f"unknown project {name!r}; known: {', '.join(PROJECTS)}", file=sys.stderr)
        return 2
    _, ini = PROJECTS[name]
    venv = args.venv or Path(tempfile.mkdtemp(prefix="schemashift-real-")) / "venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", args.package], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-e", str(ROOT)], check=True)
    site = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip())  # fmt: skip
    print(f"{args.package}: {site / ini}")
    for dialect in ("postgres", "mysql"):
        start = time.perf_counter()
        # The project's script_location is relative to site-packages, as its own tooling runs it.
        proc = subprocess.run(
            [str(venv / "bin" / "schemashift"), "lint", "--alembic-config", ini,
             "--dialect", dialect, "--format", "json"],
            cwd=site, capture_output=True, text=True, check=False,
        )  # fmt: skip
        elapsed = time.perf_counter() - start
        if proc.returncode not in (0, 1):
            print(f"{dialect}: exit {proc.returncode}: {proc.stderr.strip()}")
            return 1
        doc = json.loads(proc.stdout)
        counts = collections.Counter(r["status"] for r in doc["revisions"])
        print(f"\n{dialect}: {len(doc['revisions'])} revisions in {elapsed:.2f} s: "
              f"{dict(counts)}; summary {doc['summary']}")  # fmt: skip
        for r in doc["revisions"]:
            line = f"  {r['status']:<9} {r['revision']:<14} {r['statements']:>3} statements"
            print(line + (f"  {r['error'][:110]}" if r.get("error") else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
