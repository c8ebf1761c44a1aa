"""Shared fixtures: tiny models and images, random VGG weights, no network."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tests.helpers import tiny_config  # noqa: E402


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def triple(rng):
    """A (lr, mid, hr) batch of 3 random-but-smooth images, HR 32x32."""
    import tensorflow as tf

    from srim_tf.data.patches import to_triple

    coarse = rng.random((3, 8, 8, 3)).astype("float32")
    hr = tf.image.resize(coarse, [32, 32], "bicubic").numpy().clip(0, 1)
    return tuple(np.asarray(x) for x in to_triple(tf.constant(hr)))


@pytest.fixture(scope="session")
def trained_workdir(tmp_path_factory):
    """A srim_train workdir holding a tiny model trained for 2 steps."""
    from srim_tf.training.loop import train_and_evaluate

    workdir = str(tmp_path_factory.mktemp("trained") / "run")
    train_and_evaluate(tiny_config(train_steps=2, checkpoint_every=2, image_summary_every=2), workdir)
    return workdir
