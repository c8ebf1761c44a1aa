"""Tiled inference, odd image formats, and what srim_sample writes."""

import itertools
import logging
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from srim_tf.cli.sample import SampleSettings, sample_images
from srim_tf.inference import tiling
from srim_tf.inference.samplers import load_sampler
from tests.helpers import ROOT, check_command_lines, smooth_photo, write_image


@pytest.fixture(scope="module")
def sampler(trained_workdir):
    return load_sampler(trained_workdir)


def _skip_logs(caplog):
    """The error lines sample_images logged for the inputs it skipped."""
    return [r.getMessage() for r in caplog.records
            if r.levelno >= logging.ERROR and r.getMessage().startswith("Skipped")]


def test_tiled_and_untiled_outputs_agree(sampler, rng):
    image = smooth_photo(rng, 37, 29)
    whole = tiling.super_resolve_image(sampler, image, 2, seed=4, tile_size=0)
    tiled = tiling.super_resolve_image(sampler, image, 2, seed=4, tile_size=10)
    assert whole.shape == tiled.shape == (2, 148, 116, 3)
    assert np.abs(whole.astype(int) - tiled.astype(int)).max() <= 1


def test_tiles_without_context_margin_do_show_seams(sampler, rng):
    # The check above can fail: with no margin, tile borders differ.
    image = smooth_photo(rng, 37, 29)
    whole = tiling.super_resolve_image(sampler, image, 1, seed=4, tile_size=0)
    seamy = tiling.super_resolve_image(sampler, image, 1, seed=4, tile_size=10, overlap=0)
    assert np.abs(whole.astype(int) - seamy.astype(int)).max() > 1


def test_receptive_field_of_the_paper_network():
    from srim_tf.model.generator import SRIMGenerator
    from srim_tf.settings import GeneratorSettings

    # 9 convs of 5x5 per stage: 18 px at 2x (9 LR px) + 18 px at 4x (4.5 LR px) + 2.
    generator = SRIMGenerator(GeneratorSettings(channels=4, kernel_size=5, num_convs=9))
    assert generator.receptive_field == 16 and generator.scale == 4


def test_sampling_handles_grey_alpha_16_bit_and_broken_files(trained_workdir, tmp_path, rng, caplog):
    inputs = tmp_path / "in"
    inputs.mkdir()
    rgb = smooth_photo(rng, 12, 10)
    write_image(inputs / "colour.png", rgb)
    write_image(inputs / "grey.png", rgb[..., 0])
    write_image(inputs / "alpha.png", np.concatenate([rgb, np.full((12, 10, 1), 128, np.uint8)], -1))
    tf.io.write_file(str(inputs / "deep.png"), tf.io.encode_png(rgb.astype(np.uint16) * 257))
    (inputs / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    out = tmp_path / "out"
    with caplog.at_level(logging.ERROR):
        written, failed = sample_images(SampleSettings(
            model=trained_workdir, input=(str(inputs),), output_dir=str(out), num_samples=2,
            contact_sheet=True))
    assert failed == [str(inputs / "broken.jpg")] and len(written) == 4  # the others go on
    assert len(_skip_logs(caplog)) == 1 and "broken.jpg" in _skip_logs(caplog)[0]
    assert (out / "colour_x4_s0.png").exists() and (out / "colour_x4_s1.png").exists()
    assert Image.open(out / "grey_x4_s0.png").mode == "L"
    with_alpha = np.asarray(Image.open(out / "alpha_x4_s0.png"))
    assert with_alpha.shape == (48, 40, 4) and abs(int(with_alpha[..., 3].mean()) - 128) <= 1
    deep = tf.io.decode_png(tf.io.read_file(str(out / "deep_x4_s0.png")), dtype=tf.uint16).numpy()
    assert deep.shape == (48, 40, 3) and deep.max() > 255 and np.all(deep % 257 == 0)
    sheet = np.asarray(Image.open(out / "colour_x4_sheet.png"))
    # Labels above 5 panels of 48 x 40: LR, bicubic, 2 samples, std map.
    assert sheet.shape[0] > 48 and sheet.shape[1] >= 5 * 40 and sheet.shape[2] == 3
    assert np.asarray(Image.open(out / "colour_x4_std.png")).shape == (48, 40)


def test_sampling_never_overwrites_an_input(trained_workdir, tmp_path, rng, caplog):
    photo = write_image(tmp_path / "photo.png", smooth_photo(rng, 8, 8))
    write_image(tmp_path / "photo_x4_s0.png", smooth_photo(rng, 8, 8))
    before = (tmp_path / "photo_x4_s0.png").read_bytes()
    with caplog.at_level(logging.ERROR):
        _, failed = sample_images(SampleSettings(model=trained_workdir, input=(str(tmp_path),),
                                                 output_dir=str(tmp_path)))
    assert failed == [photo]
    assert "Refusing to overwrite the input file" in _skip_logs(caplog)[0]
    assert (tmp_path / "photo_x4_s0.png").read_bytes() == before


def test_unknown_model_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError) as caught:
        load_sampler(str(tmp_path))
    assert f"Received: {tmp_path}" in str(caught.value) and "--model" in str(caught.value)


def test_pretrained_folder_round_trip(trained_workdir, tmp_path, rng):
    from srim_tf.inference.samplers import GeneratorSampler
    from srim_tf.model.loading import load_generator
    from srim_tf.model.pretrained import save_pretrained

    generator, config, checkpoint, _ = load_generator(trained_workdir)
    save_pretrained(generator, config, str(tmp_path / "pre"), checkpoint)
    reloaded = load_generator(str(tmp_path / "pre")).generator
    image = smooth_photo(rng, 9, 7)
    a = tiling.super_resolve_image(load_sampler(trained_workdir), image, 2, seed=1)
    b = tiling.super_resolve_image(GeneratorSampler(reloaded, "pre"), image, 2, seed=1)
    np.testing.assert_array_equal(a, b)


def test_sampling_skips_its_own_outputs_inside_the_input_folder(trained_workdir, tmp_path, rng):
    photo = write_image(tmp_path / "photo.png", smooth_photo(rng, 8, 8))
    settings = SampleSettings(model=trained_workdir, input=(str(tmp_path),),
                              output_dir=str(tmp_path / "out"), num_samples=1)
    for _ in range(2):  # the rerun must not upscale the first run's outputs again
        assert sample_images(settings) == ([photo], [])
    assert sorted(os.listdir(tmp_path / "out")) == ["photo_x4_s0.png"]


def test_exif_orientation_is_honoured(tmp_path, rng):
    from PIL import ImageOps

    from srim_tf.data.image_io import read_image

    pixels = smooth_photo(rng, 12, 20)  # stored 12 rows x 20 columns
    for orientation in range(1, 9):
        path = tmp_path / f"o{orientation}.jpg"
        exif = Image.Exif()
        exif[0x0112] = orientation
        Image.fromarray(pixels).save(path, quality=100, exif=exif)
        # Pillow's transposition, applied to the pixels as TensorFlow decodes them.
        stored = Image.fromarray(tf.io.decode_jpeg(tf.io.read_file(str(path))).numpy())
        stored.info["exif"] = exif.tobytes()
        expected = np.asarray(ImageOps.exif_transpose(stored))
        np.testing.assert_array_equal(read_image(str(path)).rgb, expected, err_msg=str(orientation))


@pytest.fixture(scope="module")
def exported_small(trained_workdir, tmp_path_factory):
    """The tiny model as a SavedModel accepting at most 400 LR pixels per image."""
    from srim_tf.model.loading import load_generator
    from srim_tf.serving import saved_model

    return saved_model.export(load_generator(trained_workdir).generator,
                              str(tmp_path_factory.mktemp("export") / "srim"), max_input_pixels=400)


def test_one_image_the_saved_model_refuses_is_skipped_not_the_batch(exported_small, tmp_path, rng,
                                                                     caplog):
    small = write_image(tmp_path / "a_small.png", smooth_photo(rng, 16, 16))  # 256 pixels: within
    large = write_image(tmp_path / "b_large.png", smooth_photo(rng, 40, 40))  # 1600 > 400
    with caplog.at_level(logging.ERROR):
        written, failed = sample_images(SampleSettings(
            model=exported_small, input=(str(tmp_path),), output_dir=str(tmp_path / "out")))
    assert written == [small] and failed == [large]
    # One line naming the image and the bound, not TensorFlow's "Graph execution error".
    (line,) = _skip_logs(caplog)
    assert "b_large.png" in line and "max_input_pixels" in line and "\n" not in line
    assert "Graph execution error" not in line
    assert sorted(os.listdir(tmp_path / "out")) == ["a_small_x4_s0.png"]


@pytest.mark.slow
def test_srim_sample_exits_1_when_an_input_failed_and_writes_the_others(trained_workdir, tmp_path, rng):
    write_image(tmp_path / "good.png", smooth_photo(rng, 8, 8))
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    out = tmp_path / "out"
    check_command_lines("sample", [
        ([f"--model={trained_workdir}", f"--input={tmp_path}", f"--output_dir={out}"], 1, None)])
    assert os.listdir(out) == ["good_x4_s0.png"]


@pytest.mark.slow
def test_sigterm_midway_leaves_no_partial_file(trained_workdir, tmp_path, rng):
    # The process is the point: the signal arrives while a file is half written.
    write_image(tmp_path / "big.png", smooth_photo(rng, 600, 600))
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "bin", "srim_sample"), f"--model={trained_workdir}",
         f"--input={tmp_path / 'big.png'}", f"--output_dir={out}", "--num_samples=2", "--tile_size=32"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and not (out.is_dir() and any(".partial" in n for n in os.listdir(out))):
        time.sleep(0.2)
    assert out.is_dir() and any(".partial" in n for n in os.listdir(out)), "never started writing"
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=120)
    assert process.returncode != 0
    assert os.listdir(out) == [], os.listdir(out)


def test_every_shipped_model_loads_by_name_and_each_differs():
    from srim_tf.model.loading import load_generator
    from srim_tf.model.pretrained import SHIPPED, shipped_dir

    assert SHIPPED == ("pretrained", "pretrained_psnr", "pretrained_photos")
    generators = {name: load_generator(name).generator for name in SHIPPED}
    for first, second in itertools.combinations(SHIPPED, 2):
        one, other = generators[first], generators[second]
        assert one.settings == other.settings  # each fine-tuned from another
        assert any(not np.array_equal(a, b) for a, b in zip(one.get_weights(), other.get_weights(), strict=True))
    for name in SHIPPED:
        assert load_sampler(name).description == f"shipped model {name}"
    assert shipped_dir("elsewhere") is None
