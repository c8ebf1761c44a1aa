"""super_resolve_image(): any image size, in tiles, K samples, reproducible by seed.

Large images are cut into tiles of `tile_size` LR pixels. Each tile is run with a margin
of `overlap` LR pixels of real image context on every side, and only its core is kept.
When the margin covers the generator's receptive field (the default), every output pixel
sees exactly the context it would see untiled, and the noise is addressed by position
(`noise.py`), so tiled and untiled outputs agree and no seam exists to blend away. Only
one tile is on the device at a time; the full image stays in host memory as uint8.
"""

import math

import numpy as np

from srim_tf.resize import bicubic_upsample

SCALE = 4


def receptive_field(num_convs, kernel_size):
    """LR pixels of context a 4x output pixel depends on, on each side (rounded up).

    The lower stage's convolutions reach `num_convs * (k - 1) / 2` pixels at 2x, the
    upper stage's as many at 4x, and each bilinear upsampling one more input pixel.
    """
    reach = num_convs * (kernel_size - 1) / 2
    return math.ceil(reach / 2 + reach / 4 + 2)


def _tiles(length, tile):
    return [(start, min(start + tile, length)) for start in range(0, length, tile)]


def super_resolve_image(sampler, rgb, num_samples=1, seed=0, noise_scale=1.0, tile_size=256,
                        overlap=None):
    """Super-resolves one uint8 RGB image `[H, W, 3]`.

    Args:
        sampler: a `samplers.Sampler`.
        rgb: uint8 `[H, W, 3]`.
        num_samples: K.
        seed: the noise seed.
        noise_scale: 0 for the deterministic output, 1 for the training distribution.
        tile_size: tile core size in LR pixels; 0 or None processes the image whole.
        overlap: context margin in LR pixels; default: the sampler's receptive field.

    Returns:
        uint8 `[K, 4H, 4W, 3]`.
    """
    height, width = rgb.shape[:2]
    margin = sampler.receptive_field if overlap is None else overlap
    tile = tile_size or max(height, width)
    out = np.zeros((num_samples, SCALE * height, SCALE * width, 3), np.uint8)
    for y0, y1 in _tiles(height, tile):
        for x0, x1 in _tiles(width, tile):
            # The tile with its context margin, clipped to the image.
            cy0, cy1 = max(0, y0 - margin), min(height, y1 + margin)
            cx0, cx1 = max(0, x0 - margin), min(width, x1 + margin)
            window = rgb[None, cy0:cy1, cx0:cx1].astype(np.float32) / 255.0
            result = sampler(window, num_samples, seed, noise_scale, (cy0, cx0))[0]
            core = result[:, SCALE * (y0 - cy0): SCALE * (y1 - cy0),
                          SCALE * (x0 - cx0): SCALE * (x1 - cx0)]
            out[:, SCALE * y0: SCALE * y1, SCALE * x0: SCALE * x1] = np.round(
                np.clip(core, 0, 1) * 255)
    return out


def to_grey(samples):
    """uint8 `[..., 3]` -> `[..., 1]` by BT.601 luma weights, for grey inputs."""
    grey = samples.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return np.round(grey)[..., None].astype(np.uint8)


def upscale_alpha(alpha):
    """Bicubic 4x of an alpha channel `[H, W]` -> uint8 `[4H, 4W]`."""
    up = bicubic_upsample(alpha[None, ..., None].astype(np.float32) / 255.0, SCALE).numpy()
    return np.round(up[0, ..., 0] * 255).astype(np.uint8)


def std_map(samples):
    """Per-pixel standard deviation across K uint8 samples `[K, H, W, 3]` -> uint8 `[H, W]`.

    Scaled so a deviation of 32 grey levels (or more) is white.
    """
    std = samples.astype(np.float32).std(axis=0).mean(axis=-1)
    return np.round(np.clip(std / 32.0, 0, 1) * 255).astype(np.uint8)


def contact_sheet(rgb, samples):
    """The input upscaled by bicubic beside the samples: uint8 `[4H, (K + 1) * 4W, 3]`."""
    bicubic = bicubic_upsample(rgb[None].astype(np.float32) / 255.0, SCALE).numpy()[0]
    bicubic = np.round(bicubic * 255).astype(np.uint8)
    return np.concatenate([bicubic, *samples], axis=1)
