"""The backfill's progress display: rows done of the total, rate and ETA on stderr."""

from __future__ import annotations

import math
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """Rows done of the total, rate and ETA on stderr.

    On a terminal: one line redrawn in place (``\\r``) at most ``redraws_per_second``
    times a second. Otherwise (CI logs, files): a plain line every ``interval`` seconds.
    ``quiet``: nothing at all.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        quiet: bool = False,
        interval: float = 5.0,
        tty: bool | None = None,
        redraws_per_second: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self.quiet = quiet
        self.interval = interval
        self._tty = tty
        self._min_redraw = 1.0 / redraws_per_second if redraws_per_second > 0 else 0.0
        self._clock = clock
        self.label = "backfill"
        self.total: int | None = None
        self.done = 0
        self.written = 0
        self._start_done = 0
        self._started = 0.0
        self._last_out = -math.inf
        self._samples: deque[tuple[float, int]] = deque()
        self._drawn = False

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    @property
    def is_tty(self) -> bool:
        if self._tty is not None:
            return self._tty
        isatty = getattr(self.stream, "isatty", None)
        try:
            return bool(isatty and isatty())
        except ValueError:  # closed stream
            return False

    def start(self, label: str, total: int | None, done: int = 0, note: str = "") -> None:
        now = self._clock()
        self.label, self.total, self.done, self.written = label, total, done, 0
        self._start_done, self._started = done, now
        self._samples = deque([(now, done)])
        self._drawn = False
        self._last_out = now  # the first log line comes `interval` seconds in
        if self.quiet:
            return
        if self.is_tty:
            self._draw(now)
        else:
            total_text = f"{total:,}" if total is not None else "unknown"
            self._line(f"{label}: starting, about {total_text} rows{note}")

    def update(self, done: int, written: int | None = None) -> None:
        """``done``: rows walked so far (of ``total``); ``written``: rows updated so far."""
        now = self._clock()
        self.done = done
        if written is not None:
            self.written = written
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[0][0] > 10.0:
            self._samples.popleft()
        if self.quiet:
            return
        if self.is_tty:
            if now - self._last_out >= self._min_redraw:
                self._draw(now)
        elif now - self._last_out >= self.interval:
            self._last_out = now
            self._line(f"{self.label}: {self._summary(now)}")

    def note(self, text: str) -> None:
        """A message between updates (a retry, say): its own line, the bar redrawn after."""
        if self.quiet:
            return
        if self.is_tty:
            if self._drawn:
                self.stream.write("\r\x1b[K")
                self._drawn = False
            self.stream.write(f"{self.label}: {text}\n")
            self.stream.flush()
            self._last_out = -math.inf
        else:
            self._line(f"{self.label}: {text}")

    def finish(self, message: str | None = None) -> None:
        now = self._clock()
        if self.quiet:
            return
        text = message or f"done, {self.written:,} rows updated in {now - self._started:.1f} s"
        if self.is_tty:
            if self._drawn:
                self.stream.write("\r\x1b[K")
            self.stream.write(f"{self.label}: {text}\n")
            self.stream.flush()
        else:
            self._line(f"{self.label}: {text}")

    # -- figures -----------------------------------------------------------------------

    def rate(self, now: float | None = None) -> float | None:
        """Rows per second over the last ~10 s (None before there is a measurable span)."""
        now = self._clock() if now is None else now
        t0, d0 = self._samples[0]
        span = now - t0
        if span <= 0.05:
            return None
        return max(0.0, (self.done - d0) / span)

    def eta(self, now: float | None = None) -> float | None:
        rate = self.rate(now)
        if self.total is None or not rate:
            return None
        return max(0, self.total - self.done) / rate

    def _summary(self, now: float) -> str:
        parts = [f"{self.done:,}/{self.total:,} rows" if self.total is not None
                 else f"{self.done:,} rows"]  # fmt: skip
        if self.total:
            parts[0] += f" ({min(100.0, 100.0 * self.done / self.total):.0f}%)"
        rate = self.rate(now)
        if rate is not None:
            parts.append(f"{rate:,.0f} rows/s")
        eta = self.eta(now)
        if eta is not None:
            parts.append(f"ETA {_duration(eta)}")
        return ", ".join(parts)

    def _draw(self, now: float) -> None:
        self._last_out = now
        bar = ""
        if self.total:
            width = 24
            filled = min(width, int(width * self.done / self.total))
            bar = "[" + "#" * filled + "-" * (width - filled) + "] "
        self.stream.write(f"\r{self.label}: {bar}{self._summary(now)}\x1b[K")
        self.stream.flush()
        self._drawn = True

    def _line(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        self.stream.write(f"{stamp} schemashift: {text}\n")
        self.stream.flush()


def _duration(seconds: float) -> str:
    whole = round(seconds)
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"

