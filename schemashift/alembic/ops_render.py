"""How schemashift's operations are written into revision files (autogenerate's renderers).

Apart from the operations themselves (ops.py, change_op.py) because Alembic loads its
plugins (plugin.py) while ``alembic.autogenerate`` is still being imported: the operations
must register without it; their renderers register here, imported by the code that writes
revisions (autogen.py).
"""

from __future__ import annotations

from alembic.autogenerate.render import renderers

from schemashift.alembic import change_op, ops

for _op, _render in (
    (ops.BackfillOp, ops._render_backfill),
    (ops.VerifyOp, ops._render_verify),
    (ops.CreateSyncTriggerOp, ops._render_create_sync_trigger),
    (ops.DropSyncTriggerOp, ops._render_drop_sync_trigger),
    (ops.AutocommitBlockOp, ops._render_autocommit_block),
    (ops.CommentOp, ops._render_comment),
    (ops.PassOp, ops._render_pass),
    (ops.LockTimeoutOp, ops._render_lock_timeout),
    (change_op.ChangeOp, change_op._render_change),
):
    renderers.dispatch_for(_op)(_render)
