"""Real-world degradations of LR images (`--degradations`): blur, JPEG and noise.

Plain TensorFlow ops, so no extra package is needed; each draw is a stateless function of
the seed, so the same seed degrades the same way.
"""

import tensorflow as tf

from srim_tf import checks
from srim_tf.settings import DEGRADATIONS


def degrade(lr, seed, kinds):
    """Degrades LR images `[N, h, w, 3]` in [0, 1] by `kinds` (some of `DEGRADATIONS`), in
    that order; the result is rounded to 8-bit levels."""
    for kind in kinds:
        checks.check_choice("degradation", kind, DEGRADATIONS)
    draws = tf.random.stateless_uniform([3], seed=seed)
    if "blur" in kinds:
        sigma = 0.2 + 1.8 * draws[0]
        taps = tf.range(-3, 4, dtype=tf.float32)
        kernel = tf.exp(-0.5 * tf.square(taps / sigma))
        kernel /= tf.reduce_sum(kernel)
        kernel_2d = tf.tile((kernel[:, None] * kernel[None, :])[:, :, None, None], [1, 1, 3, 1])
        padded = tf.pad(lr, [[0, 0], [3, 3], [3, 3], [0, 0]], mode="REFLECT")
        lr = tf.nn.depthwise_conv2d(padded, kernel_2d, [1, 1, 1, 1], "VALID")
    if "jpeg" in kinds:
        quality = tf.cast(30 + 65 * draws[1], tf.int32)
        lr = tf.map_fn(lambda image: tf.image.adjust_jpeg_quality(image, quality), lr)
    if "noise" in kinds:
        lr += (draws[2] * 10.0 / 255.0) * tf.random.stateless_normal(tf.shape(lr), seed=seed + 1)
    return tf.round(tf.clip_by_value(lr, 0.0, 1.0) * 255.0) / 255.0
