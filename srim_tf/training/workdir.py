"""The workdir a run trains into: created, checked against the run's settings, or restarted.

    WORKDIR/config.json     the settings the run was started with
    WORKDIR/checkpoints/    the checkpoints (`model/checkpoints.py`)
    WORKDIR/train/          TensorBoard event files
"""

import os
import shutil

import tensorflow as tf

from srim_tf.model import checkpoints


def prepare_workdir(workdir, settings):
    """Creates or checks the workdir; refuses to resume a different generator or precision.

    With `settings.restart`, what a run writes there is deleted first. The config is
    compared only when a checkpoint exists: a first start that failed leaves a config.json
    but no model. It is written once the resume is accepted.
    """
    if not workdir:
        raise ValueError("--workdir is required: the directory for checkpoints and summaries.")
    if settings.restart:
        for name in (checkpoints.CHECKPOINT_DIR, "train", "eval", checkpoints.CONFIG_FILE):
            path = os.path.join(workdir, name)
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.exists(path):
                os.remove(path)
    try:
        os.makedirs(workdir, exist_ok=True)
        probe = os.path.join(workdir, ".write_test")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as error:
        raise ValueError(f"The workdir is not writable ({error.strerror}). Received: --workdir={workdir}") from error
    has_model = tf.train.get_checkpoint_state(os.path.join(workdir, checkpoints.CHECKPOINT_DIR))
    if has_model and os.path.isfile(os.path.join(workdir, checkpoints.CONFIG_FILE)):
        saved = checkpoints.read_config(workdir)
        difference = checkpoints.config_difference(saved, settings.as_dict())
        if saved.get("mixed_precision", "off") != settings.mixed_precision:
            # Optimizer state differs (mixed_float16 adds loss scaling): restoring would fail.
            difference["mixed_precision"] = (saved.get("mixed_precision", "off"), settings.mixed_precision)
        if difference:
            lines = "\n".join(f"  --{k}: workdir has {old!r}, flags give {new!r}"
                              for k, (old, new) in difference.items())
            raise ValueError(f"The workdir {workdir} holds a model with a different configuration:\n"
                             f"{lines}\nUse the same flags to resume, --restart to start anew,"
                             " or another --workdir.")
