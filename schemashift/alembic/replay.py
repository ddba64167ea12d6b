"""``lint --replay-database URL``: run the history on a scratch database and lint what ran.

Offline rendering reads a revision as an empty database would answer it
(``inspector.py``). A revision whose work depends on what the database says — rows it
selects, a catalog it reads through a helper that refuses offline mode — is read here as
it really runs: each revision's ``upgrade()`` is run online, revision by revision, on an
**empty** database the user names (or a throw-away container with ``docker``), and every
statement the connection executes (SQLAlchemy's ``before_cursor_execute``) is recorded at
the line of the revision file that executed it (the innermost frame of that file on the
stack, as offline rendering does). Those statements go through the same lint pipeline as
the offline ones (``alembic/lint.py``).

Catalog reads made for the revision by SQLAlchemy's reflection (``sa.inspect``, batch
mode's reflection) and Alembic's own ``alembic_version`` bookkeeping are not part of the
revision's SQL. A database that already holds a table is refused: the replay creates and
changes tables, and a non-empty one would both be changed and answer differently.

The URL's password is never printed (``mask_password``).
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
import re
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from schemashift.alembic.history import (
    HistoryError,
    RevisionSQL,
    _column_types,
    _display_path,
    _line_in,
    _one_line,
    _revision_suppressions,
    _revisions_of_files,
    load_config,
    script_directory,
    select_revisions,
    stdout_to_stderr,
    with_ancestors,
)
from schemashift.alembic.offline import Invocation
from schemashift.execute.database import mask_error, mask_password
from schemashift.model import LintReport, RevisionInfo
from schemashift.sql.split import SplitStatement, split_sql

DIALECTS = {"postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql", "sqlite": "sqlite"}
DRIVERS = {"postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql",
           "mariadb": "mariadb+pymysql"}  # fmt: skip
DOCKER_IMAGES = {"postgres": "postgres:16", "mysql": "mariadb:10.11"}
# Frames of SQLAlchemy's catalog reads: what they execute is not the revision's SQL.
_CATALOG = re.compile(r"[\\/]sqlalchemy[\\/](engine[\\/]reflection\.py|dialects[\\/])")


class ReplayError(HistoryError):
    """The replay database cannot be used (unreachable, not empty, unknown dialect)."""


@dataclass
class _Executed:
    sql: str
    line: int | None
    synthetic: bool = False  # BEGIN/COMMIT the migration context issued
    planned: bool = False  # executed by an op.schemashift_change (its strategy's steps)


@dataclass
class _Revision:
    source: str
    executed: list[_Executed] = field(default_factory=list)
    operations: list[Any] = field(default_factory=list)
    change_depth: int = 0


def lint_replay(
    config_path: Path,
    config: Any,
    url: str,
    *,
    revision: str | None = None,
    since: str | None = None,
    since_git: str | None = None,
    files: Sequence[Path] = (),
) -> LintReport:
    """Replay the history on ``url`` (or a container: ``docker``) and lint it; the lint
    dialect is the database's (raises ReplayError / HistoryError)."""
    from schemashift.alembic.lint import lint_revisions
    from schemashift.analysis.pipeline import LintPipeline

    with _database(url, config.dialect) as engine:
        dialect = DIALECTS.get(engine.dialect.name)
        if dialect is None:
            raise ReplayError(f"--replay-database: unsupported database {engine.dialect.name!r}")
        if dialect != config.dialect:
            config = config.with_overrides(dialect=dialect)
        revisions = replay_history(config_path, engine, revision=revision, since=since,
                                   since_git=since_git, files=files)  # fmt: skip
    return lint_revisions(revisions, LintPipeline(config))


@contextlib.contextmanager
def _database(url: str, dialect: str) -> Iterator[Any]:
    """An engine on the replay database: the URL's, or a throw-away container."""
    import sqlalchemy as sa

    container = None
    if url.strip().lower() == "docker":
        container, url = _container(dialect)
    try:
        try:
            parsed = sa.engine.make_url(url)
        except Exception:
            raise ReplayError(f"--replay-database {mask_password(url)}: not a database URL"
                              ) from None  # fmt: skip
        if parsed.drivername in DRIVERS:
            parsed = parsed.set(drivername=DRIVERS[parsed.drivername])
        engine: Any
        try:
            if _is_async(parsed):
                from sqlalchemy.ext.asyncio import create_async_engine

                engine = create_async_engine(parsed, poolclass=sa.pool.NullPool)
            else:
                engine = sa.create_engine(parsed, poolclass=sa.pool.NullPool)
        except Exception as exc:
            raise ReplayError(f"--replay-database {mask_password(url)}: "
                              f"{mask_error(_one_line(exc))}") from None  # fmt: skip
        try:
            _refuse_non_empty(engine, url)
            yield engine
        finally:
            _dispose(engine)
    finally:
        if container is not None:
            with contextlib.suppress(Exception):
                container.stop()


def _is_async(url: Any) -> bool:
    """An asyncio driver (``postgresql+asyncpg``, ``sqlite+aiosqlite`` …): some revisions
    only run on the driver their project uses (asyncpg sends ``format('%I')`` as it is,
    psycopg reads ``%I`` as a placeholder)."""
    try:
        return bool(url.get_dialect().is_async)
    except Exception:
        return False


T = TypeVar("T")


def _on_connection(engine: Any, fn: Callable[[Any], T]) -> T:
    """``fn(connection)`` on a plain ``Connection``: an async engine's is its sync facade,
    inside ``run_sync``, as the env.py of an asyncio project runs its migrations."""
    from sqlalchemy.engine import Engine

    if not isinstance(engine, Engine):  # an AsyncEngine (its module needs greenlet)
        import asyncio

        async def run() -> T:
            async with engine.connect() as conn:
                result: T = await conn.run_sync(fn)
                return result

        return asyncio.run(run())
    with engine.connect() as conn:
        return fn(conn)


def _dispose(engine: Any) -> None:
    from sqlalchemy.engine import Engine

    # An AsyncEngine's pool is its sync engine's (NullPool: no connection is left open).
    (engine if isinstance(engine, Engine) else engine.sync_engine).dispose()


def _container(dialect: str) -> tuple[Any, str]:
    """A PostgreSQL or MariaDB testcontainer for ``--replay-database docker``."""
    image = DOCKER_IMAGES.get(dialect)
    if image is None:
        raise ReplayError(f"--replay-database docker: no container for {dialect} "
                          "(use a sqlite:///file URL)")  # fmt: skip
    try:
        if dialect == "postgres":
            from testcontainers.postgres import PostgresContainer

            pg = PostgresContainer(image, driver="psycopg")
            pg.start()
            return pg, pg.get_connection_url()
        from testcontainers.mysql import MySqlContainer

        my = MySqlContainer(image, dialect="pymysql")
        my.start()
        return my, my.get_connection_url()
    except ImportError:
        raise ReplayError("--replay-database docker needs the testcontainers package "
                          "(pip install testcontainers)") from None  # fmt: skip
    except Exception as exc:
        raise ReplayError(f"--replay-database docker: no Docker container could be started: "
                          f"{_one_line(exc)}") from None  # fmt: skip


def _refuse_non_empty(engine: Any, url: str) -> None:
    """Refuse a database holding any table or view (in any schema of ours on PostgreSQL)."""
    import sqlalchemy as sa

    def tables(conn: Any) -> list[str]:
        insp = sa.inspect(conn)
        schemas: list[str | None] = [None]
        if conn.dialect.name == "postgresql":
            schemas += [s for s in insp.get_schema_names()
                        if s not in ("public", "information_schema")
                        and not s.startswith(("pg_", "crdb_"))]  # fmt: skip
        found = []
        for schema in schemas:
            names = insp.get_table_names(schema=schema) + insp.get_view_names(schema=schema)
            found += [f"{schema}.{n}" if schema else n for n in names]
        return found

    try:
        found = _on_connection(engine, tables)
    except Exception as exc:
        raise ReplayError(f"--replay-database {mask_password(url)}: "
                          f"{mask_error(_one_line(exc))}") from None  # fmt: skip
    if found:
        shown = ", ".join(sorted(found)[:3]) + (", …" if len(found) > 3 else "")
        raise ReplayError(
            f"--replay-database {mask_password(url)} is not empty ({len(found)} table(s): "
            f"{shown}): name an empty scratch database, the history is upgraded on it"
        )


def replay_history(
    config_path: Path,
    engine: Any,
    *,
    revision: str | None = None,
    since: str | None = None,
    since_git: str | None = None,
    files: Sequence[Path] = (),
) -> list[RevisionSQL]:
    """Upgrade the (empty) database revision by revision; each chosen revision with the
    statements it executed, at the lines that executed them."""
    with stdout_to_stderr():
        cfg = load_config(config_path)
        script, failures = script_directory(cfg)
        if files:
            chosen = _revisions_of_files(script, files)
        else:
            chosen = select_revisions(script, revision=revision, since=since,
                                      since_git=since_git, cwd=config_path.parent)  # fmt: skip
        return _replay(cfg, script, chosen, failures, engine)


def _replay(cfg: Any, script: Any, chosen: list[Any], failures: dict[str, str],
            engine: Any) -> list[RevisionSQL]:  # fmt: skip
    from alembic.operations import Operations
    from alembic.runtime.environment import EnvironmentContext
    from sqlalchemy import event

    dialect = DIALECTS[engine.dialect.name]
    wanted = {rev.revision for rev in chosen}
    out: list[RevisionSQL] = []
    state: dict[str, _Revision | None] = {"current": None}
    server = _server(engine)
    transactional = False

    def before_execute(conn: Any, cursor: Any, statement: str, parameters: Any,
                       context: Any, executemany: bool) -> None:  # fmt: skip
        current = state["current"]
        if current is None:
            return
        line = _revision_line(current.source)
        if line is None:
            return
        sql = _inline(statement, parameters, conn.dialect.paramstyle, executemany)
        current.executed.append(_Executed(sql, line, planned=current.change_depth > 0))

    def on_begin(conn: Any) -> None:
        if state["current"] is not None and transactional:
            state["current"].executed.append(_Executed("BEGIN", None, synthetic=True))

    def on_commit(conn: Any) -> None:
        if state["current"] is not None and transactional:
            state["current"].executed.append(_Executed("COMMIT", None, synthetic=True))

    def run(conn: Any) -> None:
        with _operations_seen(state):
            upgrade(conn)

    def upgrade(conn: Any) -> None:
        nonlocal transactional
        event.listen(conn, "before_cursor_execute", before_execute)
        event.listen(conn, "begin", on_begin)
        event.listen(conn, "commit", on_commit)
        env = EnvironmentContext(cfg, script)
        with env:
            version_table = cfg.get_main_option("version_table") or "alembic_version"
            env.configure(connection=conn, transaction_per_migration=True,
                          version_table=version_table)  # fmt: skip
            context = env.get_context()
            transactional = bool(context.impl.transactional_ddl)
            # As `alembic upgrade` does: the version table exists before the first revision
            # runs (some revisions change it).
            context._ensure_version_table()
            if conn.in_transaction():
                conn.commit()
            stopped: str | None = None
            for rev in with_ancestors(script, chosen):
                keep = rev.revision in wanted
                if stopped is not None:
                    if keep:
                        out.append(_not_run(rev, stopped))
                    continue
                source = str(Path(getattr(rev.module, "__file__", None) or rev.path))
                record = _Revision(source)
                error: str | None = None
                line: int | None = None
                failure = failures.get(rev.revision)
                if failure is not None or not callable(getattr(rev.module, "upgrade", None)):
                    error = failure or "no upgrade() function"
                else:
                    state["current"] = record
                    try:
                        with context.begin_transaction(_per_migration=True):
                            with Operations.context(context):
                                rev.module.upgrade()
                            context.stamp(script, rev.revision)
                    except Exception as exc:
                        error = f"failed on replay: {mask_error(_one_line(exc))}"
                        line = _line_in(exc, source)
                    finally:
                        state["current"] = None
                if error is not None:
                    stopped = rev.revision
                if keep:
                    out.append(_revision_sql(rev, record, dialect, server, error, line))

    _on_connection(engine, run)
    return out


@contextlib.contextmanager
def _operations_seen(state: dict[str, _Revision | None]) -> Iterator[None]:
    """Keep each revision's typed operations (the old types they state) and mark what an
    ``op.schemashift_change`` executes as planned."""
    from alembic.operations.base import AbstractOperations

    original = AbstractOperations.invoke

    def invoke(self: Any, operation: Any) -> Any:
        current = state["current"]
        if current is None:
            return original(self, operation)
        current.operations.append(operation)
        change = type(operation).__name__ == "ChangeOp"
        current.change_depth += change
        try:
            return original(self, operation)
        finally:
            current.change_depth -= change

    AbstractOperations.invoke = invoke  # type: ignore[method-assign]
    try:
        yield
    finally:
        AbstractOperations.invoke = original  # type: ignore[method-assign]


def _revision_line(source: str) -> int | None:
    """The line of the revision file that led to this statement; None when it is not the
    revision's (outside its frames, or a catalog read SQLAlchemy makes for it)."""
    frame: Any = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename == source:
            return int(frame.f_lineno)
        if _CATALOG.search(filename):
            return None
        frame = frame.f_back
    return None


def _revision_sql(rev: Any, record: _Revision, dialect: str, server: str, error: str | None,
                  line: int | None) -> RevisionSQL:  # fmt: skip
    path = _display_path(Path(rev.path))
    statements: list[SplitStatement] = []
    synthetic: set[int] = set()
    planned: set[int] = set()
    last_line = 1
    for executed in record.executed:
        at = executed.line or last_line
        last_line = at
        for item in split_sql(executed.sql, path, dialect):
            if executed.synthetic:
                synthetic.add(len(statements))
            if executed.planned:
                planned.add(len(statements))
            statement = replace(item.statement, file=path, line=at, index=len(statements))
            statements.append(SplitStatement(statement, item.tokens, item.offset))
    count = len(statements) - len(synthetic)
    status = "analysed" if error is None else "partial" if count else "failed"
    note = f"replayed on {server}: the SQL it executed"
    info = RevisionInfo(rev.revision, path, status, count, error, line if error else None,
                        note)  # fmt: skip
    types_ = _column_types([Invocation(op, 0, 0, None) for op in record.operations], dialect)
    contract = "contract" in (getattr(rev, "branch_labels", None) or ())
    return RevisionSQL(info, statements, types_, _revision_suppressions(Path(rev.path)),
                       frozenset(synthetic), contract, frozenset(planned))  # fmt: skip


def _not_run(rev: Any, stopped: str) -> RevisionSQL:
    path = _display_path(Path(rev.path))
    reason = f"not replayed: revision {stopped} before it failed on the replay database"
    return RevisionSQL(RevisionInfo(rev.revision, path, "failed", 0, reason),
                       suppressed=_revision_suppressions(Path(rev.path)))  # fmt: skip


def _server(engine: Any) -> str:
    name = {"postgresql": "PostgreSQL", "mysql": "MySQL", "mariadb": "MariaDB",
            "sqlite": "SQLite"}.get(engine.dialect.name, engine.dialect.name)  # fmt: skip
    version = getattr(engine.dialect, "server_version_info", None)
    if getattr(engine.dialect, "is_mariadb", False):
        name = "MariaDB"
    return f"{name} {'.'.join(str(v) for v in version)}" if version else name


# -- statements with their parameters, as SQL ----------------------------------------------

_PLACEHOLDERS = {
    "pyformat": re.compile(r"%\((\w+)\)s|%s|%%"),
    "format": re.compile(r"%s|%%"),
    "qmark": re.compile(r"\?"),
    "named": re.compile(r"(?<!:):(\w+)"),
    "numeric": re.compile(r"(?<!:):(\d+)"),
    "numeric_dollar": re.compile(r"\$(\d+)"),
}


def _inline(statement: str, parameters: Any, paramstyle: str, executemany: bool) -> str:
    """The statement with its parameters written as literals (the first row of an
    executemany): what the lint pipeline reads."""
    if executemany and isinstance(parameters, (list, tuple)):
        parameters = parameters[0] if parameters else None
    if not parameters:
        return statement.replace("%%", "%") if paramstyle in ("pyformat", "format") else statement
    pattern = _PLACEHOLDERS.get(paramstyle)
    if pattern is None:
        return statement
    positional = iter(parameters) if isinstance(parameters, (list, tuple)) else iter(())

    def value(match: re.Match[str]) -> str:
        text = match.group(0)
        if text == "%%":
            return "%"
        key = match.group(1) if match.groups() else None
        try:
            if key is None:
                return _literal(next(positional))
            if isinstance(parameters, dict):
                return _literal(parameters[key])
            return _literal(parameters[int(key) - 1])
        except (KeyError, IndexError, StopIteration, ValueError):
            return text

    return pattern.sub(value, statement)


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float, decimal.Decimal)):
        return repr(value) if not isinstance(value, decimal.Decimal) else str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "X'" + bytes(value).hex() + "'"
    if isinstance(value, (datetime.date, datetime.time, datetime.datetime)):
        return "'" + value.isoformat(sep=" ") + "'" if isinstance(value, datetime.datetime) \
            else "'" + value.isoformat() + "'"  # fmt: skip
    if isinstance(value, uuid.UUID):
        return f"'{value}'"
    return "'" + str(value).replace("'", "''") + "'"
