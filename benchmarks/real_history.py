"""Lint the whole Alembic history of a real public project, installed from PyPI.

Run by hand (it downloads packages):

    .venv/bin/python benchmarks/real_history.py                 # MLflow's tracking store
    .venv/bin/python benchmarks/real_history.py --package mlflow-skinny==3.17.2

It creates a scratch virtualenv outside the repository, installs the project and this
checkout into it, and runs ``schemashift lint --alembic-config`` on the project's own
migrations for PostgreSQL and for MySQL: every revision is listed with its status, and
the wall time of each run is printed. Nothing of the project is copied into this repo.
"""

from __future__ import annotations

import argparse
import collections
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", default="mlflow-skinny==3.17.2")
    parser.add_argument("--venv", type=Path, help="reuse this scratch venv")
    args = parser.parse_args()
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
