import numpy as np
import tensorflow as tf

from srim_tf import consistency, metrics
from srim_tf.resize import bicubic_downsample, bicubic_upsample


def _photo_pair():
    from skimage import data as skdata

    hr = skdata.astronaut()[100:196, 180:276].astype(np.float32)[None] / 255.0  # 96x96
    return hr, bicubic_downsample(hr, 4)


def test_back_projection_makes_the_output_downsample_to_its_input():
    hr, lr = _photo_pair()
    start = bicubic_upsample(lr, 4)
    out = consistency.back_project(start, lr)
    rounded = tf.round(out * 255.0) / 255.0
    # Within rounding: the 8-bit output, downsampled as the input was made, is the input
    # (a few levels off only where the clip to [0, 1] binds: this crop has saturated pixels).
    error = np.round(np.abs(bicubic_downsample(rounded, 4).numpy() - lr.numpy()) * 255.0)
    assert np.mean(error == 0) > 0.95 and np.mean(error <= 1) > 0.98 and error.max() <= 3
    assert float(metrics.lr_psnr(rounded, lr)[0]) > 55.0
    assert float(metrics.lr_psnr(start, lr)[0]) < 45.0  # what it started from was not
    # It changes what the downsampling sees, not the truth's detail: closer to the truth.
    assert float(metrics.y_psnr(out, hr, 4)[0]) > float(metrics.y_psnr(start, hr, 4)[0])


def test_back_projection_keeps_what_downsampling_cannot_see(rng):
    # Two outputs that differ only by a pattern the 4x downsampling removes stay that far apart.
    hr, lr = _photo_pair()
    start = bicubic_upsample(lr, 4)
    stripes = 0.05 * np.tile(np.array([1, 1, -1, -1], np.float32), 24)[None, None, :, None]
    a = consistency.back_project(start, lr)
    b = consistency.back_project(start + stripes, lr)
    difference = float(tf.reduce_mean(tf.abs(a - b)))
    assert difference > 0.9 * 0.05


def test_zero_iterations_is_the_identity(rng):
    out = rng.random((1, 16, 16, 3)).astype(np.float32)
    lr = rng.random((1, 4, 4, 3)).astype(np.float32)
    np.testing.assert_array_equal(consistency.back_project(out, lr, iterations=0), out)
