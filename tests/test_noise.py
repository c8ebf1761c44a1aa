"""Position-addressed noise: standard normal, a pure function of (seed, sample, stage, channel, y, x)."""

import numpy as np
import pytest
import tensorflow as tf

from srim_tf.inference.noise import positional_normal


def test_values_are_standard_normal():
    values = positional_normal(3, 0, 0, 0, 0, 200, 100, 5).numpy()  # 100k values
    assert values.shape == (200, 100, 5) and values.dtype == np.float32
    assert abs(values.mean()) < 0.02 and abs(values.std() - 1) < 0.02
    # Tails and symmetry of a normal, not of a uniform or a clipped draw.
    assert 0.040 < np.mean(np.abs(values) > 2) < 0.051
    assert abs(np.mean(values > 0) - 0.5) < 0.01
    # Neighbours are independent: no correlation along rows, columns or channels.
    for a, b in ((values[1:], values[:-1]), (values[:, 1:], values[:, :-1]),
                 (values[..., 1:], values[..., :-1])):
        assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 0.02


def test_any_window_is_the_same_part_of_the_whole_field():
    whole = positional_normal(5, 2, 1, 0, 0, 30, 40, 3).numpy()
    window = positional_normal(5, 2, 1, 7, 11, 12, 9, 3).numpy()
    # Equal to the last bit but for vectorised log/cos rounding (1 ulp on a few values).
    np.testing.assert_allclose(window, whole[7:19, 11:20], rtol=0, atol=1e-6)
    traced = tf.function(positional_normal)(tf.constant(5, tf.int64), 2, 1, 7, 11, 12, 9, 3)
    np.testing.assert_allclose(traced, window, atol=1e-6)  # a graph may fuse ops: 1 ulp


@pytest.mark.parametrize("other", [
    dict(seed=6), dict(sample_index=3), dict(stage=0), dict(seed=5 + 2 ** 32), dict(seed=5 - 2 ** 32)])
def test_every_address_component_changes_the_field(other):
    base = dict(seed=5, sample_index=2, stage=1)
    a = positional_normal(**base, y0=0, x0=0, height=8, width=8, channels=4).numpy()
    b = positional_normal(**{**base, **other}, y0=0, x0=0, height=8, width=8, channels=4).numpy()
    assert np.mean(np.abs(a - b) > 1e-3) > 0.95
    # Channels are fields of their own too.
    assert np.mean(np.abs(a[..., 0] - a[..., 1]) > 1e-3) > 0.95
