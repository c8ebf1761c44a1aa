"""Noise codes addressed by position, for inference that must not depend on tiling.

Training draws its codes with `tf.random.stateless_normal`. At inference a large image is
processed in tiles, and a tile must see exactly the noise the whole image would have had
at the same pixels. So each noise value here is a pure function of
(seed, sample index, stage, channel, y, x): an integer hash turned into a standard normal
by the Box-Muller transform. Any window of the field can be drawn on its own, and the
same seed gives the same noise whatever the batch, tile or machine.
"""

import math

import tensorflow as tf

_M1 = 0x7FEB352D
_M2 = 0x846CA68B


def _hash(x):
    # A 32-bit integer finaliser with good avalanche (Wellons' "lowbias32" constants).
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(16, tf.uint32)))
    x = x * tf.constant(_M1, tf.uint32)
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(15, tf.uint32)))
    x = x * tf.constant(_M2, tf.uint32)
    return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(16, tf.uint32)))


def _mix(a, b):
    return _hash(tf.bitwise.bitwise_xor(a, _hash(b)))


def _uniform(bits):
    # The top 24 bits, centred in their bin: strictly inside (0, 1) in float32.
    top = tf.cast(tf.bitwise.right_shift(bits, tf.constant(8, tf.uint32)), tf.float32)
    return (top + 0.5) / float(1 << 24)


def positional_normal(seed, sample_index, stage, y0, x0, height, width, channels):
    """Standard normal noise for the window `[y0, y0+height) x [x0, x0+width)`.

    Args:
        seed: integer scalar (Python or tensor), any int64: every seed draws its own noise.
        sample_index: which of the K samples (integer scalar).
        stage: 0 for the lower code, 1 for the upper.
        y0, x0: the window's top-left corner in the stage's output resolution.
        height, width, channels: the window's size.

    Returns:
        float32 `[height, width, channels]`.
    """
    def u32(value):
        return tf.cast(tf.cast(value, tf.int64) % (1 << 32), tf.uint32)

    seed = tf.cast(seed, tf.int64)
    key = _mix(_mix(u32(seed), u32(sample_index) + 0x9E3779B9), u32(stage) + 0x85EBCA6B)
    ys = u32(tf.range(height, dtype=tf.int64) + tf.cast(y0, tf.int64))[:, None, None]
    xs = u32(tf.range(width, dtype=tf.int64) + tf.cast(x0, tf.int64))[None, :, None]
    cs = u32(tf.range(channels, dtype=tf.int64))[None, None, :]
    bits = _mix(_mix(_mix(key, ys), xs), cs)  # [height, width, channels]
    # The seed's high 32 bits (-1 for negative seeds) are mixed into every value, so seeds
    # equal mod 2^32 (0 and 2^32) no longer share their noise; seeds in [0, 2^32) skip it
    # and keep the noise they always had.
    high = tf.bitwise.right_shift(seed, tf.constant(32, tf.int64))
    bits = tf.cond(tf.equal(high, 0), lambda: bits,
                   lambda: _mix(bits, u32(high) + tf.constant(0x632BE5AB, tf.uint32)))
    u1 = _uniform(bits)
    u2 = _uniform(_hash(bits + tf.constant(0x68E31DA4, tf.uint32)))
    return tf.sqrt(-2.0 * tf.math.log(u1)) * tf.cos(2.0 * math.pi * u2)
