"""Checkpoints (`model/checkpoints.py`): a damaged newest checkpoint is named and the previous
one used, a killed write's leftovers are removed, and a config without a checkpoint is no model."""

import os
import shutil

import pytest

from srim_tf.inference.samplers import load_sampler
from srim_tf.model import checkpoints
from srim_tf.model.loading import load_generator
from srim_tf.training import loop as train
from tests.helpers import tiny_config


def _truncate(path):
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)


@pytest.mark.slow
def test_damaged_latest_checkpoint_is_named_and_the_previous_one_used(tmp_path, caplog):
    workdir = str(tmp_path / "run")
    config = tiny_config(train_steps=4, checkpoint_every=2, image_summary_every=100)
    train.train_and_evaluate(config, workdir)
    checkpoint_dir = os.path.join(workdir, "checkpoints")
    _truncate(os.path.join(checkpoint_dir, "ckpt-4.data-00000-of-00001"))
    os.makedirs(os.path.join(checkpoint_dir, "ckpt-6_temp"))  # a write killed midway
    with caplog.at_level("WARNING"):
        used = load_generator(workdir).checkpoint  # what srim_sample and srim_export do
    assert used.endswith("ckpt-2")
    assert "ckpt-4 is damaged" in caplog.text and "lost" in caplog.text
    assert load_sampler(workdir).description.endswith("ckpt-2")
    with pytest.raises(ValueError, match="ckpt-4 is damaged"):
        load_generator(os.path.join(checkpoint_dir, "ckpt-4"))  # asked for by name
    # Resume goes on from step 2, rewrites step 4 whole and removes the temporary folder.
    train.train_and_evaluate(config, workdir)
    assert checkpoints.latest_checkpoint(workdir).endswith("ckpt-4")
    assert checkpoints._read_error(os.path.join(checkpoint_dir, "ckpt-4")) is None
    assert not os.path.exists(os.path.join(checkpoint_dir, "ckpt-6_temp"))
    # A different precision is refused before anything is written.
    before = open(os.path.join(workdir, "config.json")).read()
    with pytest.raises(ValueError, match="--mixed_precision: workdir has 'off', flags give 'mixed_float16'"):
        train.train_and_evaluate(config.replace(mixed_precision="mixed_float16", train_steps=6), workdir)
    assert open(os.path.join(workdir, "config.json")).read() == before
    assert checkpoints.latest_checkpoint(workdir).endswith("ckpt-4")


def test_a_config_without_a_checkpoint_counts_as_an_empty_workdir(tmp_path):
    workdir = tmp_path / "run"
    workdir.mkdir()
    # What a first start that failed before its first checkpoint leaves.
    checkpoints.write_config(str(workdir), tiny_config(channels=16).as_flat())
    train.train_and_evaluate(tiny_config(train_steps=1, checkpoint_every=1, image_summary_every=100),
                             str(workdir))
    assert checkpoints.read_config(str(workdir))["channels"] == 8
    assert checkpoints.latest_checkpoint(str(workdir)).endswith("ckpt-1")


def _copy(trained_workdir, destination):
    shutil.copytree(trained_workdir, destination)
    return str(destination)


@pytest.mark.slow
def test_a_binary_garbled_state_file_falls_back_to_the_checkpoints_on_disk(trained_workdir, tmp_path, caplog):
    workdir = _copy(trained_workdir, tmp_path / "run")
    state = os.path.join(workdir, "checkpoints", "checkpoint")
    with open(state, "wb") as f:
        f.write(b"\xe8\xff\x00garbage" * 20)
    with caplog.at_level("WARNING"):
        assert load_generator(workdir).checkpoint.endswith("ckpt-2")  # srim_sample, srim_export
    assert f"{state} is damaged" in caplog.text
    train.train_and_evaluate(tiny_config(train_steps=3, checkpoint_every=3, image_summary_every=100), workdir)
    assert checkpoints.latest_checkpoint(workdir).endswith("ckpt-3")


@pytest.mark.slow
def test_a_workdir_whose_path_holds_glob_characters_resumes_and_loads(trained_workdir, tmp_path):
    workdir = _copy(trained_workdir, tmp_path / "exp [v2]*?")
    assert checkpoints.latest_checkpoint(workdir).endswith("ckpt-2")
    assert load_generator(workdir).checkpoint.endswith("ckpt-2")
    train.train_and_evaluate(tiny_config(train_steps=3, checkpoint_every=3, image_summary_every=100), workdir)
    assert load_generator(workdir).checkpoint.endswith("ckpt-3")


def test_advice_to_restart_says_that_it_deletes_the_checkpoints(tmp_path):
    checkpoint_dir = tmp_path / "checkpoints"
    checkpoint_dir.mkdir()
    for name in ("ckpt-1.index", "ckpt-1.data-00000-of-00001"):
        (checkpoint_dir / name).write_bytes(b"damaged")
    with pytest.raises(ValueError, match=r"--restart to start anew \(it deletes them\)"):
        checkpoints.newest_readable_checkpoint(str(checkpoint_dir))
