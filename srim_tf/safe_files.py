"""Files written whole or not at all.

Every file the programs write goes to a temporary name beside its target and is renamed
over it only once complete (`os.replace` is atomic on one filesystem), so a full disk, a
crash or SIGTERM midway leaves the earlier file intact and no half-written one. The
temporary is removed when the write fails; the programs turn SIGTERM into a normal exit
(`cli/runner.py`) so that removal runs then too.
"""

import contextlib
import os

TEMPORARY_SUFFIX = ".partial"


def temporary_path(path):
    """The name `written_whole` writes `path` under before renaming it."""
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".{name}{TEMPORARY_SUFFIX}")


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
    folder, name = os.path.split(os.path.abspath(path))
    temporary = os.path.join(folder, f".partial-{name}")
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise
