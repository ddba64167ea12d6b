"""Shapes of real histories (zenml, neutron) that the offline schema model must answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemashift.alembic.lint import lint_history
from schemashift.config import Config
from tests.test_alembic_history import make_project, rev

BASE = rev("a1", None, """
    op.create_table(
        'workspace',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('name', sa.String(50), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_table(
        'stack',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('workspace_id', sa.Uuid(), nullable=False),
        sa.Column('kind', sa.String(20), nullable=False),
        sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.Index(op.f('ix_stack_workspace_id_kind'), 'workspace_id', 'kind'),
    )
""")


@pytest.mark.parametrize("dialect", ["mysql", "sqlite"])
def test_zenml_shapes_are_answered_from_the_model(tmp_path: Path, dialect: str) -> None:
    ini = make_project(tmp_path, {
        "a1": BASE,
        # zenml's first revision: the SQLAlchemy 1.x Inspector on the engine.
        "b2": rev("b2", "a1", """
            inspector = Inspector.from_engine(op.get_bind().engine)
            if "stack" not in inspector.get_table_names():
                raise RuntimeError("stack not modelled")
            op.add_column('stack', sa.Column('note', sa.String(20)))
        """, head="from sqlalchemy.engine.reflection import Inspector\n"),
        # Drops an FK left unnamed, named through batch mode's naming convention.
        "c3": rev("c3", "b2", """
            with op.batch_alter_table('stack', naming_convention={
                    'fk': 'fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s'}) as b:
                b.drop_constraint('fk_stack_workspace_id_workspace', type_='foreignkey')
        """),
        # COUNT(*) on an empty table is one row, 0; a Uuid is reflected as CHAR(32).
        "d4": rev("d4", "c3", """
            count = op.get_bind().execute(sa.text("SELECT COUNT(*) FROM workspace")).scalar()
            assert isinstance(count, int) and count == 0
            meta = sa.MetaData()
            meta.reflect(bind=op.get_bind(), only=('workspace',))
            op.bulk_insert(sa.Table('workspace', meta),
                           [{'id': '26dea477f0fc41aca6439fe8a4a286a8', 'name': 'default'}])
        """),
        # neutron: an index passed to create_table is modelled (later reads find it).
        "e5": rev("e5", "d4", """
            names = [i['name'] for i in sa.inspect(op.get_bind()).get_indexes('stack')]
            assert 'ix_stack_workspace_id_kind' in names, names
            op.drop_index('ix_stack_workspace_id_kind', table_name='stack')
        """),
    })  # fmt: skip
    report = lint_history(ini, Config(dialect=dialect))
    status = {r.revision: (r.status, r.error) for r in report.revisions or ()}
    assert all(s == "analysed" for s, _ in status.values()), status
