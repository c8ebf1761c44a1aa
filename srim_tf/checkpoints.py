"""The workdir: its config file, checkpoints, and loading a generator back from it.

    WORKDIR/config.json     the flags the run was started with
    WORKDIR/checkpoints/    tf.train.CheckpointManager files (generator, optimizer, step,
                            selection counter); the index is replaced atomically, so a
                            killed run leaves the previous checkpoint intact
    WORKDIR/train/, eval/   TensorBoard event files
"""

import json
import os

import tensorflow as tf

from srim_tf import build

CONFIG_FILE = "config.json"
CHECKPOINT_DIR = "checkpoints"


def read_config(workdir):
    path = os.path.join(workdir, CONFIG_FILE)
    if not os.path.isfile(path):
        raise ValueError(f"No {CONFIG_FILE} in the workdir: is it a srim_train workdir?"
                         f" Received: {workdir}")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_config(workdir, config):
    path = os.path.join(workdir, CONFIG_FILE)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, sort_keys=True)
    os.replace(path + ".tmp", path)


def config_difference(saved, config):
    """`{key: (saved, now)}` for generator settings that differ."""
    saved, now = build.generator_settings(saved), build.generator_settings(config)
    return {key: (saved[key], now[key]) for key in build.GENERATOR_KEYS if saved[key] != now[key]}


def latest_checkpoint(path):
    """The newest checkpoint prefix in a workdir, a checkpoint dir, or a prefix itself."""
    for directory in (os.path.join(path, CHECKPOINT_DIR), path):
        if os.path.isdir(directory):
            latest = tf.train.latest_checkpoint(directory)
            if latest:
                return latest
    if tf.io.gfile.exists(path + ".index"):
        return path
    return None


def load_generator(path):
    """A trained generator from a workdir or a checkpoint prefix inside one.

    Returns:
        `(generator, config, checkpoint_prefix)`.
    """
    checkpoint = latest_checkpoint(path)
    if checkpoint is None:
        raise ValueError(f"No checkpoint found. Expected a srim_train workdir or checkpoint."
                         f" Received: {path}")
    workdir = path if os.path.isfile(os.path.join(path, CONFIG_FILE)) else \
        os.path.dirname(os.path.dirname(os.path.abspath(checkpoint)))
    config = read_config(workdir)
    generator = build.generator(config)
    tf.train.Checkpoint(generator=generator).restore(checkpoint).expect_partial()
    return generator, config, checkpoint
