import numpy as np
import pytest
import tensorflow as tf

from srim_tf import patchwise
from srim_tf.distances import Distance


def test_patch_distances_average_to_the_whole_image_distance(rng):
    distance = Distance({"pixels": 1.0}, "l2")
    samples = {"pixels": tf.constant(rng.random((2 * 3, 8, 12, 3)), tf.float32)}
    targets = {"pixels": tf.constant(rng.random((2, 8, 12, 3)), tf.float32)}
    per_patch = patchwise.patch_distances(distance, samples, targets, 3, (2, 3))
    assert per_patch.shape == (2, 3, 2, 3)
    np.testing.assert_allclose(tf.reduce_mean(per_patch, axis=[2, 3]),
                               distance.to_targets(samples, targets, 3), rtol=1e-5)


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


def test_grid_must_divide_every_layer():
    with pytest.raises(ValueError, match="selection_patch"):
        patchwise.check_patch(3, 8, 8)
    with pytest.raises(ValueError, match="not a multiple"):
        patchwise.patch_distances(Distance({"pixels": 1.0}), {"pixels": tf.zeros((2, 6, 6, 3))},
                                  {"pixels": tf.zeros((1, 6, 6, 3))}, 2, (4, 4))
