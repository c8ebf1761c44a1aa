"""Downsampling by the convention of published SR tables (MATLAB `imresize`, bicubic).

MATLAB's `imresize(hr, 1/s, 'bicubic')` anti-aliases, extends the image symmetrically at
its borders, resizes one dimension at a time (height, then width) and rounds to uint8
after each pass. Doing the same here reproduces ../shared/data/reference exactly on 99.9%
of pixels (tests/test_resize.py); plain `tf.image.resize(..., antialias=True)` differs
near the borders.
"""

import tensorflow as tf


def _round_to_levels(images):
    # The uint8 rounding MATLAB applies between passes, kept in [0, 1] floats.
    return tf.round(tf.clip_by_value(images, 0.0, 1.0) * 255.0) / 255.0


def bicubic_downsample(images, scale, quantize=True):
    """Downsamples `[N, H, W, C]` float images in [0, 1] by an integer `scale`.

    Args:
        images: float `[N, H, W, C]`; H and W must be multiples of `scale`.
        scale: integer factor (2 or 4 in this project).
        quantize: round to 8-bit levels after each pass, as MATLAB does on uint8 input.

    Returns:
        float32 `[N, H / scale, W / scale, C]`.
    """
    images = tf.convert_to_tensor(images, tf.float32)
    shape = tf.shape(images)
    height, width = shape[1], shape[2]
    tf.debugging.assert_equal(
        [height % scale, width % scale], [0, 0],
        message=f"bicubic_downsample: height and width must be multiples of scale={scale}")
    # Symmetric padding by a multiple of the scale, wider than the kernel's support
    # (4 * scale taps at this factor), but never more than the image itself allows.
    pad = min(2 * scale, 8) * scale
    pad_h = tf.minimum(pad, (height // scale) * scale)
    pad_w = tf.minimum(pad, (width // scale) * scale)
    padded = tf.pad(images, [[0, 0], [pad_h, pad_h], [pad_w, pad_w], [0, 0]], mode="SYMMETRIC")
    padded_h, padded_w = height + 2 * pad_h, width + 2 * pad_w
    out = tf.image.resize(padded, [padded_h // scale, padded_w], "bicubic", antialias=True)
    if quantize:
        out = _round_to_levels(out)
    out = tf.image.resize(out, [padded_h // scale, padded_w // scale], "bicubic", antialias=True)
    if quantize:
        out = _round_to_levels(out)
    else:
        out = tf.clip_by_value(out, 0.0, 1.0)
    return out[:, pad_h // scale: pad_h // scale + height // scale,
               pad_w // scale: pad_w // scale + width // scale, :]


def bicubic_upsample(images, scale, clip=True):
    """Bicubic upsampling (the baseline), clipped to [0, 1] unless `clip` is False (signed data)."""
    images = tf.convert_to_tensor(images, tf.float32)
    shape = tf.shape(images)
    out = tf.image.resize(images, [shape[1] * scale, shape[2] * scale], "bicubic")
    return tf.clip_by_value(out, 0.0, 1.0) if clip else out
