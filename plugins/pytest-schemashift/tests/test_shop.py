"""The plugin on copies of examples/shop, in real pytest runs (pytester, one subprocess
each) against real PostgreSQL and MariaDB: a passing run, an expand that breaks the old
app, a breaking plain revision, a history without expand/contract branches."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory

from pytest_schemashift.databases import with_driver
from shopcopy import PAIR, SHOP, copy_project, shop_template

# The apps of the rename pair: the old version reads and writes users.phone, the new one
# users.phone_number; each sees what the other wrote.
APPS = """
import pytest
import sqlalchemy as sa
from pytest_schemashift import PairApps


def seed(conn):
    conn.execute(sa.text("INSERT INTO users (email, full_name, phone) "
                         "VALUES ('a@x', 'A', '+1 555'), ('b@x', 'B', NULL)"))


def old_app(conn, stage):
    conn.execute(sa.text("INSERT INTO users (email, full_name, phone) VALUES (:e, 'Old', '+33 1')"),
                 {"e": f"old {stage}"})
    assert conn.execute(sa.text("SELECT phone FROM users WHERE email = 'a@x'")).scalar_one() == "+1 555"


def new_app(conn, stage):
    conn.execute(sa.text("INSERT INTO users (email, full_name, phone_number) VALUES (:e, 'New', '+49 30')"),
                 {"e": f"new {stage}"})
    phones = dict(conn.execute(sa.text("SELECT email, phone_number FROM users")).all())
    assert phones["a@x"] == "+1 555" and phones["b@x"] is None
    assert phones["old expanded"] == phones["old backfilled"] == "+33 1"
    with open("databases.txt", "a") as f:  # the outer test checks they are dropped
        f.write(conn.engine.url.database + "\\n")


APPS = {"rename users.phone": PairApps(seed=seed, old_app=old_app, new_app=new_app)}


@pytest.fixture
def schemashift_apps():
    return APPS
"""

SINCE = """
[tool.pytest.ini_options]
schemashift_since = "0007_drop_legacy_flag"
"""


def project(pytester: pytest.Pytester, shop: Callable[[Path], None], conftest: str = APPS,
            ini: str = SINCE) -> None:  # fmt: skip
    shop(pytester.path)
    (pytester.path / "tests").mkdir(exist_ok=True)
    (pytester.path / "tests" / "conftest.py").write_text(conftest)
    with (pytester.path / "pyproject.toml").open("a") as f:
        f.write(ini)


def outcome(result: pytest.RunResult) -> str:
    return "\n".join(result.outlines + result.errlines)


def test_a_history_that_keeps_both_apps_working_passes(
    pytester: pytest.Pytester, shop: Callable[[Path], None], server: str
) -> None:
    project(pytester, shop)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--schemashift", "-v",
                                           "--schemashift-server-url", server)  # fmt: skip
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines([
        "tests/conftest.py::schemashift::test_revisions_lint_clean PASSED*",
        "tests/conftest.py::schemashift::test_expand_and_contract_heads PASSED*",
        f"tests/conftest.py::schemashift::test_pair_keeps_old_and_new_app_working[[]{PAIR}[]] PASSED*",
    ])  # fmt: skip
    # the pair ran on a throw-away database, dropped afterwards
    (name,) = set((pytester.path / "databases.txt").read_text().split())
    assert name.startswith("ss_plug_") and not database_exists(server, name)


def database_exists(server: str, name: str) -> bool:
    engine = sa.create_engine(with_driver(server), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            query = ("SELECT 1 FROM pg_database WHERE datname = :n" if server.startswith("postgres")
                     else "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = :n")  # fmt: skip
            return conn.execute(sa.text(query), {"n": name}).first() is not None
    finally:
        engine.dispose()


# A pair whose expand renames the column outright: the old app breaks the moment it runs.
BAD_EXPAND = '''"""rename products.title (expand)

Revision ID: bad0expand01
"""
from alembic import op
import sqlalchemy as sa

revision = "bad0expand01"
down_revision = "{expand_head}"
branch_labels = None
depends_on = None


def upgrade():
    op.alter_column("products", "title", new_column_name="name",
                    existing_type=sa.String(200), existing_nullable=False)


def downgrade():
    op.alter_column("products", "name", new_column_name="title",
                    existing_type=sa.String(200), existing_nullable=False)
'''
BAD_CONTRACT = '''"""rename products.title (contract)

Revision ID: bad0contract
"""
revision = "bad0contract"
down_revision = "{contract_head}"
branch_labels = None
depends_on = "bad0expand01"


def upgrade():
    pass


def downgrade():
    pass
'''
BAD_APPS = APPS.replace(
    "APPS = {",
    """
def old_shop(conn, stage):
    conn.execute(sa.text("INSERT INTO products (title, price_cents, sku) VALUES ('t', 1, :s)"),
                 {"s": f"old-{stage}"})


def new_shop(conn, stage):
    conn.execute(sa.text("SELECT name FROM products")).all()


APPS = {"rename products.title": PairApps(old_app=old_shop, new_app=new_shop),
""",
)


def heads(path: Path) -> tuple[str, str]:
    """(expand head, contract head) of the shop copy at path, read from its revision files."""
    script = ScriptDirectory.from_config(Config(str(path / "alembic.ini")))
    by = {label: h for h in script.get_heads()
          for label in ("expand", "contract") if label in script.get_revision(h).branch_labels}  # fmt: skip
    return by["expand"], by["contract"]


def test_an_expand_that_breaks_the_old_app_fails_naming_pair_stage_and_error(
    pytester: pytest.Pytester, shop: Callable[[Path], None], server: str
) -> None:
    project(pytester, shop, BAD_APPS)
    expand_head, contract_head = heads(pytester.path)
    versions = pytester.path / "migrations" / "versions"
    (versions / "bad0expand01.py").write_text(BAD_EXPAND.format(expand_head=expand_head))
    (versions / "bad0contract.py").write_text(BAD_CONTRACT.format(contract_head=contract_head))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--schemashift",
                                           "--schemashift-server-url", server)  # fmt: skip
    # the good pair still passes; lint and the bad pair fail
    result.assert_outcomes(passed=2, failed=2)
    text = outcome(result)
    missing = "UndefinedColumn: column \"title\" of relation \"products\" does not exist" \
        if server.startswith("postgres") else "OperationalError: (1054, \"Unknown column 'title'*"  # fmt: skip
    result.stdout.fnmatch_lines([
        "*test_pair_keeps_old_and_new_app_working[[]rename products.title[]]*",
        "pair 'rename products.title' (expand bad0expand01, contract bad0contract): "
        "old-app check on the expanded schema failed:",
        f"  {missing}",
        "    at */tests/conftest.py:* in old_shop: conn.execute(*",
    ])  # fmt: skip
    # lint saw it coming: a rename in an expand revision breaks the old app
    result.stdout.fnmatch_lines(
        ["*bad0expand01.py:* (bad0expand01): error SS101: Renaming products.title*"]
    )
    assert "Traceback" not in text and "During handling" not in text
    result.stdout.fnmatch_lines(["FAILED *test_revisions_lint_clean*",
                                 "FAILED *[[]rename products.title[]]*"])  # fmt: skip


DROP = '''"""drop users.phone

Revision ID: drop0phone01
"""
from alembic import op

revision = "drop0phone01"
down_revision = "{expand_head}"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_column("users", "phone")


def downgrade():
    pass
'''


def test_a_breaking_plain_revision_fails_lint(pytester: pytest.Pytester, pg_server: str,
                                               tmp_path_factory: pytest.TempPathFactory) -> None:  # fmt: skip
    copy_project(shop_template(pg_server, tmp_path_factory), pytester.path)
    expand_head, _ = heads(pytester.path)
    (pytester.path / "migrations" / "versions" / "drop0phone01.py").write_text(
        DROP.format(expand_head=expand_head)
    )
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "conftest.py").write_text("")
    with (pytester.path / "pyproject.toml").open("a") as f:
        f.write(SINCE + "schemashift = true\n")  # the ini option instead of --schemashift
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "lint or heads")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "schemashift lint (postgres, fail on error): 1 problem(s):",
        "  migrations/versions/drop0phone01.py:14 (drop0phone01): error SS103: *users.phone*",
        "    fix: *",
    ])  # fmt: skip
    # revisions before schemashift_since are not linted: the shop's own breaking ones
    assert "0003_rename_user_name" not in outcome(result)
    # at the level `breaking`, the pair's planned rename counts too (as lint --fail-on breaking)
    strict = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "lint",
                                           "-o", "schemashift_fail_on=breaking")  # fmt: skip
    strict.stdout.fnmatch_lines(["schemashift lint (postgres, fail on breaking): 3 problem(s):"])
    for line in (  # in the order the history is walked
        "  migrations/versions/*_rename_users_phone_expand.py:* breaking change: rename_column users.phone",
        "  migrations/versions/*_rename_users_phone_contract.py:* breaking change: rename_column users.phone",
        "  migrations/versions/drop0phone01.py:14 (drop0phone01): error SS103: *",
    ):
        strict.stdout.fnmatch_lines([line])


def test_without_expand_contract_branches_and_without_the_flag(pytester: pytest.Pytester) -> None:
    copy_project(SHOP, pytester.path)
    missing = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--schemashift")
    assert missing.ret == pytest.ExitCode.USAGE_ERROR
    missing.stderr.fnmatch_lines(
        ["ERROR: pytest-schemashift: */tests/conftest.py does not exist: *"]
    )
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "conftest.py").write_text("")
    # not asked for: nothing collected
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes()
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--schemashift", "-ra")
    # the seven plain revisions: three lint errors, no branches, so no pairs to run
    result.assert_outcomes(failed=2, skipped=1)
    result.stdout.fnmatch_lines([
        "schemashift lint (postgres, fail on error): 3 problem(s):",
        "schemashift heads: no expand/contract branches (heads: 0007_drop_legacy_flag): "
        "run `schemashift init` to start them",
        "SKIPPED [[]1[]] *: no expand/contract pairs in */alembic.ini",
    ], consecutive=False)  # fmt: skip
    assert "error SS101: Renaming users.name" in outcome(result)


def test_the_apps_must_name_each_pair(pytester: pytest.Pytester, pg_server: str,
                                      tmp_path_factory: pytest.TempPathFactory) -> None:  # fmt: skip
    copy_project(shop_template(pg_server, tmp_path_factory), pytester.path)
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "conftest.py").write_text("")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--schemashift", "-k", "pair",
                                           "--schemashift-server-url", pg_server)  # fmt: skip
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"pair '{PAIR}' (expand *, contract *): no entry in the "
                                 f"schemashift_apps fixture: key it by '{PAIR}', *"])  # fmt: skip


def test_the_pair_test_imported_into_a_module(pytester: pytest.Pytester, pg_server: str,
                                              tmp_path_factory: pytest.TempPathFactory) -> None:  # fmt: skip
    """pytest-alembic's other model: import the tests, no flag; the database comes from an
    ``alembic_engine`` fixture (pytest-alembic's name for it)."""
    copy_project(shop_template(pg_server, tmp_path_factory), pytester.path)
    (pytester.path / "tests").mkdir()
    conftest = APPS + textwrap.dedent(f'''
        from pytest_schemashift.databases import throwaway_database


        @pytest.fixture
        def alembic_engine():
            with throwaway_database({pg_server!r}) as url:
                engine = sa.create_engine(url)
                yield engine
                engine.dispose()
        ''')  # fmt: skip
    (pytester.path / "tests" / "conftest.py").write_text(conftest)
    (pytester.path / "tests" / "test_migrations.py").write_text(
        "from pytest_schemashift.tests import test_pair_keeps_old_and_new_app_working  # noqa\n"
    )
    with (pytester.path / "pyproject.toml").open("a") as f:
        f.write(SINCE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [f"tests/test_migrations.py::test_pair_keeps_old_and_new_app_working[[]{PAIR}[]] PASSED*"]
    )


# A pair lint finds nothing wrong with: expand adds a column, contract drops the old one.
# But nothing copies what the old app keeps writing to the new column.
COPY_EXPAND = '''"""copy products.price_cents (expand)

Revision ID: copy0expand1
"""
from alembic import op
import sqlalchemy as sa

revision = "copy0expand1"
down_revision = "{expand_head}"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("products", sa.Column("price_minor", sa.Integer(), nullable=True))


def downgrade():
    op.drop_column("products", "price_minor")
'''
COPY_CONTRACT = '''"""copy products.price_cents (contract)

Revision ID: copy0contrct
"""
from alembic import op

revision = "copy0contrct"
down_revision = "{contract_head}"
branch_labels = None
depends_on = "copy0expand1"


def upgrade():
    op.drop_column("products", "price_cents")


def downgrade():
    pass
'''
COPY_APPS = APPS.replace(
    "APPS = {",
    """
def old_price(conn, stage):
    conn.execute(sa.text("INSERT INTO products (title, price_cents, sku) VALUES (:t, 700, :t)"),
                 {"t": f"old {stage}"})


def new_price(conn, stage):
    price = conn.execute(sa.text("SELECT price_minor FROM products WHERE title = 'old expanded'"))
    assert price.scalar_one() == 700


APPS = {"copy products.price_cents": PairApps(old_app=old_price, new_app=new_price),
""",
)


def test_an_old_app_write_the_new_app_cannot_read_fails_where_lint_sees_nothing(
    pytester: pytest.Pytester, pg_server: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    copy_project(shop_template(pg_server, tmp_path_factory), pytester.path)
    expand_head, contract_head = heads(pytester.path)
    versions = pytester.path / "migrations" / "versions"
    (versions / "copy0expand1.py").write_text(COPY_EXPAND.format(expand_head=expand_head))
    (versions / "copy0contrct.py").write_text(COPY_CONTRACT.format(contract_head=contract_head))
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "conftest.py").write_text(COPY_APPS)
    with (pytester.path / "pyproject.toml").open("a") as f:
        f.write(SINCE)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--schemashift", "-k", "lint or price",
        "--schemashift-server-url", pg_server,
    )  # fmt: skip
    result.assert_outcomes(passed=1, failed=1)  # lint passes, the pair does not
    result.stdout.fnmatch_lines([
        "pair 'copy products.price_cents' (expand copy0expand1, contract copy0contrct): "
        "new-app check after backfill (both versions live) failed:",
        "  AssertionError: assert None == 700",
        "*",
        "    at */tests/conftest.py:* in new_price: assert price.scalar_one() == 700",
        "(stages passed before it: upgrade to the revisions before the pair, plan, expand, "
        "old-app check on the expanded schema, rollback (the expand revision's downgrade), "
        "old-app check after rollback, expand again, old-app check after backfill (both "
        "versions live))",
    ])  # fmt: skip


def test_a_sqlite_alembic_engine_is_refused_in_one_line(
    pytester: pytest.Pytester, pg_server: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    copy_project(shop_template(pg_server, tmp_path_factory), pytester.path)
    (pytester.path / "tests").mkdir()
    conftest = APPS + textwrap.dedent("""
        @pytest.fixture
        def alembic_engine():  # pytest-alembic's default: in-memory SQLite
            return sa.create_engine("sqlite:///")
        """)  # fmt: skip
    (pytester.path / "tests" / "conftest.py").write_text(conftest)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--schemashift", "-k", "pair")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        "pytest-schemashift: alembic_engine is a SQLite database; the pair test needs "
        "PostgreSQL or MySQL/MariaDB: override alembic_engine or set schemashift_server_url",
    ])  # fmt: skip
    assert "Traceback" not in outcome(result)


# A pair whose contract deletes rows: the row count after contract catches it.
TIDY_EXPAND = COPY_EXPAND.replace("copy products.price_cents", "tidy products")
TIDY_CONTRACT = COPY_CONTRACT.replace("copy products.price_cents", "tidy products").replace(
    'op.drop_column("products", "price_cents")',
    "op.execute(\"DELETE FROM products WHERE sku LIKE 'tmp-%'\")",
)
TIDY_APPS = APPS.replace(
    "APPS = {",
    """
def seed_products(conn):
    conn.execute(sa.text("INSERT INTO products (title, price_cents, sku) "
                         "VALUES ('a', 1, 'tmp-1'), ('b', 2, 'keep-1')"))


def count_products(conn, stage):
    assert conn.execute(sa.text("SELECT count(*) FROM products")).scalar_one() >= 1


APPS = {"tidy products": PairApps(old_app=count_products, new_app=count_products, seed=seed_products),
""",
)


def test_a_phase_that_loses_rows_fails(
    pytester: pytest.Pytester, pg_server: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    copy_project(shop_template(pg_server, tmp_path_factory), pytester.path)
    expand_head, contract_head = heads(pytester.path)
    versions = pytester.path / "migrations" / "versions"
    (versions / "copy0expand1.py").write_text(TIDY_EXPAND.format(expand_head=expand_head))
    (versions / "copy0contrct.py").write_text(TIDY_CONTRACT.format(contract_head=contract_head))
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "conftest.py").write_text(TIDY_APPS)
    with (pytester.path / "pyproject.toml").open("a") as f:
        f.write(SINCE)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--schemashift", "-k", "tidy", "--schemashift-server-url", pg_server
    )  # fmt: skip
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "pair 'tidy products' (expand copy0expand1, contract copy0contrct): "
        "contract changed row counts: products: 2 → 1",
    ])  # fmt: skip


def test_a_server_that_cannot_be_reached_fails_in_one_line_without_its_password(
    pytester: pytest.Pytester,
    pg_server: str,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    copy_project(shop_template(pg_server, tmp_path_factory), pytester.path)
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "conftest.py").write_text(APPS)
    monkeypatch.setenv("SCHEMASHIFT_TEST_SERVER_URL", "postgresql://app:s3cr3t@127.0.0.1:1/x")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--schemashift", "-k", "pair")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        "pytest-schemashift: cannot create a database on postgresql://app:***@127.0.0.1:1/x: *",
    ])  # fmt: skip
    assert "s3cr3t" not in outcome(result) and "Traceback" not in outcome(result)
