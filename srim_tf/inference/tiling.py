"""super_resolve_image(): any image size, in tiles, K samples, reproducible by seed.

Large images are cut into tiles of `tile_size` LR pixels. Each tile is run with a margin
of `overlap` LR pixels of real image context on every side, and only its core is kept.
When the margin covers the generator's receptive field (the default), every output pixel
sees exactly the context it would see untiled, and the noise is addressed by position
(`noise.py`), so tiled and untiled outputs agree and no seam exists to blend away. Only
one tile is on the device at a time. `super_resolve_bands` hands out one row of tiles at a
time (all K samples of it, uint8), so a caller that writes them out as they come (as
srim_sample does, with `outputs.py` building the std map, contact sheet and alpha channel
band by band too) never holds the whole K x 4H x 4W result; `super_resolve_image`
assembles it.
"""

import math

import numpy as np

from srim_tf.inference.samplers import Sampler
from srim_tf.model.generator import SCALE
from srim_tf.settings import SAMPLING_TILE_SIZE  # the default tile core (why 192: settings.py)

# Most memory one image's sampling may take at once (`sampling_bytes`): beyond it, a request
# is refused before any work, in one line, rather than failing deep in numpy or TensorFlow.
MAX_SAMPLING_BYTES = 4 << 30


def sampling_bytes(height, width, num_samples, tile_size, margin):
    """Bytes `super_resolve_bands` holds at once for a `height` x `width` LR image: one tile's
    K float32 samples with their margins (twice: as computed and as transposed), and one
    band of rows of K uint8 samples."""
    tile = tile_size or max(height, width)
    rows, columns = min(tile, height), min(tile, width)
    window = SCALE * min(height, rows + 2 * margin) * SCALE * min(width, columns + 2 * margin)
    return 2 * num_samples * window * 3 * 4 + num_samples * SCALE * rows * SCALE * width * 3


def _tiles(length, tile):
    return [(start, min(start + tile, length)) for start in range(0, length, tile)]


def super_resolve_bands(sampler: Sampler, rgb, num_samples=1, seed=0, noise_scale=1.0,
                        tile_size=SAMPLING_TILE_SIZE, overlap=None):
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
    needed = sampling_bytes(height, width, num_samples, tile_size, margin)
    if needed > MAX_SAMPLING_BYTES:
        raise ValueError(f"{num_samples} samples of this {width}x{height} image need about"
                         f" {needed / 2**30:.1f} GiB at once (one tile's float32 samples and one band"
                         f" of rows), over the {MAX_SAMPLING_BYTES / 2**30:g} GiB bound: use fewer"
                         " --num_samples or a smaller --tile_size.")
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


def super_resolve_image(sampler: Sampler, rgb, num_samples=1, seed=0, noise_scale=1.0,
                        tile_size=SAMPLING_TILE_SIZE, overlap=None):
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
