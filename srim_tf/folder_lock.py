"""One program run per folder: an advisory lock held for the whole run.

Two runs writing one folder would interleave their files (two srim_train runs: one model's
checkpoints orphaned by the other's index; two srim_sample runs: samples of two seeds under
one input's names). The lock is `flock` on a hidden file in the folder, which the kernel
drops when the process ends however it ends (SIGKILL included), so a killed run never leaves
the folder locked. The file names the holder for the error.
"""

import datetime
import fcntl
import os
import socket


class FolderLock:
    """Takes `folder`'s lock for `program`, or raises a ValueError naming the run that holds it.

    Args:
        folder: the folder (created if missing).
        program: the program's name, which names the lock file (`.<program>.lock`).
        flag: the flag that names the folder, for the error ("--workdir").
        what: what the folder is, for the error ("The workdir").
        remove_when_done: remove the lock file on release (a folder of outputs is left
            with the outputs alone).
    """

    def __init__(self, folder, program, flag, what, remove_when_done=False):
        self.path = os.path.join(folder, f".{program}.lock")
        self.remove_when_done = remove_when_done
        while True:
            try:
                os.makedirs(folder, exist_ok=True)
                self._file = open(self.path, "a+", encoding="utf-8")
            except OSError as error:
                raise ValueError(f"{what} is not writable ({error.strerror}). Received: {flag}={folder}") from error
            try:
                fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._file.seek(0)
                holder = self._file.read().strip() or "another process"
                self._file.close()
                raise ValueError(f"{what} {folder} is in use by {holder}. Wait for that run to"
                                 f" end, stop it, or use another {flag}.") from None
            if self._is_still_the_lock_file():
                break
            self._file.close()  # its holder removed it as we opened it: take the new one
        started = datetime.datetime.now().isoformat(timespec="seconds")
        self._file.seek(0)
        self._file.truncate()
        self._file.write(f"{program} pid {os.getpid()} on {socket.gethostname()} since {started}")
        self._file.flush()

    def _is_still_the_lock_file(self):
        try:
            return os.stat(self.path).st_ino == os.fstat(self._file.fileno()).st_ino
        except FileNotFoundError:
            return False

    def release(self):
        if not self._file.closed:
            if self.remove_when_done:  # while locked, so no other run holds this file
                os.remove(self.path)
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *error):
        self.release()
