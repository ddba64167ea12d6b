"""The backfill phase: keyset-paginated batches, checkpointed, resumable, on every backend.

- :mod:`.core`: what the backends share: :class:`BackfillOptions` (how a backfill runs),
  :class:`BackfillResult`, the errors, :class:`BatchSizer` (the batch size aimed at a time
  budget), :func:`drive_batches` / :func:`run_driver` (the checkpoint walk: sizing,
  pauses, retries, reconnects, the search for a row failing on its value, progress) and
  :class:`BackfillDriver`, the small protocol a backend implements;
- :mod:`.progress`: :class:`Progress`, the progress bar or log lines;
- one driver per backend: :mod:`.postgres` (:func:`run_backfill`), :mod:`.mysql`
  (``run_backfill_mysql``) and :mod:`.sqlite` (``run_backfill_sqlite``), each importing
  only its own database driver.

The PostgreSQL names are re-exported here; import the MySQL and SQLite ones from their
modules.
"""

from __future__ import annotations

from schemashift.execute.backfill.core import (
    DEFAULT_BATCH_TIME_MS,
    DEFAULT_PAUSE_RATIO,
    BackfillDataError,
    BackfillDriver,
    BackfillError,
    BackfillOptions,
    BackfillResult,
    BatchFailure,
    BatchOutcome,
    BatchSizer,
    ReconnectFailed,
    WalkStart,
    drive_batches,
    finish_backfill,
    run_driver,
)
from schemashift.execute.backfill.postgres import (
    KeyInfo,
    PostgresDriver,
    backfill_setting,
    ensure_progress_table,
    estimate_rows,
    resolve_key,
    run_backfill,
)
from schemashift.execute.backfill.progress import Progress

__all__ = ["DEFAULT_BATCH_TIME_MS", "DEFAULT_PAUSE_RATIO", "BackfillDataError",
           "BackfillDriver", "BackfillError", "BackfillOptions", "BackfillResult",
           "BatchFailure", "BatchOutcome", "BatchSizer", "KeyInfo", "PostgresDriver",
           "Progress", "ReconnectFailed", "WalkStart", "backfill_setting", "drive_batches",
           "ensure_progress_table", "estimate_rows", "finish_backfill", "resolve_key",
           "run_backfill", "run_driver"]  # fmt: skip
