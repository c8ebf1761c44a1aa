"""srim_sample's whole-image outputs (`inference/outputs.py`): the contact sheet's size is
bounded, however large the samples, its panels are labelled, and the std map is exact."""

import numpy as np
import pytest

from srim_tf.inference import outputs


def _sheet(rgb, samples, max_panel=outputs.SHEET_PANEL_MAX):
    sheet = outputs.ContactSheet(rgb, len(samples), max_panel)
    for y0 in range(0, samples.shape[1], 50):  # bands unlike contact_sheet's: the same sheet
        sheet.add(samples[:, y0:y0 + 50])
    np.testing.assert_array_equal(sheet.sheet, outputs.contact_sheet(rgb, samples, max_panel))
    return sheet


def test_contact_sheet_is_bounded_and_std_map_is_exact_in_bands():
    rng = np.random.default_rng(0)
    samples = rng.integers(0, 256, (2, 5000, 300, 3), dtype=np.uint8)  # outputs of a 1250x75 input
    sheet = _sheet(rng.integers(0, 256, (1250, 75, 3), dtype=np.uint8), samples)
    # 5000 > 2048: panels shrunk by 3 (block means): LR, bicubic, 2 samples, std map.
    assert [panel.shape for panel in sheet.panels] == [(1666, 100, 3)] * 5
    block_mean = samples[1, :1666 * 3].reshape(1666, 3, 100, 3, 3).astype(np.float64).mean(axis=(1, 3))
    assert np.abs(sheet.panels[3].astype(int) - np.round(block_mean)).max() <= 1
    expected = np.round(np.clip(samples.astype(np.float64).std(axis=0).mean(-1) / 32, 0, 1) * 255)
    assert np.abs(outputs.std_map(samples).astype(int) - expected).max() <= 1
    std_blocks = outputs.std_map(samples)[:1666 * 3].reshape(1666, 3, 100, 3).mean(axis=(1, 3))
    assert np.abs(sheet.panels[4][..., 0].astype(int) - np.round(std_blocks)).max() <= 1


def test_contact_sheet_of_a_strip_thinner_than_one_block_keeps_a_row_or_column():
    # A 1 x 3000 input: 4 x 12000 samples, shrunk by 6 for the sheet: fewer rows than a block.
    rng = np.random.default_rng(0)
    samples = rng.integers(0, 256, (2, 4, 12000, 3), dtype=np.uint8)
    sheet = _sheet(rng.integers(0, 256, (1, 3000, 3), dtype=np.uint8), samples)
    assert [panel.shape for panel in sheet.panels] == [(1, 2000, 3)] * 5
    block_mean = samples[0].reshape(4, 2000, 6, 3).astype(np.float64).mean(axis=(0, 2))
    assert np.abs(sheet.panels[2][0].astype(int) - np.round(block_mean)).max() <= 1
    # Its transpose, 3000 x 1: one column of means of all 4 columns.
    tall = _sheet(rng.integers(0, 256, (3000, 1, 3), dtype=np.uint8), samples.transpose(0, 2, 1, 3))
    assert [panel.shape for panel in tall.panels] == [(2000, 1, 3)] * 5
    np.testing.assert_array_equal(tall.panels[2][:, 0], sheet.panels[2][0])


@pytest.mark.parametrize("lr_size", [(10, 8), (1, 1)], ids=["small", "one-pixel"])
def test_contact_sheet_panels_are_labelled_lr_bicubic_samples_and_the_std_scale(lr_size, rng):
    rgb = rng.integers(0, 256, lr_size + (3,), dtype=np.uint8)
    samples = rng.integers(0, 256, (3, 4 * lr_size[0], 4 * lr_size[1], 3), dtype=np.uint8)
    sheet = _sheet(rgb, samples)
    assert sheet.labels == ["LR", "bicubic", "sample 1", "sample 2", "sample 3",
                            "std (white = 32 grey levels)"]
    height, width = 4 * lr_size[0], 4 * lr_size[1]  # full size
    assert sheet.label_height >= 8 and sheet.sheet.shape[0] == sheet.label_height + height
    for left, panel in zip(sheet.lefts, sheet.panels):
        assert panel.shape == (height, width, 3)
        # Dark text in the white strip from the panel's left edge: its label.
        above = sheet.sheet[:sheet.label_height, left:left + max(width, 8)]
        assert above.min() < 64 and above.max() == 255
    panels = dict(zip(sheet.labels, sheet.panels))
    # LR: each input pixel enlarged to a 4 x 4 block (nearest neighbour).
    np.testing.assert_array_equal(panels["LR"], np.repeat(np.repeat(rgb, 4, axis=0), 4, axis=1))
    np.testing.assert_array_equal(panels["sample 2"], samples[1])
    np.testing.assert_array_equal(panels["std (white = 32 grey levels)"],
                                  np.repeat(outputs.std_map(samples)[..., None], 3, axis=-1))
    # The panels do not overlap: between two of them, white.
    assert all(b - a > width for a, b in zip(sheet.lefts, sheet.lefts[1:]))
    assert (sheet.sheet[sheet.label_height:, sheet.lefts[1] - 1] == 255).all()


def test_std_map_is_white_at_its_stated_scale():
    samples = np.zeros((2, 1, 3, 3), np.uint8)
    samples[1, 0] = [[0, 0, 0], [32, 32, 32], [128, 128, 128]]  # std 0, 16, 64 grey levels
    assert outputs.std_map(samples).tolist() == [[0, 128, 255]]
    assert outputs.STD_LABEL == f"std (white = {outputs.STD_WHITE} grey levels)"
