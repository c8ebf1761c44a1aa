import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from srim_tf.inference import consistency
from srim_tf.evaluation import metrics
from srim_tf.data.resize import bicubic_downsample, bicubic_upsample

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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


def _smooth_images(rng, count, height, width):
    coarse = rng.random((count, height // 4, width // 4, 3)).astype(np.float32)
    return np.clip(tf.image.resize(coarse, (height, width), "bicubic").numpy(), 0, 1)


def test_consistent_sampler_outputs_downsample_to_the_input_tiled_or_not(trained_workdir, rng):
    from srim_tf.inference.tiling import super_resolve_image
    from srim_tf.inference.samplers import load_sampler

    rgb = np.round(_smooth_images(rng, 1, 36, 28)[0] * 255).astype(np.uint8)
    plain = load_sampler(trained_workdir)
    sampler = load_sampler(trained_workdir, consistency_iterations=consistency.DEFAULT_ITERATIONS)
    assert sampler.receptive_field == plain.receptive_field + consistency.context(8)
    lr = tf.constant(rgb[None].astype(np.float32) / 255.0)
    whole = super_resolve_image(sampler, rgb, num_samples=2, seed=3, tile_size=0)
    tiled = super_resolve_image(sampler, rgb, num_samples=2, seed=3, tile_size=12)
    assert np.abs(whole.astype(int) - tiled.astype(int)).max() <= 1  # No seams.
    raw = super_resolve_image(plain, rgb, num_samples=2, seed=3, tile_size=0)
    for outputs, bound in ((whole, 45.0), (raw, None)):
        psnr = metrics.lr_psnr(tf.constant(outputs, tf.float32) / 255.0, tf.repeat(lr, 2, axis=0))
        if bound:
            assert np.all(psnr.numpy() > bound)
        else:  # The untrained model is far from consistent on its own.
            assert np.all(psnr.numpy() < 40.0)
    # Samples still differ: back-projection keeps what the downsampling cannot see.
    assert np.abs(whole[0].astype(int) - whole[1].astype(int)).mean() > 0.5


def test_exported_signatures_are_consistent_when_exported_so(trained_workdir, tmp_path, rng):
    from srim_tf.model.loading import load_generator
    from srim_tf.serving import saved_model as export

    generator = load_generator(trained_workdir)[0]
    path = export.export(generator, str(tmp_path / "srim"),
                         consistency_iterations=consistency.DEFAULT_ITERATIONS)
    loaded = tf.saved_model.load(path)
    images = np.round(_smooth_images(rng, 2, 24, 20) * 255).astype(np.uint8)
    out = loaded.signatures["samples"](images=tf.constant(images), num_samples=tf.constant(2, tf.int64),
                                       seed=tf.constant(0, tf.int64),
                                       noise_scale=tf.constant(1.0))["samples"].numpy()
    lr = tf.repeat(tf.constant(images, tf.float32) / 255.0, 2, axis=0)
    psnr = metrics.lr_psnr(tf.constant(out.reshape(4, 96, 80, 3), tf.float32) / 255.0, lr)
    assert np.all(psnr.numpy() > 45.0)
    assert int(loaded.receptive_field.numpy()) == generator.receptive_field + consistency.context(8)


@pytest.mark.parametrize("program", ["srim_sample", "srim_eval", "srim_export"])
def test_programs_take_the_consistency_flag(program, trained_workdir, tmp_path, rng):
    from PIL import Image

    folder = tmp_path / "in"
    folder.mkdir()
    rgb = np.round(_smooth_images(rng, 1, 32, 24)[0] * 255).astype(np.uint8)
    Image.fromarray(rgb).save(folder / "x.png")
    args = {"srim_sample": [f"--model={trained_workdir}", f"--input={folder}",
                            f"--output_dir={tmp_path / 'out'}", "--num_samples=2"],
            "srim_eval": [f"--method={trained_workdir}", f"--hr_dir={folder}", "--num_samples=2",
                          f"--json={tmp_path / 'r.json'}"],
            "srim_export": [f"--workdir={trained_workdir}", f"--export_dir={tmp_path / 'srim'}"]}
    result = subprocess.run([sys.executable, os.path.join(ROOT, "bin", program), "--consistency",
                             *args[program]], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    if program == "srim_sample":
        out = np.asarray(Image.open(tmp_path / "out" / "x_x4_s1.png"), np.float32)[None] / 255.0
        lr = tf.constant(rgb[None], tf.float32) / 255.0
        assert float(metrics.lr_psnr(out, lr)[0]) > 45.0
    elif program == "srim_eval":
        with open(tmp_path / "r.json") as f:
            assert json.load(f)["in"]["lr_psnr"] > 45.0
    else:
        loaded = tf.saved_model.load(str(tmp_path / "srim" / "1"))
        assert int(loaded.receptive_field.numpy()) > consistency.context(8)
