"""srim_sample streams its outputs band by band: the files equal the whole-image results."""

import logging
import os

import numpy as np
import pytest
from PIL import Image

from srim_tf.cli.sample import SampleSettings, sample_images
from srim_tf.data import image_io
from srim_tf.inference import outputs, tiling
from srim_tf.inference.samplers import load_sampler
from tests.helpers import smooth_photo, write_image


def test_streamed_files_equal_the_whole_image_outputs(trained_workdir, tmp_path, rng):
    # 26 LR rows in tiles of 8: bands of 32, 32, 32 and 8 output rows.
    inputs = tmp_path / "in"
    inputs.mkdir()
    rgba = np.concatenate([smooth_photo(rng, 26, 19), smooth_photo(rng, 26, 19, 1)], axis=-1)
    write_image(inputs / "rgba.png", rgba)
    write_image(inputs / "grey.png", rgba[..., ::2], "LA")  # grey + alpha
    out = tmp_path / "out"
    written, failed = sample_images(SampleSettings(
        model=trained_workdir, input=(str(inputs),), output_dir=str(out), num_samples=2, seed=5,
        tile_size=8, contact_sheet=True))
    assert len(written) == 2 and not failed
    assert sorted(os.listdir(out)) == sorted(f"{name}_x4_{kind}.png" for name in ("rgba", "grey")
                                             for kind in ("s0", "s1", "sheet", "std"))

    sampler = load_sampler(trained_workdir)
    for name, rgb, alpha, grey in [("rgba", rgba[..., :3], rgba[..., 3], False),
                                   ("grey", np.repeat(rgba[..., :1], 3, -1), rgba[..., 2], True)]:
        whole = tiling.super_resolve_image(sampler, rgb, 2, seed=5, tile_size=8)
        whole_alpha = outputs.upscale_alpha(alpha)[..., None]
        for k in range(2):
            pixels = outputs.to_grey(whole[k]) if grey else whole[k]
            expected = np.concatenate([pixels, whole_alpha], axis=-1)
            written = np.asarray(Image.open(out / f"{name}_x4_s{k}.png"))
            np.testing.assert_array_equal(written.reshape(expected.shape), expected)
        np.testing.assert_array_equal(np.asarray(Image.open(out / f"{name}_x4_std.png")),
                                      outputs.std_map(whole))
        np.testing.assert_array_equal(np.asarray(Image.open(out / f"{name}_x4_sheet.png")),
                                      outputs.contact_sheet(rgb, whole))
    assert whole.std(axis=0).max() > 0  # two different samples: the std map is not trivial


def test_alpha_upscaled_by_bands_equals_the_whole_image(rng):
    alpha = rng.integers(0, 256, (23, 11), dtype=np.uint8)  # noise: every row's context counts
    whole = outputs.upscale_alpha(alpha)
    for band_rows in (1, 2, 3, 8):
        bands = [outputs.upscale_alpha(alpha, (y0, min(y0 + band_rows, 23)))
                 for y0 in range(0, 23, band_rows)]
        np.testing.assert_array_equal(np.concatenate(bands), whole)


@pytest.mark.parametrize("band_rows", [1, 5, 32, 200])
def test_contact_sheet_from_bands_shrinks_blocks_across_band_edges(rng, band_rows):
    # 4 x 50 = 200 output rows, shrunk by 3 (panel limit 90): 66 rows; bands cut blocks.
    rgb = rng.integers(0, 256, (50, 20, 3), dtype=np.uint8)
    samples = rng.integers(0, 256, (2, 200, 80, 3), dtype=np.uint8)
    sheet = outputs.ContactSheet(rgb, 2, max_panel=90)
    for y0 in range(0, 200, band_rows):
        sheet.add(samples[:, y0:y0 + band_rows])
    assert [panel.shape for panel in sheet.panels] == [(66, 26, 3)] * 5  # LR, bicubic, 2 samples, std
    for k in range(2):
        blocks = samples[k, :198, :78].reshape(66, 3, 26, 3, 3).astype(np.float64).mean(axis=(1, 3))
        np.testing.assert_array_equal(sheet.panels[2 + k], np.round(blocks))
    std_blocks = outputs.std_map(samples)[:198, :78].reshape(66, 3, 26, 3).astype(np.float64).mean(axis=(1, 3))
    np.testing.assert_array_equal(sheet.panels[4][..., 0], np.round(std_blocks))


def test_png_writer_keeps_nothing_of_a_failed_or_incomplete_image(tmp_path):
    target = tmp_path / "x.png"
    target.write_bytes(b"an older file")
    with pytest.raises(RuntimeError):
        with image_io.PngWriter(str(target), 10, 4, 3) as writer:
            writer.write(np.zeros((6, 4, 3), np.uint8))
            raise RuntimeError("the model failed")
    with pytest.raises(ValueError, match="6 of 10 rows"):
        with image_io.PngWriter(str(target), 10, 4, 3) as writer:
            writer.write(np.zeros((6, 4, 3), np.uint8))
    assert os.listdir(tmp_path) == ["x.png"] and target.read_bytes() == b"an older file"
    with pytest.raises(ValueError, match=r"uint8 rows of shape \[rows, 4, 3\]"):
        image_io.PngWriter(str(tmp_path / "y.png"), 10, 4, 3).write(np.zeros((2, 5, 3), np.uint8))


def test_an_output_that_would_overwrite_an_input_is_refused_before_any_is_written(
        trained_workdir, tmp_path, rng, caplog):
    # photo.png's second sample would be photo_x4_s1.png, another input: not even s0 is written.
    photo = write_image(tmp_path / "photo.png", smooth_photo(rng, 8, 8))
    write_image(tmp_path / "photo_x4_s1.png", smooth_photo(rng, 8, 8))
    with caplog.at_level(logging.ERROR):
        _, failed = sample_images(SampleSettings(model=trained_workdir, input=(str(tmp_path),),
                                                 output_dir=str(tmp_path), num_samples=2))
    assert failed == [photo]
    assert any("Refusing to overwrite the input file" in r.getMessage() for r in caplog.records)
    assert not (tmp_path / "photo_x4_s0.png").exists()
    assert not [name for name in os.listdir(tmp_path) if ".partial" in name]


def test_two_writers_of_one_png_in_two_processes_each_write_whole(tmp_path, monkeypatch):
    target = str(tmp_path / "x_x4_s0.png")
    first = image_io.PngWriter(target, 4, 4, 3)
    monkeypatch.setattr(os, "getpid", lambda: 999999)  # the other process
    second = image_io.PngWriter(target, 4, 4, 3)
    for writer, value in ((first, 10), (second, 20)):
        writer.write(np.full((4, 4, 3), value, np.uint8))
    first.close()
    second.close()
    assert np.asarray(Image.open(target)).tolist() == np.full((4, 4, 3), 20).tolist()  # last one whole
    assert os.listdir(tmp_path) == ["x_x4_s0.png"]


def test_a_second_sample_run_on_one_output_folder_is_refused_and_the_summary_counts_files(
        trained_workdir, tmp_path, rng, caplog):
    from srim_tf.folder_lock import FolderLock

    write_image(tmp_path / "in.png", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    settings = SampleSettings(model=trained_workdir, input=(str(tmp_path / "in.png"),),
                              output_dir=str(tmp_path / "out"), num_samples=3)
    with FolderLock(str(tmp_path / "out"), "srim_sample", "--output_dir", "The output folder"):
        with pytest.raises(ValueError, match=f"is in use by srim_sample pid {os.getpid()} on"):
            sample_images(settings)
    assert not list((tmp_path / "out").glob("*.png"))
    with caplog.at_level(logging.INFO, logger="absl"):
        sample_images(settings)
    assert "Done: 3 files written for 1 input, 0 inputs failed." in caplog.text
