"""The LR consistency loss: what it measures, that it reaches the weights, and that a step
adds it with its weight."""

import numpy as np
import pytest
import tensorflow as tf

from srim_tf.data.resize import bicubic_downsample
from srim_tf.settings import ImleSettings
from srim_tf.training.distances import Distance
from srim_tf.training.imle import SRIM, lr_loss
from tests.helpers import tiny_config, tiny_generator


def test_a_flat_output_is_off_by_its_colour_shift_and_exact_when_unshifted():
    lr = np.full((2, 4, 4, 3), 0.4, np.float32)
    shift = np.array([0.0, 0.03], np.float32)[:, None, None, None]
    out = np.full((2, 16, 16, 3), 0.4, np.float32) + shift
    np.testing.assert_allclose(lr_loss(out, lr), [0.0, 0.03], atol=1e-6)


def test_its_gradient_reaches_the_generators_weights(triple):
    lr, _, _ = triple
    generator = tiny_generator()
    z_lo, z_up = generator.noise_shapes(len(lr), 8, 8)
    with tf.GradientTape() as tape:
        out = generator([lr, tf.zeros(z_lo), tf.zeros(z_up)])
        loss = tf.reduce_mean(lr_loss(out, lr))
    gradients = tape.gradient(loss, generator.trainable_variables)
    # Rounding to 8-bit levels (as the LR-PSNR metric does) would give none.
    assert sum(float(tf.reduce_sum(tf.abs(g))) for g in gradients if g is not None) > 0


def test_a_step_adds_it_with_its_weight(triple):
    lr, mid, hr = triple
    generator = tiny_generator()
    pixels = Distance({"pixels": 1.0}, "l1")

    def model(weight):
        return SRIM(generator, None, Distance({"pixels": 1.0}), pixels,
                    ImleSettings(num_lower_samples=2, num_upper_samples=2, lr_loss_weight=weight))

    z_lo, z_up = (tf.random.stateless_normal(s, [1, 2]) for s in generator.noise_shapes(3, 8, 8))
    plain, out = model(0.0).step_loss(lr, mid, hr, z_lo, z_up, training=False)
    weighted, _ = model(2.5).step_loss(lr, mid, hr, z_lo, z_up, training=False)
    # The reference is the target's own LR (unrounded), not the input: under --degradations
    # the input is degraded, as here darkened.
    clean_lr = bicubic_downsample(hr, 4, quantize=False)
    for given_lr in (lr, tf.clip_by_value(lr - 0.2, 0.0, 1.0)):
        plain, out = model(0.0).step_loss(given_lr, mid, hr, z_lo, z_up, training=False)
        weighted, _ = model(2.5).step_loss(given_lr, mid, hr, z_lo, z_up, training=False)
        expected = plain + 2.5 * tf.reduce_mean(lr_loss(out, clean_lr))
        assert float(weighted) == pytest.approx(float(expected), rel=1e-5)
    against_input = plain + 2.5 * tf.reduce_mean(lr_loss(out, given_lr))
    assert float(weighted) != pytest.approx(float(against_input), rel=1e-3)
    with pytest.raises(ValueError, match="--lr_loss_weight must be a finite number >= 0"):
        tiny_config(lr_loss_weight=-1.0)
