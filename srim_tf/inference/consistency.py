"""Exact LR consistency: outputs that downsample back to their input (iterative back-projection).

A super-resolved image is faithful when downsampling it by the operator that made the LR
input gives the input back (LR-PSNR; NTIRE's "Learning the SR space" asks for 45 dB or
more). Back-projection (Irani and Peleg, 1991) enforces it after the generator: repeatedly
downsample the output, upsample the error bicubically and add it back. Each pass moves only
the part of the output the downsampling sees (low frequencies); the detail that
distinguishes one sample from another is left alone, so samples stay diverse.

The operator is `resize.bicubic_downsample` without its 8-bit rounding (MATLAB's
convention, as the training pairs and the evaluation use).
"""

import tensorflow as tf

from srim_tf.data.resize import bicubic_downsample, bicubic_upsample

# Passes of back-projection: on Set5's baby and butterfly, bicubic outputs went from 40.3 and
# 31.3 dB LR-PSNR to 77 and 67 dB after 8 passes (48 and 39 dB after one), rounded to 8 bits.
DEFAULT_ITERATIONS = 8
# LR pixels one pass reaches beyond a pixel: the downsampling's kernel (2 LR pixels at 4x)
# and the bicubic upsampling's (2 LR pixels). Tiling adds this times the passes as context.
REACH_PER_ITERATION = 4


def back_project(outputs, lr, scale=4, iterations=DEFAULT_ITERATIONS):
    """Makes `outputs` downsample (by `scale`, MATLAB bicubic) to `lr`.

    Args:
        outputs: float `[N, H, W, C]` in [0, 1]; H, W are `scale` times lr's.
        lr: float `[N, H / scale, W / scale, C]` in [0, 1].
        scale: the integer scale factor.
        iterations: passes of back-projection (0 returns `outputs` unchanged).

    Returns:
        float32 `[N, H, W, C]` in [0, 1].
    """
    outputs = tf.cast(outputs, tf.float32)
    lr = tf.cast(lr, tf.float32)
    for _ in range(iterations):
        error = lr - bicubic_downsample(outputs, scale, quantize=False)
        correction = bicubic_upsample(error, scale, clip=False)  # errors are signed
        outputs = tf.clip_by_value(outputs + correction, 0.0, 1.0)
    return outputs


def context(iterations):
    """Extra LR pixels of context a tile needs so back-projection sees what it would untiled."""
    return REACH_PER_ITERATION * iterations
