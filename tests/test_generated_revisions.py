"""What `schemashift revision` writes is safe by schemashift's own rules, and under plain
Alembic: every generated revision lints with no error and no lock warning, starts with a
lock timeout when it holds plain DDL, and a type change it writes does not rewrite the
table (pg_class.relfilenode unchanged) - on real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from test_alembic_autogen import V1, Project, generate, project  # noqa: F401

from schemashift.alembic.lint import lint_history
from schemashift.config import Config
from schemashift.model import Severity

pytestmark = pytest.mark.postgres

CHANGES = {
    "rename": V1.replace('"name", sa.String(50)', '"full_name", sa.String(50)'),
    "add nullable column": V1.replace(
        'sa.Column("email", sa.String(100)),',
        'sa.Column("email", sa.String(100)),\n    sa.Column("nick", sa.String(20)),'),
    "index": V1 + 'sa.Index("ix_users_email", users.c.email)\n',
    "type change": V1.replace('"email", sa.String(100)', '"email", sa.Text'),
    "narrowing type change": V1.replace('"legacy", sa.String(20)', '"legacy", sa.String(10)'),
    "drop column": V1.replace('    sa.Column("legacy", sa.String(20), nullable=False),\n', ""),
    "not null": V1.replace('"email", sa.String(100)', '"email", sa.String(100), nullable=False'),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_generated_revisions_lint_clean(project: Project, change: str) -> None:  # noqa: F811
    result = generate(project, CHANGES[change])
    written = {s.revision for s in result.scripts}
    assert written
    report = lint_history(project.ini, Config(dialect="postgres", server_version="15"))
    ours = [s for s in report.statements if s.revision in written]
    bad = [(s.statement.line, s.statement.sql[:80], f.rule, f.message)
           for s in ours for f in s.findings
           if f.severity is Severity.ERROR
           or (f.severity is Severity.WARNING and f.rule.startswith(("SS2", "SS3", "SS4", "SS5")))]  # fmt: skip
    assert bad == [], bad
    texts = {x.revision: Path(x.path).read_text() for x in result.scripts}
    planned = [s for s in ours if s.statement.sql and "schemashift_change" in texts[s.revision]]
    if change in ("rename", "narrowing type change", "drop column", "not null", "index"):
        # the change is read, not hidden: its source SQL, reported as info
        assert planned and any(s.changes for s in planned), [s.statement.sql for s in ours]
    for script in result.scripts:
        text = Path(script.path).read_text()
        plain = "op.add_column" in text or "op.create_" in text or "op.alter_column" in text
        if plain:
            assert "op.schemashift_lock_timeout()" in text.split("def upgrade")[1], text


def test_a_type_change_does_not_rewrite_the_table(project: Project) -> None:  # noqa: F811
    """The shadow column strategy, not ALTER TYPE (a rewrite under ACCESS EXCLUSIVE)."""
    p = project

    def relfilenode() -> int:
        return int(p.sql("SELECT relfilenode FROM pg_class WHERE relname = 'users'")[0][0])

    before = relfilenode()
    result = generate(p, CHANGES["narrowing type change"])
    assert result.expand is not None and result.contract is not None
    text = Path(result.expand.path).read_text() + Path(result.contract.path).read_text()
    assert "schemashift_change" in text and "op.alter_column" not in text
    p.upgrade("heads")  # plain Alembic: expand, backfill, verify and contract inline
    cols = {c["name"]: c for c in sa.inspect(p.engine).get_columns("users")}
    assert str(cols["legacy"]["type"]) == "VARCHAR(10)"
    assert relfilenode() == before
