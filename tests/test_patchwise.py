"""Patch-wise selection: each N x N-LR-pixel patch takes the codes of its own nearest sample."""

import numpy as np
import pytest
import tensorflow as tf

from srim_tf.settings import ImleSettings
from srim_tf.training import patchwise
from srim_tf.training.distances import Distance
from tests.helpers import tiny_config, tiny_generator


@pytest.mark.parametrize("grid", [(2, 3), (2, 2), (4, 3), (1, 6)])
def test_patch_distances_average_to_the_whole_image_distance(grid, rng):
    distance = Distance({"pixels": 1.0}, "l2")
    samples = {"pixels": tf.constant(rng.random((2 * 3, 8, 12, 3)), tf.float32)}
    targets = {"pixels": tf.constant(rng.random((2, 8, 12, 3)), tf.float32)}
    per_patch = patchwise.patch_distances(distance, samples, targets, 3, grid)
    assert per_patch.shape == (2, 3) + grid
    np.testing.assert_allclose(tf.reduce_mean(per_patch, axis=[2, 3]),
                               distance.to_targets(samples, targets, 3), rtol=1e-5)
    # Each patch's distance is the mean over its own rows and columns only.
    height, width = 8 // grid[0], 12 // grid[1]
    square = (samples["pixels"].numpy().reshape(2, 3, 8, 12, 3) - targets["pixels"].numpy()[:, None]) ** 2
    last = square[:, :, -height:, -width:].mean(axis=(2, 3, 4))
    np.testing.assert_allclose(per_patch[:, :, -1, -1], last, rtol=1e-5)


def test_each_patch_takes_the_codes_of_its_nearest_sample():
    # Sample j is exact in patch j only: the assembled codes come from j in patch j.
    batch, m, grid = 1, 4, (2, 2)
    target = np.zeros((batch, 8, 8, 3), np.float32)
    samples = np.ones((m, 8, 8, 3), np.float32)
    for j, (py, px) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        samples[j, 4 * py: 4 * py + 4, 4 * px: 4 * px + 4] = 0.0
    distances = patchwise.patch_distances(
        Distance({"pixels": 1.0}), {"pixels": tf.constant(samples)},
        {"pixels": tf.constant(target)}, m, grid)
    chosen = tf.argmin(distances, axis=1, output_type=tf.int32)  # [B, 2, 2]
    np.testing.assert_array_equal(chosen[0], [[0, 1], [2, 3]])
    # Codes at twice the patch grid's pixel size (a stage at 2x): value j for sample j.
    codes = tf.constant(np.arange(m, dtype=np.float32)[None, :, None, None, None]
                        * np.ones((batch, m, 4, 4, 2), np.float32))
    assembled = patchwise.choose(codes, chosen).numpy()[0, ..., 0]
    np.testing.assert_array_equal(assembled, [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]])
    kept = patchwise.keep_better(tf.ones((1, 4, 4, 1)), tf.zeros((1, 4, 4, 1)),
                                 tf.constant([[[True, False], [False, True]]]))
    np.testing.assert_array_equal(kept.numpy()[0, ..., 0],
                                  [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]])


def test_a_grid_of_other_height_than_width_maps_each_patch_to_its_own_rows_and_columns():
    # A 2 x 3 grid over 4 x 12 code pixels: patch (r, c) is 2 rows by 4 columns.
    m = 6
    codes = tf.constant(np.arange(m, dtype=np.float32)[None, :, None, None, None]
                        * np.ones((1, m, 4, 12, 1), np.float32))
    chosen = tf.constant([[[0, 1, 2], [3, 4, 5]]], tf.int32)  # [B, 2, 3]
    assembled = patchwise.choose(codes, chosen).numpy()[0, ..., 0]
    expected = np.repeat(np.repeat(np.arange(6).reshape(2, 3), 2, axis=0), 4, axis=1)
    np.testing.assert_array_equal(assembled, expected)
    better = tf.constant([[[True, False, True], [False, True, False]]])
    kept = patchwise.keep_better(tf.ones((1, 4, 12, 1)), tf.zeros((1, 4, 12, 1)), better)
    np.testing.assert_array_equal(
        kept.numpy()[0, ..., 0], np.repeat(np.repeat(better.numpy()[0], 2, axis=0), 4, axis=1))


def test_grid_must_divide_every_layer():
    patchwise.check_patch(1, 8, 6)  # 1 and any common divisor are accepted
    patchwise.check_patch(2, 8, 6)
    for patch in (0, 3, 4):
        with pytest.raises(ValueError, match="selection_patch"):
            patchwise.check_patch(patch, 8, 6)


def test_each_layer_is_put_on_the_patch_grid_at_its_own_resolution():
    values = tf.reshape(tf.range(16, dtype=tf.float32), [1, 4, 4, 1])
    # Finer than the grid: the mean of each patch.
    np.testing.assert_allclose(patchwise.on_grid(values, (2, 2))[0, ..., 0], [[2.5, 4.5], [10.5, 12.5]])
    # Coarser (VGG conv4 of the 2x stage): each patch takes the feature pixel holding it.
    coarse = patchwise.on_grid(values, (8, 8))[0, ..., 0].numpy()
    np.testing.assert_array_equal(coarse, np.repeat(np.repeat(values[0, ..., 0], 2, 0), 2, 1))
    # Neither (AlexNet's sizes): resampled, so the grid's values stay within the layer's.
    odd = patchwise.on_grid(tf.reshape(tf.range(9, dtype=tf.float32), [1, 3, 3, 1]), (4, 4)).numpy()
    assert odd.shape == (1, 4, 4, 1) and 0 <= odd.min() and odd.max() <= 8
    # Two layers at different resolutions add up patch by patch.
    distances = patchwise.patch_distances(
        Distance({"pixels": 1.0, "conv4": 1.0}),
        {"pixels": tf.ones((2, 8, 8, 3)), "conv4": tf.ones((2, 1, 1, 4))},
        {"pixels": tf.zeros((1, 8, 8, 3)), "conv4": tf.zeros((1, 1, 1, 4))}, 2, (4, 4))
    np.testing.assert_allclose(distances, np.full((1, 2, 4, 4), 2.0))


@pytest.mark.slow
def test_patchwise_vgg_and_lpips_selection_train_through_the_loop(tmp_path):
    """VGG's conv4 features of the 2x stage, and LPIPS' deeper layers, are coarser than the
    patch grid: each feature pixel must cover several patches, not crash the step."""
    from srim_tf.training.loop import train_and_evaluate

    for name, extra in (("vgg16", dict(feature_net="vgg16", selection_conv4_weight=1.0)),
                        ("vgg19", dict(selection_conv4_weight=1.0, selection_pixel_weight=0.0)),
                        ("lpips", dict(selection_lpips_weight=1.0, selection_pixel_weight=0.0,
                                       hr_size=64))):
        settings = tiny_config(selection_patch=2, train_steps=1, checkpoint_every=1,
                               summary_every=1, image_summary_every=1, **extra)
        logs = train_and_evaluate(settings, str(tmp_path / name))
        assert np.isfinite(logs["loss"]) and logs["nearest_distance_upper"] > 0, (name, logs)


def test_patchwise_selection_assembles_each_patch_from_a_drawn_sample(triple):
    """Every patch's codes are one drawn sample's; patches are never farther than a whole-image choice."""
    from srim_tf.model.features import FeatureExtractor
    from srim_tf.training import selection

    lr, mid, hr = triple  # LR 8x8
    generator = tiny_generator()
    features = FeatureExtractor(None, ("pixels",))
    seeds = selection.example_seeds(tf.constant([1, 2], tf.int64), 0, 3)
    batch = {"lr": tf.constant(lr), "mid": tf.constant(mid), "hr": tf.constant(hr)}
    pixels = Distance({"pixels": 1.0}, "l2")
    six = ImleSettings(num_lower_samples=6, num_upper_samples=6, sample_chunk=4)
    whole = selection.select(generator, features, batch, seeds, pixels, six)
    patches = selection.select(generator, features, batch, seeds, pixels,
                               ImleSettings(num_lower_samples=6, num_upper_samples=6,
                                            sample_chunk=4, selection_patch=4))
    # The upper codes of each 4x4-LR patch (16x16 at 4x) equal one of the 6 drawn for it.
    drawn = np.concatenate([selection.per_example_normal(seeds, [c, 32, 32, 5], 2 * i + 3).numpy()
                            for i, c in enumerate((4, 2))], axis=1)  # [B, 6, 32, 32, 5]
    z_up = patches.z_up.numpy()
    sources = set()
    for b in range(3):
        for py in range(2):
            for px in range(2):
                window = (slice(16 * py, 16 * py + 16), slice(16 * px, 16 * px + 16))
                hits = [j for j in range(6)
                        if np.array_equal(drawn[b, j][window], z_up[b][window])]
                assert len(hits) == 1
                sources.add((b, hits[0]))
    assert len(sources) > 3  # Not all patches of an input took the same sample.
    # The lower stage differs between the two runs, so compare the lower stage alone.
    assert np.all(patches.lower_distance.numpy() <= whole.lower_distance.numpy() + 1e-6)
    # A patch that does not tile the LR crop is refused by selection itself, naming the flag.
    with pytest.raises(ValueError, match="selection_patch"):
        selection.select(generator, features, batch, seeds, pixels,
                         ImleSettings(num_lower_samples=6, num_upper_samples=6, sample_chunk=4,
                                      selection_patch=3))


def test_patchwise_selection_trains_through_the_loop_nearer_than_whole_image_choice(tmp_path):
    from srim_tf.training.loop import train_and_evaluate

    # One step each, same seed: the same batch and the same drawn lower codes. Choosing per
    # 4x4-LR-pixel patch (a 2x2 grid of 8x8 LR crops) keeps each patch's nearest sample, so the
    # mean nearest distance is below the best whole-image choice's.
    config = tiny_config(train_steps=1, checkpoint_every=1, summary_every=1, image_summary_every=1)
    whole = train_and_evaluate(config, str(tmp_path / "whole"))
    patches = train_and_evaluate(config.replace(selection_patch=4), str(tmp_path / "patch"))
    assert 0 < patches["nearest_distance_lower"] < whole["nearest_distance_lower"]
    # A patch that does not divide the LR crop is refused when the settings are made.
    with pytest.raises(ValueError, match="--selection_patch=3 --hr_size=32"):
        tiny_config(selection_patch=3)


def test_patches_of_a_crop_taller_than_wide_each_take_one_drawn_sample(rng):
    from srim_tf.data.patches import to_triple
    from srim_tf.model.features import FeatureExtractor
    from srim_tf.training import selection

    lr, mid, hr = to_triple(tf.constant(rng.random((2, 32, 16, 3)).astype("float32")))  # LR 8x4
    seeds = selection.example_seeds(tf.constant([1, 2], tf.int64), 0, 2)
    chosen = selection.select(tiny_generator(), FeatureExtractor(None, ("pixels",)),
                              {"lr": lr, "mid": mid, "hr": hr}, seeds, Distance({"pixels": 1.0}),
                              ImleSettings(num_lower_samples=6, num_upper_samples=6,
                                           sample_chunk=6, selection_patch=2))
    drawn = selection.per_example_normal(seeds, [6, 32, 16, 5], 3).numpy()  # upper codes, one chunk
    z_up = chosen.z_up.numpy()
    source = {}
    for b in range(2):
        for py in range(4):  # a 4 x 2 grid of 2x2-LR patches: 8x8 at 4x
            for px in range(2):
                window = (slice(8 * py, 8 * py + 8), slice(8 * px, 8 * px + 8))
                hits = [j for j in range(6) if np.array_equal(drawn[b, j][window], z_up[b][window])]
                assert len(hits) == 1, (b, py, px)
                source[b, py, px] = hits[0]
    # The grid is 4 x 2, not coarser: patches stacked in one column choose for themselves.
    pairs = [(b, py, px) for b in range(2) for py in (0, 2) for px in range(2)]
    assert any(source[b, py, px] != source[b, py + 1, px] for b, py, px in pairs)
