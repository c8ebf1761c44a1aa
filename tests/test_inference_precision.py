"""--precision: sampling, exports and the programs compute in bfloat16/float16 near float32."""

import logging

import numpy as np
import pytest
import tensorflow as tf

from srim_tf.cli.eval import EvalSettings, evaluate_model
from srim_tf.cli.export import ExportSettings, export_model
from srim_tf.cli.sample import SampleSettings, sample_images
from srim_tf.evaluation import metrics
from srim_tf.inference import consistency
from srim_tf.model.loading import load_generator
from tests.helpers import tiny_generator, write_image

# Largest mean and max |difference| from float32 of outputs in [0, 1] (the shipped model on a
# photo crop): bfloat16 keeps 8 mantissa bits, float16 11. Measured: bfloat16 mean 0.0008,
# max 0.011; float16 mean 0.0003, max 0.002.
TOLERANCE = {"bfloat16": (0.003, 0.04), "float16": (0.001, 0.01)}


def _photo(height=24, width=20):
    from skimage import data as skdata

    return skdata.astronaut()[120:120 + 2 * height:2, 200:200 + 2 * width:2]  # uint8 LR crop


@pytest.fixture(scope="module")
def generator():
    return load_generator("pretrained").generator


def _samples(sampler, rgb):
    return sampler(rgb[None].astype(np.float32) / 255.0, num_samples=2, seed=3, noise_scale=1.0)


def test_samples_in_each_precision_are_near_float32_and_leave_the_generator_float32(generator):
    from srim_tf.inference.samplers import GeneratorSampler

    rgb = _photo()
    reference = _samples(GeneratorSampler(generator, "g"), rgb)
    for precision, (mean_bound, max_bound) in TOLERANCE.items():
        out = _samples(GeneratorSampler(generator, "g", precision), rgb)
        assert out.dtype == np.float32 and out.shape == reference.shape == (1, 2, 96, 80, 3)
        difference = np.abs(out - reference)
        # Near float32, yet not equal to it: the copy really computes in `precision`.
        assert 0 < difference.mean() < mean_bound and difference.max() < max_bound, precision
        assert out.min() >= 0.0 and out.max() <= 1.0
    # The generator itself still computes in float32 (its policies were not touched).
    assert {layer.dtype_policy.name for stage in (generator.lower, generator.upper)
            for layer in stage.layers} == {"float32"}
    np.testing.assert_array_equal(_samples(GeneratorSampler(generator, "g"), rgb), reference)


def test_back_projection_of_bfloat16_samples_stays_float32_exact():
    from srim_tf.inference.samplers import load_sampler

    rgb = _photo()
    sampler = load_sampler("pretrained", consistency_iterations=consistency.DEFAULT_ITERATIONS,
                           precision="bfloat16")
    out = _samples(sampler, rgb)[0]
    lr = tf.repeat(tf.constant(rgb[None], tf.float32) / 255.0, 2, axis=0)
    # bfloat16 back-projection could not get below its own rounding (~50 dB at 8 bits).
    assert np.all(metrics.lr_psnr(tf.constant(out), lr).numpy() > 60.0)


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """`{precision: SavedModel}` of the shipped model, as srim_export --precision writes them."""
    base = tmp_path_factory.mktemp("exports")
    # float32 exports are tested against Keras in test_export.py.
    return {precision: export_model(ExportSettings(model="pretrained", export_dir=str(base / precision),
                                                   precision=precision))
            for precision in TOLERANCE}


@pytest.mark.slow
def test_exported_signatures_compute_in_their_precision_with_uint8_in_and_out(exports, generator):
    from srim_tf.inference.samplers import GeneratorSampler

    rgb = _photo(12, 10)
    images = tf.constant(np.stack([rgb, rgb[::-1]]))
    request = dict(images=images, num_samples=tf.constant(2, tf.int64), seed=tf.constant(3, tf.int64),
                   noise_scale=tf.constant(1.0))
    served = {}
    for precision, path in exports.items():
        loaded = tf.saved_model.load(path)
        assert loaded.precision.numpy().decode() == precision
        served[precision] = loaded.signatures["samples"](**request)["samples"]
        assert served[precision].dtype == tf.uint8 and served[precision].shape == (2, 2, 48, 40, 3)
        default = loaded.signatures["serving_default"](images=images)["images"]
        assert default.dtype == tf.uint8 and default.shape == (2, 48, 40, 3)
        at = loaded.signatures["samples_at"](
            lr=tf.cast(images, tf.float32) / 255.0, num_samples=tf.constant(1), seed=tf.constant(3, tf.int64),
            noise_scale=tf.constant(0.0), offset=tf.constant([0, 0]))["samples"]
        assert at.dtype == tf.float32
    float32 = np.round(_samples(GeneratorSampler(generator, "g"), rgb)[0] * 255.0).astype(int)
    for precision, (mean_bound, max_bound) in TOLERANCE.items():
        levels = np.abs(served[precision].numpy()[0].astype(int) - float32)
        assert 0 < levels.mean() < 255 * mean_bound + 0.5 and levels.max() <= 255 * max_bound + 1


def test_a_saved_model_refuses_another_precision_than_its_own(tmp_path):
    from srim_tf.inference.samplers import load_sampler
    from srim_tf.serving import saved_model

    path = saved_model.export(tiny_generator(), str(tmp_path / "srim"), precision="bfloat16")
    assert load_sampler(path).precision == "bfloat16"
    with pytest.raises(ValueError, match="computes in bfloat16.*--precision=float32"):
        load_sampler(path, precision="float32")
    with pytest.raises(ValueError, match="Unknown precision.*float16"):
        load_sampler("pretrained", precision="float64")


@pytest.mark.parametrize("program", ["srim_sample", "srim_eval"])
def test_sampling_and_evaluation_compute_in_the_precision_asked(program, generator, tmp_path, caplog):
    # srim_export's: the `exports` above. The --precision flag reaching these settings:
    # test_programs_cli.py.
    from PIL import Image

    from srim_tf.inference.samplers import GeneratorSampler

    folder = tmp_path / "in"
    folder.mkdir()
    hr = _photo(32, 24)  # the HR image of srim_eval, the input of srim_sample
    write_image(folder / "x.png", hr)
    if program == "srim_sample":
        # (The absl logger's own level: TensorFlow's SavedModel export leaves it at WARNING.)
        with caplog.at_level(logging.INFO, logger="absl"):
            sample_images(SampleSettings(model="pretrained", input=(str(folder),),
                                         output_dir=str(tmp_path / "out"), precision="bfloat16", seed=3))
        out = np.asarray(Image.open(tmp_path / "out" / "x_x4_s0.png"), int)
        reference = np.round(_samples(GeneratorSampler(generator, "g"), hr)[0, 0] * 255.0)
        levels = np.abs(out - reference)
        assert 0 < levels.mean() < 255 * TOLERANCE["bfloat16"][0] + 0.5
        assert "Model: shipped model pretrained, in bfloat16" in caplog.messages
    else:
        from srim_tf.evaluation import evaluate as evaluation
        from srim_tf.inference.samplers import load_sampler

        measured = evaluate_model(EvalSettings(model="pretrained", hr_dir=(str(folder),), num_samples=1,
                                               precision="bfloat16", lpips="none"))["in"]
        expected = {precision: evaluation.evaluate(load_sampler("pretrained", precision=precision),
                                                   [str(folder)], 1, 0, 256)["in"]
                    for precision in ("float32", "bfloat16")}
        # What bfloat16 gives, not float32's figures.
        assert measured["y_psnr"] == pytest.approx(expected["bfloat16"]["y_psnr"], abs=1e-4)
        assert measured["y_psnr"] != pytest.approx(expected["float32"]["y_psnr"], abs=1e-4)
