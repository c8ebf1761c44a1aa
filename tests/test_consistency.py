"""Back-projection makes outputs LR-consistent: downsampled as the input was made, they give
the input back; in the samplers, the exported signatures and the three programs' bodies."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from srim_tf.cli.eval import EvalSettings, evaluate_model
from srim_tf.cli.export import ExportSettings, export_model
from srim_tf.cli.sample import SampleSettings, sample_images
from srim_tf.data.resize import bicubic_downsample, bicubic_upsample
from srim_tf.evaluation import metrics
from srim_tf.inference import consistency
from tests.helpers import smooth_photo, write_image


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


def test_consistent_sampler_outputs_downsample_to_the_input_tiled_or_not(trained_workdir, rng):
    from srim_tf.inference.samplers import load_sampler
    from srim_tf.inference.tiling import super_resolve_image

    rgb = smooth_photo(rng, 36, 28)
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

    # srim_export's body, as --consistency asks (the flag itself: test_programs_cli.py).
    path = export_model(ExportSettings(model=trained_workdir, export_dir=str(tmp_path / "srim"),
                                       consistency=True))
    loaded = tf.saved_model.load(path)
    images = np.stack([smooth_photo(rng, 24, 20) for _ in range(2)])
    out = loaded.signatures["samples"](images=tf.constant(images), num_samples=tf.constant(2, tf.int64),
                                       seed=tf.constant(0, tf.int64),
                                       noise_scale=tf.constant(1.0))["samples"].numpy()
    lr = tf.repeat(tf.constant(images, tf.float32) / 255.0, 2, axis=0)
    psnr = metrics.lr_psnr(tf.constant(out.reshape(4, 96, 80, 3), tf.float32) / 255.0, lr)
    assert np.all(psnr.numpy() > 45.0)
    receptive_field = load_generator(trained_workdir).generator.receptive_field
    assert int(loaded.receptive_field.numpy()) == receptive_field + consistency.context(8)


@pytest.mark.parametrize("program", ["srim_sample", "srim_eval"])
def test_sampling_and_evaluation_apply_consistency_when_asked(program, trained_workdir, tmp_path, rng):
    # srim_export's: above. The --consistency flag reaching these settings: test_programs_cli.py.
    folder = tmp_path / "in"
    folder.mkdir()
    rgb = smooth_photo(rng, 32, 24)
    write_image(folder / "x.png", rgb)
    if program == "srim_sample":
        sample_images(SampleSettings(
            model=trained_workdir, input=(str(folder),), output_dir=str(tmp_path / "out"),
            num_samples=2, consistency=True))
        out = np.asarray(Image.open(tmp_path / "out" / "x_x4_s1.png"), np.float32)[None] / 255.0
        lr = tf.constant(rgb[None], tf.float32) / 255.0
        assert float(metrics.lr_psnr(out, lr)[0]) > 45.0
    else:
        settings = EvalSettings(model=trained_workdir, hr_dir=(str(folder),), num_samples=2,
                                lpips="none", consistency=True)
        assert evaluate_model(settings)["in"]["lr_psnr"] > 45.0
