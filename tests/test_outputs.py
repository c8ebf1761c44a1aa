"""srim_sample's whole-image outputs (`inference/outputs.py`): the contact sheet's size is
bounded, however large the samples, and the std map is exact."""

import numpy as np

from srim_tf.inference import outputs


def test_contact_sheet_is_bounded_and_std_map_is_exact_in_bands():
    rng = np.random.default_rng(0)
    samples = rng.integers(0, 256, (2, 5000, 300, 3), dtype=np.uint8)  # outputs of a 1250x75 input
    sheet = outputs.contact_sheet(rng.integers(0, 256, (1250, 75, 3), dtype=np.uint8), samples)
    # 5000 > 2048: panels shrunk by 3 (block means), bicubic input + 2 samples side by side.
    assert sheet.shape == (1666, 3 * 100, 3)
    block_mean = samples[1, :1666 * 3].reshape(1666, 3, 100, 3, 3).astype(np.float64).mean(axis=(1, 3))
    assert np.abs(sheet[:, 200:].astype(int) - np.round(block_mean)).max() <= 1
    expected = np.round(np.clip(samples.astype(np.float64).std(axis=0).mean(-1) / 32, 0, 1) * 255)
    assert np.abs(outputs.std_map(samples).astype(int) - expected).max() <= 1
    small = samples[:, :40, :32]
    assert outputs.contact_sheet(small[0, :10, :8], small).shape == (40, 96, 3)  # full size


def test_contact_sheet_of_a_strip_thinner_than_one_block_keeps_a_row():
    # A 1 x 3000 input: 4 x 12000 samples, shrunk by 6 for the sheet: fewer rows than a block.
    rng = np.random.default_rng(0)
    samples = rng.integers(0, 256, (2, 4, 12000, 3), dtype=np.uint8)
    sheet = outputs.contact_sheet(rng.integers(0, 256, (1, 3000, 3), dtype=np.uint8), samples)
    assert sheet.shape == (1, 3 * 2000, 3)
    block_mean = samples[0].reshape(4, 2000, 6, 3).astype(np.float64).mean(axis=(0, 2))
    assert np.abs(sheet[0, 2000:4000].astype(int) - np.round(block_mean)).max() <= 1
