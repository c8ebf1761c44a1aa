"""One srim_train per workdir: `folder_lock.FolderLock` on `WORKDIR/.srim_train.lock`, held
for the whole run."""

from srim_tf.folder_lock import FolderLock

LOCK_FILE = ".srim_train.lock"


class WorkdirLock(FolderLock):
    """Takes the workdir's lock, or raises a ValueError naming the run that holds it."""

    def __init__(self, workdir):
        super().__init__(workdir, "srim_train", "--workdir", "The workdir")
