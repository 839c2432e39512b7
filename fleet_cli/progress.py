"""A one-line progress display on a terminal; silent when output goes to a file or a pipe."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from fleet.summary import count as count_of


class Progress:
    """`label: N resources` updated in place, at most ten times a second."""

    def __init__(self, label: str, stream: TextIO = sys.stderr) -> None:
        self.label = label
        self.stream = stream
        self.enabled = stream.isatty()
        self._shown_at = 0.0

    def update(self, count: int) -> None:
        now = time.monotonic()
        if self.enabled and now - self._shown_at >= 0.1:
            self._shown_at = now
            self.stream.write(f"\r{self.label}: {count_of(count, 'resource')}")
            self.stream.flush()

    def clear(self) -> None:
        if self.enabled and self._shown_at:
            self.stream.write("\r\033[K")
            self.stream.flush()
