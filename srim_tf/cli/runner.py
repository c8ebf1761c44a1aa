"""Runs a program's main so that user errors are one line on stderr, not a traceback.

Exit status 2: the command line is wrong (a flag value, a missing flag); 1: the run failed
(a file that cannot be read, a damaged model, a loss that became NaN). Programming errors
keep their traceback.

Nothing here imports TensorFlow: `--help` and a bad flag are answered in a fraction of a
second. A program's `main` calls `start_tensorflow` once its settings are read.
"""

import os
import signal
import sys

from absl import app, flags

from srim_tf import errors
from srim_tf.cli import quiet, usage


def is_failure(error):
    """Whether `error` is one our code raises for bad input, files or environments (each
    carries a message), not a programming error."""
    if isinstance(error, (ValueError, OSError, FloatingPointError)):
        return True
    tf = sys.modules.get("tensorflow")  # a TensorFlow error exists only once it is imported
    return tf is not None and isinstance(error, tf.errors.OpError)


def start_tensorflow():
    """Imports TensorFlow with its start-up banner hidden (`quiet.py`): a program's `main`
    calls it after reading its settings, before its body imports TensorFlow."""
    quiet.quiet_tensorflow_startup()


class CommandLineError(ValueError):
    """A program body's refusal of what the command line asked for (exit status 2, as a bad
    flag): no inputs found, an output path that would lose a file. In-process callers get
    a `ValueError`."""


def fail(code, message):
    """Writes `<program>: error: <message>` and exits with `code`."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "srim"
    sys.stderr.write(f"{name}: error: {message}\n")
    sys.stderr.flush()
    sys.exit(code)


# Largest --flagfile read: flag files are lines of flags; /dev/zero would be read without end.
MAX_FLAGFILE_BYTES = 1 << 20


def _flagfile_problem(argv):
    """Why a --flagfile of `argv` cannot be read as one, or None."""
    for index, argument in enumerate(argv[1:], start=1):
        name, equals, path = argument.partition("=")
        if name not in ("--flagfile", "-flagfile"):
            continue
        if not equals:
            path = argv[index + 1] if index + 1 < len(argv) else ""
        if not os.path.isfile(path):  # follows links; false for devices and FIFOs
            return f"--flagfile={path} is not a regular file; give a file of flags, one a line."
        if os.path.getsize(path) > MAX_FLAGFILE_BYTES:
            return f"--flagfile={path} is over {MAX_FLAGFILE_BYTES} bytes; a file of flags is a few lines."
    return None


def parse_flags(argv):
    """absl's flag parsing, with exit status 2 and one line for a bad flag."""
    problem = _flagfile_problem(argv)
    if problem:
        fail(2, problem)
    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        fail(2, f"{' '.join(str(error).split())} (see --helpshort)")


def run(main):
    """`app.run(main)` with one-line errors and exit status 2 / 1; `--help` lists the flags
    of `main`'s module and exits 0; quiet logs unless `--verbosity` asks for more."""
    usage.answer_help(main.__module__)

    def guarded(argv):
        quiet.quiet_python_logs(flags.FLAGS.verbosity)
        # SIGTERM as a normal exit, so half-written files are removed on the way out.
        signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(128 + number))
        try:
            return main(argv)
        except (app.UsageError, CommandLineError) as error:
            fail(2, str(error))
        except Exception as error:
            if not is_failure(error):
                raise
            fail(1, errors.one_line(error))

    app.run(guarded, flags_parser=parse_flags)
