"""srim_train SIGKILLed at random moments (start-up, steps, checkpoint writes) always resumes."""

import glob
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from srim_tf.model import checkpoints
from srim_tf.settings import RunSettings
from tests.helpers import ROOT, checkpoint_step

# Long enough that ten kills never reach the end on a fast idle machine (30 did, once).
TRAIN_STEPS = 150
SETTINGS = dict(
    data="builtin", hr_size=16, batch_size=2, patches_per_image=2, channels=4, kernel_size=3,
    num_convs=2, num_lower_samples=2, num_upper_samples=2, sample_chunk=2, vgg_weights="random",
    loss_conv2_2_weight=0, loss_conv4_weight=0, loss_pixel_weight=1, selection_pixel_weight=1,
    selection_conv4_weight=0, lr_decay_steps=[], num_validation_images=1, num_summary_samples=1,
    summary_every=1000, image_summary_every=1000, checkpoint_every=1, keep_checkpoints=2,
    train_steps=TRAIN_STEPS)
# The same settings as srim_train's flags.
FLAGS = [f"--{name}={','.join(map(str, value)) if isinstance(value, list) else value}"
         for name, value in SETTINGS.items()]


@pytest.mark.slow
def test_training_killed_ten_times_at_random_moments_resumes_and_finishes(tmp_path, caplog):
    workdir = str(tmp_path / "run")
    command = [sys.executable, os.path.join(ROOT, "bin", "srim_train"), f"--workdir={workdir}", *FLAGS]
    rng = np.random.default_rng(15)
    saved = 0
    for kill in range(10):
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        if kill % 2 == 0:  # during start-up: restore, data scan, tracing
            time.sleep(rng.uniform(0.3, 3.0))
        else:  # once it trains again (so the last kill was resumed from), amid steps and saves
            deadline = time.time() + 120
            while checkpoint_step(workdir) <= saved and process.poll() is None:
                assert time.time() < deadline, f"no progress after kill {kill - 1}"
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 0.5))
        assert process.poll() is None, "training finished before this kill; make it longer"
        process.send_signal(signal.SIGKILL)
        process.wait()
        # Whatever moment it died at, the newest readable checkpoint is never older than
        # the one before the kill: nothing saved is lost.
        now = checkpoint_step(workdir)
        assert now >= saved, f"kill {kill}: checkpoint went back from step {saved} to {now}"
        saved = now
    assert 5 <= saved < TRAIN_STEPS
    # The newest checkpoint is complete and readable.
    assert tf.train.load_checkpoint(checkpoints.latest_checkpoint(workdir)).get_variable_to_shape_map()
    # The same settings, run to the end (in this process: the kills were the processes' part).
    from srim_tf.training.loop import train_and_evaluate

    with caplog.at_level("INFO", logger="absl"):
        train_and_evaluate(RunSettings.from_flat(SETTINGS), workdir)
    assert f"Resumed from {checkpoints.latest_checkpoint(workdir).rsplit('-', 1)[0]}-{saved}" \
        in caplog.text
    assert checkpoint_step(workdir) == TRAIN_STEPS
    assert not glob.glob(os.path.join(workdir, "checkpoints", "*_temp"))
    with open(os.path.join(workdir, "config.json"), encoding="utf-8") as f:
        assert json.load(f)["train_steps"] == TRAIN_STEPS
