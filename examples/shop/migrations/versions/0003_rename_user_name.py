"""Rename users.name to users.full_name.

Why: the new account page has separate display names, and "name" kept being confused
with them (SHOP-118). The rename itself is instant (a catalog change under a brief
ACCESS EXCLUSIVE lock on PostgreSQL), but it breaks the application version that is
still running: every query it sends that mentions users.name fails from the moment
this commits until the new version is rolled out everywhere.

Revision ID: 0003_rename_user_name
Revises: 0002_user_phone_orders_idx
Create Date: 2024-03-11 09:15:02.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "0003_rename_user_name"
down_revision: Union[str, Sequence[str], None] = "0002_user_phone_orders_idx"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    # existing_type/existing_nullable: MySQL renames with CHANGE COLUMN, which restates
    # the whole column definition.
    op.alter_column(
        "users",
        "name",
        new_column_name="full_name",
        existing_type=sa.String(200),
        existing_nullable=False,
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.alter_column(
        "users",
        "full_name",
        new_column_name="name",
        existing_type=sa.String(200),
        existing_nullable=False,
    )
