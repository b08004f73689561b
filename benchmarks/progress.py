"""Progress within an epoch: a bar redrawn in place on a terminal, a plain line every ~30 s otherwise
(so logs and Ray trial output stay readable). Steps done, images/s and the time left in the epoch."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class StepProgress:
    """Call it after each step with (step, steps, images so far); `label` names the epoch."""

    def __init__(self, stream: TextIO | None = None, every_s: float = 30.0, width: int = 24):
        self.stream = stream or sys.stdout
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every_s = every_s
        self.width = width
        self.label = ""
        self._began = self._last = time.perf_counter()

    def start(self, label: str) -> None:
        self.label = label
        self._began = self._last = time.perf_counter()

    def __call__(self, step: int, steps: int, images: int) -> None:
        now = time.perf_counter()
        elapsed = now - self._began
        rate = images / elapsed if elapsed > 0 else 0.0
        left = elapsed / step * (steps - step) if step else 0.0
        text = f"{self.label} step {step}/{steps}  {rate:.0f} img/s  {_clock(left)} left"
        if self.tty:
            filled = int(self.width * step / max(steps, 1))
            bar = "#" * filled + "." * (self.width - filled)
            end = "\n" if step == steps else ""
            self.stream.write(f"\r[{bar}] {text}\033[K{end}")
            self.stream.flush()
        elif now - self._last >= self.every_s and step < steps:
            self.stream.write(text + "\n")
            self.stream.flush()
            self._last = now


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
