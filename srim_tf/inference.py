"""super_resolve_image(): any image size, in tiles, K samples, reproducible by seed.

Large images are cut into tiles of `tile_size` LR pixels. Each tile is run with a margin
of `overlap` LR pixels of real image context on every side, and only its core is kept.
When the margin covers the generator's receptive field (the default), every output pixel
sees exactly the context it would see untiled, and the noise is addressed by position
(`noise.py`), so tiled and untiled outputs agree and no seam exists to blend away. Only
one tile is on the device at a time. `super_resolve_bands` hands out one row of tiles at a
time (all K samples of it, uint8), so a caller that writes them out as they come (as
srim_sample does, with the std map, contact sheet and alpha channel built band by band
too) never holds the whole K x 4H x 4W result; `super_resolve_image` assembles it.
"""

import math

import numpy as np
import tensorflow as tf

from srim_tf.resize import bicubic_upsample

SCALE = 4
# Tile core in LR pixels. 192, not 256: as fast within the noise in float32 and bfloat16
# (0.97x and 1.03x by turns), and float32 tiles take 0.36 GB less memory, which keeps
# srim_sample under 2 GB on a 3000x3000 input with K = 3 (benchmarks/README.md).
DEFAULT_TILE_SIZE = 192


def receptive_field(num_convs, kernel_size):
    """LR pixels of context a 4x output pixel depends on, on each side (rounded up).

    The lower stage's convolutions reach `num_convs * (k - 1) / 2` pixels at 2x, the
    upper stage's as many at 4x, and each bilinear upsampling one more input pixel.
    """
    reach = num_convs * (kernel_size - 1) / 2
    return math.ceil(reach / 2 + reach / 4 + 2)


def _tiles(length, tile):
    return [(start, min(start + tile, length)) for start in range(0, length, tile)]


def super_resolve_bands(sampler, rgb, num_samples=1, seed=0, noise_scale=1.0, tile_size=DEFAULT_TILE_SIZE,
                        overlap=None):
    """Super-resolves one uint8 RGB image `[H, W, 3]` one row of tiles at a time.

    The arguments are those of `super_resolve_image`, checked before this returns. Callers
    that stream the result to files hold one band, never the whole K x 4H x 4W output.

    Returns:
        an iterator over bands, top to bottom: `(y, band)`, `band` being uint8
        `[K, 4 * rows, 4W, 3]` and `y` its first row in the 4x output.
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

    def bands():
        for y0, y1 in _tiles(height, tile):
            band = np.empty((num_samples, SCALE * (y1 - y0), SCALE * width, 3), np.uint8)
            for x0, x1 in _tiles(width, tile):
                # The tile with its context margin, clipped to the image.
                cy0, cy1 = max(0, y0 - margin), min(height, y1 + margin)
                cx0, cx1 = max(0, x0 - margin), min(width, x1 + margin)
                window = rgb[None, cy0:cy1, cx0:cx1].astype(np.float32) / 255.0
                result = sampler(window, num_samples, seed, noise_scale, (cy0, cx0))[0]
                core = result[:, SCALE * (y0 - cy0): SCALE * (y1 - cy0),
                              SCALE * (x0 - cx0): SCALE * (x1 - cx0)]
                band[:, :, SCALE * x0: SCALE * x1] = np.round(np.clip(core, 0, 1) * 255)
            yield SCALE * y0, band

    return bands()


def super_resolve_image(sampler, rgb, num_samples=1, seed=0, noise_scale=1.0, tile_size=DEFAULT_TILE_SIZE,
                        overlap=None):
    """Super-resolves one uint8 RGB image `[H, W, 3]`: `super_resolve_bands`, assembled.

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
    bands = super_resolve_bands(sampler, rgb, num_samples, seed, noise_scale, tile_size, overlap)
    height, width = rgb.shape[:2]
    out = np.empty((num_samples, SCALE * height, SCALE * width, 3), np.uint8)
    for y, band in bands:
        out[:, y:y + band.shape[1]] = band
    return out


def to_grey(samples):
    """uint8 `[..., 3]` -> `[..., 1]` by BT.601 luma weights, for grey inputs.

    Each pixel is computed on its own (no matrix product, whose sums may depend on how many
    pixels are converted at once), so bands give the rows of the whole image exactly.
    """
    grey = np.empty(samples.shape[:-1] + (1,), np.uint8)
    flat, out = samples.reshape(-1, 3), grey.reshape(-1)
    step = BAND_ROWS * 4096  # pixels converted to float at once
    for start in range(0, len(flat), step):
        rgb = flat[start:start + step].astype(np.float32)
        out[start:start + step] = np.round(
            rgb[:, 0] * np.float32(0.299) + rgb[:, 1] * np.float32(0.587) + rgb[:, 2] * np.float32(0.114))
    return grey


# LR rows of context a band of 4x bicubic output needs on each side: an output row reads
# the 4 input rows around (y + 0.5) / 4 - 0.5, at most 2 above and 2 below its own.
_BICUBIC_CONTEXT = 2


def upscale_alpha(alpha, rows=None):
    """Bicubic 4x of an alpha channel `[H, W]` -> uint8 `[4H, 4W]`.

    With `rows=(y0, y1)`, only the output of LR rows y0..y1 (`[4 (y1 - y0), 4W]`), equal to
    those rows of the whole image's: the band is upscaled with its context rows.
    """
    y0, y1 = rows or (0, alpha.shape[0])
    c0, c1 = max(0, y0 - _BICUBIC_CONTEXT), min(alpha.shape[0], y1 + _BICUBIC_CONTEXT)
    window = alpha[None, c0:c1, :, None].astype(np.float32) / 255.0
    up = bicubic_upsample(window, SCALE).numpy()[0, SCALE * (y0 - c0): SCALE * (y1 - c0), :, 0]
    return np.round(up * 255).astype(np.uint8)


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
    """uint8 `[H, W, C]` -> means of `factor` x `factor` blocks (H and W cut to multiples)."""
    if factor == 1:
        return image
    height, width = image.shape[0] // factor, image.shape[1] // factor
    out = np.empty((height, width, image.shape[2]), np.uint8)
    for y0, y1 in _bands(height, max(1, BAND_ROWS // factor)):
        block = image[y0 * factor:y1 * factor, :width * factor].astype(np.float32)
        out[y0:y1] = np.round(block.reshape(y1 - y0, factor, width, factor, -1).mean(axis=(1, 3)))
    return out


class ContactSheet:
    """The input upscaled by bicubic beside K samples, built from bands of the samples.

    Panels are the samples' size (4H x 4W) when their longer side is at most `max_panel`;
    larger ones are shrunk by the smallest integer factor that fits, band by band: rows of a
    band that do not fill a block of `factor` rows wait for the next band.

    Args:
        rgb: the input, uint8 `[H, W, 3]`.
        num_samples: K.
        max_panel: the longest side of one panel.
    """

    def __init__(self, rgb, num_samples, max_panel=SHEET_PANEL_MAX):
        self.factor = max(1, math.ceil(SCALE * max(rgb.shape[:2]) / max_panel))
        height, width = SCALE * rgb.shape[0] // self.factor, SCALE * rgb.shape[1] // self.factor
        self.panel_width = width
        self.sheet = np.empty((height, (num_samples + 1) * width, 3), np.uint8)
        if self.factor == 1:
            bicubic = bicubic_upsample(rgb[None].astype(np.float32) / 255.0, SCALE).numpy()[0] * 255
        else:  # Straight to the panel size: a full-size bicubic image would take 16x the input.
            bicubic = tf.image.resize(rgb[None], [height, width], "bicubic", antialias=True).numpy()[0]
        self.sheet[:, :width] = np.round(np.clip(bicubic, 0, 255))
        self._rows_done = 0  # sheet rows filled
        self._pending = np.zeros((num_samples, 0, SCALE * rgb.shape[1], 3), np.uint8)

    def add(self, band):
        """Takes the next band of samples, uint8 `[K, rows, 4W, 3]`, top to bottom."""
        if self._pending.shape[1]:  # Complete the waiting block of rows first.
            need = self.factor - self._pending.shape[1]
            head = np.concatenate([self._pending, band[:, :need]], axis=1)
            band = band[:, need:]
            if head.shape[1] < self.factor:  # This band was too short to complete it.
                self._pending = head
                return
            self._put(head)
        full = self._put(band)
        self._pending = band[:, full * self.factor:].copy()  # under `factor` rows

    def _put(self, rows):
        """Shrinks the whole blocks of `rows` into the sheet; returns how many."""
        full = min(rows.shape[1] // self.factor, len(self.sheet) - self._rows_done)
        width, done = self.panel_width, self._rows_done
        for k, sample in enumerate(rows, start=1):
            self.sheet[done:done + full, k * width:(k + 1) * width] = (
                _shrink(sample[:full * self.factor], self.factor))
        self._rows_done += full
        return full


def contact_sheet(rgb, samples, max_panel=SHEET_PANEL_MAX):
    """`ContactSheet` of the whole samples uint8 `[K, 4H, 4W, 3]` -> uint8 `[h, (K + 1) w, 3]`."""
    sheet = ContactSheet(rgb, len(samples), max_panel)
    for y0, y1 in _bands(samples.shape[1], BAND_ROWS):
        sheet.add(samples[:, y0:y1])
    return sheet.sheet
