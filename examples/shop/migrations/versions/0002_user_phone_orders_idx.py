"""Add users.phone and index orders.user_id.

Why: SMS delivery notifications need a phone number (SHOP-97); it is optional, so the
column is nullable and the old app version, which never writes it, keeps working. The
"my orders" page filters orders by user_id and got slow, so the column gets an index.

The index is a plain CREATE INDEX, not CONCURRENTLY: on PostgreSQL it blocks every
INSERT, UPDATE and DELETE on orders until the build finishes, which on a large orders
table is an outage. (Kept as written: this is the history the team actually has.)

Revision ID: 0002_user_phone_orders_idx
Revises: 0001_create_tables
Create Date: 2024-02-03 14:41:27.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "0002_user_phone_orders_idx"
down_revision: Union[str, Sequence[str], None] = "0001_create_tables"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column("users", sa.Column("phone", sa.String(32), nullable=True))
    op.create_index("ix_orders_user_id", "orders", ["user_id"])


def downgrade() -> None:
    """Downgrade schema."""
    dialect = op.get_context().dialect.name
    if dialect in ("mysql", "mariadb"):
        # InnoDB needs an index on the foreign key column: it silently dropped the one
        # it made for fk_orders_user_id when ix_orders_user_id took over, and refuses to
        # drop ix_orders_user_id (error 1553) until another index is there.
        op.create_index("fk_orders_user_id", "orders", ["user_id"])
    op.drop_index("ix_orders_user_id", table_name="orders")
    if dialect == "sqlite":
        # DROP COLUMN is native only since SQLite 3.35; batch mode rebuilds the table.
        with op.batch_alter_table("users") as batch_op:
            batch_op.drop_column("phone")
    else:
        op.drop_column("users", "phone")
