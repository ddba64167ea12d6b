"""The one backoff formula of the executor: the runner's step retries and both backfills'
batch retries wait this long before attempt ``attempt`` (1, 2, …)."""

from __future__ import annotations

import random

__all__ = ["backoff_delay"]


def backoff_delay(attempt: int, base_s: float, cap_s: float) -> float:
    """Seconds to wait before retry ``attempt``: ``base_s`` doubled each attempt, capped at
    ``cap_s``, times a jitter in [0.5, 1) so that runs do not retry in lockstep."""
    delay: float = min(cap_s, base_s * 2 ** (attempt - 1))
    return delay * (0.5 + random.random() / 2)
