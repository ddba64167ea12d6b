"""Drop users.legacy_flag.

Why: the flag marked accounts imported from the PHP storefront; nothing has read or
written it since app v2, and every deployed version is v3 or later (checked against the
deployment registry before merging, SHOP-142). Dropping a column is otherwise a breaking
change (an old version that still selects it would fail), hence the reviewed
suppression below.

Revision ID: 0007_drop_legacy_flag
Revises: 0006_sku_index_items_fk
Create Date: 2024-07-09 13:58:50.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "0007_drop_legacy_flag"
down_revision: Union[str, Sequence[str], None] = "0006_sku_index_items_fk"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    # schemashift: ignore SS103 legacy_flag unused since v2 (SHOP-142)
    if op.get_context().dialect.name == "sqlite":
        # DROP COLUMN is native only since SQLite 3.35; batch mode rebuilds the table.
        with op.batch_alter_table("users") as batch_op:
            batch_op.drop_column("legacy_flag")
    else:
        op.drop_column("users", "legacy_flag")


def downgrade() -> None:
    """Downgrade schema."""
    # The values are gone; the column comes back with its default.
    op.add_column(
        "users",
        sa.Column("legacy_flag", sa.Boolean(), nullable=True, server_default=sa.false()),
    )
