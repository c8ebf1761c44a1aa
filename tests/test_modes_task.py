"""The known-answer task of studies/modes.py measures what it says: a perfect sampler covers
the modes, the regression mean none, and the diagnosis counts patterns and borders."""

import numpy as np

from studies import modes


def _perfect_samples(lr_count, k, rng):
    """K samples per test input, each block's pattern drawn uniformly: the true distribution."""
    lr, _, _, base, _ = modes.blocks(lr_count, np.random.default_rng(1234))
    samples = []
    for _ in range(k):
        _, _, hr, _, _ = modes.blocks(lr_count, rng)
        samples.append(base + (hr - modes.box_mean(hr, 4).repeat(4, 1).repeat(4, 2)))
    return lr, np.stack(samples, axis=1)


def test_the_true_distribution_covers_and_the_flat_block_matches_nothing(rng):
    lr, samples = _perfect_samples(4, 32, rng)
    perfect = modes.measure(samples, lr)
    assert perfect["precision"] == 1.0
    assert abs(perfect["coverage"] - (1 - (7 / 8) ** 32)) < 0.03  # 0.986 expected
    assert perfect["lr_psnr"] > 60  # patterns leave the 4x4 means alone
    flat = np.repeat(np.repeat(lr, 4, axis=1), 4, axis=2)[:, None].repeat(32, axis=1)
    regression = modes.measure(flat, lr)
    assert regression["coverage"] == 0.0 and regression["precision"] == 0.0


def test_a_sampler_of_even_phases_only_covers_half_and_is_diagnosed(rng):
    lr, samples = _perfect_samples(4, 32, rng)
    # Every block's pattern moved to the next even phase: 0, 2 (horizontal) and 4, 6 (vertical).
    residual = modes.block_residuals(samples)  # [n, K, 8, 8, 4, 4]
    nearest = np.sqrt(((residual[..., None, :, :] - modes.PATTERNS) ** 2).mean(axis=(-1, -2))).argmin(-1)
    even = modes.PATTERNS[nearest - nearest % 2]  # [n, K, 8, 8, 4, 4]
    n, k = samples.shape[:2]
    even_images = even.transpose(0, 1, 2, 4, 3, 5).reshape(n, k, 32, 32)[..., None]
    flat = np.repeat(np.repeat(lr, 4, axis=1), 4, axis=2)[:, None]
    result = modes.measure(flat + even_images, lr)
    assert result["precision"] == 1.0 and abs(result["coverage"] - 0.5) < 0.02
    diagnosis = modes.diagnose(flat + even_images)
    assert sum(diagnosis["pattern_share"][1::2]) == 0.0
    assert diagnosis["precision_border"] == diagnosis["precision_inner"] == 1.0
