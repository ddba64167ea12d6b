"""Create the shop's tables: users, products, orders and order_items.

Why: first schema of the shop (SHOP-1). Brand-new tables are empty, so nothing here can
lock or rewrite live data. Keys are bigint identities (auto-increment on MySQL, a plain
INTEGER PRIMARY KEY on SQLite). ``order_items.order_id`` deliberately has no foreign key
yet: the checkout service deleted orders out of order, and the key is added safely in
revision 0006 once that is fixed. ``users.legacy_flag`` carries the PHP storefront's
"migrated" marker and is dropped in revision 0007.

Revision ID: 0001_create_tables
Revises:
Create Date: 2024-01-15 10:02:11.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "0001_create_tables"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# bigint keys everywhere; SQLite only auto-increments an INTEGER PRIMARY KEY.
BIGINT_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "users",
        sa.Column("id", BIGINT_KEY, sa.Identity(), primary_key=True),
        sa.Column("email", sa.String(255), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("legacy_flag", sa.Boolean(), nullable=True, server_default=sa.false()),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.UniqueConstraint("email", name="uq_users_email"),
    )
    op.create_table(
        "products",
        sa.Column("id", BIGINT_KEY, sa.Identity(), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
    )
    op.create_table(
        "orders",
        sa.Column("id", BIGINT_KEY, sa.Identity(), primary_key=True),
        sa.Column(
            "user_id",
            sa.BigInteger(),
            sa.ForeignKey("users.id", name="fk_orders_user_id"),
            nullable=False,
        ),
        # Order total in whole currency units (the shop only sold round prices).
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, server_default="pending"),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
    )
    op.create_table(
        "order_items",
        sa.Column("id", BIGINT_KEY, sa.Identity(), primary_key=True),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "product_id",
            sa.BigInteger(),
            sa.ForeignKey("products.id", name="fk_order_items_product_id"),
            nullable=False,
        ),
        sa.Column("quantity", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("unit_price_cents", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("order_items")
    op.drop_table("orders")
    op.drop_table("products")
    op.drop_table("users")
