"""Code reuse (`training/code_pool.py`): codes chosen for a pool of images, jittered once,
trained on for several steps, with the targets' features cached within a budget."""

import os

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from srim_tf.data import datasets
from srim_tf.model import checkpoints
from srim_tf.settings import RunSettings
from srim_tf.training import build
from srim_tf.training.code_pool import CodePool
from tests.helpers import tiny_config


def _pool(config, model):
    """A filled `CodePool` of `config` on one device, over the builtin training stream."""
    strategy = tf.distribute.get_strategy()
    batches = iter(strategy.experimental_distribute_dataset(datasets.make_dataset(config.data)))
    imle = config.imle
    pool = CodePool(model, strategy, batches, imle.code_pool_size, config.data.batch_size,
                    imle.target_feature_cache_mb)
    pool.refill(shuffle_seed=0)
    return pool


def _pool_batches(count, **overrides):
    """`count` batches of a pool of 2 images (one batch: the same 2 images in each), as lists
    `[lr, mid, hr, z_lo, z_up]` of numpy arrays."""
    config = tiny_config(code_pool_size=2, **overrides)
    pool = _pool(config, build.srim(config)[0])
    keys = ("lr", "mid", "hr", "z_lo", "z_up")
    return [[np.asarray(batch[k]) for k in keys] for batch in (next(pool.iterator) for _ in range(count))]


def test_code_reuse_trains_on_a_pool_of_chosen_codes(tmp_path):
    from srim_tf.training.loop import train_and_evaluate

    workdir = str(tmp_path / "reuse")
    logs = train_and_evaluate(
        tiny_config(train_steps=4, code_pool_size=4, code_reuse_steps=2, checkpoint_every=4,
                    image_summary_every=4), workdir)
    assert checkpoints.latest_checkpoint(workdir).endswith("ckpt-4") and logs["loss"] > 0
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
    batch = next(_pool(config, model).iterator)
    assert ("hr_features" in batch) == cached
    if cached:
        hr, features = batch["hr"], batch["hr_features"]
        assert sorted(features) == ["conv2_2", "pixels"]
        np.testing.assert_allclose(features["conv2_2"], model.features(hr)["conv2_2"],
                                   rtol=1e-4, atol=1e-4)


def test_the_default_jitter_is_drawn_once_when_the_pool_chooses_its_codes():
    """The authors' jitter is the default: std 0.1, drawn once when codes are chosen and
    kept while they are reused (`fixed`); settings that name no jitter get it."""
    defaults = RunSettings().imle
    assert (defaults.code_jitter, defaults.code_jitter_mode) == (0.1, "fixed")
    plain = _pool_batches(3, code_jitter=0.0)
    jittered = _pool_batches(3)  # no jitter setting given
    for without, with_ in zip(plain, jittered, strict=True):
        np.testing.assert_array_equal(without[2], with_[2])  # same images, same order
        for i in (3, 4):  # z_lo, z_up: the chosen codes plus a jitter of std 0.1
            assert 0.08 < np.std(with_[i] - without[i]) < 0.12
    # One draw for the pool's life: an image's codes are the same in every batch it is in.
    first = jittered[0]
    for batch in jittered[1:]:
        for j in range(2):
            k = next(k for k in range(2) if np.array_equal(first[2][k], batch[2][j]))
            np.testing.assert_array_equal(batch[3][j], first[3][k])
            np.testing.assert_array_equal(batch[4][j], first[4][k])
