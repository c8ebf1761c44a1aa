"""Real-world degradations of LR images: blur, noise and JPEG.

Training draws their strengths per batch (`--degradations`); evaluation applies fixed
documented levels (`srim_eval --lr_degradation`, `LR_DEGRADATION_LEVELS`). Plain TensorFlow
ops, so no extra package is needed; each draw is a stateless function of the seed, so the
same seed degrades the same way.
"""

import zlib

import numpy as np
import tensorflow as tf

from srim_tf import checks
from srim_tf.settings import DEGRADATIONS, LR_DEGRADATION_LEVELS

# Training's ranges: blur sigma (LR pixels) and JPEG quality; noise sigma (grey levels) is drawn
# from 0 to the data's `max_noise_sigma`.
BLUR_SIGMA_RANGE = (0.2, 2.0)
JPEG_QUALITY_RANGE = (30, 95)
BLUR_RADIUS = 3


def _rounded(lr):
    return tf.round(tf.clip_by_value(lr, 0.0, 1.0) * 255.0) / 255.0


def blur(lr, sigma):
    """Gaussian blur of `[N, h, w, C]` images with standard deviation `sigma` (LR pixels)."""
    taps = tf.range(-BLUR_RADIUS, BLUR_RADIUS + 1, dtype=tf.float32)
    kernel = tf.exp(-0.5 * tf.square(taps / sigma))
    kernel /= tf.reduce_sum(kernel)
    kernel_2d = tf.tile((kernel[:, None] * kernel[None, :])[:, :, None, None], [1, 1, lr.shape[-1], 1])
    padded = tf.pad(lr, [[0, 0], [BLUR_RADIUS] * 2, [BLUR_RADIUS] * 2, [0, 0]], mode="REFLECT")
    return tf.nn.depthwise_conv2d(padded, kernel_2d, [1, 1, 1, 1], "VALID")


def add_noise(lr, sigma, seed):
    """Adds Gaussian noise of standard deviation `sigma` grey levels, drawn from `seed`."""
    return lr + sigma / 255.0 * tf.random.stateless_normal(tf.shape(lr), seed=seed, alg="philox")


def jpeg(lr, quality):
    """Each image saved as a JPEG of `quality` (0-100) and decoded."""
    lr = _rounded(lr)  # the encoder truncates to 8 bits: unrounded input would darken
    return tf.map_fn(lambda image: tf.image.adjust_jpeg_quality(image, quality), lr)


def degrade(lr, seed, kinds, max_noise_sigma):
    """Training's degradation of LR images `[N, h, w, 3]` in [0, 1]: `kinds` (some of
    `DEGRADATIONS`), each at a strength drawn from `seed` in its range (noise: 0 to
    `max_noise_sigma` grey levels), applied blur, noise, JPEG; the result is rounded to 8-bit
    levels."""
    for kind in kinds:
        checks.check_choice("degradation", kind, DEGRADATIONS)
    draws = tf.random.stateless_uniform([3], seed=seed)

    def drawn(draw, low_high):
        return low_high[0] + (low_high[1] - low_high[0]) * draw

    if "blur" in kinds:
        lr = blur(lr, drawn(draws[0], BLUR_SIGMA_RANGE))
    if "noise" in kinds:
        lr = add_noise(lr, drawn(draws[2], (0.0, max_noise_sigma)), seed + 1)
    if "jpeg" in kinds:
        lr = jpeg(lr, tf.cast(tf.round(drawn(draws[1], JPEG_QUALITY_RANGE)), tf.int32))
    return _rounded(lr)


def degrade_for_evaluation(lr, level, key):
    """An evaluation's LR: uint8 `[h, w, C]` (C 1 or 3) degraded at the fixed `level` of
    `LR_DEGRADATION_LEVELS`, its noise drawn from `key` (the image's path in its set, with
    "/"), so each image is degraded the same way in every run and by every tool. Returns uint8."""
    levels = LR_DEGRADATION_LEVELS[checks.check_choice("lr_degradation", level, LR_DEGRADATION_LEVELS)]
    if levels is None:
        return lr
    image = tf.constant(np.asarray(lr, np.float32)[None] / 255.0)
    image = blur(image, levels["blur"])
    image = add_noise(image, levels["noise"], [zlib.crc32(key.encode("utf-8")), 0])
    image = jpeg(image, levels["jpeg"])
    return np.round(_rounded(image).numpy()[0] * 255.0).astype(np.uint8)
