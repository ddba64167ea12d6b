"""One expand/contract pair on a real database, the way it goes live.

    upgrade to the revisions before the pair → seed →
    expand → old app ("expanded") → rollback → old app ("rolled back") → expand again →
    backfill → old app and new app ("backfilled") → verify → contract → new app ("contracted")

The phases run through schemashift's runner (what ``schemashift expand|backfill|verify|
contract|rollback`` call), each followed by a row count of every table: a phase never
adds or removes rows (contract may drop a table, and its rows with it). Rollback is the
expand revision's downgrade, the only downgrade a pair allows (after contract: fix
forward). The new app ships after backfill, which is what docs/phases.md asks on
MySQL/MariaDB, whose triggers cannot tell a new-app write of NULL from no write.

Any failure raises PairFailed: which pair, which stage, what was raised, where.
"""

from __future__ import annotations

import contextlib
import io
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from schemashift.config import Config
from schemashift.execute.database import mask_error, mask_secret
from schemashift.execute.runner import Runner, RunOptions, error_text
from schemashift.model import Phase
from schemashift.phases.plan import Plan

from pytest_schemashift.apps import BACKFILLED, CONTRACTED, EXPANDED, ROLLED_BACK, PairApps
from pytest_schemashift.history import Pair

Counts = dict[str, int]


class PairFailed(Exception):
    """A stage of a pair failed; the message says which, and why (passwords masked)."""


@dataclass
class PairRun:
    pair: Pair
    alembic_ini: Path
    url: str  # the throw-away database, with its driver (never printed: see mask_secret)
    apps: PairApps
    config: Config  # the project's [tool.schemashift], for this database's dialect
    log: io.StringIO = field(default_factory=io.StringIO)  # what the runner said
    stages: list[str] = field(default_factory=list)  # the stages that passed, in order


def describe(exc: BaseException, in_file: str | None = None) -> str:
    """What was raised, in a few lines: the driver's error for a database error (with
    PostgreSQL's DETAIL), an assertion's message, and the line of ``in_file`` it came from."""
    orig = getattr(exc, "orig", None)  # SQLAlchemy wraps the driver's error
    inner = orig if isinstance(orig, BaseException) else exc
    text = error_text(inner) if type(inner).__module__.startswith(("psycopg", "pymysql")) \
        else str(inner).strip()  # fmt: skip
    text = f"{type(inner).__name__}: {text}" if text else type(inner).__name__
    if in_file is not None:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == in_file]
        if frames:
            f = frames[-1]
            text += f"\n  at {f.filename}:{f.lineno} in {f.name}: {(f.line or '').strip()}"
    return mask_error(text)


def _code_file(fn: Callable[..., object]) -> str | None:
    code = getattr(fn, "__code__", None)
    return code.co_filename if code is not None else None


class _Driver:
    def __init__(self, run: PairRun) -> None:
        self.run = run
        self.engine = sa.create_engine(run.url, poolclass=sa.pool.NullPool)

    # -- reporting ----------------------------------------------------------------------

    @contextlib.contextmanager
    def stage(self, name: str, source: Callable[..., object] | None = None) -> Iterator[None]:
        try:
            yield
        except PairFailed:
            raise
        except Exception as exc:
            why = mask_secret(describe(exc, _code_file(source) if source else None),
                              self.run.url)  # fmt: skip
            done = ", ".join(self.run.stages) or "nothing"
            why = why.replace("\n", "\n  ")
            raise PairFailed(f"{self.run.pair}: {name} failed:\n  {why}\n"
                             f"(stages passed before it: {done})") from None  # fmt: skip
        self.run.stages.append(name)

    # -- the database -------------------------------------------------------------------

    def _ignored(self, table: str) -> bool:
        return table == "alembic_version" or table.startswith("schemashift_")

    def counts(self) -> Counts:
        with self.engine.connect() as conn:
            tables = [t for t in sa.inspect(conn).get_table_names() if not self._ignored(t)]
            prep = conn.dialect.identifier_preparer
            return {t: int(conn.execute(sa.text(f"SELECT count(*) FROM {prep.quote(t)}"))
                           .scalar_one()) for t in tables}  # fmt: skip

    def rows_kept(self, before: Counts, phase: str, may_drop_tables: bool = False) -> None:
        after = self.counts()
        changed = [f"{t}: {before[t]} → {after[t]}" for t in sorted(before.keys() & after.keys())
                   if before[t] != after[t]]  # fmt: skip
        if changed:
            raise PairFailed(f"{self.run.pair}: {phase} changed row counts: {'; '.join(changed)}")
        if not may_drop_tables and sum(after.values()) != sum(before.values()):
            raise PairFailed(f"{self.run.pair}: {phase} lost rows: {sum(before.values())} "
                             f"before, {sum(after.values())} after ({before} → {after})")  # fmt: skip

    def alembic_upgrade(self, targets: tuple[str, ...]) -> None:
        from alembic import command
        from schemashift.alembic.history import load_config

        cfg = load_config(self.run.alembic_ini)
        cfg.attributes["configure_logger"] = False  # leave pytest's logging alone
        cfg.set_main_option("sqlalchemy.url", self.run.url.replace("%", "%%"))
        with self.engine.connect() as conn:
            # The Alembic cookbook's way to hand env.py a connection (pytest-alembic's too).
            cfg.attributes["connection"] = conn
            for target in targets:
                command.upgrade(cfg, target)
            conn.commit()

    def app(self, check: Callable[[sa.Connection, str], object], stage: str) -> None:
        with self.engine.begin() as conn:
            check(conn, stage)

    # -- the pair -----------------------------------------------------------------------

    def phase(self, runner: Runner, plan: Plan, phase: Phase, name: str | None = None,
              *, may_drop_tables: bool = False) -> None:  # fmt: skip
        if phase not in plan.phases_present:
            return
        before = self.counts()
        with self.stage(name or phase.value):
            runner.run(plan, phase)
        self.rows_kept(before, name or phase.value, may_drop_tables)

    def go(self) -> None:
        run, pair, apps = self.run, self.run.pair, self.run.apps
        with self.stage("upgrade to the revisions before the pair"):
            self.alembic_upgrade(pair.before_expand + pair.before_contract)
        if apps.seed is not None:
            seed = apps.seed
            with self.stage("seed", seed), self.engine.begin() as conn:
                seed(conn)
        with self.stage("plan"):
            from schemashift.alembic.plan_revision import plan_revision

            plan = plan_revision(run.alembic_ini, pair.contract, run.config.dialect)
            runner = Runner(run.url, run.config,
                            RunOptions(lock_timeout_ms=run.config.lock_timeout_ms, out=run.log))  # fmt: skip
        self.phase(runner, plan, Phase.EXPAND)
        with self.stage("old-app check on the expanded schema", apps.old_app):
            self.app(apps.old_app, EXPANDED)
        before = self.counts()
        with self.stage("rollback (the expand revision's downgrade)"):
            runner.rollback(plan)
        self.rows_kept(before, "rollback")
        with self.stage("old-app check after rollback", apps.old_app):
            self.app(apps.old_app, ROLLED_BACK)
        self.phase(runner, plan, Phase.EXPAND, "expand again")
        self.phase(runner, plan, Phase.BACKFILL)
        with self.stage("old-app check after backfill (both versions live)", apps.old_app):
            self.app(apps.old_app, BACKFILLED)
        with self.stage("new-app check after backfill (both versions live)", apps.new_app):
            self.app(apps.new_app, BACKFILLED)
        self.phase(runner, plan, Phase.VERIFY)
        self.phase(runner, plan, Phase.CONTRACT, may_drop_tables=True)
        with self.stage("new-app check on the contracted schema", apps.new_app):
            self.app(apps.new_app, CONTRACTED)


def run_pair(run: PairRun) -> None:
    """Drive ``run.pair`` through every stage; raise PairFailed at the first that fails."""
    driver = _Driver(run)
    try:
        driver.go()
    finally:
        driver.engine.dispose()


__all__ = ["PairFailed", "PairRun", "describe", "run_pair"]
