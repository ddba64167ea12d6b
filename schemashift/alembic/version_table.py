"""``alembic_version`` as Alembic itself keeps it, written by the phase commands.

Alembic stores one row per head of what ran, and a revision's ``depends_on`` counts as a
parent: in the layout ``schemashift init`` writes (the contract root depends on the expand
root) ``alembic upgrade heads`` leaves ONE row, the contract root, and the next expand
revision then opens a second row beside it. So what a stamp must change depends on the
rows that are there when it runs, not on the revision's ``down_revision`` alone.

The statements here are set-based and idempotent, and give the rows Alembic's
``HeadMaintainer`` gives for every state the history allows:

- upgrade R: the rows of R's parents (down revisions and dependencies) go, R comes in
  (Alembic's update, new-branch insert and merge all end there);
- downgrade R: R goes, and each parent comes back unless a remaining row already is that
  parent or a descendant of it (Alembic's delete-branch, update and unmerge).

``stamp_check`` is the query that must return no row after an upgrade: R present, and no
ancestor of R (which Alembic would never keep beside it). The phase runner runs it as the
stamp step's check and stops with the offending rows.
"""

from __future__ import annotations

from typing import Any

from schemashift.phases.plan import Verify

TABLE = "alembic_version"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _in_list(values: list[str]) -> str:
    return ", ".join(_literal(v) for v in sorted(values))


def _parents(rev: Any) -> list[str]:
    return list(rev._normalized_down_revisions)  # down revisions and dependencies


def _ancestors(script: Any, rev: Any) -> list[str]:
    nodes = script.revision_map._get_ancestor_nodes([rev], check=False)
    return [r.revision for r in nodes if r.revision != rev.revision]


def _descendants(script: Any, revision: str) -> list[str]:
    target = script.revision_map.get_revision(revision)
    return [r.revision for r in script.revision_map._get_descendant_nodes([target], check=False)]


def _select_one(dialect: str) -> str:
    # MySQL/MariaDB need a FROM for a SELECT with a WHERE.
    return "SELECT {value} FROM DUAL" if dialect == "mysql" else "SELECT {value}"


def upgrade_sql(rev: Any, dialect: str, table: str = TABLE) -> tuple[str, ...]:
    """The rows after ``rev`` ran: its parents' rows replaced by its own."""
    out = []
    parents = _parents(rev)
    if parents:
        out.append(f"DELETE FROM {table} WHERE version_num IN ({_in_list(parents)})")
    me = _literal(rev.revision)
    out.append(
        f"INSERT INTO {table} (version_num) {_select_one(dialect).format(value=me)} "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE version_num = {me})"
    )
    return tuple(out)


def downgrade_sql(script: Any, rev: Any, dialect: str, table: str = TABLE) -> tuple[str, ...]:
    """The rows after ``rev`` was undone: it goes, its parents come back where no remaining
    row is (a descendant of) them."""
    out = [f"DELETE FROM {table} WHERE version_num = {_literal(rev.revision)}"]
    # The latest parents first: a parent that is an ancestor of another one is then covered
    # by that one's row (c1 depends on e1, whose parent is h1: undoing c1 restores e1 only).
    parents = sorted(_parents(rev), key=lambda r: -len(_ancestors(script, script.get_revision(r))))
    for parent in parents:
        covering = [d for d in _descendants(script, parent) if d != rev.revision]
        value = _literal(parent)
        out.append(
            f"INSERT INTO {table} (version_num) {_select_one(dialect).format(value=value)} "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE version_num IN "
            f"({_in_list(covering)}))"
        )
    return tuple(out)


def stamp_check(script: Any, rev: Any, dialect: str, table: str = TABLE) -> Verify:
    """Rows that must not be there after ``rev`` was stamped (none: as Alembic writes it)."""
    me = _literal(rev.revision)
    missing = _select_one(dialect).format(value=f"{_literal(rev.revision + ' is missing')}")
    parts = [
        f"{missing} WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE version_num = {me})",
    ]
    ancestors = _ancestors(script, rev)
    if ancestors:
        parts.insert(0, f"SELECT version_num FROM {table} WHERE version_num IN "
                        f"({_in_list(ancestors)})")  # fmt: skip
    return Verify(
        f"{table} holds what Alembic writes after {rev.revision} (no ancestor of it left "
        "beside it; run `alembic current` to see the rows)",
        " UNION ALL ".join(parts),
    )
