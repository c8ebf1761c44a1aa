"""Files written whole or not at all, and what a write does to each kind of path.

What the programs write goes, by what the path names:
- a missing path or a regular file: to a temporary beside it, renamed over it only once
  complete (`os.replace` is atomic on one filesystem), so a full disk, a crash or SIGTERM
  midway leaves the earlier file intact and no half-written one;
- a symbolic link: through to the file it points to, by the rule above; the link stays;
- a device, FIFO or socket (or a link to one), and the process's own descriptors
  (`/dev/stdout`, `/dev/stderr`, `/dev/fd/N`, anything under `/proc`): written into, as a
  shell redirection would, never replaced. Such a target cannot be written whole.

The temporary is removed when the write fails; the programs turn SIGTERM into a normal exit
(`cli/runner.py`) so that removal runs then too.

One naming convention for every temporary (`temporary_path`): hidden, beside its target,
`.partial-<pid>-<name>`, so it keeps the target's extension, which some writers check, and
carries the writing process's id: two processes writing one name never share a temporary,
and a temporary whose process is gone (killed midway) is known to be abandoned and is
removed by `remove_abandoned`.
"""

import contextlib
import os
import shutil
import stat

from absl import logging

TEMPORARY_PREFIX = ".partial-"
# Paths that name the process's own descriptors: written into, whatever they point to.
_DESCRIPTOR_PATHS = ("/dev/stdout", "/dev/stderr")
_DESCRIPTOR_FOLDERS = ("/dev/fd/", "/proc/")


def temporary_path(path, pid=None):
    """The hidden name `path` is written under before it is renamed into place:
    `.partial-<pid>-<name>` beside it (the writing process's id by default)."""
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f"{TEMPORARY_PREFIX}{os.getpid() if pid is None else pid}-{name}")


def writes_in_place(path):
    """Whether `path` is written into rather than replaced: a device, FIFO, socket or one of
    the process's descriptors (see the module docstring)."""
    absolute = os.path.abspath(path)
    if absolute in _DESCRIPTOR_PATHS or absolute.startswith(_DESCRIPTOR_FOLDERS):
        return True
    try:
        mode = os.stat(path).st_mode  # follows links
    except FileNotFoundError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


@contextlib.contextmanager
def written_whole(path, mode="w", **open_kwargs):
    """Opens `path` for writing by the module's rule: a temporary that becomes the file (or
    the file a link points to) on success and is removed on any error (or exit), leaving
    it as it was; a device, FIFO or descriptor is opened and written into.

    Examples:
        >>> import tempfile
        >>> target = os.path.join(tempfile.mkdtemp(), "out.txt")
        >>> with written_whole(target) as f:
        ...     _ = f.write("done")
        >>> open(target).read()
        'done'
    """
    if writes_in_place(path):
        with open(path, mode, **open_kwargs) as file:
            yield file
        return
    target = os.path.realpath(path)  # a link's target: the link itself stays
    temporary = temporary_path(target)
    try:
        with open(temporary, mode, **open_kwargs) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise


@contextlib.contextmanager
def temporary_for(path):
    """A temporary path for a writer that takes a file name (Keras' `save_weights`): renamed
    to `path` (or the file a link points to) when the block succeeds, removed otherwise.
    The temporary keeps `path`'s extension, which some writers check.

    Raises:
        ValueError: if `path` is a device, FIFO or descriptor: such a writer needs a file.
    """
    if writes_in_place(path):
        raise ValueError(f"{path} is not a regular file; give a file path.")
    target = os.path.realpath(path)
    temporary = temporary_path(target)
    try:
        yield temporary
        os.replace(temporary, target)
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


def remove_abandoned(folder):
    """Removes the temporaries in `folder` (`.partial-<pid>-<name>`, files or folders) whose
    writing process is gone: what a killed write leaves behind."""
    if not os.path.isdir(folder):
        return
    for name in os.listdir(folder):
        pid = name[len(TEMPORARY_PREFIX):].split("-", 1)[0]
        if not (name.startswith(TEMPORARY_PREFIX) and pid.isdigit()) or not _process_is_gone(int(pid)):
            continue
        logging.warning("Removing %s, left by a write that did not finish.", name)
        path = os.path.join(folder, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.remove(path)


@contextlib.contextmanager
def folder_written_whole(path):
    """A temporary folder for a writer that fills a folder (`tf.saved_model.save`): renamed
    to `path` when the block succeeds, removed otherwise, so a reader that picks up every
    folder it sees (TF Serving) never finds a half-written one, even if the process is
    killed. Abandoned temporaries of killed writers beside `path` are removed first.

    Raises:
        OSError: if `path` appeared meanwhile (the rename fails rather than merges).
    """
    remove_abandoned(os.path.dirname(os.path.abspath(path)))
    temporary = temporary_path(path)
    try:
        yield temporary
        os.rename(temporary, path)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
