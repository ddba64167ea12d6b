"""Change orders.amount from integer to numeric(12, 2).

Why: vouchers and VAT rounding produce amounts with cents, and the integer column
silently truncated them (SHOP-126). Existing whole amounts convert exactly.

On PostgreSQL integer -> numeric is not binary compatible: the ALTER rewrites the whole
orders table and rebuilds its indexes while holding ACCESS EXCLUSIVE, so checkout is
blocked (reads included) for the duration. MySQL copies the table (ALGORITHM=COPY),
blocking writes. SQLite cannot change a column type in place: batch mode rebuilds the
table.

Revision ID: 0004_order_amount_numeric
Revises: 0003_rename_user_name
Create Date: 2024-04-02 16:20:45.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "0004_order_amount_numeric"
down_revision: Union[str, Sequence[str], None] = "0003_rename_user_name"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    if op.get_context().dialect.name == "sqlite":
        with op.batch_alter_table("orders") as batch_op:
            batch_op.alter_column(
                "amount",
                type_=sa.Numeric(12, 2),
                existing_type=sa.Integer(),
                existing_nullable=False,
            )
    else:
        # postgresql_using is only rendered on PostgreSQL (USING ...).
        op.alter_column(
            "orders",
            "amount",
            type_=sa.Numeric(12, 2),
            existing_type=sa.Integer(),
            existing_nullable=False,
            postgresql_using="amount::numeric(12,2)",
        )


def downgrade() -> None:
    """Downgrade schema."""
    # Loses the cents: amounts are rounded to whole units.
    if op.get_context().dialect.name == "sqlite":
        with op.batch_alter_table("orders") as batch_op:
            batch_op.alter_column(
                "amount",
                type_=sa.Integer(),
                existing_type=sa.Numeric(12, 2),
                existing_nullable=False,
            )
    else:
        op.alter_column(
            "orders",
            "amount",
            type_=sa.Integer(),
            existing_type=sa.Numeric(12, 2),
            existing_nullable=False,
            postgresql_using="round(amount)::integer",
        )
