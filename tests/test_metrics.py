"""Our metrics agree with scikit-image's reference implementations."""


import numpy as np
import pytest
import tensorflow as tf
from skimage import data as skdata
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from srim_tf.evaluation import metrics


def _y(image):
    # MATLAB rgb2ycbcr luma, [0, 255] scale, in numpy: the reference formula.
    return 16 + (65.481 * image[..., 0] + 128.553 * image[..., 1] + 24.966 * image[..., 2])


def _pairs(rng):
    clean = rng.random((48, 40, 3))
    yield clean, np.clip(clean + 0.1 * rng.standard_normal(clean.shape), 0, 1)
    photo = skdata.astronaut()[100:228, 150:278] / 255.0
    yield photo, np.clip(photo + 0.05 * rng.standard_normal(photo.shape), 0, 1)


@pytest.mark.parametrize("border", [0, 4])
def test_y_psnr_and_rgb_psnr_match_scikit_image(border, rng):
    for a, b in _pairs(rng):
        crop = (slice(border, -border or None),) * 2
        expected_y = peak_signal_noise_ratio(_y(b)[crop], _y(a)[crop], data_range=255)
        expected_rgb = peak_signal_noise_ratio(b[crop], a[crop], data_range=1.0)
        got_y = float(metrics.y_psnr(b[None].astype("float32"), a[None].astype("float32"), border)[0])
        got_rgb = float(metrics.rgb_psnr(b[None].astype("float32"), a[None].astype("float32"), border)[0])
        assert got_y == pytest.approx(expected_y, abs=1e-3)
        assert got_rgb == pytest.approx(expected_rgb, abs=1e-3)


def test_y_ssim_matches_scikit_image_gaussian_ssim(rng):
    for a, b in _pairs(rng):
        expected = structural_similarity(
            _y(b), _y(a), data_range=255, gaussian_weights=True, sigma=1.5,
            use_sample_covariance=False, K1=0.01, K2=0.03)
        got = float(metrics.y_ssim(b[None].astype("float32"), a[None].astype("float32"))[0])
        assert got == pytest.approx(expected, abs=2e-3)


def test_lr_psnr_is_high_for_a_consistent_output_and_low_otherwise(rng):
    from srim_tf.data.resize import bicubic_downsample

    hr = np.clip(skdata.astronaut()[:128, :128] / 255.0, 0, 1).astype("float32")[None]
    lr = bicubic_downsample(hr, 4)
    assert float(metrics.lr_psnr(hr, lr)[0]) > 45
    assert float(metrics.lr_psnr(np.full_like(hr, 0.5), lr)[0]) < 20


def test_diversity_is_zero_for_identical_samples_and_grows_with_spread(rng):
    reference = rng.random((1, 8, 8, 3)).astype("float32")
    same = np.repeat(reference[:, None], 4, axis=1)
    std, score = metrics.diversity(same, reference)
    assert float(std[0]) == pytest.approx(0.0, abs=1e-7)
    assert float(score[0]) == pytest.approx(0.0, abs=1e-4)
    spread = same + 0.1 * rng.standard_normal(same.shape).astype("float32")
    std, score = metrics.diversity(spread, reference)
    assert 0.07 < float(std[0]) < 0.13
    assert 0 < float(score[0]) < 100


def test_diversity_by_texture_separates_textured_from_flat_pixels(rng):
    # Truth: left half flat grey, right half random texture. Samples vary only on the right.
    reference = np.full((1, 32, 32, 3), 0.5, np.float32)
    reference[0, :, 16:] = rng.random((32, 16, 1)).astype(np.float32)
    samples = np.repeat(reference[:, None], 4, axis=1).copy()
    samples[0, :, :, 16:] += rng.normal(0, 0.05, (4, 32, 16, 3)).astype(np.float32)
    textured, flat = metrics.diversity_by_texture(samples, reference, border=2)
    assert float(flat[0]) < 1e-6
    assert 0.03 < float(textured[0]) < 0.07
    # Swap where the samples vary: the two measures swap too.
    samples = np.repeat(reference[:, None], 4, axis=1).copy()
    samples[0, :, :, :16] += rng.normal(0, 0.05, (4, 32, 16, 3)).astype(np.float32)
    textured, flat = metrics.diversity_by_texture(samples, reference, border=2)
    assert float(flat[0]) > 0.03 and float(textured[0]) < 0.1 * float(flat[0])


def test_high_frequency_ratio_is_one_for_the_truth_and_low_for_a_blur(rng):
    reference = rng.random((2, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(metrics.high_frequency_ratio(reference, reference), 1.0, rtol=1e-5)
    blurred = tf.nn.avg_pool2d(reference, 3, 1, "SAME")
    assert np.all(metrics.high_frequency_ratio(blurred, reference).numpy() < 0.2)
    noisier = reference + rng.normal(0, 0.2, reference.shape).astype(np.float32)
    assert np.all(metrics.high_frequency_ratio(noisier, reference).numpy() > 1.0)


def test_lpips_scores_and_ntire_diversity(rng):
    from srim_tf.model.lpips import LPIPS

    lpips = LPIPS("alex", "random", seed=0)
    reference = rng.random((40, 40, 3)).astype("float32")
    other = rng.random((40, 40, 3)).astype("float32")
    per_sample, diversity = metrics.lpips_scores(lpips, np.stack([reference, reference]), reference)
    assert per_sample == [0.0, 0.0] and diversity == 0.0
    # Identical samples: the per-pixel minimum is the global best, so no diversity.
    per_sample, diversity = metrics.lpips_scores(lpips, np.stack([other, other]), reference)
    assert per_sample[0] == per_sample[1] > 0 and diversity == pytest.approx(0.0, abs=1e-6)
    # Each sample right in one half: the per-pixel best beats either sample.
    left, right = other.copy(), other.copy()
    left[:, :20], right[:, 20:] = reference[:, :20], reference[:, 20:]
    per_sample, diversity = metrics.lpips_scores(lpips, np.stack([left, right]), reference)
    assert 0 < min(per_sample) and 10 < diversity <= 100
