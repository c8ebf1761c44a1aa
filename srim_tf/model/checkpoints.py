"""The workdir: its config file, checkpoints, and loading a generator back from it.

    WORKDIR/config.json     the flags the run was started with
    WORKDIR/checkpoints/    tf.train.CheckpointManager files (generator, optimizer, step,
                            selection counter); the index is replaced atomically, so a
                            killed run leaves the previous checkpoint intact
    WORKDIR/train/, eval/   TensorBoard event files
"""

import glob
import hashlib
import json
import os
import shutil
import tempfile

import tensorflow as tf
from absl import logging

from srim_tf import safe_files
from srim_tf.model.generator import SRIMGenerator
from srim_tf.settings import GeneratorSettings

CONFIG_FILE = "config.json"
CHECKPOINT_DIR = "checkpoints"


def read_config(workdir):
    path = os.path.join(workdir, CONFIG_FILE)
    if not os.path.isfile(path):
        raise ValueError(f"No {CONFIG_FILE} in the workdir: is it a srim_train workdir?"
                         f" Received: {workdir}")
    try:
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not a srim_train config (not JSON: {error}).") from error
    if not is_run_config(config):
        raise ValueError(f"{path} was not written by srim_train: it holds"
                         f" {type(config).__name__ if not isinstance(config, dict) else 'other keys'},"
                         " not a run's flags.")
    return config


def is_run_config(config):
    """Whether `config` (parsed JSON) is what `write_config` writes: a run's flags."""
    # Keys every version of srim_train wrote (later generator keys have defaults).
    return isinstance(config, dict) and all(key in config for key in ("train_steps", "channels", "num_convs"))


def write_config(workdir, config):
    with safe_files.written_whole(os.path.join(workdir, CONFIG_FILE), encoding="utf-8") as f:
        json.dump(config, f, indent=2, sort_keys=True)


def config_difference(saved, config):
    """`{key: (saved, now)}` for generator settings that differ."""
    saved, now = GeneratorSettings.from_config(saved).as_dict(), GeneratorSettings.from_config(config).as_dict()
    return {key: (saved[key], now[key]) for key in saved if saved[key] != now[key]}


# TensorFlow's checkpoint readers match a prefix as a glob pattern, so a folder named with
# these (runs/exp [v2]) hides its own checkpoints from them.
_PATTERN_CHARACTERS = "*?[]\\"
_links = None  # a temporary folder of links to such folders, removed at exit


def readable_prefix(prefix):
    """`prefix` as TensorFlow's checkpoint readers can open it: itself, or when its folder's
    path holds glob characters, the same files through a link whose path holds none."""
    global _links
    folder, name = os.path.split(os.path.abspath(prefix))
    if not any(character in folder for character in _PATTERN_CHARACTERS):
        return prefix
    if _links is None:
        _links = tempfile.TemporaryDirectory(prefix="srim-checkpoint-links-")
    link = os.path.join(_links.name, hashlib.sha256(folder.encode()).hexdigest()[:16])
    if not os.path.islink(link):
        os.symlink(folder, link)
    return os.path.join(link, name)


def checkpoint_state(directory):
    """`tf.train.get_checkpoint_state`, or None with a warning when the state file is
    damaged (binary garbage, no checkpoint named): the checkpoints on disk are used then."""
    try:
        return tf.train.get_checkpoint_state(directory)
    except ValueError as error:  # UnicodeDecodeError too
        logging.warning("The checkpoint state file %s is damaged (%s): using the checkpoints on"
                        " disk.", os.path.join(directory, "checkpoint"), str(error).splitlines()[0])
        return None


def set_aside_damaged_state(directory):
    """Renames a damaged state file to `checkpoint.damaged` (a run's next save writes a new
    one); what `tf.train.CheckpointManager` would otherwise fail on."""
    path = os.path.join(directory, "checkpoint")
    if os.path.isfile(path) and checkpoint_state(directory) is None:
        os.replace(path, path + ".damaged")


def _read_error(prefix):
    """Why the checkpoint at `prefix` cannot be read back whole; None if it can."""
    try:
        reader = tf.train.load_checkpoint(readable_prefix(prefix))
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except (tf.errors.OpError, ValueError, IndexError, OSError, RuntimeError) as error:
        text = error.message if isinstance(error, tf.errors.OpError) else str(error)
        return (text.strip().splitlines() or [type(error).__name__])[0]
    return None


def newest_readable_checkpoint(directory):
    """The newest checkpoint in `directory` that reads back whole, or None if there is none.

    A damaged newer one (truncated or missing files, as a disk filling up or a crash
    mid-write can leave) is named in a warning, with what falling back loses.

    Raises:
        ValueError: if checkpoints exist but none can be read.
    """
    state = checkpoint_state(directory)
    if state is None or not state.model_checkpoint_path:
        candidates = _checkpoints_on_disk(directory)
        if candidates:
            logging.warning("The checkpoint state file %s is missing: resuming from the newest of"
                            " the checkpoints on disk.", os.path.join(directory, "checkpoint"))
    else:
        older = [p for p in reversed(state.all_model_checkpoint_paths) if p != state.model_checkpoint_path]
        candidates = [state.model_checkpoint_path, *older]
    if not candidates:
        return None
    damaged = []
    for prefix in candidates:
        error = _read_error(prefix)
        if error is None:
            if damaged:
                logging.warning(
                    "Using the older checkpoint %s: the steps saved after it in %s are lost.",
                    prefix, ", ".join(p for p, _ in damaged))
            return prefix
        damaged.append((prefix, error))
        logging.warning("Checkpoint %s is damaged and cannot be read (files %s.*): %s",
                        prefix, prefix, error)
    raise ValueError(f"No readable checkpoint in {directory}: "
                     + "; ".join(f"{p} is damaged ({e})" for p, e in damaged)
                     + ". Use --restart to start anew (it deletes them).")


def has_checkpoints(directory):
    """Whether `directory` holds any checkpoint, by its state file or its files."""
    return bool(checkpoint_state(directory) or _checkpoints_on_disk(directory))


def _checkpoints_on_disk(directory):
    """Checkpoint prefixes in `directory` found by their `.index` files, newest first."""
    prefixes = [path[:-len(".index")] for path in glob.glob(os.path.join(glob.escape(directory), "ckpt-*.index"))]
    numbered = [(int(p.rsplit("-", 1)[1]), p) for p in prefixes if p.rsplit("-", 1)[1].isdigit()]
    return [prefix for _, prefix in sorted(numbered, reverse=True)]


def remove_temporary_folders(directory):
    """Removes `ckpt-N_temp` folders that checkpoint writes killed midway leave behind."""
    for path in glob.glob(os.path.join(glob.escape(directory), "*_temp")):
        if os.path.isdir(path):
            logging.info("Removing %s, left by a checkpoint write that did not finish.", path)
            shutil.rmtree(path, ignore_errors=True)


def latest_checkpoint(path):
    """The newest readable checkpoint prefix in a workdir, a checkpoint dir, or a prefix itself."""
    for directory in (os.path.join(path, CHECKPOINT_DIR), path):
        if os.path.isdir(directory):
            latest = newest_readable_checkpoint(directory)
            if latest:
                return latest
    if tf.io.gfile.exists(path + ".index"):
        return path
    return None


def restore_generator(path):
    """A trained generator from a workdir or a checkpoint prefix inside one (programs load
    models through `loading.load_generator`, which accepts every kind).

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
    try:
        settings = GeneratorSettings.from_config(config)
    except ValueError as error:  # a hand-edited value
        raise ValueError(f"{os.path.join(workdir, CONFIG_FILE)} holds a value srim_train does not"
                         f" write: {error}") from error
    generator = SRIMGenerator(settings)
    error = _read_error(checkpoint)
    if error:
        raise ValueError(f"Checkpoint {checkpoint} is damaged and cannot be read: {error}")
    tf.train.Checkpoint(generator=generator).restore(readable_prefix(checkpoint)).expect_partial()
    return generator, config, checkpoint
