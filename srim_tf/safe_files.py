"""Files written whole or not at all.

Every file the programs write goes to a temporary name beside its target and is renamed
over it only once complete (`os.replace` is atomic on one filesystem), so a full disk, a
crash or SIGTERM midway leaves the earlier file intact and no half-written one. The
temporary is removed when the write fails; the programs turn SIGTERM into a normal exit
(`cli/runner.py`) so that removal runs then too.

One naming convention for every temporary (`temporary_path`): hidden, beside its target,
`.partial-<name>`, so it keeps the target's extension, which some writers check. A folder's
temporary also carries the writing process's id (`.partial-<name>-<pid>`): writers of the
same folder then never share one, and a temporary whose process is gone (killed midway)
is known to be abandoned and is removed by the next `folder_written_whole` beside it.
"""

import contextlib
import os
import shutil

from absl import logging

TEMPORARY_PREFIX = ".partial-"


def temporary_path(path, pid=None):
    """The hidden name `path` is written under before it is renamed into place:
    `.partial-<name>` beside it, `.partial-<name>-<pid>` when a process id is given."""
    folder, name = os.path.split(os.path.abspath(path))
    owner = "" if pid is None else f"-{pid}"
    return os.path.join(folder, f"{TEMPORARY_PREFIX}{name}{owner}")


@contextlib.contextmanager
def written_whole(path, mode="w", **open_kwargs):
    """Opens a temporary file for writing; on success it becomes `path`, on any error
    (or exit) it is removed and `path` is left as it was.

    Examples:
        >>> import tempfile
        >>> target = os.path.join(tempfile.mkdtemp(), "out.txt")
        >>> with written_whole(target) as f:
        ...     _ = f.write("done")
        >>> open(target).read()
        'done'
    """
    temporary = temporary_path(path)
    try:
        with open(temporary, mode, **open_kwargs) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise


@contextlib.contextmanager
def temporary_for(path):
    """A temporary path for a writer that takes a file name (Keras' `save_weights`): renamed
    to `path` when the block succeeds, removed otherwise. The temporary keeps `path`'s
    extension, which some writers check."""
    temporary = temporary_path(path)
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise


def _process_is_gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # Alive, someone else's.
        return False
    return False


def remove_abandoned_folders(folder):
    """Removes the temporary folders in `folder` (`.partial-<name>-<pid>`) whose writing
    process is gone: what a killed `folder_written_whole` leaves behind."""
    if not os.path.isdir(folder):
        return
    for name in os.listdir(folder):
        pid = name.rsplit("-", 1)[-1]
        if not (name.startswith(TEMPORARY_PREFIX) and pid.isdigit()
                and os.path.isdir(os.path.join(folder, name))):
            continue
        if _process_is_gone(int(pid)):
            logging.warning("Removing %s, left by a write that did not finish.", name)
            shutil.rmtree(os.path.join(folder, name), ignore_errors=True)


@contextlib.contextmanager
def folder_written_whole(path):
    """A temporary folder for a writer that fills a folder (`tf.saved_model.save`): renamed
    to `path` when the block succeeds, removed otherwise, so a reader that picks up every
    folder it sees (TF Serving) never finds a half-written one, even if the process is
    killed. Abandoned temporaries of killed writers beside `path` are removed first.

    Raises:
        OSError: if `path` appeared meanwhile (the rename fails rather than merges).
    """
    remove_abandoned_folders(os.path.dirname(os.path.abspath(path)))
    temporary = temporary_path(path, os.getpid())
    try:
        yield temporary
        os.rename(temporary, path)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
