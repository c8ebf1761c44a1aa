"""The exported SavedModel serves all signatures and fails bad requests alone."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from srim_tf.inference.sampling import super_resolve_with
from srim_tf.model.loading import load_generator
from srim_tf.serving import saved_model as export
from tests.helpers import tiny_generator

SAVED_MODEL_CLI = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")


@pytest.fixture(scope="module")
def exported(trained_workdir, tmp_path_factory):
    generator = load_generator(trained_workdir)[0]
    base = str(tmp_path_factory.mktemp("export") / "srim")
    path = export.export(generator, base, max_input_pixels=400)
    return generator, base, path


def test_tf_serving_layout_and_versions(exported):
    generator, base, path = exported
    assert path == os.path.join(base, "1")
    assert os.path.isfile(os.path.join(path, "saved_model.pb"))
    assert os.path.isdir(os.path.join(path, "variables"))
    assert export.next_version(base) == 2
    with pytest.raises(ValueError, match="already exists"):
        export.export(generator, base, version=1)


@pytest.mark.slow
def test_saved_model_cli_lists_signatures_with_dtypes_and_shapes(exported):
    shown = subprocess.run([SAVED_MODEL_CLI, "show", "--all", "--dir", exported[2]],
                           capture_output=True, text=True, check=True).stdout
    for signature in ("serving_default", "samples", "encoded"):
        assert f"signature_def['{signature}']" in shown
    assert shown.count("tensorflow/serving/predict") >= 3
    # Image inputs have unknown rank, so the served graph checks it (see serving/saved_model.py).
    assert "DT_UINT8" in shown and "unknown_rank" in shown and "DT_STRING" in shown


@pytest.mark.slow
def test_saved_model_cli_run_gives_the_keras_models_pixels(exported, tmp_path):
    generator, _, path = exported
    image = (np.arange(6 * 5 * 3).reshape(1, 6, 5, 3) * 3 % 256).astype(np.uint8)
    request = {"images": image, "num_samples": np.int64(2), "seed": np.int64(7),
               "noise_scale": np.float32(1.0)}
    for name, value in request.items():
        np.save(tmp_path / f"{name}.npy", value)
    subprocess.run(
        [SAVED_MODEL_CLI, "run", "--dir", path, "--tag_set", "serve", "--signature_def", "samples",
         "--inputs", ";".join(f"{name}={tmp_path / name}.npy" for name in request),
         "--outdir", str(tmp_path)], capture_output=True, text=True, check=True)
    served = np.load(tmp_path / "samples.npy")
    expected = super_resolve_with(generator, tf.constant(image, tf.float32) / 255.0, 2,
                                  tf.constant(7, tf.int64), 1.0).numpy()
    expected = np.round(np.clip(expected, 0, 1) * 255).astype(np.uint8)
    assert served.shape == (1, 2, 24, 20, 3)
    # The TF1 session may fuse ops differently: a pixel on a rounding edge may move one
    # level. Unrestored (freshly initialised) weights would differ everywhere.
    difference = np.abs(served.astype(int) - expected.astype(int))
    assert difference.max() <= 1 and np.mean(difference == 0) > 0.99


@pytest.mark.slow
def test_fresh_process_serves_all_signatures_and_bad_requests_fail_alone(exported):
    script = f"""
import numpy as np, tensorflow as tf
m = tf.saved_model.load({exported[2]!r})
img = tf.constant(np.full((2, 6, 5, 3), 100, np.uint8))
out = m.signatures["serving_default"](images=img)["images"]
assert out.shape == (2, 24, 20, 3) and out.dtype == tf.uint8, out.shape
s = m.signatures["samples"](images=img, num_samples=tf.constant(3, tf.int64),
                            seed=tf.constant(1, tf.int64), noise_scale=tf.constant(1.0))["samples"]
assert s.shape == (2, 3, 24, 20, 3)
s2 = m.signatures["samples"](images=img, num_samples=tf.constant(3, tf.int64),
                             seed=tf.constant(1, tf.int64), noise_scale=tf.constant(1.0))["samples"]
assert np.array_equal(s, s2)
png = tf.io.encode_png(np.full((6, 5, 3), 50, np.uint8))
decoded = tf.io.decode_png(m.signatures["encoded"](encoded=tf.stack([png, png]))["png"][1])
assert decoded.shape == (24, 20, 3)
try:
    m.signatures["serving_default"](images=tf.zeros((1, 30, 30, 3), tf.uint8))
    raise SystemExit("oversize request was served")
except tf.errors.InvalidArgumentError as e:
    assert "max_input_pixels" in str(e)
try:
    m.signatures["serving_default"](images=tf.zeros((1, 6, 5, 3), tf.float32))
    raise SystemExit("float request was served")
except (TypeError, ValueError, tf.errors.InvalidArgumentError):
    pass
again = m.signatures["serving_default"](images=img)["images"]
assert np.array_equal(again, out)
print("served")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "served" in result.stdout, result.stderr[-3000:]


def test_seeds_equal_mod_2_to_the_32_draw_different_samples(exported):
    """Seeds are int64 end to end: 0 and 2^32 (and -1 and 2^32 - 1) used to alias."""
    generator, _, path = exported
    samples = tf.saved_model.load(path).signatures["samples"]
    image = tf.constant((np.arange(5 * 4 * 3).reshape(1, 5, 4, 3) * 7 % 256).astype(np.uint8))

    def draw(seed):
        return samples(images=image, num_samples=tf.constant(2, tf.int64),
                       seed=tf.constant(seed, tf.int64), noise_scale=tf.constant(1.0))["samples"].numpy()

    for a, b in ((0, 2 ** 32), (-1, 2 ** 32 - 1), (5, 5 + 2 ** 40)):
        assert np.abs(draw(a).astype(int) - draw(b)).max() > 3, (a, b)
    # Seeds below 2^32 keep the noise they always had: the served samples are the Keras ones.
    expected = super_resolve_with(generator, tf.cast(image, tf.float32) / 255.0, 2,
                                  tf.constant(2 ** 32 - 1, tf.int64), 1.0).numpy()
    expected = np.round(np.clip(expected, 0, 1) * 255).astype(np.uint8)
    assert np.abs(draw(2 ** 32 - 1).astype(int) - expected).max() <= 1


def test_signatures_tile_in_graph_and_equal_the_untiled_model(trained_workdir, tmp_path):
    generator = load_generator(trained_workdir)[0]
    path = export.export(generator, str(tmp_path / "srim"), tile_size=8)
    loaded = tf.saved_model.load(path)
    assert int(loaded.tile_size.numpy()) == 8
    assert int(loaded.receptive_field.numpy()) == generator.receptive_field
    images = np.random.default_rng(0).integers(0, 256, (2, 19, 27, 3), dtype=np.uint8)
    served = loaded.signatures["samples"](
        images=tf.constant(images), num_samples=tf.constant(2, tf.int64),
        seed=tf.constant(5, tf.int64), noise_scale=tf.constant(1.0))["samples"].numpy()
    # The whole images at once, as the model computes them untiled.
    whole = super_resolve_with(generator, tf.constant(images / 255.0, tf.float32), 2, 5, 1.0)
    whole = np.round(np.clip(whole.numpy(), 0, 1) * 255).astype(np.uint8)
    assert served.shape == whole.shape == (2, 2, 76, 108, 3)
    assert np.abs(served.astype(int) - whole.astype(int)).max() <= 1


def test_bad_float_requests_an_empty_batch_and_foreign_models_fail_alone(exported, tmp_path):
    from srim_tf.inference.samplers import load_sampler

    loaded = tf.saved_model.load(exported[2])
    lr = np.full((1, 6, 6, 3), 0.5, np.float32)
    lr[0, 2, 3, 1] = np.nan
    call = loaded.signatures["samples_at"]
    for bad in (lr, np.full((1, 6, 6, 3), 1.5, np.float32)):
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"finite values in \[0, 1\]"):
            call(lr=tf.constant(bad), num_samples=tf.constant(1), seed=tf.constant(0, tf.int64),
                 noise_scale=tf.constant(1.0), offset=tf.constant([0, 0]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="at least one image"):
        loaded.signatures["encoded"](encoded=tf.constant([], tf.string))
    # The next request is served.
    assert call(lr=tf.constant(np.full((1, 6, 6, 3), 0.5, np.float32)), num_samples=tf.constant(1),
                seed=tf.constant(0, tf.int64), noise_scale=tf.constant(1.0),
                offset=tf.constant([0, 0]))["samples"].shape == (1, 1, 24, 24, 3)
    # A SavedModel srim_export did not write: one clear error, not an AttributeError.
    module = tf.Module()
    module.f = tf.function(lambda x: {"y": x}, input_signature=[tf.TensorSpec([None], tf.float32)])
    tf.saved_model.save(module, str(tmp_path / "foreign"), signatures={"serving_default": module.f})
    with pytest.raises(ValueError, match="not one srim_export wrote"):
        load_sampler(str(tmp_path / "foreign"))


def test_consistency_is_never_applied_twice(exported, tmp_path):
    from srim_tf.inference.samplers import ConsistentSampler, load_sampler

    generator, _, plain = exported
    path = export.export(generator, str(tmp_path / "srim"), consistency_iterations=2)
    sampler = load_sampler(path, consistency_iterations=8)
    assert not isinstance(sampler, ConsistentSampler) and sampler.consistency_iterations == 2
    assert isinstance(load_sampler(plain, consistency_iterations=8), ConsistentSampler)


@pytest.mark.slow
def test_requests_at_the_bounds_fit_under_an_address_space_cap(tmp_path):
    """Peak memory follows the tile, not the request, so a server sized for one tile survives
    any request within the bounds: under a 4 GiB address-space cap (untiled, the first
    request alone reached 6.4 GB of address space), requests at the default bounds, a long
    strip, and the next request are all served. A fresh process, so the cap binds only it."""
    path = export.export(tiny_generator(), str(tmp_path / "m"))
    script = f"""
import resource
resource.setrlimit(resource.RLIMIT_AS, (4 * 2 ** 30, 4 * 2 ** 30))
import tensorflow as tf
m = tf.saved_model.load({path!r})
def samples(n, h, w):
    return m.signatures["samples"](images=tf.zeros((n, h, w, 3), tf.uint8),
        num_samples=tf.constant(1, tf.int64), seed=tf.constant(0, tf.int64),
        noise_scale=tf.constant(1.0))["samples"].shape
assert samples(4, 512, 512) == (4, 1, 2048, 2048, 3)  # max_request_pixels
assert m.signatures["serving_default"](images=tf.zeros((1, 1024, 1024, 3), tf.uint8))[
    "images"].shape == (1, 4096, 4096, 3)  # max_input_pixels
assert samples(1, 1, 1048576) == (1, 1, 4, 4194304, 3)
assert samples(1, 8, 8) == (1, 1, 32, 32, 3)
print("served")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0 and "served" in result.stdout, result.stderr[-3000:]
