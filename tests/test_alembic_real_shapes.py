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


# neutron's helpers (neutron/db/migration/__init__.py): they refuse offline mode only
# because they read the database, which the model answers.
NEUTRON_HELPERS = """
import sqlalchemy as sa
from alembic import context, op


def raise_if_offline(func):
    def decorator(*args, **kwargs):
        if context.is_offline_mode():
            raise RuntimeError(f"{func.__name__} cannot be called while in offline mode")
        return func(*args, **kwargs)
    return decorator


@raise_if_offline
def schema_has_table(table_name):
    return table_name in sa.inspect(op.get_bind()).get_table_names()


@raise_if_offline
def create_table_if_not_exists(table_name, *args, **kwargs):
    if not schema_has_table(table_name):
        return op.create_table(table_name, *args, **kwargs)
"""


def test_helpers_refusing_offline_mode_are_answered_from_the_model(tmp_path: Path) -> None:
    # In a module of their own, on the path through prepend_sys_path as Alembic sets it.
    (tmp_path / "shape_neutron_helpers.py").write_text(NEUTRON_HELPERS)
    ini = make_project(tmp_path, {
        "a1": BASE,
        "b2": rev("b2", "a1", """
            create_table_if_not_exists('stack', sa.Column('id', sa.Uuid(), primary_key=True))
            create_table_if_not_exists(  # CREATE-PVLAN
                'pvlan', sa.Column('id', sa.Uuid(), primary_key=True))
        """, head="from shape_neutron_helpers import create_table_if_not_exists\n"),
        # A revision whose online path needs a row offers an offline one: read that way.
        "c3": rev("c3", "b2", """
            from alembic import context
            if context.is_offline_mode():
                op.execute("UPDATE stack SET kind = 'default'")  # OFFLINE-PATH
            else:
                kind = op.get_bind().execute(sa.text("SELECT kind FROM defaults")).scalar_one()
                op.execute(sa.text("UPDATE stack SET kind = :k").bindparams(k=kind))
        """),
    })  # fmt: skip
    ini.write_text(ini.read_text() + "prepend_sys_path = %(here)s\npath_separator = os\n")
    report = lint_history(ini, Config(dialect="mysql"))
    status = {r.revision: (r.status, r.error) for r in report.revisions or ()}
    assert all(s == "analysed" for s, _ in status.values()), status
    b2 = [s for s in report.statements if s.revision == "b2"]
    # 'stack' exists (a1): only pvlan is created, at the line of its helper call.
    assert [c.kind for s in b2 for c in s.changes] == ["create_table"]
    text = Path(b2[0].statement.file).read_text().splitlines()
    assert "CREATE-PVLAN" in text[b2[0].statement.line - 1]
    (c3,) = [s for s in report.statements if s.revision == "c3"]
    assert c3.statement.sql == "UPDATE stack SET kind = 'default'"


def test_an_inserted_row_gives_its_primary_key(tmp_path: Path) -> None:
    """neutron c33da356b165: a parent row inserted through an ORM session, its
    ``inserted_primary_key`` read to insert the child (an empty table counts from 1)."""
    ini = make_project(tmp_path, {
        "a1": rev("a1", None, """
            op.create_table('standardattributes',
                            sa.Column('id', sa.BigInteger(), primary_key=True, autoincrement=True),
                            sa.Column('description', sa.String(255)))
            rules = op.create_table('rules', sa.Column('id', sa.String(36), primary_key=True),
                                    sa.Column('standard_attr_id', sa.BigInteger()))
            attrs = sa.Table('standardattributes', sa.MetaData(),
                             sa.Column('id', sa.BigInteger(), primary_key=True),
                             sa.Column('description', sa.String(255)))
            session = sa.orm.Session(bind=op.get_bind())
            for rule_id in ('r-1', 'r-2'):
                res = session.execute(sa.insert(attrs).values({'description': rule_id}))
                session.execute(sa.insert(rules).values(
                    id=rule_id, standard_attr_id=res.inserted_primary_key[0]))
        """, head="import sqlalchemy.orm\n"),
    })  # fmt: skip
    report = lint_history(ini, Config(dialect="mysql"))
    assert [r.status for r in report.revisions or ()] == ["analysed"]
    inserts = [s.statement.sql for s in report.statements if "INSERT INTO rules" in s.statement.sql]
    assert inserts == ["INSERT INTO rules (id, standard_attr_id) VALUES ('r-1', 1)",
                       "INSERT INTO rules (id, standard_attr_id) VALUES ('r-2', 2)"]  # fmt: skip


def test_batch_mode_on_a_table_no_revision_created_says_so(tmp_path: Path) -> None:
    """jupyterhub 833da8570507: the application creates its tables (create_all, then
    stamp); SQLite batch mode must copy one no revision before created."""
    ini = make_project(tmp_path, {
        "a1": rev("a1", None, """
            with op.batch_alter_table('services') as batch_op:
                batch_op.add_column(sa.Column('oauth_client_id', sa.Unicode(255)))
                batch_op.create_foreign_key('fk_services_oauth', 'oauth_clients',
                                            ['oauth_client_id'], ['identifier'])
        """),
    })  # fmt: skip
    (info,) = lint_history(ini, Config(dialect="sqlite")).revisions or ()
    assert info.status == "failed"
    assert info.error is not None and info.error.startswith(
        "batch mode copies table 'services', which no revision before it creates")
