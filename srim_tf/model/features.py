"""The feature space phi of paper 2.2: pixels and VGG19 pre-activations.

phi(image) = {pixels, conv2_2, conv4_4}, where conv2_2 and conv4_4 are the outputs of
those VGG19 convolutions *before* their ReLU. Keras' VGG19 fuses the ReLU into each
convolution, so this module builds the same trunk with separate ReLU layers and copies
the weights across by layer name.

VGG weights policy (`vgg_weights`):
    "auto"     ImageNet weights from the Keras cache or a download; if neither works,
               seeded random weights and a warning that says how to supply the file.
    "imagenet" the same, but failing with a clear message instead of falling back.
    "random"   seeded random weights (tests, CI, machines without the file).
    a path     a Keras VGG19 weights file (`.h5` / `.weights.h5`).
"""

import os

import keras
import numpy as np
from absl import logging

from srim_tf import checks

LAYERS = ("pixels", "conv2_2", "conv4_4")
VGG_WEIGHTS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
# The VGG19 blocks up to conv4_4: (block, convolutions, channels).
_VGG_BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 4, 256), (4, 4, 512))


def build_vgg_trunk(dtype=None):
    """VGG19 up to conv4_4 with the ReLUs split out, outputting both pre-activations.

    Args:
        dtype: the layers' dtype policy ("float32", "mixed_bfloat16", ...; None: Keras'
            global policy).

    Returns:
        A model from Caffe-preprocessed images `[N, H, W, 3]` to
        `{"conv2_2": [N, H/2, W/2, 128], "conv4_4": [N, H/8, W/8, 512]}`.
    """
    inputs = keras.Input((None, None, 3), name="bgr")
    x = inputs
    outputs = {}
    for block, convs, channels in _VGG_BLOCKS:
        if block > 1:
            x = keras.layers.MaxPooling2D(2, dtype=dtype, name=f"block{block - 1}_pool")(x)
        for conv in range(1, convs + 1):
            x = keras.layers.Conv2D(channels, 3, padding="same", dtype=dtype,
                                    name=f"block{block}_conv{conv}")(x)
            if (block, conv) in ((2, 2), (4, 4)):
                outputs[f"conv{block}_{conv}"] = x
            if (block, conv) == (4, 4):
                break
            x = keras.layers.ReLU(dtype=dtype, name=f"block{block}_relu{conv}")(x)
    return keras.Model(inputs, outputs, name="vgg19_preactivations")


def _randomize(trunk, seed):
    # He-normal weights from a seeded numpy generator: identical on every machine.
    rng = np.random.default_rng(seed)
    for layer in trunk.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kernel, bias = layer.get_weights()
            fan_in = np.prod(kernel.shape[:3])
            layer.set_weights([
                rng.normal(0.0, np.sqrt(2.0 / fan_in), kernel.shape).astype("float32"),
                np.zeros_like(bias)])


def _copy_from_keras_vgg19(trunk, weights):
    reference = keras.applications.VGG19(include_top=False, weights=weights)
    for layer in trunk.layers:
        if isinstance(layer, keras.layers.Conv2D):
            layer.set_weights(reference.get_layer(layer.name).get_weights())


def load_vgg_trunk(vgg_weights="auto", seed=0, dtype=None):
    """Builds the trunk (for `dtype`, as `build_vgg_trunk`) and loads weights by the policy
    in the module docstring.

    Returns:
        `(trunk, source)`, where `source` is "imagenet", "random" or the file path.
    """
    trunk = build_vgg_trunk(dtype)
    if vgg_weights == "random":
        _randomize(trunk, seed)
        return trunk, "random"
    if vgg_weights not in ("auto", "imagenet"):
        if not os.path.isfile(vgg_weights):
            raise ValueError(
                "`vgg_weights` must be 'auto', 'imagenet', 'random' or the path of a VGG19"
                f" weights file ({VGG_WEIGHTS_FILE}). No file at: vgg_weights={vgg_weights!r}")
        _copy_from_keras_vgg19(trunk, vgg_weights)
        return trunk, vgg_weights
    try:
        _copy_from_keras_vgg19(trunk, "imagenet")
        return trunk, "imagenet"
    except Exception as error:  # The download or cache read failed; any cause counts.
        help_text = (
            f"Could not load VGG19 ImageNet weights ({type(error).__name__}: {error}). To"
            f" supply them, download {VGG_WEIGHTS_FILE} (from the Keras applications release)"
            " and put it in ~/.keras/models/ or pass --vgg_weights=/path/to/it.")
        if vgg_weights == "imagenet":
            raise RuntimeError(help_text) from error
        logging.warning("%s Falling back to seeded RANDOM VGG weights: perceptual"
                        " distances will not be meaningful.", help_text)
        _randomize(trunk, seed)
        return trunk, "random"


class FeatureExtractor:
    """Computes phi on RGB images in [0, 1].

    Args:
        trunk: the model from `build_vgg_trunk`, or None when no VGG layer is needed.
        layers: which of `LAYERS` to compute.

    Examples:
        >>> extractor = FeatureExtractor(None, ("pixels",))
        >>> sorted(extractor(keras.ops.zeros((1, 8, 8, 3))))
        ['pixels']
    """

    def __init__(self, trunk, layers=LAYERS):
        for layer in layers:
            checks.check_choice("feature layer", layer, LAYERS)
        if trunk is None and any(layer != "pixels" for layer in layers):
            raise ValueError(f"VGG layers {list(layers)} need a VGG trunk. Received: trunk=None")
        self.trunk = trunk
        self.layers = tuple(layers)

    def __call__(self, images):
        """images: `[N, H, W, 3]` in [0, 1] -> dict of feature maps (float32)."""
        images = keras.ops.cast(images, "float32")
        features = {}
        if "pixels" in self.layers:
            features["pixels"] = images
        if any(layer != "pixels" for layer in self.layers):
            # Caffe convention: [0, 255], RGB -> BGR, ImageNet mean subtracted.
            vgg = self.trunk(keras.applications.vgg19.preprocess_input(images * 255.0))
            for layer in self.layers:
                if layer != "pixels":
                    features[layer] = vgg[layer]
        return features
