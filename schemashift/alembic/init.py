"""``schemashift init``: wire an existing Alembic project for expand/contract.

The layout is OpenStack Neutron's: two long-lived branches beside each other, each started
by a no-op revision that carries its branch label::

    ... -> HEAD -> E  (branch_labels = ("expand",))
              \\-> C  (branch_labels = ("contract",), depends_on = E)

New expand revisions build on ``expand@head``; contract revisions on ``contract@head`` and
``depends_on`` the expand revision they finish, so ``alembic upgrade heads`` still runs every
phase in order. The history is read from the revision files only: env.py never runs.

Every check happens before anything is written, and the revisions are written before
pyproject.toml; a layout we do not recognise stops with one line saying what was found.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from alembic.config import Config as AlembicConfig
from alembic.script import Script, ScriptDirectory
from alembic.util import rev_id

from schemashift.config import ConfigError, parse_config
from schemashift.dialects.base import ALIASES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

EXPAND, CONTRACT = "expand", "contract"
EXPAND_MESSAGE = "schemashift: start expand branch"
CONTRACT_MESSAGE = "schemashift: start contract branch"

_EXPAND_BODY = """\
# schemashift: first revision of the "expand" branch; intentionally empty.
# Expand revisions (additive, backward-compatible changes that run before the new
# app version ships) build on expand@head. Contract revisions build on contract@head
# and depends_on the expand revision they complete. `alembic upgrade heads` runs both."""

_CONTRACT_BODY = """\
# schemashift: first revision of the "contract" branch; intentionally empty.
# Contract revisions (removing what only old app versions use) build on contract@head
# and depends_on the expand revision they complete; they run only once no live
# instance of an older app version remains (`schemashift gate contract`)."""

ENV_SNIPPET = """\
Optional, in env.py: let plain `alembic revision --autogenerate` split revisions into
expand/contract too (`schemashift revision --autogenerate -m MSG` does it without this),
and keep schemashift's own state tables out of autogenerate and `alembic check` (on
MySQL/MariaDB they sit beside your tables, prefixed schemashift_):

    from schemashift.alembic import include_object, process_revision_directives

    # in run_migrations_online():
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        process_revision_directives=process_revision_directives,
        include_object=include_object,
    )

    # env.py already passes a hook of its own? Chain the two and pass the chain:
    def chained_directives(context, revision, directives):
        your_hook(context, revision, directives)
        process_revision_directives(context, revision, directives)

    context.configure(..., process_revision_directives=chained_directives)
"""

_TABLE_HEADER = re.compile(
    r"^[ \t]*\[[ \t]*tool[ \t]*\.[ \t]*schemashift[ \t]*\][ \t]*(#.*)?$", re.M
)
_URL_SCHEME = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_]*)(\+[^:/]*)?:")


class InitError(Exception):
    """A project ``init`` does not understand or cannot change: one line, exit 2."""


@dataclass(frozen=True)
class Layout:
    """What the revision history looks like."""

    kind: Literal["empty", "linear", "initialised"]
    head: str | None = None  # linear: the one head the branches start from
    expand_root: str | None = None  # initialised
    contract_root: str | None = None


@dataclass(frozen=True)
class PyprojectEdit:
    path: Path
    text: str | None  # the new content; None when nothing changes
    created: bool  # the file does not exist yet
    added: Mapping[str, str]  # key -> value written
    present: tuple[str, ...]  # the keys init sets that were there already
    notes: tuple[str, ...]


@dataclass(frozen=True)
class InitResult:
    layout: str  # "empty" | "linear" | "initialised": what init found
    expand_revision: str | None  # the expand branch root (None: dry run, not created)
    contract_revision: str | None
    created: tuple[Path, ...]  # revision files written
    pyproject: Path
    pyproject_changed: bool  # written, or (dry run) would be
    dry_run: bool
    actions: tuple[str, ...]  # what was done, or would be done: one line each
    env_snippet: str
    env_hooked: bool  # env.py already mentions schemashift's hook

    @property
    def changed(self) -> bool:
        return bool(self.created) or (self.pyproject_changed and not self.dry_run)


def init_project(
    alembic_ini: Path, *, dialect: str | None = None, dry_run: bool = False,
    database_url: str | None = None,
) -> InitResult:
    """Set up the expand and contract branches and ``[tool.schemashift]``; idempotent."""
    alembic_ini = Path(alembic_ini).absolute()
    if not alembic_ini.is_file():
        raise InitError(f"{_show(alembic_ini)}: no such file (pass --alembic-config PATH)")
    if dialect is not None:
        if dialect.lower() not in ALIASES:
            raise InitError(f"unknown dialect {dialect!r} (choose postgres, mysql or sqlite)")
        dialect = ALIASES[dialect.lower()]
    pyproject = alembic_ini.parent / "pyproject.toml"
    config = _alembic_config(alembic_ini, pyproject)
    script = _script_directory(config, alembic_ini)
    layout = analyse(script)

    # The database the phases will run on says the dialect best: --dialect, then
    # --database-url / SCHEMASHIFT_DATABASE_URL, then alembic.ini's sqlalchemy.url.
    dialect_source = "--dialect"
    if dialect is None and database_url:
        dialect, dialect_source = guess_dialect(database_url), "the database URL"
    if dialect is None:
        dialect = guess_dialect(_main_option(config, "sqlalchemy.url"))
        dialect_source = "sqlalchemy.url"
    edit = plan_pyproject(pyproject, alembic_ini.name, dialect, dialect_source)

    actions: list[str] = []
    created: tuple[Path, ...] = ()
    expand, contract = layout.expand_root, layout.contract_root
    if layout.kind == "initialised":
        actions.append(
            f"expand and contract branches already set up: expand root {expand}, "
            f"contract root {contract} (depends_on the expand branch)"
        )
    elif dry_run:
        on_top = f"on top of {layout.head}" if layout.head else "as a new base"
        actions.append(f"would create the expand branch root {on_top} ({EXPAND_MESSAGE!r})")
        actions.append(
            f"would create the contract branch root {on_top}, depends_on the expand root "
            f"({CONTRACT_MESSAGE!r})"
        )
    else:
        expand, contract, created = _create_branches(config, script, alembic_ini, layout)
        on_top = f"on top of {layout.head}" if layout.head else "as a new base"
        actions.append(f"created the expand branch root {expand} {on_top}: {_show(created[0])}")
        actions.append(
            f"created the contract branch root {contract} {on_top}, depends_on {expand}: "
            f"{_show(created[1])}"
        )

    actions.extend(_describe_edit(edit, dry_run))
    if edit.text is not None and not dry_run:
        _write_text(edit.path, edit.text)
    hooked = None
    if alembic_ini.suffix == ".ini":
        hooked = add_post_write_hook(alembic_ini.read_text(encoding="utf-8"), alembic_ini.name)
        if hooked is not None:
            verb = "would add" if dry_run else "added"
            actions.append(f"{verb} the post-write hook `schemashift` to {_show(alembic_ini)}: "
                           "`alembic revision` lints each revision as it writes it")  # fmt: skip
            if not dry_run:
                _write_text(alembic_ini, hooked)
    if dry_run:
        actions.append("dry run: nothing written")
    elif not created and edit.text is None and hooked is None:
        actions.append("nothing changed")
    return InitResult(
        layout=layout.kind,
        expand_revision=expand,
        contract_revision=contract,
        created=created,
        pyproject=pyproject,
        pyproject_changed=edit.text is not None,
        dry_run=dry_run,
        actions=tuple(actions),
        env_snippet=ENV_SNIPPET,
        env_hooked=_env_hooked(script),
    )


# -- the post-write hook -----------------------------------------------------------------

HOOK = "schemashift"
_HOOKS_SECTION = re.compile(r"^[ \t]*\[post_write_hooks\][ \t]*$", re.M)
_NEXT_SECTION = re.compile(r"^[ \t]*\[", re.M)
_HOOKS_LINE = re.compile(r"^([ \t]*hooks[ \t]*=[ \t]*)(.*)$", re.M)


def add_post_write_hook(text: str, ini_name: str) -> str | None:
    """alembic.ini with schemashift's post-write hook added (None: already there).

    Alembic runs ``schemashift lint --alembic-config alembic.ini <the new revision>`` after
    writing a revision, so its findings show at once. Other hooks (black, ruff) are kept
    and run first."""
    lines = (
        f"{HOOK}.type = console_scripts\n"
        f"{HOOK}.entrypoint = schemashift\n"
        f"{HOOK}.options = lint --alembic-config %(here)s/{ini_name} REVISION_SCRIPT_FILENAME\n"
    )
    section = _HOOKS_SECTION.search(text)
    if section is None:
        sep = "" if text.endswith("\n") or not text else "\n"
        return f"{text}{sep}\n[post_write_hooks]\nhooks = {HOOK}\n{lines}"
    end_match = _NEXT_SECTION.search(text, section.end())
    end = end_match.start() if end_match else len(text)
    body = text[section.end():end]
    hooks = _HOOKS_LINE.search(body)
    if hooks is not None:
        names = [n.strip() for n in re.split(r"[,\s]+", hooks.group(2)) if n.strip()]
        if HOOK in names:
            return None
        value = ", ".join([*names, HOOK])
        body = body[:hooks.start()] + hooks.group(1) + value + body[hooks.end():]
    else:
        body = f"\nhooks = {HOOK}" + body
    body = body.rstrip("\n") + "\n" + lines + ("\n" if end_match else "")
    return text[:section.end()] + body + text[end:]


# -- reading the Alembic project ---------------------------------------------------------


def _alembic_config(alembic_ini: Path, pyproject: Path) -> AlembicConfig:
    # quiet: generate_revision would print "Generating ... done" lines of its own
    return AlembicConfig(
        file_=str(alembic_ini),
        toml_file=str(pyproject) if pyproject.is_file() else None,
        cmd_opts=argparse.Namespace(quiet=True),
    )


def _script_directory(config: AlembicConfig, alembic_ini: Path) -> ScriptDirectory:
    """The revision files, loaded (imported) but never run; env.py is not touched."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            script = ScriptDirectory.from_config(config)
            list(script.walk_revisions())  # builds the revision map: loops, missing parents
        except Exception as exc:  # alembic's CommandError, RevisionError, a broken file
            # Alembic warns the useful part ("Revision x referenced from y is not present")
            # and then fails with a bare KeyError: say both, on one line
            detail = "; ".join([*(_line(w.message) for w in caught[:1]), _line(exc)])
            raise InitError(
                f"{_show(alembic_ini)}: cannot read the Alembic history: {detail}"
            ) from None
    return script


def _main_option(config: AlembicConfig, name: str) -> str | None:
    try:
        return config.get_main_option(name)
    except Exception:  # an interpolation that needs env vars env.py would set, say
        return None


def _declared_labels(script: ScriptDirectory) -> dict[str, list[Script]]:
    """label -> the revisions whose file declares it (not the ones that inherit it)."""
    out: dict[str, list[Script]] = {}
    for rev in script.walk_revisions():
        # Alembic spreads labels over the whole branch in `branch_labels`; what the file
        # itself says is kept here.
        for label in rev._orig_branch_labels:
            out.setdefault(str(label), []).append(rev)
    return out


def analyse(script: ScriptDirectory) -> Layout:
    """Classify the history, or raise InitError naming what does not fit."""
    revisions = list(script.walk_revisions())
    if not revisions:
        return Layout("empty")
    heads = sorted(script.get_heads())
    labels = _declared_labels(script)
    has_expand, has_contract = EXPAND in labels, CONTRACT in labels
    if not has_expand and not has_contract:
        if len(heads) > 1:
            raise InitError(
                f"{len(heads)} heads ({', '.join(heads)}) without expand/contract labels: "
                f"merge them first (alembic merge heads) and re-run"
            )
        if labels:
            found = ", ".join(
                f"{label!r} on {', '.join(r.revision for r in revs)}"
                for label, revs in sorted(labels.items())
            )
            raise InitError(
                f"branch label {found}: the new expand/contract branches would inherit it and "
                f"make it ambiguous; schemashift init handles a history without branch labels"
            )
        return Layout("linear", head=heads[0])
    if has_expand != has_contract:
        present, missing = (EXPAND, CONTRACT) if has_expand else (CONTRACT, EXPAND)
        where = ", ".join(r.revision for r in labels[present])
        raise InitError(
            f"branch label {present!r} on revision {where} but no {missing!r} branch: "
            f"schemashift init needs both labels (or neither, to create them)"
        )
    expand_root, contract_root = labels[EXPAND][0], labels[CONTRACT][0]
    if expand_root is contract_root:
        raise InitError(
            f"revision {expand_root.revision} carries both the 'expand' and the 'contract' "
            f"label: each branch needs a root of its own"
        )
    _check_dependency(script, expand_root, contract_root)
    _check_heads(script, heads)
    return Layout(
        "initialised", expand_root=expand_root.revision, contract_root=contract_root.revision
    )


def _check_dependency(script: ScriptDirectory, expand_root: Script, contract_root: Script) -> None:
    for dep in _tuple(contract_root.dependencies):
        target = script.get_revision(dep)
        if target is not None and (target is expand_root or EXPAND in target.branch_labels):
            return
    raise InitError(
        f"the contract branch root {contract_root.revision} does not depend_on the expand "
        f"branch root {expand_root.revision}: add depends_on = {expand_root.revision!r} to "
        f"{Path(contract_root.path).name} and re-run"
    )


def _check_heads(script: ScriptDirectory, heads: list[str]) -> None:
    by_branch: dict[str, list[str]] = {EXPAND: [], CONTRACT: []}
    for head in heads:
        rev = script.get_revision(head)
        assert rev is not None
        on = {EXPAND, CONTRACT} & rev.branch_labels
        if len(on) == 2:
            raise InitError(
                f"revision {head} is on both the expand and the contract branch (it merges "
                f"them, or one branch starts on top of the other): they must stay side by side"
            )
        if not on:
            raise InitError(
                f"head {head} is on neither the expand nor the contract branch: "
                f"merge it into one of them and re-run"
            )
        by_branch[on.pop()].append(head)
    for label, branch_heads in by_branch.items():
        if len(branch_heads) > 1:
            raise InitError(
                f"the {label} branch has {len(branch_heads)} heads ({', '.join(branch_heads)}): "
                f"merge them (alembic merge {' '.join(branch_heads)}) and re-run"
            )


def _env_hooked(script: ScriptDirectory) -> bool:
    try:
        text = (Path(script.dir) / "env.py").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return "schemashift.alembic" in text and "process_revision_directives" in text


# -- writing the two branch roots --------------------------------------------------------


def _create_branches(
    config: AlembicConfig, script: ScriptDirectory, alembic_ini: Path, layout: Layout
) -> tuple[str, str, tuple[Path, ...]]:
    head = layout.head or "base"
    ids: list[str] = []
    written: list[Path] = []

    def generate(message: str, label: str, body: str, **kw: Any) -> str:
        new_id = rev_id()
        ids.append(new_id)
        rev = script.generate_revision(
            new_id, message, head=head, branch_labels=(label,),
            upgrades=_indent(body + "\npass"), downgrades="pass", **kw,
        )  # fmt: skip
        if rev is None:
            raise InitError(f"Alembic did not load the revision file it wrote for {label!r}")
        written.append(Path(rev.path))
        return new_id

    try:
        expand = generate(EXPAND_MESSAGE, EXPAND, _EXPAND_BODY)
        # `head` is no longer a head once the expand root sits on it: splice beside it
        contract = generate(CONTRACT_MESSAGE, CONTRACT, _CONTRACT_BODY, splice=True,
                            depends_on=expand)  # fmt: skip
        check = analyse(_script_directory(config, alembic_ini))
        if (check.kind, check.expand_root, check.contract_root) != (
            "initialised", expand, contract,
        ):  # fmt: skip
            raise InitError("the new revisions were not read back as the expand/contract roots")
    except Exception as exc:
        _remove_revisions(script, ids)
        template = Path(script.dir) / "script.py.mako"
        raise InitError(
            f"writing the branch roots failed ({_line(exc)}); removed what was written. "
            f"Does {_show(template)} render branch_labels and depends_on?"
        ) from None
    return expand, contract, tuple(written)


def _remove_revisions(script: ScriptDirectory, ids: list[str]) -> None:
    """Undo a failed init: the files of the new revision ids (and their bytecode)."""
    for location in script._version_locations:
        for new_id in ids:
            for path in Path(location).rglob(f"*{new_id}*"):
                if path.is_file():
                    path.unlink(missing_ok=True)


def _indent(body: str) -> str:
    # the template puts ${upgrades} after four spaces; later lines need their own
    return "\n    ".join(body.splitlines())


# -- [tool.schemashift] in pyproject.toml ------------------------------------------------


def guess_dialect(url: str | None) -> str | None:
    """postgres / mysql / sqlite from a SQLAlchemy URL's scheme; None when not recognised."""
    match = _URL_SCHEME.match(url or "")
    return ALIASES.get(match.group(1).lower()) if match else None


def plan_pyproject(
    path: Path, alembic_config: str, dialect: str | None, dialect_source: str = "--dialect"
) -> PyprojectEdit:
    """The edit that adds the missing keys to [tool.schemashift]; never overwrites one."""
    created = not path.exists()
    original = ""
    if not created:
        try:
            original = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InitError(f"{_show(path)}: cannot read: {_line(exc)}") from None
    data = _parse_toml(original, path)
    tool = data.get("tool", {})
    table = tool.get("schemashift", {}) if isinstance(tool, dict) else {}
    if not isinstance(table, dict):
        raise InitError(f"{_show(path)}: tool.schemashift is not a table")
    present = {str(k).replace("-", "_"): v for k, v in table.items()}

    wanted = {"alembic_config": alembic_config}
    notes: list[str] = []
    if dialect is not None:
        wanted["dialect"] = dialect
    elif "dialect" not in present:
        notes.append(
            "no dialect written: none given and none recognisable in sqlalchemy.url "
            "(schemashift assumes postgres; re-run with --dialect to set it)"
        )
    added = {k: v for k, v in wanted.items() if k not in present}
    for key in sorted(wanted.keys() & present.keys()):
        kept, asked = present[key], wanted[key]
        if key == "dialect" and isinstance(kept, str):
            kept = ALIASES.get(kept.lower(), kept)
        if kept != asked:
            notes.append(
                f"kept {key} = {present[key]!r} in {_show(path)} ({asked!r} from "
                f"{dialect_source if key == 'dialect' else 'the Alembic config'} not applied: "
                f"init never overwrites a key)"
            )
    merged = {**table, **added}
    try:
        parse_config(merged, str(path))
    except ConfigError as exc:
        raise InitError(str(exc)) from None
    if not added:
        return PyprojectEdit(path, None, created, {}, tuple(sorted(wanted)), tuple(notes))

    text = _insert_keys(original, added, "schemashift" in tool if isinstance(tool, dict) else False)
    expected = copy.deepcopy(data)
    expected.setdefault("tool", {}).setdefault("schemashift", {}).update(added)
    manual = "\n".join(["[tool.schemashift]", *(_toml_line(k, v) for k, v in added.items())])
    try:
        ok = _parse_toml(text, path) == expected
    except InitError:
        ok = False
    if not ok:  # an inline `tool = {…}` table or dotted keys: leave the file to its owner
        raise InitError(
            f"{_show(path)}: cannot add to [tool.schemashift] safely (inline table or dotted "
            f"keys?): add {manual!r} yourself and re-run"
        )
    present_keys = tuple(sorted(wanted.keys() & present.keys()))
    return PyprojectEdit(path, text, created, added, present_keys, tuple(notes))


def _insert_keys(original: str, added: Mapping[str, str], table_exists: bool) -> str:
    newline = "\r\n" if "\r\n" in original else "\n"
    lines = "".join(_toml_line(k, v) + newline for k, v in added.items())
    header = _TABLE_HEADER.search(original) if table_exists else None
    if header is not None:  # right below the header: inside the table whatever follows
        end = header.end()
        if original.startswith("\r\n", end):
            end += 2
        elif original.startswith("\n", end):
            end += 1
        else:
            return original[:end] + newline + lines + original[end:]
        return original[:end] + lines + original[end:]
    if not original:
        return "[tool.schemashift]" + newline + lines
    sep = "" if original.endswith("\n") else newline
    return original + sep + newline + "[tool.schemashift]" + newline + lines


def _toml_line(key: str, value: str) -> str:
    return f"{key} = {json.dumps(value, ensure_ascii=False)}"  # a JSON string is a TOML one


def _parse_toml(text: str, path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InitError(f"{_show(path)}: not valid TOML: {_line(exc)}") from None
    return data


def _describe_edit(edit: PyprojectEdit, dry_run: bool) -> list[str]:
    name = _show(edit.path)
    if not edit.added:
        keys = " and ".join(edit.present) or "its keys"
        return [*edit.notes, f"{name} [tool.schemashift] already has {keys}: unchanged"]
    keys = ", ".join(_toml_line(k, v) for k, v in edit.added.items())
    if edit.created:
        verb = "would create" if dry_run else "created"
        line = f"{verb} {name} with [tool.schemashift]: {keys}"
    else:
        verb = "would add" if dry_run else "added"
        line = f"{verb} to [tool.schemashift] in {name}: {keys}"
    return [line, *edit.notes]


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".schemashift-tmp")
    try:
        tmp.write_bytes(text.encode("utf-8"))
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InitError(f"{_show(path)}: cannot write: {_line(exc)}") from None


# -- small helpers -----------------------------------------------------------------------


def _tuple(value: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _show(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _line(exc: object) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
