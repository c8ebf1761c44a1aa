"""Samples of a trained generator, with noise addressed by position (inference and export).

Imports nothing from the training stack, so serving loads only the generator.
"""

import tensorflow as tf

from srim_tf.inference import consistency, noise


def super_resolve_with(generator, lr, num_samples, seed, noise_scale, offset=(0, 0),
                       consistency_iterations=0):
    """Draws `num_samples` super-resolutions of each LR image with a bare generator.

    Noise comes from `noise.positional_normal`: it depends on the seed, the sample index
    and the pixel position only, so results do not depend on batching or tiling. Tensor
    arguments are allowed (export traces this).

    Args:
        generator: a `SRIMGenerator`.
        lr: float32 `[N, h, w, 3]` in [0, 1].
        num_samples: K >= 1.
        seed: integer seed.
        noise_scale: multiplies the codes; 0 gives the deterministic output at z = 0,
            1 the training distribution.
        offset: `(y, x)` of this LR window in a larger image (used by tiling).
        consistency_iterations: passes of back-projection onto `lr` (`consistency.py`);
            0 returns the generator's outputs as they are.

    Returns:
        float32 `[N, K, 4h, 4w, 3]` in [0, 1].
    """
    # One sample at a time: running several at once (map_fn's default) is no faster on CPU,
    # whose convolutions already use every core, and holds each one's activations (481x321,
    # K = 3, float32: 2.0-2.2 GB peak against 1.5 GB, the same seconds; benchmarks/README.md).
    samples = tf.map_fn(
        lambda k: one_sample(generator, lr, k, seed, noise_scale, offset, consistency_iterations),
        tf.range(num_samples), parallel_iterations=1,
        fn_output_signature=tf.TensorSpec(None, tf.float32))
    return tf.transpose(samples, [1, 0, 2, 3, 4])


def one_sample(generator, lr, k, seed, noise_scale, offset=(0, 0), consistency_iterations=0):
    """Sample `k` of every LR image in `lr` (as `super_resolve_with`): `[N, 4h, 4w, 3]`."""
    shape = tf.shape(lr)
    batch, height, width = shape[0], shape[1], shape[2]
    channels = generator.settings.noise_channels
    y0, x0 = offset
    z_lo = noise.positional_normal(seed, k, 0, 2 * y0, 2 * x0, 2 * height, 2 * width, channels)
    z_up = noise.positional_normal(seed, k, 1, 4 * y0, 4 * x0, 4 * height, 4 * width, channels)
    z_lo = tf.tile(z_lo[None] * noise_scale, [batch, 1, 1, 1])
    z_up = tf.tile(z_up[None] * noise_scale, [batch, 1, 1, 1])
    out = tf.cast(generator([lr, z_lo, z_up]), tf.float32)
    return consistency.back_project(out, lr, iterations=consistency_iterations)
