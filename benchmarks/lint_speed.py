#!/usr/bin/env python3
"""Lint speed: schemashift against squawk on one large PostgreSQL migration.

Run by hand (this is not a pytest test):

    python benchmarks/lint_speed.py                  # 20,000 statements, 7 runs each
    python benchmarks/lint_speed.py --runs 3 --statements 5000
    python benchmarks/lint_speed.py --only squawk    # just the generator and squawk
    python benchmarks/lint_speed.py --output /tmp/big.sql --generate-only

It writes a seeded, reproducible migration (a realistic mix of DDL, data changes, SET
and comments with distinct identifiers) to a temporary directory, then times

    schemashift lint --format json FILE
    squawk --reporter json FILE

alternately, output discarded, and prints for each the median wall time and the median
user+sys CPU time (the run and every process it forked and reaped, from RUSAGE_CHILDREN
deltas), the ratios schemashift/squawk of both (target: wall at most 2x) and statements
per second. Both linters exit
non-zero when they find problems; that is expected and ignored. Before timing, one run of
each is checked: schemashift's JSON must parse and report every statement, squawk's JSON
must parse and contain no syntax errors (otherwise the comparison would not be fair).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 2.0

# --------------------------------------------------------------------------------------
# Migration generator
# --------------------------------------------------------------------------------------

# fmt: off
TABLE_WORDS = [
    "account", "invoice", "shipment", "payment", "refund", "coupon", "cart", "wishlist",
    "review", "address", "supplier", "warehouse", "stock_move", "category", "tag",
    "session", "audit_event", "subscription", "plan", "price_rule", "discount",
    "return_request", "ticket", "message", "notification", "webhook", "api_key", "team",
    "membership", "report", "carrier", "parcel", "batch_job", "export", "import_run",
]
COLUMN_WORDS = [
    "status", "note", "amount", "total", "quantity", "code", "label", "email", "phone",
    "reference", "external_id", "priority", "score", "weight", "rank", "source", "channel",
    "currency", "country", "region", "city", "postcode", "expires_at", "closed_at",
    "approved_at", "version", "checksum", "metadata", "flags", "remark", "title", "slug",
]
# fmt: on
# (type, weight)
COLUMN_TYPES = [
    ("text", 25),
    ("varchar(64)", 8),
    ("varchar(255)", 7),
    ("integer", 15),
    ("bigint", 10),
    ("numeric(12,2)", 8),
    ("boolean", 8),
    ("timestamptz", 8),
    ("timestamp", 3),
    ("date", 3),
    ("jsonb", 4),
    ("uuid", 1),
]
TEXT_VALUES = ["pending", "active", "archived", "draft", "sent", "failed", "n/a", "EUR"]
COMMENTS = {  # by operation; "" is for any statement
    "": [
        "requested by the data team",
        "cleanup after the v{v} release",
        "part of the multi-currency work",
        "checked on staging with a production-size copy",
    ],
    "create_table": ["new table for the {w} feature", "owned by the {w} service"],
    "add_column_nullable": [
        "nullable: old clients ignore this column",
        "needed by the {w} service",
    ],
    "add_column_default": ["constant default: metadata only on PG 11+"],
    "add_column_not_null": ["every {w} must have this"],
    "create_index": ["index for the admin search page", "speeds up the {w} export"],
    "create_index_concurrently": ["online build, must run outside a transaction"],
    "alter_column_type": ["widen before the values overflow", "keep in sync with the API schema"],
    "set_not_null": ["all rows backfilled by the worker"],
    "add_fk_not_valid": ["NOT VALID now, validated in a later step"],
    "add_fk": ["enforce the relation to {w}"],
    "validate_constraint": ["validate the FK added NOT VALID earlier"],
    "rename_column": ["clearer name for API v{v}"],
    "drop_column": ["no reader left since v{v}"],
    "update_where": ["backfill one batch", "fix rows imported with the wrong value"],
    "set_timeout": ["hot table: keep the lock short"],
}

# (operation, weight): the statement mix. Weights are relative.
MIX = [
    ("create_table", 7),
    ("add_column_nullable", 12),
    ("add_column_default", 8),
    ("add_column_not_null", 4),
    ("create_index", 6),
    ("create_index_concurrently", 8),
    ("alter_column_type", 6),
    ("set_not_null", 5),
    ("drop_not_null", 1),
    ("set_default", 2),
    ("add_fk_not_valid", 5),
    ("add_fk", 3),
    ("validate_constraint", 4),
    ("rename_column", 4),
    ("drop_column", 4),
    ("update_where", 7),
    ("set_timeout", 4),
]


@dataclass
class Column:
    name: str
    type: str
    nullable: bool = True
    ref_target: str | None = None  # bigint column pointing at another table's id
    has_fk: bool = False


@dataclass
class Table:
    name: str
    columns: list[Column] = field(default_factory=list)

    def plain(self) -> list[Column]:
        """Columns that renames, drops and type changes may touch."""
        return [c for c in self.columns if c.ref_target is None and c.name != "id"]


class MigrationGenerator:
    """Seeded generator of a coherent PostgreSQL migration.

    Coherent: every ALTER, index and UPDATE names a table and column that exist at that
    point, so the file runs on a real server after the baseline schema
    (``baseline_sql()``): about a third of the statements touch tables created earlier in
    the same file, the rest touch pre-existing tables (where lock hazards matter).
    """

    def __init__(self, seed: int, baseline_tables: int = 150) -> None:
        self.rng = random.Random(seed)
        self.counter = 0
        self.existing: list[Table] = []  # created by the baseline, before this migration
        self.new: list[Table] = []  # created in this migration
        self.pending_not_valid: list[tuple[str, str]] = []
        self.ops: dict[str, Callable[[], str | None]] = {
            name: getattr(self, "op_" + name) for name, _ in MIX
        }
        self.op_names = [name for name, _ in MIX]
        self.op_weights = [w for _, w in MIX]
        self.type_names = [t for t, _ in COLUMN_TYPES]
        self.type_weights = [w for _, w in COLUMN_TYPES]
        for _ in range(baseline_tables):
            self.existing.append(self._new_table(self.rng.randint(4, 8), self.existing))

    # -- naming and values ---------------------------------------------------------
    def _uid(self) -> int:
        self.counter += 1
        return self.counter

    def _col_name(self) -> str:
        return f"{self.rng.choice(COLUMN_WORDS)}_{self._uid()}"

    def _col_type(self) -> str:
        return self.rng.choices(self.type_names, self.type_weights)[0]

    def _literal(self, type_: str) -> str:
        r = self.rng
        if type_ == "text" or type_.startswith("varchar"):
            return f"'{r.choice(TEXT_VALUES)}'"
        if type_ in ("integer", "bigint"):
            return str(r.randint(0, 1000))
        if type_.startswith("numeric"):
            return f"{r.randint(0, 99999)}.{r.randint(0, 99):02d}"
        if type_ == "boolean":
            return r.choice(["true", "false"])
        if type_ in ("timestamptz", "timestamp"):
            return r.choice(["now()", "'2024-01-01 00:00:00'"])
        if type_ == "date":
            return r.choice(["current_date", "'2024-01-01'"])
        if type_ == "jsonb":
            return "'{}'::jsonb"
        if type_ == "uuid":
            return "gen_random_uuid()"
        raise ValueError(type_)

    def _default(self, type_: str) -> str:
        """Mostly constant defaults; now() (stable) and gen_random_uuid() (volatile)."""
        if type_ in ("timestamptz", "timestamp"):
            return self.rng.choice(["now()", "CURRENT_TIMESTAMP", "'2024-01-01 00:00:00'"])
        if type_ == "uuid":
            return "gen_random_uuid()"
        return self._literal(type_)

    def _new_table(self, n_cols: int, pool: list[Table]) -> Table:
        t = Table(f"{self.rng.choice(TABLE_WORDS)}_{self._uid()}")
        t.columns.append(Column("id", "bigint", nullable=False))
        # Reference columns to earlier tables (no constraint yet: added later by ADD FK).
        refs = self.rng.randint(0, 2) if pool else 0
        for _ in range(refs):
            target = self.rng.choice(pool)
            name = f"{target.name.rsplit('_', 1)[0]}_id_{self._uid()}"
            t.columns.append(Column(name, "bigint", nullable=True, ref_target=target.name))
        while len(t.columns) < n_cols:
            t.columns.append(
                Column(self._col_name(), self._col_type(), nullable=self.rng.random() < 0.6)
            )
        return t

    def _table(self) -> Table:
        if self.new and self.rng.random() < 0.35:
            return self.rng.choice(self.new)
        return self.rng.choice(self.existing)

    @staticmethod
    def _create_sql(t: Table) -> str:
        lines = ["    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"]
        for c in t.columns[1:]:
            lines.append(f"    {c.name} {c.type}{'' if c.nullable else ' NOT NULL'}")
        return f"CREATE TABLE {t.name} (\n" + ",\n".join(lines) + "\n);"

    # -- operations: each returns one statement, or None when not applicable -------
    def op_create_table(self) -> str:
        t = self._new_table(self.rng.randint(3, 6), self.existing + self.new)
        self.new.append(t)
        return self._create_sql(t)

    def _add_column(self, col: Column, default: str | None) -> str:
        t = self._table()
        t.columns.append(col)
        sql = f"ALTER TABLE {t.name} ADD COLUMN {col.name} {col.type}"
        if default is not None:
            sql += f" DEFAULT {default}"
        if not col.nullable:
            sql += " NOT NULL"
        return sql + ";"

    def op_add_column_nullable(self) -> str:
        if self.rng.random() < 0.2:  # a reference column for a later FK
            target = self.rng.choice(self.existing + self.new)
            name = f"{target.name.rsplit('_', 1)[0]}_id_{self._uid()}"
            return self._add_column(Column(name, "bigint", ref_target=target.name), None)
        return self._add_column(Column(self._col_name(), self._col_type()), None)

    def op_add_column_default(self) -> str:
        type_ = self._col_type()
        not_null = self.rng.random() < 0.4
        return self._add_column(
            Column(self._col_name(), type_, nullable=not not_null), self._default(type_)
        )

    def op_add_column_not_null(self) -> str:
        return self._add_column(Column(self._col_name(), self._col_type(), nullable=False), None)

    def _indexable(self, t: Table) -> list[Column]:
        return [c for c in t.columns if c.type not in ("jsonb", "boolean") and c.name != "id"]

    def _create_index(self, concurrently: bool) -> str | None:
        t = self._table()
        cols = self._indexable(t)
        if not cols:
            return None
        r = self.rng
        picked = r.sample(cols, k=min(len(cols), r.choice([1, 1, 1, 2])))
        if len(picked) == 1 and r.random() < 0.1:
            picked.append(t.columns[0])  # (col, id): keyset pagination
        name = f"ix_{t.name}_{picked[0].name}_{self._uid()}"[:63]
        head = "CREATE UNIQUE INDEX" if r.random() < 0.05 else "CREATE INDEX"
        if concurrently:
            head += " CONCURRENTLY"
            if r.random() < 0.5:
                head += " IF NOT EXISTS"
        sql = f"{head} {name} ON {t.name} ({', '.join(c.name for c in picked)})"
        if r.random() < 0.1:
            sql += f"\n    WHERE {picked[0].name} IS NOT NULL"
        return sql + ";"

    def op_create_index(self) -> str | None:
        return self._create_index(concurrently=False)

    def op_create_index_concurrently(self) -> str | None:
        return self._create_index(concurrently=True)

    def op_alter_column_type(self) -> str | None:
        t = self._table()
        r = self.rng
        candidates: list[tuple[Column, str, str]] = []  # (column, new type, USING or "")
        for c in t.plain():
            if c.type == "integer":
                candidates.append((c, r.choice(["bigint", "numeric(14,2)"]), ""))
            elif c.type == "varchar(64)":
                candidates.append((c, r.choice(["varchar(255)", "text"]), ""))
            elif c.type == "varchar(255)":
                candidates.append((c, "text", ""))
            elif c.type == "text":
                candidates.append((c, "varchar(255)", ""))
            elif c.type == "timestamp":
                candidates.append((c, "timestamptz", ""))
            elif c.type == "numeric(12,2)":
                candidates.append((c, "numeric(16,2)", ""))
            elif c.type == "bigint":
                candidates.append((c, "numeric(20,0)", ""))
            elif c.type == "date":
                candidates.append((c, "timestamptz", f" USING {c.name}::timestamptz"))
        if not candidates:
            return None
        c, new_type, using = r.choice(candidates)
        c.type = new_type
        if r.random() < 0.3:
            return f"ALTER TABLE {t.name}\n    ALTER COLUMN {c.name} TYPE {new_type}{using};"
        return f"ALTER TABLE {t.name} ALTER COLUMN {c.name} TYPE {new_type}{using};"

    def op_set_not_null(self) -> str | None:
        t = self._table()
        cols = [c for c in t.plain() if c.nullable]
        if not cols:
            return None
        c = self.rng.choice(cols)
        c.nullable = False
        return f"ALTER TABLE {t.name} ALTER COLUMN {c.name} SET NOT NULL;"

    def op_drop_not_null(self) -> str | None:
        t = self._table()
        cols = [c for c in t.plain() if not c.nullable]
        if not cols:
            return None
        c = self.rng.choice(cols)
        c.nullable = True
        return f"ALTER TABLE {t.name} ALTER COLUMN {c.name} DROP NOT NULL;"

    def op_set_default(self) -> str | None:
        t = self._table()
        cols = t.plain()
        if not cols:
            return None
        c = self.rng.choice(cols)
        return f"ALTER TABLE {t.name} ALTER COLUMN {c.name} SET DEFAULT {self._default(c.type)};"

    def _add_fk(self, not_valid: bool) -> str | None:
        t = self._table()
        cols = [c for c in t.columns if c.ref_target and not c.has_fk]
        if not cols:
            return None
        c = self.rng.choice(cols)
        c.has_fk = True
        name = f"fk_{self._uid()}_{c.name}"[:63]
        suffix = " NOT VALID" if not_valid else ""
        if not_valid:
            self.pending_not_valid.append((t.name, name))
        if self.rng.random() < 0.4:
            return (
                f"ALTER TABLE {t.name}\n    ADD CONSTRAINT {name}\n"
                f"    FOREIGN KEY ({c.name}) REFERENCES {c.ref_target} (id){suffix};"
            )
        return (
            f"ALTER TABLE {t.name} ADD CONSTRAINT {name} "
            f"FOREIGN KEY ({c.name}) REFERENCES {c.ref_target} (id){suffix};"
        )

    def op_add_fk_not_valid(self) -> str | None:
        return self._add_fk(not_valid=True)

    def op_add_fk(self) -> str | None:
        return self._add_fk(not_valid=False)

    def op_validate_constraint(self) -> str | None:
        if not self.pending_not_valid:
            return None
        table, name = self.pending_not_valid.pop(self.rng.randrange(len(self.pending_not_valid)))
        return f"ALTER TABLE {table} VALIDATE CONSTRAINT {name};"

    def op_rename_column(self) -> str | None:
        t = self._table()
        cols = t.plain()
        if not cols:
            return None
        c = self.rng.choice(cols)
        old, c.name = c.name, self._col_name()
        return f"ALTER TABLE {t.name} RENAME COLUMN {old} TO {c.name};"

    def op_drop_column(self) -> str | None:
        t = self._table()
        cols = t.plain()
        if len(cols) < 2:
            return None
        c = self.rng.choice(cols)
        t.columns.remove(c)
        if_exists = "IF EXISTS " if self.rng.random() < 0.2 else ""
        return f"ALTER TABLE {t.name} DROP COLUMN {if_exists}{c.name};"

    def op_update_where(self) -> str | None:
        t = self._table()
        cols = t.plain()
        if not cols:
            return None
        r = self.rng
        c = r.choice(cols)
        lo = r.randrange(0, 5_000_000, 1000)
        value = self._literal(c.type)
        if r.random() < 0.3:
            return (
                f"UPDATE {t.name}\n   SET {c.name} = {value}\n"
                f" WHERE id >= {lo} AND id < {lo + 1000};"
            )
        if c.nullable and r.random() < 0.5:
            return f"UPDATE {t.name} SET {c.name} = {value} WHERE {c.name} IS NULL AND id < {lo};"
        return f"UPDATE {t.name} SET {c.name} = {value} WHERE id BETWEEN {lo} AND {lo + 999};"

    def op_set_timeout(self) -> str:
        if self.rng.random() < 0.75:
            return f"SET lock_timeout = '{self.rng.choice(['500ms', '1s', '2s', '5s'])}';"
        return f"SET statement_timeout = '{self.rng.choice(['30s', '1min', '5min'])}';"

    # -- output ------------------------------------------------------------------
    def _comment(self, op: str) -> str:
        r = self.rng
        pool = COMMENTS[op] if op in COMMENTS and r.random() < 0.8 else COMMENTS[""]
        text = r.choice(pool)
        text = text.format(v=f"{r.randint(1, 9)}.{r.randint(0, 20)}", w=r.choice(TABLE_WORDS))
        if r.random() < 0.08:
            ticket = f"SHOP-{r.randint(100, 9999)}"
            return f"/*\n * {ticket}: {text}.\n * Reviewed by the DBA on-call.\n */"
        return f"-- SHOP-{r.randint(100, 9999)}: {text}"

    def migration_sql(self, statements: int) -> str:
        r = self.rng
        out = [
            "-- Generated by benchmarks/lint_speed.py: a large, realistic PostgreSQL migration.",
            "",
        ]
        done = 0
        while done < statements:
            op = r.choices(self.op_names, self.op_weights)[0]
            sql = self.ops[op]()
            if sql is None:
                continue
            if r.random() < 0.12:
                out.append(self._comment(op))
            if r.random() < 0.02:
                sql += "  -- see runbook"
            out.append(sql)
            if r.random() < 0.1:
                out.append("")
            done += 1
        out.append("")
        return "\n".join(out)

    def baseline_sql(self) -> str:
        """The schema the migration expects: tables that exist before it runs."""
        return "\n".join(self._create_sql(t) for t in self.existing) + "\n"


def generate(statements: int, seed: int) -> tuple[str, str]:
    """Return (migration, baseline schema) for ``statements`` statements."""
    gen = MigrationGenerator(seed)
    baseline = gen.baseline_sql()  # before the migration mutates the column lists
    return gen.migration_sql(statements), baseline


# --------------------------------------------------------------------------------------
# Running the linters
# --------------------------------------------------------------------------------------


class SetupError(Exception):
    pass


@dataclass
class Tool:
    name: str
    argv: list[str]  # without the file
    env: dict[str, str] | None = None

    def command(self, path: Path) -> list[str]:
        return [*self.argv, str(path)]

    def display(self) -> str:
        return shlex.join(self.argv) + " FILE"


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join("    " + line for line in text.strip().splitlines()[-lines:])


def find_schemashift(
    override: str | None, hint: str = ", or use --only squawk to time squawk alone"
) -> Tool:
    """The console script next to sys.executable, else ``python -m schemashift``.

    Probed with ``--help``; raises SetupError with a clear message when not runnable.
    """
    if override:
        candidates = [Tool("schemashift", [*shlex.split(override), "lint", "--format", "json"])]
    else:
        candidates = []
        exe = "schemashift.exe" if os.name == "nt" else "schemashift"
        script = Path(sys.executable).parent / exe
        if script.is_file() and os.access(script, os.X_OK):
            candidates.append(Tool("schemashift", [str(script), "lint", "--format", "json"]))
        # Not installed: run the package from this checkout.
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p
        )
        argv = [sys.executable, "-m", "schemashift", "lint", "--format", "json"]
        candidates.append(Tool("schemashift", argv, env))
    failures = []
    for tool in candidates:
        base = tool.argv[:-3]  # drop "lint --format json"
        try:
            proc = subprocess.run(
                [*base, "--help"], capture_output=True, text=True, env=tool.env, timeout=60
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            failures.append(f"  {shlex.join(base)} --help: {exc}")
            continue
        if proc.returncode == 0:
            return tool
        output = _tail(proc.stderr or proc.stdout)
        failures.append(f"  {shlex.join(base)} --help exited {proc.returncode}:\n{output}")
    raise SetupError(
        "schemashift is not runnable, tried:\n"
        + "\n".join(failures)
        + "\nInstall it into this interpreter's environment (pip install -e .), or pass "
        f"--schemashift CMD{hint}."
    )


def find_squawk(override: str | None) -> Tool:
    if override:
        exe = override
    else:
        local = Path(sys.executable).parent / ("squawk.exe" if os.name == "nt" else "squawk")
        exe = str(local) if local.is_file() else (shutil.which("squawk") or "")
    if not exe:
        raise SetupError(
            "squawk not found next to the interpreter nor on PATH: pip install squawk-cli "
            "(or pip install -e '.[dev]'), or pass --squawk PATH, or use --only schemashift."
        )
    try:
        proc = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SetupError(f"squawk is not runnable ({exe} --version): {exc}") from exc
    if proc.returncode != 0:
        raise SetupError(f"{exe} --version exited {proc.returncode}:\n{_tail(proc.stderr)}")
    return Tool("squawk", [exe, "--reporter", "json"])


def check_schemashift(tool: Tool, path: Path, statements: int, cwd: Path, timeout: float) -> str:
    proc = subprocess.run(
        tool.command(path), capture_output=True, text=True, env=tool.env, cwd=cwd, timeout=timeout
    )
    try:
        doc = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise SetupError(
            f"schemashift output is not JSON ({exc}); exit {proc.returncode}, stderr:\n"
            f"{_tail(proc.stderr)}"
        ) from exc
    reported = len(doc.get("statements", []))
    summary = doc.get("summary", {}).get("statements")
    if reported != statements or (summary is not None and summary != statements):
        raise SetupError(
            f"schemashift reported {reported} statements (summary: {summary}), "
            f"expected {statements}"
        )
    s = doc.get("summary", {})
    return (
        f"{reported} statements, {s.get('errors', '?')} errors, {s.get('warnings', '?')} "
        f"warnings, {s.get('breaking', '?')} breaking (exit {proc.returncode})"
    )


def check_squawk(tool: Tool, path: Path, cwd: Path, timeout: float) -> str:
    proc = subprocess.run(
        tool.command(path), capture_output=True, text=True, cwd=cwd, timeout=timeout
    )
    try:
        violations = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise SetupError(
            f"squawk output is not JSON ({exc}); exit {proc.returncode}, stderr:\n"
            f"{_tail(proc.stderr)}"
        ) from exc
    syntax = [v for v in violations if v.get("rule_name") == "syntax-error"]
    if syntax:
        first = syntax[0]
        raise SetupError(
            f"squawk found {len(syntax)} syntax errors in the generated file, first at line "
            f"{first.get('line')}: {first.get('message')}. Fix the generator."
        )
    return f"{len(violations)} violations (exit {proc.returncode})"


@dataclass
class Sample:
    wall: float  # seconds, start to exit
    cpu: float  # user + system seconds of the run and every process it waited for


def time_once(tool: Tool, path: Path, cwd: Path, timeout: float) -> Sample:
    """One run: wall time, and CPU time from the RUSAGE_CHILDREN delta (it includes the
    processes the tool forked and reaped, e.g. schemashift's second core)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        tool.command(path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=tool.env,
        cwd=cwd,
        timeout=timeout,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Sample(wall, cpu)


def byte_compile() -> str | None:
    """Compile the schemashift package being measured to ``__pycache__``: an editable
    install under PYTHONDONTWRITEBYTECODE=1 (this machine sets it) never caches bytecode, so
    every run would pay the compile a user's installed copy never pays."""
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("schemashift")
    if spec is None or not spec.submodule_search_locations:
        return None
    package = next(iter(spec.submodule_search_locations))
    compileall.compile_dir(package, quiet=1)
    return package


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--statements", type=int, default=20_000, help="statements to generate")
    p.add_argument("--runs", type=int, default=7, help="timed runs of each linter")
    p.add_argument("--seed", type=int, default=20_240_601, help="generator seed")
    p.add_argument("--only", choices=["schemashift", "squawk"], help="time one linter only")
    p.add_argument("--schemashift", metavar="CMD", help="command that runs schemashift")
    p.add_argument("--squawk", metavar="PATH", help="squawk executable")
    p.add_argument("--output", type=Path, help="write the migration here (kept)")
    p.add_argument(
        "--baseline",
        type=Path,
        help="also write the schema the migration expects (to replay it on a real server)",
    )
    p.add_argument("--generate-only", action="store_true", help="write the file and stop")
    p.add_argument("--timeout", type=float, default=600, help="seconds per linter run")
    p.add_argument(
        "--strict", action="store_true", help=f"exit 1 when the ratio is above {TARGET_RATIO}x"
    )
    args = p.parse_args(argv)
    if args.statements < 1 or args.runs < 1:
        p.error("--statements and --runs must be positive")

    if not args.generate_only:
        compiled = byte_compile()
        if compiled:
            print(f"byte-compiled {compiled} (as `pip install` does for a wheel; "
                  "PYTHONDONTWRITEBYTECODE would otherwise recompile it on every run)")
    with tempfile.TemporaryDirectory(prefix="schemashift-bench-") as tmp:
        tmpdir = Path(tmp)
        path = args.output or tmpdir / f"migration_{args.statements}.sql"
        t0 = time.perf_counter()
        migration, baseline = generate(args.statements, args.seed)
        path.write_text(migration, encoding="utf-8")
        if args.baseline:
            args.baseline.write_text(baseline, encoding="utf-8")
        size = path.stat().st_size
        lines = migration.count("\n")
        print(
            f"file: {path}\n      {args.statements:,} statements, {lines:,} lines, "
            f"{size / 1e6:.2f} MB, seed {args.seed} (generated in {time.perf_counter() - t0:.2f} s)"
        )
        if args.generate_only:
            if not args.output:
                print("(--generate-only without --output: the file is removed on exit)")
            return 0

        try:
            tools: list[Tool] = []
            if args.only != "squawk":
                tools.append(find_schemashift(args.schemashift))
            if args.only != "schemashift":
                tools.append(find_squawk(args.squawk))
            # One untimed run of each: checks the output, warms the page cache.
            for tool in tools:
                if tool.name == "schemashift":
                    check = check_schemashift(tool, path, args.statements, tmpdir, args.timeout)
                else:
                    check = check_squawk(tool, path, tmpdir, args.timeout)
                print(f"{tool.name + ':':13}{tool.display()}\n{'':13}check run: {check}")
        except (SetupError, subprocess.TimeoutExpired) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2

        times: dict[str, list[Sample]] = {t.name: [] for t in tools}
        load_before = _loadavg()
        for i in range(args.runs):
            # Alternate, and swap who goes first each round.
            for tool in tools if i % 2 == 0 else tools[::-1]:
                times[tool.name].append(time_once(tool, path, tmpdir, args.timeout))

    print(f"\n{args.runs} timed runs of each, alternating, output to /dev/null")
    print(f"load average before/after: {load_before} / {_loadavg()}\n")
    print(
        f"{'':13}{'wall median':>12}{'min':>9}{'max':>9}{'statements/s':>14}"
        f"{'user+sys median':>17}{'min':>9}{'max':>9}"
    )
    medians: dict[str, float] = {}
    cpu_medians: dict[str, float] = {}
    for name, samples in times.items():
        walls = [s.wall for s in samples]
        cpus = [s.cpu for s in samples]
        med = medians[name] = statistics.median(walls)
        cpu = cpu_medians[name] = statistics.median(cpus)
        print(
            f"{name:13}{med:>11.3f}s{min(walls):>8.3f}s{max(walls):>8.3f}s"
            f"{args.statements / med:>14,.0f}{cpu:>16.3f}s{min(cpus):>8.3f}s{max(cpus):>8.3f}s"
        )
    if len(medians) == 2:
        ratio = medians["schemashift"] / medians["squawk"]
        cpu_ratio = cpu_medians["schemashift"] / max(cpu_medians["squawk"], 1e-9)
        verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
        print(
            f"\nratio schemashift/squawk, wall (medians): {ratio:.2f}x  "
            f"(target <= {TARGET_RATIO:.1f}x: {verdict})"
        )
        print(f"ratio schemashift/squawk, user+sys CPU (medians): {cpu_ratio:.2f}x  (no target)")
        if args.strict and ratio > TARGET_RATIO:
            return 1
    return 0


def _loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


if __name__ == "__main__":
    sys.exit(main())
