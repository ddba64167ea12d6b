"""Add products.sku, NOT NULL.

Why: the warehouse integration identifies products by SKU (SHOP-137), and every product
must have one. The column is added NOT NULL with a temporary server default (so the
ADD COLUMN succeeds on a table that already has rows), existing products get a
generated SKU, and the default is dropped again so that new inserts must supply one.

The catch: the application version still running does not know the column. Once the
default is gone, its INSERT INTO products (...) without sku fails with a NOT NULL
violation until the new version is rolled out. The backfill is one UPDATE over the whole
table in the migration's transaction (it locks every product row until commit).

Revision ID: 0005_product_sku
Revises: 0004_order_amount_numeric
Create Date: 2024-05-21 11:03:37.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "0005_product_sku"
down_revision: Union[str, Sequence[str], None] = "0004_order_amount_numeric"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# Just the columns this revision touches (never import the app's models in a migration).
products = sa.table(
    "products",
    sa.column("id", sa.BigInteger()),
    sa.column("sku", sa.String(64)),
)


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column(
        "products",
        sa.Column("sku", sa.String(64), nullable=False, server_default=""),
    )
    # Existing products: SKU-<id>, unique, so revision 0006 can add a unique index.
    op.execute(
        products.update().values(
            sku=sa.literal("SKU-") + sa.cast(products.c.id, sa.String(20))
        )
    )
    if op.get_context().dialect.name == "sqlite":
        with op.batch_alter_table("products") as batch_op:
            batch_op.alter_column(
                "sku",
                server_default=None,
                existing_type=sa.String(64),
                existing_nullable=False,
            )
    else:
        op.alter_column(
            "products",
            "sku",
            server_default=None,
            existing_type=sa.String(64),
            existing_nullable=False,
        )


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_context().dialect.name == "sqlite":
        with op.batch_alter_table("products") as batch_op:
            batch_op.drop_column("sku")
    else:
        op.drop_column("products", "sku")
