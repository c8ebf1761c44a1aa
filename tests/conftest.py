"""Shared fixtures: tiny models and images, random VGG weights, no network."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

SHARED_DATA = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))


def tiny_config(**overrides):
    """`RunSettings`: the declared defaults, a model small enough for CPU tests, then `overrides`."""
    from srim_tf.settings import RunSettings

    tiny = dict(
        data="builtin", hr_size=32, batch_size=2, patches_per_image=2, channels=8, kernel_size=3,
        num_convs=3, num_lower_samples=4, num_upper_samples=4, sample_chunk=2,
        vgg_weights="random", loss_pixel_weight=1.0, loss_conv2_2_weight=0.0,
        loss_conv4_weight=0.0, selection_pixel_weight=1.0, selection_conv4_weight=0.0,
        train_steps=4, learning_rate=1e-3, lr_decay_steps=[], checkpoint_every=2,
        summary_every=2, image_summary_every=2, num_validation_images=2, num_summary_samples=2)
    return RunSettings.from_flat(tiny).replace(**overrides)


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


def shared_data(*parts):
    path = os.path.join(SHARED_DATA, *parts)
    if not os.path.exists(path):
        pytest.skip(f"needs ../shared/data ({path})")
    return path


@pytest.fixture(scope="session")
def trained_workdir(tmp_path_factory):
    """A srim_train workdir holding a tiny model trained for 2 steps."""
    from srim_tf.training.loop import train_and_evaluate

    workdir = str(tmp_path_factory.mktemp("trained") / "run")
    train_and_evaluate(tiny_config(train_steps=2, checkpoint_every=2, image_summary_every=2), workdir)
    return workdir
