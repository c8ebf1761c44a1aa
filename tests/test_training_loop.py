"""`train_and_evaluate`, srim_train's body: writes TensorBoard and checkpoints, resumes to the
same total, starts from another model, and refuses setups it cannot train.

srim_train as a process (its exit status and one-line errors, SIGKILL, the workdir lock) is
tested in test_program_errors.py, test_fault_injection.py and test_workdir_safety.py.
"""

import os

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from srim_tf.model import checkpoints
from srim_tf.model.loading import load_generator
from srim_tf.training import loop as train
from srim_tf.training.imle import SRIM
from tests.helpers import checkpoint_step, tiny_config


@pytest.mark.slow
def test_training_writes_summaries_checkpoints_and_resumes_to_the_same_total(tmp_path, caplog):
    workdir = str(tmp_path / "run")
    # A little VGG in the loss, so the random-weights warning must appear.
    config = tiny_config(train_steps=4, checkpoint_every=2, summary_every=2, image_summary_every=4,
                         loss_conv4_weight=0.01)
    train.train_and_evaluate(config, workdir)
    assert checkpoint_step(workdir) == 4

    events = EventAccumulator(os.path.join(workdir, "train"), size_guidance={"images": 0, "tensors": 0})
    events.Reload()
    scalar_tags = set(events.Tags()["scalars"]) | set(events.Tags()["tensors"])
    for tag in ("train/loss", "train/nearest_distance_lower", "train/nearest_distance_upper",
                "train/chosen_y_psnr", "train/learning_rate", "train/steps_per_second",
                "validation/y_psnr_zero_noise", "validation/y_psnr_bicubic", "flags", "warnings",
                "_hparams_/session_start_info"):
        assert tag in scalar_tags, (tag, scalar_tags)
    # TF2 image summaries are tensors: [width, height, PNG].
    width, height, png = tf.make_ndarray(
        events.Tensors("validation/lr_bicubic_samples_truth")[-1].tensor_proto)
    # 2 validation images of 32 px; LR | bicubic | 2 samples | truth = 5 columns.
    assert (int(height), int(width)) == (64, 160)
    assert tf.io.decode_png(png).shape == (64, 160, 3)

    with caplog.at_level("INFO", logger="absl"):
        logs = train.train_and_evaluate(config.replace(train_steps=6, image_summary_every=100),
                                        workdir)
    assert "Resumed from" in caplog.text and logs["loss"] > 0
    assert checkpoint_step(workdir) == 6
    caplog.clear()
    with caplog.at_level("INFO", logger="absl"):
        assert train.train_and_evaluate(config.replace(train_steps=6), workdir) == {}
    assert "nothing to do" in caplog.text
    assert checkpoint_step(workdir) == 6


def test_resuming_with_a_different_model_is_refused_with_the_difference(tmp_path):
    workdir = str(tmp_path / "run")
    config = tiny_config(train_steps=1, checkpoint_every=1, image_summary_every=1)
    train.train_and_evaluate(config, workdir)
    with pytest.raises(ValueError, match=r"--channels: workdir has 8, flags give 16"):
        train.train_and_evaluate(config.replace(channels=16, train_steps=2), workdir)
    # --restart starts anew with the new configuration.
    train.train_and_evaluate(config.replace(channels=16, restart=True), workdir)
    assert checkpoints.read_config(workdir)["channels"] == 16


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    original = SRIM.step_loss

    def poisoned(self, *args, **kwargs):
        loss, out = original(self, *args, **kwargs)
        nan_after_two = tf.where(self.optimizer.iterations >= 2, float("nan"), 0.0)
        return loss + nan_after_two, out

    monkeypatch.setattr(SRIM, "step_loss", poisoned)
    workdir = str(tmp_path / "nan")
    with pytest.raises(FloatingPointError, match="Loss became nan at step 3"):
        train.train_and_evaluate(tiny_config(train_steps=10, checkpoint_every=2,
                                             image_summary_every=100), workdir)
    assert checkpoint_step(workdir) == 2


@pytest.mark.parametrize("overrides,match", [
    (dict(checkpoint_every=0), "--checkpoint_every=0"),
    (dict(code_pool_size=1, batch_size=2), "--code_pool_size=1 --batch_size=2"),
    (dict(jit_compile=True, projection="sparse"), "--projection=sparse --jit_compile"),
    (dict(lr_decay_steps=["ten"]), "--lr_decay_steps=ten"),
])
def test_contradictory_settings_are_refused_before_any_run_can_start(overrides, match):
    # Making the settings is the check: no `RunSettings` holds them, so nothing trains.
    with pytest.raises(ValueError, match=match):
        tiny_config(**overrides)


def test_settings_must_be_run_settings():
    with pytest.raises(TypeError, match="settings must be a RunSettings. Received: dict"):
        train.train_and_evaluate(tiny_config().as_flat(), "unused")


def test_unwritable_workdir_is_a_clear_error(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "file").write_text("x")
    with pytest.raises(ValueError, match="not writable"):
        train.train_and_evaluate(tiny_config(), str(locked / "file" / "run"))


def test_init_from_starts_a_new_run_from_another_models_generator(trained_workdir, tmp_path):
    # A learning rate of ~0 keeps the weights where they started: at the source's.
    workdir = str(tmp_path / "finetune")
    train.train_and_evaluate(tiny_config(init_from=trained_workdir, train_steps=1,
                                         learning_rate=1e-12, code_jitter=0.0), workdir)
    source = load_generator(trained_workdir).generator
    tuned = load_generator(workdir).generator
    for a, b in zip(source.get_weights(), tuned.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    fresh = str(tmp_path / "fresh")
    train.train_and_evaluate(tiny_config(train_steps=1, learning_rate=1e-12), fresh)
    assert any(np.abs(a - b).max() > 1e-3 for a, b in
               zip(source.get_weights(), load_generator(fresh).generator.get_weights(), strict=True))
    with pytest.raises(ValueError, match="--channels: 8 there, 12 here"):
        train.train_and_evaluate(tiny_config(init_from=trained_workdir, channels=12),
                                 str(tmp_path / "bad"))


def test_init_from_pretrained_checks_the_shipped_settings(tmp_path):
    with pytest.raises(ValueError, match="--init_from=pretrained holds a generator with other settings"):
        train.train_and_evaluate(tiny_config(init_from="pretrained"), str(tmp_path / "run"))
