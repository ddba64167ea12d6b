"""The Alembic example project in ``examples/shop``: its history really runs.

Upgrade → downgrade → upgrade on real PostgreSQL and MariaDB/MySQL databases (plus SQLite,
which needs no server), the schema at head is what the models say (autogenerate finds no
differences), and every revision renders offline (``alembic upgrade --sql``), which is how
it can be linted without a database.
"""

from __future__ import annotations

import importlib
import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

SHOP_DIR = Path(__file__).resolve().parent.parent / "examples" / "shop"
INI = SHOP_DIR / "alembic.ini"
URL_ENV = "SCHEMASHIFT_DATABASE_URL"

REVISIONS = [
    "0001_create_tables",
    "0002_user_phone_orders_idx",
    "0003_rename_user_name",
    "0004_order_amount_numeric",
    "0005_product_sku",
    "0006_sku_index_items_fk",
    "0007_drop_legacy_flag",
]

HEAD_COLUMNS = {
    "users": ["id", "email", "full_name", "created_at", "phone"],
    "products": ["id", "title", "price_cents", "created_at", "sku"],
    "orders": ["id", "user_id", "amount", "status", "created_at"],
    "order_items": ["id", "order_id", "product_id", "quantity", "unit_price_cents"],
}


def shop_metadata() -> sa.MetaData:
    """``shop.models.Base.metadata`` (the example project is not an installed package)."""
    if str(SHOP_DIR) not in sys.path:
        sys.path.insert(0, str(SHOP_DIR))
    return importlib.import_module("shop.models").Base.metadata  # type: ignore[no-any-return]


def with_driver(url: str) -> str:
    """Pin the installed drivers: psycopg 3 for PostgreSQL, PyMySQL for MySQL/MariaDB."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername in {"mysql", "mariadb"}:
        parsed = parsed.set(drivername=f"{parsed.drivername}+pymysql")
    return parsed.render_as_string(hide_password=False)


@pytest.fixture
def shop_config(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``make(url)``: the example's alembic Config, pointed at ``url`` the way a user does it
    (``SCHEMASHIFT_DATABASE_URL``; set here even when empty, so a developer's own value
    can never send the tests to another database)."""

    def make(url: str, output: io.StringIO | None = None) -> Config:
        monkeypatch.setenv(URL_ENV, url)
        cfg = Config(str(INI), output_buffer=output)
        cfg.attributes["configure_logger"] = False  # leave pytest's logging alone
        return cfg

    yield make


def round_trip(cfg: Config) -> None:
    command.upgrade(cfg, "head")
    command.downgrade(cfg, "base")
    command.upgrade(cfg, "head")


def assert_head_schema(url: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            insp = sa.inspect(conn)
            tables = set(insp.get_table_names())
            assert tables == {*HEAD_COLUMNS, "alembic_version"}
            for table, columns in HEAD_COLUMNS.items():
                assert [c["name"] for c in insp.get_columns(table)] == columns, table
            cols = {c["name"]: c for c in insp.get_columns("orders")}
            amount = cols["amount"]["type"]
            assert isinstance(amount, sa.Numeric) and not isinstance(amount, sa.Float)
            assert (amount.precision, amount.scale) == (12, 2)
            sku = {c["name"]: c for c in insp.get_columns("products")}["sku"]
            assert sku["nullable"] is False and sku["default"] is None
            indexes = {i["name"]: i for i in insp.get_indexes("products")}
            assert indexes["ix_products_sku"]["unique"]
            assert "ix_orders_user_id" in {i["name"] for i in insp.get_indexes("orders")}
            fks = {fk["name"]: fk for fk in insp.get_foreign_keys("order_items")}
            assert fks["fk_order_items_order_id"]["referred_table"] == "orders"
            version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            assert version == REVISIONS[-1]

            # The models describe exactly this schema.
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, shop_metadata()) == []
    finally:
        engine.dispose()


def test_history_is_linear_with_fixed_ids() -> None:
    script = ScriptDirectory.from_config(Config(str(INI)))
    revisions = list(reversed(list(script.walk_revisions())))
    assert [r.revision for r in revisions] == REVISIONS
    for rev in revisions:
        assert rev.module.__doc__ and rev.module.__doc__.strip(), rev.revision
    drop = Path(script.get_revision("0007_drop_legacy_flag").path).read_text()
    assert "# schemashift: ignore SS103 legacy_flag unused since v2 (SHOP-142)" in drop


def test_round_trip_postgres(postgres_url: str, shop_config: Any) -> None:
    url = with_driver(postgres_url)
    round_trip(shop_config(url))
    assert_head_schema(url)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            # 0006 added the key NOT VALID and then validated it.
            validated = conn.execute(
                sa.text(
                    "SELECT convalidated FROM pg_constraint"
                    " WHERE conname = 'fk_order_items_order_id'"
                )
            ).scalar()
            assert validated is True
            identity = conn.execute(
                sa.text(
                    "SELECT is_identity FROM information_schema.columns"
                    " WHERE table_name = 'users' AND column_name = 'id'"
                )
            ).scalar()
            assert identity == "YES"
    finally:
        engine.dispose()


def test_round_trip_postgres_with_rows(postgres_url: str, shop_config: Any) -> None:
    """The data-carrying revisions (type change, NOT NULL add with backfill, unique index,
    validated foreign key) also work on tables that have rows."""
    url = with_driver(postgres_url)
    cfg = shop_config(url)
    command.upgrade(cfg, "0001_create_tables")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text("INSERT INTO users (email, name) VALUES ('a@x', 'A'), ('b@x', 'B')")
            )
            conn.execute(
                sa.text("INSERT INTO products (title, price_cents) VALUES ('p', 1), ('q', 2)")
            )
            conn.execute(sa.text("INSERT INTO orders (user_id, amount) VALUES (1, 10), (2, 20)"))
            conn.execute(
                sa.text(
                    "INSERT INTO order_items (order_id, product_id, unit_price_cents)"
                    " VALUES (1, 1, 1), (2, 2, 2)"
                )
            )
        command.upgrade(cfg, "head")
        with engine.connect() as conn:
            skus = conn.execute(sa.text("SELECT sku FROM products ORDER BY id")).scalars().all()
            assert skus == ["SKU-1", "SKU-2"]
            amounts = conn.execute(sa.text("SELECT amount FROM orders ORDER BY id")).scalars()
            assert [str(a) for a in amounts] == ["10.00", "20.00"]
            names = conn.execute(sa.text("SELECT full_name FROM users ORDER BY id")).scalars()
            assert list(names) == ["A", "B"]
        command.downgrade(cfg, "0001_create_tables")
        with engine.connect() as conn:
            names = conn.execute(sa.text("SELECT name FROM users ORDER BY id")).scalars()
            assert list(names) == ["A", "B"]
    finally:
        engine.dispose()


def test_round_trip_mysql(mysql_url: str, shop_config: Any) -> None:
    url = with_driver(mysql_url)
    round_trip(shop_config(url))
    assert_head_schema(url)


def test_round_trip_sqlite(tmp_path: Path, shop_config: Any) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    round_trip(shop_config(url))
    assert_head_schema(url)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql+psycopg://nobody@127.0.0.1:1/offline",
            [
                "ALTER TABLE users RENAME name TO full_name",
                "USING amount::numeric(12,2)",
                "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ix_products_sku",
                "NOT VALID",
                "ALTER TABLE order_items VALIDATE CONSTRAINT fk_order_items_order_id",
                "ALTER TABLE users DROP COLUMN legacy_flag",
            ],
        ),
        (
            "mysql+pymysql://nobody@127.0.0.1:1/offline",
            [
                "ALTER TABLE users CHANGE name full_name VARCHAR(200) NOT NULL",
                "ALTER TABLE orders MODIFY amount NUMERIC(12, 2) NOT NULL",
                "ALTER TABLE users DROP COLUMN legacy_flag",
            ],
        ),
    ],
)
def test_renders_offline(url: str, expected: list[str], shop_config: Any) -> None:
    """``alembic upgrade head --sql`` and the full downgrade render without a database
    (nothing listens on port 1: a revision that tried to connect would fail)."""
    out = io.StringIO()
    command.upgrade(shop_config(url, out), "head", sql=True)
    sql = out.getvalue()
    for needle in expected:
        assert needle in sql
    if url.startswith("mysql"):
        assert "VALIDATE" not in sql and "CONCURRENTLY" not in sql
    down = io.StringIO()
    command.downgrade(shop_config(url, down), "head:base", sql=True)
    assert "DROP TABLE users" in down.getvalue()
