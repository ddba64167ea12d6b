"""alembic_version as the phase commands write it equals what Alembic's own head
bookkeeping (HeadMaintainer) writes, for every state a history can be in: the layout
``schemashift init`` writes (one row after ``upgrade heads``), a lone expand revision
before a pair, several pairs in flight, and a merge. Checked on SQLite by running the
statements; the stamp check returns no row exactly when the table is right."""

from __future__ import annotations

import argparse
import io
import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import HeadMaintainer, MigrationContext, RevisionStep
from alembic.script import ScriptDirectory

from schemashift.alembic import version_table

# (revision, down_revision(s), depends_on, branch label)
DEFAULT_LAYOUT = [
    ("h0", None, None, None),
    ("h1", "h0", None, None),
    ("e1", "h1", None, "expand"),
    ("c1", "h1", "e1", "contract"),
    ("e2", "e1", None, None),
    ("c2", "c1", "e2", None),
]
LONE_EXPAND = [*DEFAULT_LAYOUT[:4], ("l1", "e1", None, None), ("e2", "l1", None, None),
               ("c2", "c1", "e2", None)]  # fmt: skip
IN_FLIGHT = [*DEFAULT_LAYOUT, ("e3", "e2", None, None), ("c3", "c2", "e3", None)]
MERGE = [*DEFAULT_LAYOUT[:4], ("e2", "e1", None, None), ("x2", "e1", None, None),
         ("m2", ("e2", "x2"), None, None), ("c2", "c1", "m2", None)]  # fmt: skip


def make_script(root: Path, layout: list[tuple]) -> ScriptDirectory:  # type: ignore[type-arg]
    cfg = Config(str(root / "alembic.ini"), cmd_opts=argparse.Namespace(quiet=True))
    command.init(cfg, str(root / "migrations"))
    cfg = Config(str(root / "alembic.ini"), cmd_opts=argparse.Namespace(quiet=True))
    script = ScriptDirectory.from_config(cfg)
    for rev, down, deps, label in layout:
        head = "base" if down is None else (down if isinstance(down, str) else None)
        if isinstance(down, tuple):
            script.generate_revision(rev, rev, head=list(down))
        else:
            script.generate_revision(rev, rev, head=head, splice=True, depends_on=deps,
                                     branch_labels=(label,) if label else None)  # fmt: skip
    return ScriptDirectory.from_config(cfg)


def alembic_after(script: ScriptDirectory, heads: set[str], rev: str, upgrade: bool) -> set[str]:
    context = MigrationContext.configure(
        dialect_name="sqlite", opts={"as_sql": True, "output_buffer": io.StringIO()}
    )
    maintainer = HeadMaintainer(context, tuple(heads))
    revision = script.get_revision(rev)
    maintainer.update_to_step(RevisionStep(script.revision_map, revision, upgrade))
    return set(maintainer.heads)


def ours_after(script: ScriptDirectory, heads: set[str], rev: str,
               upgrade: bool) -> tuple[set[str], list[tuple[str]]]:  # fmt: skip
    revision = script.get_revision(rev)
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
    conn.executemany("INSERT INTO alembic_version VALUES (?)", [(h,) for h in heads])
    statements = (version_table.upgrade_sql(revision, "sqlite") if upgrade
                  else version_table.downgrade_sql(script, revision, "sqlite"))  # fmt: skip
    for sql in statements:
        conn.execute(sql)
    rows = {r[0] for r in conn.execute("SELECT version_num FROM alembic_version")}
    bad = conn.execute(version_table.stamp_check(script, revision, "sqlite").sql).fetchall()
    return rows, bad


def applied(script: ScriptDirectory, heads: set[str]) -> set[str]:
    if not heads:
        return set()
    nodes = script.revision_map._get_ancestor_nodes(
        [script.get_revision(h) for h in heads], check=False)
    return {r.revision for r in nodes}


def reachable_states(script: ScriptDirectory) -> list[set[str]]:
    """Every set of rows Alembic reaches by upgrading one revision at a time."""
    seen: list[set[str]] = [set()]
    todo: list[set[str]] = [set()]
    revisions = [r.revision for r in script.walk_revisions()]
    while todo:
        heads = todo.pop()
        done = applied(script, heads)
        for rev in revisions:
            parents = set(script.get_revision(rev)._normalized_down_revisions)
            if rev in done or not parents <= done:
                continue
            after = alembic_after(script, heads, rev, True)
            if after not in seen:
                seen.append(after)
                todo.append(after)
    return seen


@pytest.mark.parametrize("layout", [DEFAULT_LAYOUT, LONE_EXPAND, IN_FLIGHT, MERGE],
                         ids=["default-init", "lone-expand", "pairs-in-flight", "merge"])
def test_stamps_match_alembic_in_every_reachable_state(tmp_path: Path, layout: list) -> None:  # type: ignore[type-arg]
    script = make_script(tmp_path, layout)
    states = reachable_states(script)
    assert len(states) >= len(layout)
    checked = 0
    for heads in states:
        done = applied(script, heads)
        for rev in (r.revision for r in script.walk_revisions()):
            revision = script.get_revision(rev)
            if rev not in done and set(revision._normalized_down_revisions) <= done:
                rows, bad = ours_after(script, heads, rev, True)
                assert rows == alembic_after(script, heads, rev, True), (heads, rev)
                assert bad == [], (heads, rev, bad)
                checked += 1
            if rev in heads:  # rollback of an expand: Alembic's downgrade of one revision
                rows, _ = ours_after(script, heads, rev, False)
                assert rows == alembic_after(script, heads, rev, False), (heads, rev, "down")
                checked += 1
    assert checked > 2 * len(layout)


def test_default_layout_keeps_one_row_then_two(tmp_path: Path) -> None:
    """The case that broke: after `upgrade heads` the table holds only c1; expand of the
    next pair adds e2 beside it (there is no e1 row to UPDATE), contract leaves c2."""
    script = make_script(tmp_path, DEFAULT_LAYOUT)
    heads = alembic_after(script, alembic_after(script, {"h1"}, "e1", True), "c1", True)
    assert heads == {"c1"}
    rows, bad = ours_after(script, heads, "e2", True)
    assert rows == {"c1", "e2"} and bad == []
    rows, bad = ours_after(script, rows, "c2", True)
    assert rows == {"c2"} and bad == []


def test_stamp_check_names_a_wrong_table(tmp_path: Path) -> None:
    script = make_script(tmp_path, DEFAULT_LAYOUT)
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
    conn.executemany("INSERT INTO alembic_version VALUES (?)", [("e1",), ("c1",)])
    bad = conn.execute(version_table.stamp_check(script, script.get_revision("e2"),
                                                 "sqlite").sql).fetchall()  # fmt: skip
    assert sorted(r[0] for r in bad) == ["c1", "e1", "e2 is missing"] or \
        sorted(r[0] for r in bad) == ["e1", "e2 is missing"]
