"""One srim_train per workdir: an advisory lock held for the whole run.

Two runs on one workdir would interleave checkpoints (the index names one model's, the
other's are orphaned) and summaries. The lock is `flock` on `WORKDIR/.srim_train.lock`,
which the kernel drops when the process ends however it ends (SIGKILL included), so a
killed run never leaves the workdir locked. The file names the holder for the error.
"""

import datetime
import fcntl
import os
import socket

LOCK_FILE = ".srim_train.lock"


class WorkdirLock:
    """Takes the workdir's lock, or raises a ValueError naming the run that holds it."""

    def __init__(self, workdir):
        self.path = os.path.join(workdir, LOCK_FILE)
        try:
            os.makedirs(workdir, exist_ok=True)
            self._file = open(self.path, "a+", encoding="utf-8")
        except OSError as error:
            raise ValueError(f"The workdir is not writable ({error.strerror}). Received:"
                             f" --workdir={workdir}") from error
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.seek(0)
            holder = self._file.read().strip() or "another process"
            self._file.close()
            raise ValueError(f"The workdir {workdir} is in use by {holder}. Wait for that run to"
                             " end, stop it, or use another --workdir.") from None
        started = datetime.datetime.now().isoformat(timespec="seconds")
        self._file.seek(0)
        self._file.truncate()
        self._file.write(f"srim_train pid {os.getpid()} on {socket.gethostname()} since {started}")
        self._file.flush()

    def release(self):
        if not self._file.closed:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
