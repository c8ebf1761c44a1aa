"""Rejection before selection (RS-IMLE): samples inside the radius are passed over, checked
by brute force, per input and per patch, with a fixed and with a per-input radius."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from srim_tf.data.resize import bicubic_upsample
from srim_tf.model.features import FeatureExtractor
from srim_tf.settings import ImleSettings
from srim_tf.training import selection
from srim_tf.training.distances import Distance
from tests.helpers import tiny_config, tiny_generator

PIXELS = Distance({"pixels": 1.0}, "l2")
FEATURES = FeatureExtractor(None, ("pixels",))


def _recorded_sample_fn(batch, size, recorded):
    """Random codes and images per chunk, each chunk kept in `recorded` (codes, images)."""
    def sample_fn(index, c):
        codes = tf.random.stateless_normal([batch, c, size, size, 1], seed=[1, index])
        images = tf.random.stateless_uniform([batch * c, size, size, 3], seed=[7, index])
        recorded.append((codes.numpy(), images.numpy().reshape(batch, c, size, size, 3)))
        return (codes,), images

    return sample_fn


def _brute_choice(distances, radius):
    """Index of the nearest sample at or beyond `radius` on axis 1; the first if none is."""
    outside = distances >= np.expand_dims(radius, 1)
    keys = np.where(outside, distances, np.inf)
    return np.where(outside.any(axis=1), keys.argmin(axis=1), 0)


def test_samples_inside_the_radius_are_passed_over_across_chunks():
    batch, m = 4, 10
    targets = np.random.default_rng(0).random((batch, 2, 2, 3)).astype("float32")
    recorded = []
    sample_fn = _recorded_sample_fn(batch, 2, recorded)
    # Radii below, among and above each input's sample distances: the last rejects every one.
    (plain_codes,), plain = selection.nearest(sample_fn, FEATURES, PIXELS, {"pixels": targets}, m, 3)
    codes = np.concatenate([c for c, _ in recorded], axis=1)[..., 0, 0, 0]  # [B, m]
    images = np.concatenate([i for _, i in recorded], axis=1)
    distances = ((images - targets[:, None]) ** 2).mean(axis=(2, 3, 4))  # [B, m]
    ordered = np.sort(distances, axis=1)
    radius = np.array([0.0, ordered[1, 3], ordered[2, 7], ordered[3, -1] + 1], "float32")
    recorded.clear()
    (chosen,), distance = selection.nearest(sample_fn, FEATURES, PIXELS, {"pixels": targets}, m, 3,
                                            radius=tf.constant(radius))
    index = _brute_choice(distances, radius)
    np.testing.assert_array_equal(chosen.numpy()[:, 0, 0, 0], codes[np.arange(batch), index])
    np.testing.assert_allclose(distance, distances[np.arange(batch), index], rtol=1e-6)
    # Radius 0 is plain selection; a rejecting radius chose farther samples.
    np.testing.assert_array_equal(chosen.numpy()[0], plain_codes.numpy()[0])
    np.testing.assert_allclose(np.asarray(distance)[1:3], [ordered[1, 3], ordered[2, 7]], rtol=1e-6)
    assert index[3] == 0  # every sample inside: the first is kept


def test_each_patch_rejects_by_its_own_radius():
    batch, m, grid = 2, 6, (2, 2)
    targets = np.random.default_rng(1).random((batch, 4, 4, 3)).astype("float32")
    recorded = []
    sample_fn = _recorded_sample_fn(batch, 4, recorded)
    selection.nearest(sample_fn, FEATURES, PIXELS, {"pixels": targets}, m, 4, grid=grid)
    codes = np.concatenate([c for c, _ in recorded], axis=1)[..., 0]  # [B, m, 4, 4]
    images = np.concatenate([i for _, i in recorded], axis=1)  # [B, m, 4, 4, 3]
    per_patch = ((images - targets[:, None]) ** 2).mean(axis=-1)
    per_patch = per_patch.reshape(batch, m, 2, 2, 2, 2).mean(axis=(3, 5))  # [B, m, gh, gw]
    radius = np.median(per_patch, axis=1).astype("float32")  # about half rejected per patch
    recorded.clear()
    (chosen,), distance = selection.nearest(sample_fn, FEATURES, PIXELS, {"pixels": targets}, m, 4,
                                            grid=grid, radius=tf.constant(radius))
    index = _brute_choice(per_patch, radius)  # [B, gh, gw]
    for b in range(batch):
        for i in range(2):
            for j in range(2):
                np.testing.assert_array_equal(
                    chosen.numpy()[b, 2 * i:2 * i + 2, 2 * j:2 * j + 2, 0],
                    codes[b, index[b, i, j], 2 * i:2 * i + 2, 2 * j:2 * j + 2])
    chosen_distance = np.take_along_axis(per_patch, index[:, None], axis=1)[:, 0]
    np.testing.assert_allclose(distance, chosen_distance.mean(axis=(1, 2)), rtol=1e-5)
    assert np.all(chosen_distance >= radius)


@pytest.mark.parametrize("grid", [None, (2, 2)])
def test_a_ratio_makes_each_inputs_radius_from_its_bicubic_upsample(triple, grid):
    lr, _, hr = triple
    radius = selection.rejection_radius(ImleSettings(rejection_ratio=0.5), PIXELS, FEATURES,
                                         {"pixels": hr}, hr, 4, grid)
    error = (np.asarray(bicubic_upsample(lr, 4)) - hr) ** 2  # [B, 32, 32, 3]
    if grid is None:
        expected = error.mean(axis=(1, 2, 3))
    else:
        expected = error.mean(axis=-1).reshape(len(hr), 2, 16, 2, 16).mean(axis=(2, 4))
    np.testing.assert_allclose(radius, 0.5 * expected, rtol=1e-5)
    fixed = selection.rejection_radius(ImleSettings(rejection_radius=0.02), PIXELS, FEATURES,
                                       {"pixels": hr}, hr, 4, grid)
    np.testing.assert_allclose(fixed, np.full(expected.shape, 0.02))
    assert selection.rejection_radius(ImleSettings(), PIXELS, FEATURES, {"pixels": hr}, hr, 4,
                                      grid) is None


def test_a_ratio_measures_from_the_targets_clean_lr_not_a_degraded_input():
    # Flat targets: their clean LR's upsample is exact, so a ratio rejects nothing and the
    # choice is plain selection's. A radius made from the noisy input would pass over the
    # samples nearest the flat truth and teach grain.
    from srim_tf.data.patches import to_triple

    lr, mid, hr = (np.asarray(x) for x in to_triple(tf.fill([3, 32, 32, 3], 0.5)))
    noisy = lr + 0.2 * np.random.default_rng(2).standard_normal(lr.shape).astype("float32")
    generator = tiny_generator()
    seeds = selection.example_seeds(tf.constant([5, 6], tf.int64), 0, len(lr))
    batch = {"lr": noisy, "mid": mid, "hr": hr}
    plain = ImleSettings(num_lower_samples=8, num_upper_samples=8, sample_chunk=4)
    chosen = selection.select(generator, FEATURES, batch, seeds, PIXELS, plain)
    rejecting = selection.select(generator, FEATURES, batch, seeds, PIXELS,
                                 dataclasses.replace(plain, rejection_ratio=1.0))
    np.testing.assert_array_equal(rejecting.z_lo, chosen.z_lo)
    np.testing.assert_array_equal(rejecting.z_up, chosen.z_up)


def test_selection_with_a_radius_every_sample_is_inside_keeps_each_stages_first_code(triple):
    lr, mid, hr = triple
    generator = tiny_generator()
    seeds = selection.example_seeds(tf.constant([3, 4], tf.int64), 0, len(lr))
    imle = ImleSettings(num_lower_samples=4, num_upper_samples=4, sample_chunk=2,
                        rejection_radius=1e9)
    chosen = selection.select(generator, FEATURES, {"lr": lr, "mid": mid, "hr": hr}, seeds, PIXELS,
                              imle)
    # The first chunk of 2 codes per stage (salts 2 and 3), its first code.
    first_lower = selection.per_example_normal(seeds, [2, 16, 16, 5], 2)[:, 0]
    first_upper = selection.per_example_normal(seeds, [2, 32, 32, 5], 3)[:, 0]
    np.testing.assert_array_equal(chosen.z_lo, first_lower)
    np.testing.assert_array_equal(chosen.z_up, first_upper)


def test_one_radius_at_a_time_and_in_range():
    with pytest.raises(ValueError, match="--rejection_radius=0.1 --rejection_ratio=0.5"):
        tiny_config(rejection_radius=0.1, rejection_ratio=0.5)
    with pytest.raises(ValueError, match=r"--rejection_ratio must be a finite number in \[0, 1\]"):
        tiny_config(rejection_ratio=2.0)
    with pytest.raises(ValueError, match="--rejection_radius must be a finite number >= 0"):
        tiny_config(rejection_radius=-1.0)
    with pytest.raises(ValueError, match="XLA cannot compile.*Received: --rejection_ratio=0.1 --jit_compile"):
        tiny_config(rejection_ratio=0.1, jit_compile=True)
    with pytest.raises(ValueError, match="Received: --lr_loss_weight=50 --jit_compile"):
        tiny_config(lr_loss_weight=50.0, jit_compile=True)
    tiny_config(rejection_radius=0.1, jit_compile=True)  # a fixed radius needs no downsampling


@pytest.mark.parametrize("overrides", [dict(selection_patch=2), dict(selection="joint")])
def test_rejection_trains_through_the_loop_and_moves_the_nearest_distance(tmp_path, overrides):
    from srim_tf.training.loop import train_and_evaluate

    # One step each, same seed and batch. A radius beyond every sample keeps each input's
    # (patch's) first sample instead of its nearest, so the logged distance rises.
    config = tiny_config(train_steps=1, checkpoint_every=1, summary_every=1, image_summary_every=1,
                         **overrides)
    plain = train_and_evaluate(config, str(tmp_path / "plain"))
    rejecting = train_and_evaluate(config.replace(rejection_radius=10.0), str(tmp_path / "reject"))
    assert rejecting["nearest_distance_upper"] > plain["nearest_distance_upper"] > 0
