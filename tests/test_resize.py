"""LR images follow the convention of published tables (MATLAB bicubic)."""

import glob
import os

import numpy as np
import tensorflow as tf
from skimage import io

from srim_tf.data.resize import bicubic_downsample, bicubic_upsample
from tests.helpers import shared_data


def test_matches_matlab_references_for_set5():
    hr_dir = shared_data("Set5")
    reference_dir = shared_data("reference", "Set5_LR_bicubic_x4")
    within_one, exact, total = 0, 0, 0
    for path in sorted(glob.glob(os.path.join(hr_dir, "*.png"))):
        name = os.path.splitext(os.path.basename(path))[0]
        hr = io.imread(path)[..., :3]
        hr = hr[: hr.shape[0] // 4 * 4, : hr.shape[1] // 4 * 4]
        reference = io.imread(glob.glob(os.path.join(reference_dir, name + "*"))[0])[..., :3]
        lr = bicubic_downsample(hr[None].astype("float32") / 255.0, 4).numpy()[0]
        difference = np.abs(np.round(lr * 255).astype(int) - reference.astype(int))
        within_one += (difference <= 1).sum()
        exact += (difference == 0).sum()
        total += difference.size
    assert total > 0
    assert within_one / total >= 0.99
    assert exact / total >= 0.99


def test_downsampling_a_constant_image_keeps_it_and_halves_the_size():
    image = np.full((1, 40, 24, 3), 0.4, "float32")
    out = bicubic_downsample(image, 2).numpy()
    assert out.shape == (1, 20, 12, 3)
    np.testing.assert_allclose(out, np.round(0.4 * 255) / 255, atol=1e-6)


def test_outputs_are_8_bit_levels_unless_asked_otherwise(rng):
    image = rng.random((1, 32, 32, 3)).astype("float32")
    levels = bicubic_downsample(image, 4).numpy() * 255
    np.testing.assert_allclose(levels, np.round(levels), atol=1e-3)
    smooth = bicubic_downsample(image, 4, quantize=False).numpy() * 255
    assert np.abs(smooth - np.round(smooth)).max() > 0.01


def test_sizes_that_are_not_multiples_of_the_scale_are_refused():
    try:
        bicubic_downsample(tf.zeros((1, 30, 32, 3)), 4)
    except tf.errors.InvalidArgumentError as error:
        assert "multiples of scale=4" in str(error)
    else:
        raise AssertionError("expected an InvalidArgumentError")


def test_upsample_shape_and_range(rng):
    out = bicubic_upsample(rng.random((2, 5, 7, 3)).astype("float32"), 4).numpy()
    assert out.shape == (2, 20, 28, 3) and out.min() >= 0 and out.max() <= 1
