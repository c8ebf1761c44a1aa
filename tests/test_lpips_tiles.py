"""LPIPS of large images runs in tiles with context (`model/lpips.py`), so its memory follows
the tile, not the image (a 6000 x 4000 photo crashed AlexNet's convolution under an 8 GB
cap), and the spatial map equals the whole-image one to float rounding: 1e-5."""

import numpy as np
import pytest
import tensorflow as tf

from srim_tf.model import lpips as lpips_module
from srim_tf.model.lpips import LPIPS

TOLERANCE = 1e-5


def _pair(height, width, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.random((1, height, width, 3), np.float32)
    return a, np.clip(a + rng.normal(0, 0.1, a.shape).astype(np.float32), 0, 1)


@pytest.mark.parametrize("net,shape,tile_size", [
    ("alex", (150, 600), 64),   # tiles in both directions, an uneven last one in each
    ("vgg", (36, 530), 64),     # VGG16 is heavier: tiles along one side
])
def test_tiled_spatial_map_equals_the_whole_image_one(net, shape, tile_size):
    lpips = LPIPS(net, weights="random")
    a, b = _pair(*shape)
    whole = lpips.spatial(a, b, tile_size=None).numpy()
    tiled = lpips.spatial(a, b, tile_size=tile_size).numpy()
    assert tiled.shape == whole.shape == (1, *shape)
    np.testing.assert_allclose(tiled, whole, atol=TOLERANCE, rtol=0)


def test_the_backbone_sees_at_most_one_tile_and_its_context(monkeypatch):
    lpips = LPIPS("alex", weights="random")
    seen = []
    backbone = lpips.backbone
    monkeypatch.setattr(lpips, "backbone", lambda x: seen.append(tuple(x.shape[1:3])) or backbone(x))
    a, b = _pair(100, 1400)
    lpips.spatial(a, b)  # the default tile
    window = lpips_module.TILE_SIZE + 2 * lpips_module.TILE_MARGIN
    assert seen and max(max(shape) for shape in seen) <= window
    assert len(seen) > 2  # more than one window per image
    np.testing.assert_allclose(lpips.spatial(a, b).numpy(), lpips.spatial(a, b, tile_size=None).numpy(),
                               atol=TOLERANCE, rtol=0)


def test_small_images_are_measured_whole_as_before():
    lpips = LPIPS("alex", weights="random")
    a, b = _pair(48, 64)
    expected = float(tf.reduce_mean(lpips(a, b)))
    assert float(tf.reduce_mean(lpips.spatial(a, b))) == pytest.approx(expected, abs=2e-3)
