"""Unique index on products.sku; foreign key order_items.order_id -> orders.id.

Why: the warehouse looks products up by SKU and two products must never share one
(SHOP-137); order_items pointing at deleted orders kept showing up in the finance export
(SHOP-104), now that checkout deletes orders properly the key can be enforced.

Done the zero-downtime way on PostgreSQL:

* ``lock_timeout`` first, so a DDL statement that queues behind a long transaction gives
  up after 2 s instead of stalling all traffic behind it (it stays set for the session);
* CREATE UNIQUE INDEX CONCURRENTLY ... IF NOT EXISTS: no write lock on products, and
  rerunnable if a previous attempt failed half way; CONCURRENTLY cannot run in a
  transaction block, hence the autocommit block;
* the foreign key is added NOT VALID (brief lock, existing rows not checked), committed,
  and then VALIDATE CONSTRAINT checks the existing rows under SHARE UPDATE EXCLUSIVE,
  which lets reads and writes continue.

MySQL/MariaDB ignore the postgresql_* options: InnoDB builds the index online and adds
the foreign key with a table copy (no NOT VALID there). SQLite can only add a foreign
key by rebuilding the table (batch mode).

Revision ID: 0006_sku_index_items_fk
Revises: 0005_product_sku
Create Date: 2024-06-04 08:47:19.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "0006_sku_index_items_fk"
down_revision: Union[str, Sequence[str], None] = "0005_product_sku"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    dialect = op.get_context().dialect.name
    if dialect == "postgresql":
        op.execute("SET lock_timeout = '2s'")

    with op.get_context().autocommit_block():
        op.create_index(
            "ix_products_sku",
            "products",
            ["sku"],
            unique=True,
            postgresql_concurrently=True,
            if_not_exists=True,
        )

    if dialect == "sqlite":
        with op.batch_alter_table("order_items") as batch_op:
            batch_op.create_foreign_key(
                "fk_order_items_order_id", "orders", ["order_id"], ["id"]
            )
    else:
        op.create_foreign_key(
            "fk_order_items_order_id",
            "order_items",
            "orders",
            ["order_id"],
            ["id"],
            postgresql_not_valid=True,
        )

    if dialect == "postgresql":
        # Its own transaction: validating in the transaction that added the constraint
        # would hold the stronger lock of the ADD during the whole scan.
        with op.get_context().autocommit_block():
            op.execute("ALTER TABLE order_items VALIDATE CONSTRAINT fk_order_items_order_id")


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_context().dialect.name == "sqlite":
        with op.batch_alter_table("order_items") as batch_op:
            batch_op.drop_constraint("fk_order_items_order_id", type_="foreignkey")
    else:
        op.drop_constraint("fk_order_items_order_id", "order_items", type_="foreignkey")
    with op.get_context().autocommit_block():
        op.drop_index(
            "ix_products_sku",
            table_name="products",
            postgresql_concurrently=True,
            if_exists=True,
        )
