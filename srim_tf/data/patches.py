"""HR patches cut from decoded images, their augmentation, and the (LR, mid, HR) triple.

`crop` mode cuts random HR-size patches, several per image per pass; `resize` mode resizes
the whole image anisotropically to the HR size, as the paper does. LR and the 2x "mid"
target are made by `resize.bicubic_downsample`, the convention of published tables.
"""

import tensorflow as tf

from srim_tf.data.resize import bicubic_downsample


def _resized(image, size):
    """float image -> `[size, size, 3]` by antialiased bicubic, clipped to [0, 1]."""
    return tf.clip_by_value(tf.image.resize(image, [size, size], "bicubic", antialias=True), 0.0, 1.0)


def hr_patches(image, seed, size, mode, per_image):
    """uint8 image -> float32 `[P, size, size, 3]` patches in [0, 1].

    Args:
        image: uint8 `[H, W, 3]`; in crop mode at least `size` on each side.
        seed: int64 `[2]`: `(seed, c)` for the c-th image of the stream.
        size: the HR side.
        mode: "crop" (`per_image` random crops) or "resize" (the whole image, P = 1).
        per_image: crops per image in crop mode.
    """
    image = tf.image.convert_image_dtype(image, tf.float32)
    if mode == "resize":
        return _resized(image, size)[None]
    # Image c's seed is (seed, c): patch i gets (seed, c * P + i), distinct per (image, patch).
    first = seed * tf.constant([1, per_image], tf.int64)
    crops = [tf.image.stateless_random_crop(image, [size, size, 3], seed=first + [0, i])
             for i in range(per_image)]
    return tf.stack(crops)


def centre_patch(image, size, mode):
    """uint8 image -> float32 `[size, size, 3]`: its centre crop, or the whole image
    resized in resize mode or when it is smaller than `size` (fixed validation patches)."""
    image = tf.image.convert_image_dtype(image, tf.float32)
    if mode == "resize" or min(image.shape[:2]) < size:
        return _resized(image, size)
    return tf.image.resize_with_crop_or_pad(image, size, size)


def augment(patch, seed):
    """Random horizontal flip, vertical flip and transpose (the 8 symmetries of a square)."""
    flips = tf.random.stateless_uniform([3], seed=seed) < 0.5
    patch = tf.cond(flips[0], lambda: patch[:, ::-1], lambda: patch)
    patch = tf.cond(flips[1], lambda: patch[::-1], lambda: patch)
    return tf.cond(flips[2], lambda: tf.transpose(patch, [1, 0, 2]), lambda: patch)


def to_triple(hr):
    """HR `[N, H, W, 3]` -> `(lr, mid, hr)` by the published bicubic convention (4x, 2x).

    The 4 is the generator's scale (`model.generator.SCALE`), written out here because the
    data layer imports nothing of the model.
    """
    return bicubic_downsample(hr, 4), bicubic_downsample(hr, 2), hr
