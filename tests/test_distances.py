import numpy as np
import pytest
import tensorflow as tf

from srim_tf.training.distances import Distance


def _features(rng, n):
    return {"pixels": rng.random((n, 8, 8, 3)).astype("float32"),
            "conv4": rng.standard_normal((n, 4, 4, 16)).astype("float32")}


@pytest.mark.parametrize("kind", ["l1", "l2"])
def test_exact_distance_is_the_weighted_sum_of_per_layer_means(kind, rng):
    a, b = _features(rng, 3), _features(rng, 3)
    d = Distance({"pixels": 2.0, "conv4": 0.5}, kind).paired(a, b).numpy()
    p = 1 if kind == "l1" else 2
    expected = sum(w * (np.abs(a[k] - b[k]) ** p).mean(axis=(1, 2, 3))
                   for k, w in (("pixels", 2.0), ("conv4", 0.5)))
    np.testing.assert_allclose(d, expected, rtol=1e-5)


@pytest.mark.parametrize("projection", ["gaussian", "sparse"])
def test_projected_distances_approximate_exact_ones(projection, rng):
    samples, targets = _features(rng, 4 * 16), _features(rng, 4)
    exact = Distance({"pixels": 1.0, "conv4": 0.1}, "l2")
    projected = Distance({"pixels": 1.0, "conv4": 0.1}, "l2", projection, 1000, seed=3)
    e = exact.to_targets(samples, targets, 16).numpy()
    p = projected.to_targets(samples, targets, 16).numpy()
    assert p.shape == e.shape == (4, 16)
    assert np.median(np.abs(p / e - 1)) < 0.1  # JL: relative error ~ sqrt(2 / k)


@pytest.mark.parametrize("projection", ["gaussian", "sparse"])
def test_projected_selection_agrees_with_exact_selection_on_most_inputs(projection, rng):
    # Samples spread around each target so the nearest one is meaningfully nearest.
    batch, m = 32, 20
    targets = _features(rng, batch)
    scales = rng.uniform(0.2, 1.0, (batch, m))
    samples = {k: (np.repeat(v, m, axis=0) + scales.reshape(-1, 1, 1, 1)
                   * rng.standard_normal((batch * m,) + v.shape[1:])).astype("float32")
               for k, v in targets.items()}
    exact = Distance({"pixels": 1.0, "conv4": 1.0}, "l2").to_targets(samples, targets, m)
    projected = Distance({"pixels": 1.0, "conv4": 1.0}, "l2", projection, 1000).to_targets(
        samples, targets, m)
    agreement = np.mean(np.argmin(exact, axis=1) == np.argmin(projected, axis=1))
    assert agreement >= 0.8


def test_same_seed_same_projection_and_different_seed_different(rng):
    x = tf.constant(rng.random((2, 300)).astype("float32"))
    a = Distance({"pixels": 1.0}, "l2", "sparse", 50, seed=1).project(x)
    b = Distance({"pixels": 1.0}, "l2", "sparse", 50, seed=1).project(x)
    c = Distance({"pixels": 1.0}, "l2", "sparse", 50, seed=2).project(x)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3


@pytest.mark.parametrize("kwargs,match", [
    (dict(weights={"pixels": 1.0}, kind="l1", projection="sparse"), "distance='l1'"),
    (dict(weights={"pixels": 1.0}, projection="pca"), "projection='pca'"),
    (dict(weights={"pixels": 1.0}, kind="cosine"), "distance='cosine'"),
    (dict(weights={"pixels": 0.0}), "non-zero"),
])
def test_bad_distance_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Distance(**kwargs)
