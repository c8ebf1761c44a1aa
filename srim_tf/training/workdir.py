"""The workdir a run trains into: created, checked against the run's settings, or restarted.

    WORKDIR/config.json     the settings the run was started with
    WORKDIR/checkpoints/    the checkpoints (`model/checkpoints.py`)
    WORKDIR/train/          TensorBoard event files
    WORKDIR/.srim_train.lock  held by the run (`workdir_lock.py`)
"""

import contextlib
import glob
import os
import shutil

from srim_tf.model import checkpoints
from srim_tf.training.workdir_lock import LOCK_FILE

# What srim_train writes in a workdir, by folder: only these are deleted by --restart.
_RUN_FILES = {checkpoints.CHECKPOINT_DIR: ("checkpoint", "ckpt-*"), "train": ("events.out.tfevents.*",),
              ".": (checkpoints.CONFIG_FILE,)}


def _delete_run_files(workdir):
    """Deletes a run's checkpoints, summaries and config; refuses a folder that holds files
    but none of a run's (it is not a workdir: --restart would delete nothing of ours)."""
    found = [path for folder, patterns in _RUN_FILES.items() for pattern in patterns
             for path in glob.glob(os.path.join(glob.escape(os.path.join(workdir, folder)), pattern))]
    others = [name for name in os.listdir(workdir) if name != LOCK_FILE] if os.path.isdir(workdir) else []
    if not found and others:
        raise ValueError(f"--restart deletes a srim_train run's checkpoints, summaries and config.json,"
                         f" but {workdir} holds none (it is not a workdir). Refusing to touch it;"
                         " use a new or empty --workdir.")
    for path in found:
        if os.path.isdir(path):  # a ckpt-N_temp folder of an interrupted save
            shutil.rmtree(path)
        else:
            os.remove(path)
    for folder in (checkpoints.CHECKPOINT_DIR, "train"):
        with contextlib.suppress(OSError):  # only when empty: anything else there is not ours
            os.rmdir(os.path.join(workdir, folder))


def prepare_workdir(workdir, settings):
    """Creates or checks the workdir; refuses to resume a different generator or precision.

    With `settings.restart`, what a run writes there is deleted first. The config is
    compared only when a checkpoint exists: a first start that failed leaves a config.json
    but no model. It is written once the resume is accepted.
    """
    if not workdir:
        raise ValueError("--workdir is required: the directory for checkpoints and summaries.")
    config_path = os.path.join(workdir, checkpoints.CONFIG_FILE)
    if os.path.isfile(config_path):
        checkpoints.read_config(workdir)  # A config.json srim_train did not write is refused.
    if settings.training.restart:
        _delete_run_files(workdir)
    try:
        os.makedirs(workdir, exist_ok=True)
        probe = os.path.join(workdir, ".write_test")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as error:
        raise ValueError(f"The workdir is not writable ({error.strerror}). Received: --workdir={workdir}") from error
    has_model = checkpoints.has_checkpoints(os.path.join(workdir, checkpoints.CHECKPOINT_DIR))
    if has_model and os.path.isfile(os.path.join(workdir, checkpoints.CONFIG_FILE)):
        saved = checkpoints.read_config(workdir)
        difference = checkpoints.config_difference(saved, settings.as_flat())
        mixed_precision = settings.training.mixed_precision
        if saved.get("mixed_precision", "off") != mixed_precision:
            # Optimizer state differs (mixed_float16 adds loss scaling): restoring would fail.
            difference["mixed_precision"] = (saved.get("mixed_precision", "off"), mixed_precision)
        if difference:
            lines = "\n".join(f"  --{k}: workdir has {old!r}, flags give {new!r}"
                              for k, (old, new) in difference.items())
            raise ValueError(f"The workdir {workdir} holds a model with a different configuration:\n"
                             f"{lines}\nUse the same flags to resume, --restart to start anew"
                             " (it deletes this run's checkpoints), or another --workdir.")
