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
import tensorflow as tf

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
    if num_samples < 1:
        raise ValueError(f"num_samples must be an integer >= 1. Received: num_samples={num_samples!r}")
    if tile_size is not None and tile_size < 0 or overlap is not None and overlap < 0:
        raise ValueError("tile_size and overlap must be >= 0 (tile_size 0: whole image)."
                         f" Received: tile_size={tile_size}, overlap={overlap}")
    if not math.isfinite(noise_scale):  # inf or NaN noise gives black images
        raise ValueError(f"noise_scale must be finite. Received: noise_scale={noise_scale}")
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
    weights = np.array([0.299, 0.587, 0.114], np.float32)
    pixels = samples.reshape(-1, 3)
    grey = np.empty(len(pixels), np.uint8)
    step = BAND_ROWS * 4096  # pixels converted to float at once
    for start in range(0, len(pixels), step):
        grey[start:start + step] = np.round(pixels[start:start + step].astype(np.float32) @ weights)
    return grey.reshape(samples.shape[:-1] + (1,))


def upscale_alpha(alpha):
    """Bicubic 4x of an alpha channel `[H, W]` -> uint8 `[4H, 4W]`."""
    up = bicubic_upsample(alpha[None, ..., None].astype(np.float32) / 255.0, SCALE).numpy()
    return np.round(up[0, ..., 0] * 255).astype(np.uint8)


# Longest side of one contact-sheet panel: larger outputs are shrunk for the sheet, so its
# memory is bounded whatever the input size (the samples themselves are written full size).
SHEET_PANEL_MAX = 2048
# Rows processed at once when a whole-image result is reduced (std map, sheet panels): float
# copies then take K x rows x width, not K x height x width.
BAND_ROWS = 64


def _bands(length, size):
    return [(start, min(start + size, length)) for start in range(0, length, size)]


def std_map(samples):
    """Per-pixel standard deviation across K uint8 samples `[K, H, W, 3]` -> uint8 `[H, W]`.

    Scaled so a deviation of 32 grey levels (or more) is white. Computed in bands of rows.
    """
    out = np.empty(samples.shape[1:3], np.uint8)
    for y0, y1 in _bands(samples.shape[1], BAND_ROWS):
        std = samples[:, y0:y1].astype(np.float32).std(axis=0).mean(axis=-1)
        out[y0:y1] = np.round(np.clip(std / 32.0, 0, 1) * 255)
    return out


def _shrink(image, factor):
    """uint8 `[H, W, C]` -> means of `factor` x `factor` blocks, in bands of rows."""
    if factor == 1:
        return image
    height, width = image.shape[0] // factor, image.shape[1] // factor
    out = np.empty((height, width, image.shape[2]), np.uint8)
    for y0, y1 in _bands(height, max(1, BAND_ROWS // factor)):
        block = image[y0 * factor:y1 * factor, :width * factor].astype(np.float32)
        out[y0:y1] = np.round(block.reshape(y1 - y0, factor, width, factor, -1).mean(axis=(1, 3)))
    return out


def contact_sheet(rgb, samples, max_panel=SHEET_PANEL_MAX):
    """The input upscaled by bicubic beside the samples: uint8 `[h, (K + 1) * w, 3]`.

    Panels are the samples' size (4H x 4W) when their longer side is at most `max_panel`;
    larger ones are shrunk by the smallest integer factor that fits.
    """
    factor = max(1, math.ceil(max(samples.shape[1:3]) / max_panel))
    panels = [_shrink(sample, factor) for sample in samples]
    height, width = panels[0].shape[:2]
    if factor == 1:
        bicubic = bicubic_upsample(rgb[None].astype(np.float32) / 255.0, SCALE).numpy()[0] * 255
    else:  # Straight to the panel size: a full-size bicubic image would take 16x the input.
        bicubic = tf.image.resize(rgb[None], [height, width], "bicubic", antialias=True).numpy()[0]
    sheet = np.empty((height, (len(panels) + 1) * width, 3), np.uint8)
    sheet[:, :width] = np.round(np.clip(bicubic, 0, 255))
    for k, panel in enumerate(panels, start=1):
        sheet[:, k * width:(k + 1) * width] = panel
    return sheet
