"""Progress of the programs: a tqdm bar on a terminal, a few short lines in a log file.

tqdm redraws its bar with carriage returns. Written into a file (stderr redirected, as
`nohup` or a job scheduler does), every redraw stays, and a whole run's bar became one line
of tens of kilobytes. Off a terminal, progress is instead one plain line each time another
`LOG_EVERY_PERCENT` of the work is done, and one at the end:

    Set14: 7/14 images (50%), 00:42 elapsed, 00:40 left
"""

import sys
import time

from tqdm import tqdm

# Off a terminal: a line per this share of the work, so at most 100 / LOG_EVERY_PERCENT + 1.
LOG_EVERY_PERCENT = 5


def bar(iterable=None, total=None, initial=0, desc=None, unit="it", disable=False, file=None):
    """A tqdm bar on `file` (default: stderr) when it is a terminal, else `LogLines`; both
    wrap `iterable` (or count `update` calls up to `total`) and take `set_postfix` and `close`."""
    file = sys.stderr if file is None else file
    if _is_terminal(file):
        return tqdm(iterable, total=total, initial=initial, desc=desc, unit=unit, disable=disable,
                    file=file, dynamic_ncols=True)
    return LogLines(iterable, total, initial, desc, unit, disable, file)


def _is_terminal(file):
    try:
        return file.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


class LogLines:
    """tqdm's interface (iteration, `update`, `set_postfix`, `close`) as plain lines: one per
    `LOG_EVERY_PERCENT` of `total` done, and the last at the end; none when `disable`."""

    def __init__(self, iterable=None, total=None, initial=0, desc=None, unit="it", disable=False,
                 file=None):
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.iterable, self.total, self.n, self.desc, self.unit = iterable, total, initial, desc, unit
        self.disable, self.file = disable, sys.stderr if file is None else file
        self._start, self._postfix = time.monotonic(), ""
        self._first = None  # (time, n) at the first update: the rate leaves start-up out
        self._written_step = self._step(initial)
        self._written_n = initial

    def __iter__(self):
        for item in self.iterable:
            yield item
            self.update(1)
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _step(self, n):
        """Which `LOG_EVERY_PERCENT` share of the work `n` is in (or, without a total, which
        power of two: lines at 1, 2, 4, 8, ... done)."""
        if self.total:
            return int(100 * n / self.total // LOG_EVERY_PERCENT)
        return n.bit_length()

    def update(self, n=1):
        if self._first is None:
            self._first = (time.monotonic(), self.n + n)
        self.n += n
        step = self._step(self.n)
        if step > self._written_step or self.total is not None and self.n >= self.total:
            self._write()
            self._written_step = step

    def set_postfix(self, **values):
        self._postfix = ", ".join(f"{key}={value}" for key, value in values.items())

    def close(self):
        if self.n != self._written_n:  # stopped between two lines
            self._write()

    def line(self):
        """The line for the work done so far."""
        done = f"{self.n}/{self.total}" if self.total else f"{self.n}"
        parts = [f"{done} {self.unit}s" + (f" ({100 * self.n // self.total}%)" if self.total else "")]
        now = time.monotonic()
        parts.append(f"{tqdm.format_interval(now - self._start)} elapsed")
        if self.total and self._first is not None and self.n > self._first[1] and now > self._first[0]:
            rate = (self.n - self._first[1]) / (now - self._first[0])
            parts.append(f"{tqdm.format_interval((self.total - self.n) / rate)} left")
        if self._postfix:
            parts.append(self._postfix)
        return (f"{self.desc}: " if self.desc else "") + ", ".join(parts)

    def _write(self):
        if self.disable or self.n == self._written_n:
            return
        self.file.write(self.line() + "\n")
        self.file.flush()
        self._written_n = self.n
