"""Read an Alembic history without its env.py: every revision rendered offline.

Real projects' env.py files import the application, need a Flask context or a live
database, so we never run them. The ``ScriptDirectory`` comes from the config alone, and
each revision's ``upgrade()`` runs under an offline (``as_sql``) context for the target
dialect. Every operation is recorded with the SQL it emits and the line of the revision
file that invoked it (``offline.py``), so findings point at the line a reviewer reads.

What a revision asks the database (``sa.inspect(bind)``, ``has_table``, ``get_columns``,
a ``SELECT`` through ``op.get_bind()``, SQLite batch mode reflecting the table) is answered
from a schema model of the revisions rendered before it (``inspector.py``): such a revision
is ``analysed``, with a note saying so. One that still cannot be rendered offline (or
fails to import) is reported as ``partial`` (some SQL came out before it stopped) or
``failed``, with a one-line reason; the rest of the history is still read.
"""

from __future__ import annotations

import ast
import re
import subprocess
import types
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from schemashift.alembic.inspector import SchemaModel, modelling
from schemashift.alembic.offline import ALEMBIC_DIALECTS, Invocation, Recorder, recording
from schemashift.model import RevisionInfo
from schemashift.sql.split import SplitStatement, split_sql

_IGNORE = re.compile(r"#\s*schemashift\s*:\s*ignore\s+([A-Z]{2,4}\d{3}(?:\s*,\s*[A-Z]{2,4}\d{3})*)", re.IGNORECASE)


class HistoryError(ValueError):
    """The Alembic project itself cannot be read (bad config, missing script directory)."""


@dataclass
class RevisionSQL:
    """One revision, rendered: its statements (at revision-file lines) and how it went."""

    info: RevisionInfo
    statements: list[SplitStatement] = field(default_factory=list)
    # Old column types the typed ops state (alter_column(existing_type=…)).
    column_types: dict[tuple[str, str], str] = field(default_factory=dict)
    suppressed: frozenset[str] = frozenset()
    # Indices of the BEGIN/COMMIT statements Alembic emits around the operations: they tell
    # the linter where transactions are, but nobody wrote them, so they are not reported.
    synthetic: frozenset[int] = frozenset()
    # On the `contract` branch: runs only once no old app version is live (the gate).
    contract: bool = False
    # Indices of statements that are the source SQL of an ``op.schemashift_change``: what
    # its strategy plans in phases, not what runs (alembic/change_op.py).
    planned: frozenset[int] = frozenset()


def load_config(path: Path) -> Any:
    """An Alembic ``Config`` read as Alembic 1.16+ reads it: ``alembic.ini`` and the
    ``pyproject.toml`` with [tool.alembic] beside it (either may be the one named; the
    .ini's [alembic] wins, then [tool.alembic]), ``%(here)s`` being each file's directory.
    Alembic's ``pyproject`` template keeps script_location in pyproject.toml and only the
    database URL and logging in alembic.ini."""
    from alembic.config import Config

    if not path.is_file():
        raise HistoryError(f"{path}: no such Alembic config file")
    if path.name == "pyproject.toml":
        ini, toml = path.parent / "alembic.ini", path
    else:
        ini, toml = path, path.parent / "pyproject.toml"
    cfg = Config(str(ini) if ini.is_file() else None,
                 toml_file=str(toml) if _has_tool_alembic(toml) else None)  # fmt: skip
    if not cfg.get_alembic_option("script_location"):
        raise HistoryError(f"{path}: no script_location in the [alembic] section (nor in "
                           "[tool.alembic] of pyproject.toml beside it)")  # fmt: skip
    return cfg


def _has_tool_alembic(path: Path) -> bool:
    try:
        return bool(re.search(r"^\[tool\.alembic\]", path.read_text(), re.M))
    except (OSError, UnicodeDecodeError):
        return False


def find_alembic_config(start: Path) -> Path | None:
    """``alembic.ini``, or ``pyproject.toml`` with a [tool.alembic] table, in ``start``."""
    ini = start / "alembic.ini"
    if ini.is_file():
        return ini
    pyproject = start / "pyproject.toml"
    if _has_tool_alembic(pyproject):
        return pyproject
    return None


@contextmanager
def _tolerant_loading() -> Iterator[dict[str, str]]:
    """Load revision files so that one that fails to import fails alone.

    Alembic imports every revision file to build its graph, and one bad import stops
    everything. We read the identifiers of a file that fails from its text instead, and
    remember why it failed.
    """
    from alembic.script.base import Script

    failures: dict[str, str] = {}
    original = Script.__dict__["_from_path"]  # the classmethod object (Alembic >= 1.14)

    def from_path(cls: Any, scriptdir: Any, path: Any) -> Any:
        try:
            return original.__func__(cls, scriptdir, path)
        except Exception as exc:
            module = _identifiers_from_text(Path(path))
            if module is None:
                raise
            failures[module.revision] = f"cannot import: {_one_line(exc)}"
            return Script(module, module.revision, str(path))

    Script._from_path = classmethod(from_path)  # type: ignore[method-assign,assignment]
    try:
        yield failures
    finally:
        Script._from_path = original  # type: ignore[method-assign]


def _identifiers_from_text(path: Path) -> types.ModuleType | None:
    """revision / down_revision / branch_labels / depends_on from a file's top-level literals."""
    if path.suffix != ".py":
        return None
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    values: dict[str, Any] = {}
    for node in tree.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        for target in targets:
            if isinstance(target, ast.Name) and value is not None:
                try:
                    values[target.id] = ast.literal_eval(value)
                except ValueError:
                    continue
    if not isinstance(values.get("revision"), str):
        return None
    module = types.ModuleType(path.stem)
    module.__file__ = str(path)
    for name in ("revision", "down_revision", "branch_labels", "depends_on"):
        setattr(module, name, values.get(name))
    module.upgrade = None  # type: ignore[attr-defined]
    return module


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = f"{type(exc).__name__}: {text}" if not text.startswith(type(exc).__name__) else text
    return text if len(text) <= 240 else text[:237] + "..."


def script_directory(cfg: Any) -> tuple[Any, dict[str, str]]:
    from alembic.script import ScriptDirectory

    try:
        script = ScriptDirectory.from_config(cfg)
    except Exception as exc:
        raise HistoryError(f"cannot read the Alembic script directory: {_one_line(exc)}") from None
    with _tolerant_loading() as failures:
        try:
            script.revision_map.heads  # noqa: B018 - builds the map, importing every file
        except Exception as exc:
            raise HistoryError(f"cannot build the revision graph: {_one_line(exc)}") from None
    return script, failures


def select_revisions(
    script: Any,
    *,
    revision: str | None = None,
    since: str | None = None,
    since_git: str | None = None,
    cwd: Path | None = None,
) -> list[Any]:
    """The revisions to lint, oldest first (branches and merges in dependency order)."""
    try:
        ordered = list(reversed(list(script.walk_revisions("base", "heads"))))
        if revision is not None:
            return [script.get_revision(revision)]
        if since is not None:
            anchor = script.get_revision(since)
            before = {
                r.revision for r in script.revision_map.iterate_revisions(anchor.revision, "base")
            }
            return [r for r in ordered if r.revision not in before]
    except Exception as exc:
        raise HistoryError(_one_line(exc)) from None
    if since_git is not None:
        # Every version location (``script.versions`` refuses when there are several).
        locations = [Path(p) for p in script._version_locations if Path(p).is_dir()]
        changed = _changed_files(since_git, locations, cwd)
        return [r for r in ordered if Path(r.path).resolve() in changed]
    return ordered


def _changed_files(ref: str, versions: Sequence[Path], cwd: Path | None) -> set[Path]:
    """Revision files added or modified since ``ref`` (committed, staged or not, untracked)
    in the version directories."""
    if not versions:
        return set()
    where = cwd or versions[0]
    dirs = [str(v) for v in versions]
    try:
        top = _git(["rev-parse", "--show-toplevel"], where).strip()
        _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], where)
        diff = _git(["diff", "--name-only", "--diff-filter=AMR", ref, "--", *dirs], where)
        untracked = _git(["ls-files", "--others", "--exclude-standard", "--", *dirs], where)
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or ""
        if not detail and isinstance(exc, subprocess.CalledProcessError):
            detail = (f"not a commit git knows here (git {exc.cmd[1]} exited {exc.returncode})"
                      if exc.cmd[1:2] == ["rev-parse"] else f"git {exc.cmd[1]} failed")  # fmt: skip
        detail = detail or str(exc)
        raise HistoryError(
            f"--since-git {ref}: {' '.join(str(detail).split()) or 'git failed'}"
        ) from None
    names = [n for n in (diff + "\n" + untracked).splitlines() if n.strip()]
    root = Path(top)
    untracked_names = {n for n in untracked.splitlines() if n.strip()}
    out = set()
    for name in names:
        # `git diff` names are relative to the top level, `ls-files` to the cwd.
        base = where if name in untracked_names else root
        out.add((base / name).resolve())
    return out


def _git(args: list[str], cwd: Path) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=60
    )
    return proc.stdout


def render_revision(
    cfg: Any,
    script: Any,
    rev: Any,
    dialect: str,
    failure: str | None,
    model: SchemaModel | None = None,
) -> RevisionSQL:
    """Run one revision's ``upgrade()`` offline and collect its statements; ``model``: the
    schema the revisions before built, which answers the revision's database reads and
    which its operations then change."""
    if model is None:
        model = SchemaModel(dialect, _version_table(cfg))
    path = _display_path(Path(rev.path))
    info = RevisionInfo(rev.revision, path, "failed", 0, failure)
    suppressed = _revision_suppressions(Path(rev.path))
    if failure is not None or not callable(getattr(rev.module, "upgrade", None)):
        reason = failure or "no upgrade() function"
        return RevisionSQL(replace(info, error=reason), suppressed=suppressed)
    source = str(Path(rev.module.__file__ or rev.path))
    before = model.snapshot()
    # Values inline, as the offline branch of a standard env.py renders them, and as
    # placeholders when a value cannot be written as a literal (CompileError). Online view
    # first: ``context.is_offline_mode()`` says False, as it does when the revision really
    # runs (helpers refuse offline mode only because they read the database, which the
    # model answers); a revision that fails on that path and asked is read again as
    # offline, the path it offers for ``--sql``.
    literal_binds, online = True, True
    kept: tuple[Recorder, str | None, int | None, Any, int] | None = None
    attempt = 0
    while True:
        recorder = Recorder(source_file=source)
        if attempt:
            model.restore(before)
        attempt += 1
        model.answers, model.mode_asked = 0, False
        error: str | None = None
        line: int | None = None
        try:
            _run_upgrade(cfg, script, rev, dialect, recorder, model,
                         literal_binds=literal_binds, online=online)  # fmt: skip
        except Exception as exc:  # the revision fails, the run goes on
            error, line = _explain(exc, model), _line_in(exc, source)
            if type(exc).__name__ == "CompileError" and literal_binds:
                literal_binds = False
                continue
            if online and model.mode_asked:
                kept = (recorder, error, line, model.snapshot(), model.answers)
                online = False
                continue
            if kept is not None:  # both failed: report the path the revision really runs
                recorder, error, line, tables, model.answers = kept
                model.restore(tables)
        break
    statements, synthetic = _statements(recorder, path, dialect)
    planned = _planned_changes(recorder, statements, path, dialect)
    types_ = _column_types(recorder.invocations, dialect)
    if error is None:
        status = "analysed"
    else:
        status = "partial" if len(statements) > len(synthetic) else "failed"
    count = len(statements) - len(synthetic)
    note = MODELLED_NOTE if model.answers else None
    info = RevisionInfo(rev.revision, path, status, count, error, line if error else None, note)
    contract = "contract" in (getattr(rev, "branch_labels", None) or ())
    return RevisionSQL(info, statements, types_, suppressed, synthetic, contract, planned)


def _planned_changes(recorder: Recorder, statements: list[SplitStatement], path: str,
                     dialect: str) -> frozenset[int]:  # fmt: skip
    """Append the source SQL of each ``op.schemashift_change`` (offline it writes only
    comments: its statements need the live catalog) at the line of the call, so the
    change it plans is read like any other; return their indices."""
    planned: set[int] = set()
    for inv in recorder.invocations:
        op = inv.operation
        if type(op).__name__ != "ChangeOp" or op.part == "rollback":
            continue
        for item in split_sql(op.sql, path, dialect):
            statement = replace(item.statement, line=inv.line or 1, index=len(statements))
            planned.add(len(statements))
            statements.append(SplitStatement(statement, item.tokens, item.offset))
    return frozenset(planned)


def _line_in(exc: BaseException, source: str) -> int | None:
    """The line of the revision file where ``exc`` was raised (its innermost frame there)."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == source:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _display_path(path: Path) -> str:
    """The revision file as a user would type it: relative to the working directory."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


MODELLED_NOTE = (
    "modelled: its database reads were answered from the schema the revisions "
    "before it build on an empty database"
)


def _version_table(cfg: Any) -> str:
    return str(cfg.get_main_option("version_table") or "alembic_version")


def _run_upgrade(
    cfg: Any,
    script: Any,
    rev: Any,
    dialect: str,
    recorder: Recorder,
    model: SchemaModel,
    *,
    literal_binds: bool,
    online: bool = False,
) -> None:
    from alembic.operations import Operations
    from alembic.runtime.environment import EnvironmentContext

    env = EnvironmentContext(cfg, script)

    def is_offline_mode() -> bool:
        # ``context.is_offline_mode()`` / ``requires_connection()`` (Alembic itself never
        # asks: only revisions and their helpers do). The SQL still goes to the buffer.
        model.mode_asked = True
        if online:
            model.answers += 1
        return not online

    env.is_offline_mode = is_offline_mode  # type: ignore[method-assign]
    env.requires_connection = lambda: not is_offline_mode()  # type: ignore[method-assign]
    with env:
        env.configure(
            dialect_name=ALEMBIC_DIALECTS.get(dialect, dialect),
            as_sql=True,
            output_buffer=recorder.buffer,
            literal_binds=literal_binds,
            # No pyformat escaping: a % in a name or literal is written as it is.
            dialect_opts={"paramstyle": "named"},
        )
        context = env.get_context()
        impl = context.impl

        def emit(construct: Any) -> None:
            """A data change executed through the bind: written at the line that ran it."""
            from alembic.operations.ops import ExecuteSQLOp

            start, line = recorder.buffer.tell(), recorder.caller_line()
            impl._exec(construct)
            if not recorder.depth:
                recorder.invocations.append(
                    Invocation(ExecuteSQLOp(construct), start, recorder.buffer.tell(), line)
                )

        with Operations.context(context), recording(recorder), modelling(model, context, emit):
            if impl.transactional_ddl:
                impl.emit_begin()
            rev.module.upgrade()
            if impl.transactional_ddl:
                impl.emit_commit()


_BATCH_TABLE = re.compile(r'batch mode with dialect \w+ requires a live database connection '
                          r'with which to reflect the table "([^"]+)"')


def _explain(exc: BaseException, model: SchemaModel | None = None) -> str:
    """Why a revision could not be rendered offline, in one line a user understands."""
    text = _one_line(exc)
    name = type(exc).__name__
    missing = _BATCH_TABLE.search(text)
    if missing and model is not None and model.table(missing.group(1)) is None:
        return (f"batch mode copies table {missing.group(1)!r}, which no revision before "
                "it creates (the application creates it?): its columns are not known "
                "offline")
    if name == "NoInspectionAvailable" or "MockConnection" in text:
        return f"reads the database (op.get_bind() / sa.inspect), not possible offline: {text}"
    if "batch mode" in text or "reflect" in text.lower():
        return f"needs a live database (batch mode without copy_from?): {text}"
    if name in ("ImportError", "ModuleNotFoundError"):
        return f"cannot import: {text}"
    return f"failed while rendering offline: {text}"


def _statements(
    recorder: Recorder, path: str, dialect: str
) -> tuple[list[SplitStatement], frozenset[int]]:
    """The revision's SQL as statements, each at the revision-file line of its operation,
    and which of them Alembic emitted on its own (transaction control)."""
    sql = recorder.sql
    invocations = sorted(recorder.invocations, key=lambda inv: inv.start)
    out: list[SplitStatement] = []
    synthetic: set[int] = set()
    for item in split_sql(sql, path, dialect):
        line = _batch_line(item.offset, recorder) or _line_for(item.offset, invocations)
        # Alembic's own BEGIN/COMMIT around operations (batch mode's SQL also comes out
        # after its operations, at flush: that is kept, at the last operation's line).
        if item.statement.sql.upper() in ("BEGIN", "COMMIT") and not any(
            inv.start <= item.offset < inv.end for inv in invocations
        ):
            synthetic.add(len(out))
        statement = replace(item.statement, file=path, line=line, index=len(out))
        out.append(SplitStatement(statement, item.tokens, item.offset))
    return out, frozenset(synthetic)


def _batch_line(offset: int, recorder: Recorder) -> int | None:
    """The line of the queued batch-mode operation whose SQL holds ``offset``."""
    for start, end, line in recorder.batch_spans:
        if start <= offset < end:
            return line
    return None


def _line_for(offset: int, invocations: Sequence[Invocation]) -> int:
    """The line of the operation whose SQL holds ``offset`` (else the nearest one before)."""
    # The operation that wrote it; a queued batch operation writes nothing when invoked
    # (zero width) and must not claim SQL written right after it (``bind.execute`` inside
    # the batch block).
    for inv in invocations:
        if inv.start <= offset < inv.end:
            return inv.line or 1
    best: int | None = None
    for inv in invocations:
        if inv.start <= offset < max(inv.end, inv.start + 1):
            return inv.line or 1
        if inv.start <= offset and inv.line:
            best = inv.line
        if inv.start > offset:
            if best is None and inv.line:
                best = inv.line
            break
    return best or 1


def _column_types(invocations: Sequence[Invocation], dialect: str) -> dict[tuple[str, str], str]:
    """Old column types stated by ``alter_column(existing_type=…)``: they tell a type change
    whether it rewrites, which the SQL alone cannot."""
    from sqlalchemy import types as satypes
    from sqlalchemy.dialects import registry

    out: dict[tuple[str, str], str] = {}
    sa_dialect = None
    for inv in invocations:
        existing = getattr(inv.operation, "existing_type", None)
        column = getattr(inv.operation, "column_name", None)
        table = getattr(inv.operation, "table_name", None)
        if existing is None or not column or not table:
            continue
        try:
            if sa_dialect is None:
                sa_dialect = registry.load(ALEMBIC_DIALECTS.get(dialect, dialect))()
            if isinstance(existing, type):
                existing = existing()
            if not isinstance(existing, satypes.TypeEngine):
                continue
            out[(str(table), str(column))] = existing.compile(dialect=sa_dialect).lower()
        except Exception:
            continue
    return out


def _revision_suppressions(path: Path) -> frozenset[str]:
    """``# schemashift: ignore SS101[, SS102] reason`` anywhere in the revision file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return frozenset()
    ids: set[str] = set()
    for m in _IGNORE.finditer(text):
        ids.update(i.strip().upper() for i in m.group(1).split(","))
    return frozenset(ids)


def read_history(
    config_path: Path,
    dialect: str,
    *,
    revision: str | None = None,
    since: str | None = None,
    since_git: str | None = None,
    files: Sequence[Path] = (),
) -> list[RevisionSQL]:
    with stdout_to_stderr():  # a revision's print() or log lines are not our output
        cfg = load_config(config_path)
        script, failures = script_directory(cfg)
        if files:
            chosen = _revisions_of_files(script, files)
        else:
            chosen = select_revisions(
                script, revision=revision, since=since, since_git=since_git,
                cwd=config_path.parent,
            )  # fmt: skip
        # One schema model through the history: the revisions before the chosen ones are
        # rendered too (not linted), so what a chosen one asks is answered as it would be.
        model = SchemaModel(dialect, _version_table(cfg))
        wanted = {rev.revision for rev in chosen}
        out = []
        for rev in with_ancestors(script, chosen):
            rendered = render_revision(cfg, script, rev, dialect, failures.get(rev.revision),
                                       model)  # fmt: skip
            if rev.revision in wanted:
                out.append(rendered)
        return out


def with_ancestors(script: Any, chosen: list[Any]) -> list[Any]:
    """``chosen`` and every revision they build on, oldest first (``chosen`` itself when
    the graph cannot be walked)."""
    try:
        ordered = list(reversed(list(script.walk_revisions("base", "heads"))))
        if len(chosen) == len(ordered):
            return chosen
        needed: set[str] = set()
        for rev in chosen:
            if rev.revision not in needed:
                needed.update(r.revision for r in
                              script.revision_map.iterate_revisions(rev.revision, "base"))  # fmt: skip
    except Exception:
        return chosen
    return [r for r in ordered if r.revision in needed]


def _revisions_of_files(script: Any, files: Sequence[Path]) -> list[Any]:
    """The revisions written in ``files`` (the post-write hook names the one it wrote),
    oldest first."""
    wanted = {Path(f).resolve(): f for f in files}
    found = [r for r in reversed(list(script.walk_revisions()))
             if Path(r.path).resolve() in wanted]  # fmt: skip
    missing = set(wanted) - {Path(r.path).resolve() for r in found}
    if missing:
        names = ", ".join(sorted(str(wanted[m]) for m in missing))
        raise HistoryError(f"{names}: not a revision file of this Alembic project")
    return found


@contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send everything written to stdout while the block runs to stderr, at the file
    descriptor: revisions (and the apps they import) print and log at import time, often
    through a logging handler holding the original ``sys.stdout``, and ``--format json``
    / ``sarif`` on stdout must stay one document."""
    import os
    import sys

    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no file descriptor 1 (an embedded interpreter): nothing to protect
        yield
        return
    try:
        os.dup2(2, 1)
        yield
    finally:
        with suppress(Exception):  # a broken stream must not hide the real error
            sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
