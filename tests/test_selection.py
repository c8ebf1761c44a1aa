"""Sample selection picks each input's truly nearest sample, checked by brute force."""

import numpy as np
import pytest
import tensorflow as tf

from srim_tf.model.features import FeatureExtractor
from srim_tf.settings import ImleSettings
from srim_tf.training import selection
from srim_tf.training.distances import Distance
from srim_tf.training.imle import SRIM
from tests.helpers import tiny_generator

PIXELS = Distance({"pixels": 1.0}, "l2")


def _model(selection="hierarchical", lower=5, upper=7, chunk=3, seed=0, precision="float32"):
    imle = ImleSettings(num_lower_samples=lower, num_upper_samples=upper, sample_chunk=chunk,
                        selection=selection, selection_precision=precision)
    return SRIM(tiny_generator(), None, PIXELS, Distance({"pixels": 1.0}, "l1"), imle, seed=seed)


def _record_noise(monkeypatch):
    """Keeps every code selection draws, in call order."""
    drawn = []
    original = selection.per_example_normal

    def recording(*args):
        codes = original(*args)
        drawn.append(codes.numpy())
        return codes

    monkeypatch.setattr(selection, "per_example_normal", recording)
    return drawn


def test_nearest_keeps_each_inputs_own_nearest_across_chunks(rng):
    batch, m = 4, 10
    targets = rng.random((batch, 2, 2, 3)).astype("float32")
    recorded_codes, recorded_images = [], []

    def sample_fn(index, c):
        codes = tf.random.stateless_normal([batch, c, 1], seed=[1, index])
        images = tf.random.stateless_uniform([batch * c, 2, 2, 3], seed=[7, index])
        recorded_codes.append(codes.numpy())
        recorded_images.append(images.numpy().reshape(batch, c, 2, 2, 3))
        return (codes,), images

    (chosen,), distance = selection.nearest(sample_fn, FeatureExtractor(None, ("pixels",)), PIXELS,
                                            {"pixels": targets}, m, chunk=3)
    codes = np.concatenate(recorded_codes, axis=1)       # [B, m, 1]
    images = np.concatenate(recorded_images, axis=1)     # [B, m, 2, 2, 3]
    assert codes.shape[1] == m  # 3 + 3 + 3 + 1: chunks cover exactly m samples
    brute = ((images - targets[:, None]) ** 2).mean(axis=(2, 3, 4))  # [B, m]
    np.testing.assert_allclose(distance, brute.min(axis=1), rtol=1e-6)
    np.testing.assert_array_equal(chosen.numpy(), codes[np.arange(batch), brute.argmin(axis=1)])


def test_samples_of_different_inputs_never_compete():
    # Input 0's target is white; input 1's is black. Every sample of input 0 is black and
    # every sample of input 1 white, except one grey sample each: the nearest sample of
    # each input must be its own grey one, though the other input's samples are nearer.
    targets = np.stack([np.ones((2, 2, 3)), np.zeros((2, 2, 3))]).astype("float32")

    def sample_fn(index, c):
        images = np.zeros((2, c, 2, 2, 3), "float32")
        images[1] = 1.0
        images[:, c - 1] = 0.5
        codes = np.tile(np.arange(c, dtype="float32")[None, :, None], [2, 1, 1])
        return (tf.constant(codes),), tf.constant(images.reshape(2 * c, 2, 2, 3))

    (chosen,), distance = selection.nearest(sample_fn, FeatureExtractor(None, ("pixels",)), PIXELS,
                                            {"pixels": targets}, 3, chunk=3)
    np.testing.assert_array_equal(chosen.numpy()[:, 0], [2.0, 2.0])
    np.testing.assert_allclose(distance, [0.25, 0.25])


def test_hierarchical_selection_matches_brute_force(triple, monkeypatch):
    lr, mid, hr = triple
    model = _model("hierarchical", lower=5, upper=7, chunk=3)
    drawn = _record_noise(monkeypatch)
    z_lo, z_up, d_lo, d_up, _ = model.select_codes(lr, mid, hr)
    lower_codes = np.concatenate(drawn[:2], axis=1)  # chunks of 3 + 2: [B, 5, 2h, 2w, c]
    upper_codes = np.concatenate(drawn[2:], axis=1)  # chunks of 3 + 3 + 1
    assert lower_codes.shape[1] == 5 and upper_codes.shape[1] == 7
    g = model.generator
    lower_d = np.stack([((np.asarray(g.lower([lr, lr, lower_codes[:, j]])) - mid) ** 2).mean(axis=(1, 2, 3))
                        for j in range(5)], axis=1)
    best_lower = lower_codes[np.arange(len(lr)), lower_d.argmin(axis=1)]
    np.testing.assert_array_equal(z_lo, best_lower)
    np.testing.assert_allclose(d_lo, lower_d.min(axis=1), rtol=1e-5)
    base = np.asarray(g.lower([lr, lr, best_lower]))
    upper_d = np.stack([((np.asarray(g.upper([base, lr, upper_codes[:, j]])) - hr) ** 2).mean(axis=(1, 2, 3))
                        for j in range(7)], axis=1)
    np.testing.assert_array_equal(z_up, upper_codes[np.arange(len(lr)), upper_d.argmin(axis=1)])
    np.testing.assert_allclose(d_up, upper_d.min(axis=1), rtol=1e-5)


def test_joint_selection_chooses_pairs_on_the_4x_output(triple, monkeypatch):
    lr, mid, hr = triple
    model = _model("joint", lower=2, upper=2, chunk=4)  # 4 pairs in one chunk
    drawn = _record_noise(monkeypatch)
    z_lo, z_up, d_lo, d_up, _ = model.select_codes(lr, mid, hr)
    lows, ups = drawn  # one chunk: z_lo codes, then z_up codes, [B, 4, ...]
    outputs = [np.asarray(model.generator([lr, lows[:, j], ups[:, j]])) for j in range(4)]
    d = np.stack([((o - hr) ** 2).mean(axis=(1, 2, 3)) for o in outputs], axis=1)
    best = d.argmin(axis=1)
    np.testing.assert_array_equal(z_lo, lows[np.arange(len(lr)), best])
    np.testing.assert_array_equal(z_up, ups[np.arange(len(lr)), best])
    np.testing.assert_array_equal(d_lo, 0.0)


@pytest.mark.parametrize("kwargs,match", [
    ({"num_lower_samples": 0}, "num_lower_samples=0"),
    ({"num_upper_samples": 1.5}, "num_upper_samples=1.5"),
    ({"sample_chunk": 0}, "sample_chunk=0"),
    ({"selection": "greedy"}, "selection=greedy"),
    ({"selection_patch": -1}, "selection_patch=-1"),
    ({"selection_patch": True}, "selection_patch=True"),
    ({"selection_patch": 2.0}, "selection_patch=2.0"),
])
def test_bad_selection_options_are_refused_naming_the_value(kwargs, match):
    args = dict(num_lower_samples=2, num_upper_samples=2)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        ImleSettings(**args)


@pytest.mark.parametrize("bad,match", [
    (np.zeros((4, 4, 3), "float32"), "rank 4"),
    (np.zeros((1, 4, 4, 4), "float32"), "3 channels"),
    (np.zeros((1, 4, 4, 3), "uint8"), "dtype"),
])
def test_bad_images_name_shape_channels_or_dtype(bad, match):
    model = _model()
    with pytest.raises(ValueError, match=match):
        model.super_resolve(bad)


def test_bfloat16_selection_chooses_nearly_the_best_float32_sample(rng):
    from srim_tf.data.patches import to_triple

    coarse = rng.random((16, 4, 4, 3)).astype("float32")
    hr = tf.image.resize(coarse, [32, 32], "bicubic").numpy().clip(0, 1)
    lr, mid, hr = (np.asarray(x) for x in to_triple(tf.constant(hr)))
    exact = _model("joint", lower=8, upper=8, chunk=16, seed=3)
    fast = _model("joint", lower=8, upper=8, chunk=16, seed=3, precision="bfloat16")
    fast.generator.set_weights(exact.generator.get_weights())
    z_lo, z_up, _, d_exact, _ = exact.select_codes(lr, mid, hr)
    z_lo16, z_up16, _, d_fast, _ = fast.select_codes(lr, mid, hr)
    # The bfloat16 choice, re-measured in float32, is within 2% of the float32 optimum.
    chosen = exact.generator([lr, z_lo16, z_up16])
    d_chosen = ((np.asarray(chosen) - hr) ** 2).mean(axis=(1, 2, 3))
    assert np.all(d_chosen <= np.asarray(d_exact) * 1.02 + 1e-7)
    assert np.mean(np.all(np.asarray(z_up16) == np.asarray(z_up), axis=(1, 2, 3))) >= 0.5
    # and bfloat16 did run: its distances are not bit-identical to float32 ones.
    assert np.abs(np.asarray(d_fast) - np.asarray(d_exact)).max() > 0


def test_bfloat16_selection_leaves_the_models_policies_alone(triple):
    model = _model(precision="bfloat16")
    before = [layer.dtype_policy.name for layer in model.generator.lower.layers]
    chosen = tf.function(model.select_codes)(*triple)
    assert [layer.dtype_policy.name for layer in model.generator.lower.layers] == before
    assert set(before) == {"float32"}
    assert chosen.z_lo.dtype == tf.float32 and np.all(np.isfinite(chosen.upper_distance))


def test_an_inputs_codes_do_not_depend_on_its_batch(triple):
    """Input b's seed decides its codes: a batch split in two selects what it selects whole."""
    lr, mid, hr = triple
    settings = ImleSettings(num_lower_samples=3, num_upper_samples=3, sample_chunk=2)
    generator = tiny_generator()
    features = FeatureExtractor(None, ("pixels",))
    seeds = selection.example_seeds(tf.constant([5, 6], tf.int64), 0, 3)
    whole = selection.select(generator, features, {"lr": lr, "mid": mid, "hr": hr}, seeds,
                             PIXELS, settings)
    parts = [selection.select(generator, features, {"lr": lr[s], "mid": mid[s], "hr": hr[s]},
                              seeds[s], PIXELS, settings) for s in (slice(0, 1), slice(1, 3))]
    for name in ("z_lo", "z_up", "upper_distance"):
        joined = np.concatenate([getattr(p, name) for p in parts])
        np.testing.assert_allclose(joined, getattr(whole, name), rtol=1e-5, atol=1e-6)


def test_the_model_keeps_its_selection_settings_once_and_frozen():
    import dataclasses

    model = _model(lower=4, upper=6)
    settings = model.imle
    assert (settings.num_lower_samples, settings.num_upper_samples) == (4, 6)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.selection_patch = 2
    # Not copied onto the model as well: one place to read them from.
    for name in ("num_lower_samples", "num_upper_samples", "sample_chunk", "selection",
                 "selection_patch", "selection_precision", "code_jitter"):
        assert not hasattr(model, name), name


def test_jitter_adds_std_times_a_normal_drawn_from_each_inputs_seed():
    z_lo, z_up = tf.zeros((2, 8, 8, 5)), tf.zeros((2, 16, 16, 5))
    seeds = selection.example_seeds(tf.constant([3, 4], tf.int64), 0, 2)
    unchanged = selection.jitter(z_lo, z_up, seeds, 0.0)
    assert unchanged[0] is z_lo and unchanged[1] is z_up
    lo, up = selection.jitter(z_lo, z_up, seeds, 0.1)
    assert 0.09 < float(tf.math.reduce_std(lo)) < 0.11 and 0.09 < float(tf.math.reduce_std(up)) < 0.11
    # Input 1's jitter is its own seed's draw: the same when it comes first in another batch.
    alone = selection.jitter(z_lo[:1], z_up[:1], selection.example_seeds(tf.constant([3, 4], tf.int64), 1, 1), 0.1)
    np.testing.assert_array_equal(alone[0][0], lo[1])


@pytest.mark.parametrize("mode", ["hierarchical", "joint"])
def test_codes_have_the_shape_of_each_stage_on_crops_taller_than_wide(mode, rng):
    from srim_tf.data.patches import to_triple

    hr = tf.constant(rng.random((2, 48, 24, 3)).astype("float32"))
    lr, mid, hr = to_triple(hr)  # LR 12 x 6
    chosen = _model(selection=mode).select_codes(lr, mid, hr)
    assert chosen.z_lo.shape == (2, 24, 12, 5) and chosen.z_up.shape == (2, 48, 24, 5)
    assert np.all(np.isfinite(chosen.upper_distance.numpy()))
