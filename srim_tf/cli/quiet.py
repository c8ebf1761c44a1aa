"""Quiet start-up for the programs: TensorFlow's C++ banner lines are not for users.

TensorFlow prints about ten lines when it is imported (oneDNN, CUDA stubs, CPU
instructions, an abseil "before InitializeLog" notice) and, on a machine without a GPU, an
error line from the failed CUDA probe at the first op. The abseil lines ignore
TF_CPP_MIN_LOG_LEVEL, so they are caught on file descriptor 2 during the import; any other
line caught there is passed on. Nothing is changed when the user set TF_CPP_MIN_LOG_LEVEL
or asked for `--verbosity=1` (or more).

After flag parsing, quiet_python_logs() hides the INFO lines TensorFlow and Keras log from
Python and keeps our own log lines from breaking tqdm's progress bars.
"""

import logging
import os
import re
import sys
import tempfile

from absl import logging as absl_logging
from tqdm import tqdm

# Start-up lines that only describe the TensorFlow build or a missing GPU.
_BANNER = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\)"
    r"|[IW]\d{4} [\d:. ]+\d+ [\w.]+:\d+\]"
    r"|To enable the following instructions:)")


def verbosity_requested(argv):
    """The absl `--verbosity`/`-v` value in `argv`, or 0 when not given (or not a number)."""
    for i, arg in enumerate(argv):
        for name in ("--verbosity", "-verbosity", "--v", "-v"):
            if arg == name and i + 1 < len(argv):
                value = argv[i + 1]
            elif arg.startswith(name + "="):
                value = arg[len(name) + 1:]
            else:
                continue
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


def _has_gpu_device_nodes():
    return any(os.path.exists(p) for p in ("/dev/nvidiactl", "/dev/nvidia0", "/dev/dxg"))


def quiet_tensorflow_startup(argv=None):
    """Imports TensorFlow with its banner hidden; returns whether it quieted anything."""
    argv = sys.argv if argv is None else argv
    if "tensorflow" in sys.modules or "TF_CPP_MIN_LOG_LEVEL" in os.environ \
            or verbosity_requested(argv) >= 1:
        return False
    # 2 hides C++ INFO and WARNING (libpng's "iCCP" warnings among them); without a GPU
    # device node the only C++ error is the CUDA probe's, so 3 hides errors too.
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2" if _has_gpu_device_nodes() else "3"
    sys.stderr.flush()
    saved_stderr = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as caught:
        os.dup2(caught.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            os.dup2(saved_stderr, 2)
            os.close(saved_stderr)
            caught.seek(0)
            for line in caught.read().decode("utf-8", "replace").splitlines(keepends=True):
                if not _BANNER.match(line):
                    sys.stderr.write(line)
    return True


class _AboveProgressBars:
    """A stream for log lines that clears tqdm's bars, writes the line and redraws them."""

    def write(self, text):
        tqdm.write(text, file=sys.stderr, end="")

    def flush(self):
        sys.stderr.flush()

    def close(self):
        pass


def _not_library_info(record):
    """False for INFO lines that TensorFlow and Keras log through absl (saver timings,
    4 x 40 renamed signature inputs at export)."""
    if record.levelno >= logging.WARNING:
        return True
    return not any(f"{os.sep}{package}{os.sep}" in record.pathname
                   for package in ("tensorflow", "keras", "tensorflow_datasets"))


def quiet_python_logs(verbosity):
    """TensorFlow's Python INFO lines only at `--verbosity` >= 1; absl's log lines written
    above tqdm's progress bars instead of through them."""
    handler = absl_logging.get_absl_handler()
    if verbosity < 1:
        logging.getLogger("tensorflow").setLevel(logging.WARNING)
        handler.addFilter(_not_library_info)
    handler.python_handler.stream = _AboveProgressBars()
