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
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECTS = {
    # package → (import name, alembic.ini inside the package, cwd-relative script_location root)
    "mlflow-skinny": ("mlflow", "mlflow/store/db_migrations/alembic.ini"),
}


# The real-history table (benchmarks/README.md): project → (ini inside site-packages, or a
# generated one: (script_location, version dirs glob)), dialects.
TABLE: dict[str, tuple[str | tuple[str, str], tuple[str, ...]]] = {
    "prefect": ("prefect/server/database/alembic.ini", ("postgres", "sqlite")),
    "dagster": ("dagster/_core/storage/runs/sqlite/alembic/alembic.ini", ("sqlite",)),
    "optuna": ("optuna/storages/_rdb/alembic.ini", ("sqlite", "postgres", "mysql")),
    "jupyterhub": (("jupyterhub/alembic", ""), ("sqlite",)),
    "neutron": (("neutron/db/migration/alembic_migrations", "versions/*/*"), ("mysql",)),
    "zenml": (("zenml/zen_stores/migrations", ""), ("mysql", "sqlite")),
}


def _ini(site: Path, spec: str | tuple[str, str], scratch: Path) -> Path:
    if isinstance(spec, str):
        return site / spec
    location, versions = spec
    text = f"[alembic]\nscript_location = {site / location}\n"
    if versions:
        dirs = [site / location / "versions", *sorted(
            d for d in (site / location).glob(versions) if d.is_dir() and d.name != "__pycache__")]
        text += f"version_locations = {' '.join(map(str, dirs))}\npath_separator = space\n"
    ini = scratch / "alembic.ini"
    ini.write_text(text)
    return ini


def _run(venv: Path, ini: Path, cwd: Path, *args: str) -> tuple[int, str]:
    proc = subprocess.run([str(venv / "bin" / "schemashift"), "lint", "--alembic-config",
                           str(ini), *args], cwd=cwd, capture_output=True, text=True,
                          check=False)  # fmt: skip
    return proc.returncode, proc.stdout


def table(root: Path, projects: list[str]) -> int:
    """Offline counts, exit codes and JSON/SARIF parse checks, plus the SQLite replay, for
    the projects installed in scratch venvs under ``root`` (``root/<project>``)."""
    print("| project | dialect | offline analysed | exit | JSON+SARIF parse | SQLite replay |")
    print("|---|---|---|---|---|---|")
    for name in projects:
        spec, dialects = TABLE[name]
        venv = root / name
        if not (venv / "bin" / "schemashift").exists():
            print(f"| {name} | - | no venv with schemashift at {venv} | | | |")
            continue
        site = Path(subprocess.run(
            [str(venv / "bin" / "python"), "-c",
             "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True).stdout.strip())  # fmt: skip
        with tempfile.TemporaryDirectory(prefix="schemashift-rh-") as tmp:
            scratch = Path(tmp)
            ini = _ini(site, spec, scratch)
            for dialect in dialects:
                rc, out = _run(venv, ini, ini.parent, "--dialect", dialect, "--format", "json")
                try:
                    revs = json.loads(out)["revisions"]
                    _, sarif = _run(venv, ini, ini.parent, "--dialect", dialect,
                                    "--format", "sarif")  # fmt: skip
                    json.loads(sarif)
                    parse = "yes"
                except (ValueError, KeyError):
                    revs, parse = [], "NO"
                done = sum(r["status"] == "analysed" for r in revs)
                replay = ""
                if dialect == "sqlite":
                    db = scratch / f"{name}.db"
                    db.unlink(missing_ok=True)
                    _, rout = _run(venv, ini, ini.parent, "--replay-database",
                                   f"sqlite:///{db}", "--format", "json")  # fmt: skip
                    with contextlib.suppress(ValueError, KeyError):
                        rrevs = json.loads(rout)["revisions"]
                        replay = f"{sum(r['status'] == 'analysed' for r in rrevs)}/{len(rrevs)}"
                print(f"| {name} | {dialect} | {done}/{len(revs)} | {rc} | {parse} | {replay} |")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", default="mlflow-skinny==3.17.2")
    parser.add_argument("--venv", type=Path, help="reuse this scratch venv")
    parser.add_argument("--table", nargs="*", metavar="PROJECT",
                        help=f"print the real-history table ({', '.join(TABLE)}: default all)")
    parser.add_argument("--root", type=Path, default=Path("/tmp/rh"),
                        help="where the --table projects' venvs are (ROOT/<project>)")
    args = parser.parse_args()
    if args.table is not None:
        return table(args.root, args.table or list(TABLE))
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
