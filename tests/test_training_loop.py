"""bin/srim_train: runs, writes TensorBoard, checkpoints, resumes, and refuses bad setups."""

import glob
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from srim_tf.training import build
from srim_tf.model import checkpoints
from srim_tf.data import datasets
from srim_tf.training.code_pool import CodePool
from srim_tf.training import loop as train
from srim_tf.training.imle import SRIM
from tests.conftest import tiny_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_FLAGS = ["--data=builtin", "--hr_size=32", "--batch_size=2", "--patches_per_image=2",
              "--channels=8", "--kernel_size=3", "--num_convs=3", "--num_lower_samples=3",
              "--num_upper_samples=3", "--sample_chunk=3", "--vgg_weights=random",
              "--loss_conv2_2_weight=0", "--loss_conv4_weight=0", "--loss_pixel_weight=1",
              "--selection_pixel_weight=1", "--selection_conv4_weight=0", "--lr_decay_steps=",
              "--num_validation_images=2", "--num_summary_samples=2"]


def _steps(workdir):
    return int(checkpoints.latest_checkpoint(workdir).rsplit("-", 1)[1])


def _run(workdir, *extra):
    return subprocess.run([sys.executable, os.path.join(ROOT, "bin", "srim_train"),
                           f"--workdir={workdir}", *TINY_FLAGS, *extra],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)


def test_training_writes_summaries_checkpoints_and_resumes_to_the_same_total(tmp_path):
    workdir = str(tmp_path / "run")
    # A little VGG in the loss, so the random-weights warning must appear.
    first = _run(workdir, "--train_steps=4", "--checkpoint_every=2", "--summary_every=2",
                 "--image_summary_every=4", "--loss_conv4_weight=0.01")
    assert first.returncode == 0, first.stderr[-3000:]
    assert _steps(workdir) == 4

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

    more = _run(workdir, "--train_steps=6", "--checkpoint_every=2", "--loss_conv4_weight=0.01", "--summary_every=2",
                "--image_summary_every=100")
    assert more.returncode == 0, more.stderr[-3000:]
    assert "Resumed from" in more.stderr
    assert _steps(workdir) == 6
    done = _run(workdir, "--train_steps=6")
    assert done.returncode == 0 and "nothing to do" in done.stderr


def test_sigkill_loses_only_steps_since_the_last_checkpoint(tmp_path):
    workdir = str(tmp_path / "killed")
    command = [sys.executable, os.path.join(ROOT, "bin", "srim_train"), f"--workdir={workdir}",
               *TINY_FLAGS, "--train_steps=400", "--checkpoint_every=1", "--summary_every=50",
               "--image_summary_every=1000"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline:
        latest = checkpoints.latest_checkpoint(workdir) if os.path.isdir(workdir) else None
        if latest and _steps(workdir) >= 3:
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)  # at an arbitrary moment, possibly mid-save
    process.wait()
    killed_at = _steps(workdir)
    assert 3 <= killed_at < 400
    # The newest checkpoint is complete and readable.
    reader = tf.train.load_checkpoint(checkpoints.latest_checkpoint(workdir))
    assert reader.get_variable_to_shape_map()
    resumed = _run(workdir, f"--train_steps={killed_at + 2}", "--checkpoint_every=1",
                   "--summary_every=50", "--image_summary_every=1000")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Resumed from" in resumed.stderr
    assert _steps(workdir) == killed_at + 2


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
    assert _steps(workdir) == 2


@pytest.mark.parametrize("overrides,match", [
    (dict(checkpoint_every=0), "--checkpoint_every=0"),
    (dict(code_pool_size=1, batch_size=2), "--code_pool_size=1"),
    (dict(jit_compile=True, projection="sparse"), "--projection=sparse"),
    (dict(lr_decay_steps=["ten"]), "--lr_decay_steps=ten"),
])
def test_contradictory_flags_fail_before_training(overrides, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        train.train_and_evaluate(tiny_config(**overrides), str(tmp_path / "w"))
    assert not glob.glob(str(tmp_path / "w" / "checkpoints" / "*"))


def test_unwritable_workdir_is_a_clear_error(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "file").write_text("x")
    with pytest.raises(ValueError, match="not writable"):
        train.train_and_evaluate(tiny_config(), str(locked / "file" / "run"))


def test_code_reuse_trains_on_a_pool_of_chosen_codes(tmp_path):
    workdir = str(tmp_path / "reuse")
    logs = train.train_and_evaluate(
        tiny_config(train_steps=4, code_pool_size=4, code_reuse_steps=2, checkpoint_every=4,
                    image_summary_every=4), workdir)
    assert _steps(workdir) == 4 and logs["loss"] > 0
    # Distances are logged when a pool is chosen (steps 0 and 2), not as zeros per step.
    events = EventAccumulator(os.path.join(workdir, "train"), size_guidance={"tensors": 0})
    events.Reload()
    lower = events.Tensors("train/nearest_distance_lower")
    assert [e.step for e in lower] == [0, 2]
    assert all(float(tf.make_ndarray(e.tensor_proto)) > 0 for e in lower)


@pytest.mark.parametrize("budget_mb,pool_size,cached", [(64, 4, True), (1, 16, False), (0, 4, False)])
def test_code_pool_caches_target_features_within_the_budget(budget_mb, pool_size, cached):
    config = tiny_config(code_pool_size=pool_size, target_feature_cache_mb=budget_mb,
                         loss_conv2_2_weight=1.0)  # conv2_2 at HR 32: 128 KB per image
    model, _ = build.srim(config)
    model.compile(optimizer=build.optimizer(config))
    strategy = tf.distribute.get_strategy()
    batches = iter(strategy.experimental_distribute_dataset(
        datasets.make_dataset(build.data_config(config))))
    pool = CodePool(model, strategy, batches, config.code_pool_size, config.batch_size,
                    config.target_feature_cache_mb)
    pool.refill(shuffle_seed=0)
    batch = next(pool.iterator)
    assert ("hr_features" in batch) == cached
    if cached:
        hr, features = batch["hr"], batch["hr_features"]
        assert sorted(features) == ["conv2_2", "pixels"]
        np.testing.assert_allclose(features["conv2_2"], model.features(hr)["conv2_2"],
                                   rtol=1e-4, atol=1e-4)


def test_unknown_flag_is_refused(tmp_path):
    result = _run(str(tmp_path / "w"), "--no_such_flag=1")
    assert result.returncode != 0 and "no_such_flag" in result.stderr


def _pool_batches(count, **overrides):
    config = tiny_config(code_pool_size=2, **overrides)  # one batch of 2: the same 2 images
    model, _ = build.srim(config)
    strategy = tf.distribute.get_strategy()
    batches = iter(strategy.experimental_distribute_dataset(
        datasets.make_dataset(build.data_config(config))))
    pool = CodePool(model, strategy, batches, config.code_pool_size, config.batch_size,
                    config.target_feature_cache_mb)
    pool.refill(shuffle_seed=0)
    keys = ("lr", "mid", "hr", "z_lo", "z_up")
    return [[np.asarray(next_batch[k]) for k in keys]
            for next_batch in (next(pool.iterator) for _ in range(count))]


def test_code_pool_draws_jitter_once_when_it_chooses_the_codes():
    plain = _pool_batches(3, code_jitter=0.0)
    jittered = _pool_batches(3, code_jitter=0.1, code_jitter_mode="fixed")
    for without, with_ in zip(plain, jittered):
        np.testing.assert_array_equal(without[2], with_[2])  # same images, same order
        offsets = [with_[i] - without[i] for i in (3, 4)]  # the jitter on z_lo and z_up
        assert all(0.08 < np.std(o) < 0.12 for o in offsets)
        # Each image keeps one jitter for the pool's life, whatever batch it comes in.
        first = jittered[0]
        for j in range(2):
            k = next(k for k in range(2) if np.array_equal(first[2][k], with_[2][j]))
            np.testing.assert_array_equal(with_[3][j], first[3][k])


def test_init_from_starts_a_new_run_from_another_models_generator(trained_workdir, tmp_path):
    from srim_tf.model import checkpoints
    from srim_tf.training.loop import train_and_evaluate

    # A learning rate of ~0 keeps the weights where they started: at the source's.
    workdir = str(tmp_path / "finetune")
    train_and_evaluate(tiny_config(init_from=trained_workdir, train_steps=1, learning_rate=1e-12,
                                   code_jitter=0.0), workdir)
    source, _, _ = checkpoints.load_generator(trained_workdir)
    tuned, _, _ = checkpoints.load_generator(workdir)
    for a, b in zip(source.get_weights(), tuned.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)
    fresh = str(tmp_path / "fresh")
    train_and_evaluate(tiny_config(train_steps=1, learning_rate=1e-12), fresh)
    assert any(np.abs(a - b).max() > 1e-3 for a, b in
               zip(source.get_weights(), checkpoints.load_generator(fresh)[0].get_weights()))
    with pytest.raises(ValueError, match="--channels: 8 there, 12 here"):
        train_and_evaluate(tiny_config(init_from=trained_workdir, channels=12), str(tmp_path / "bad"))


def test_init_from_pretrained_checks_the_shipped_settings(tmp_path):
    from srim_tf.training.loop import train_and_evaluate

    with pytest.raises(ValueError, match="--init_from=pretrained holds a generator with other settings"):
        train_and_evaluate(tiny_config(init_from="pretrained"), str(tmp_path / "run"))
