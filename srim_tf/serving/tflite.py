"""The generator as a TensorFlow Lite model, for sampling on phones and other devices.

The .tflite file holds `G(lr, z_lo, z_up)` alone: inputs `lr` float32 [1, h, w, 3] in
[0, 1], `z_lo` float32 [1, 2h, 2w, C] and `z_up` float32 [1, 4h, 4w, C] (C = the
generator's noise channels; standard normal codes times the noise scale, zeros for the
deterministic output), output float32 [1, 4h, 4w, 3] in [0, 1]. The app draws the noise
itself, so one model gives any number of samples. Tiling, grey/alpha handling, the
position-addressed noise and the input-size limit of the SavedModel stay on the host.
"""

import os

import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from srim_tf import safe_files


def _fixed_size(lr_size):
    try:
        h, w = (int(v) for v in lr_size)
    except (TypeError, ValueError):
        h = w = 0
    if h < 1 or w < 1:
        raise ValueError("--tflite_lr_size must be two integers >= 1 (height,width), or empty"
                         f" for any size. Received: {lr_size}")
    return h, w


def to_tflite(generator, lr_size=None):
    """Converts `generator` to a TFLite flatbuffer; returns its bytes.

    Args:
        generator: a `SRIMGenerator`.
        lr_size: `(h, w)` for fixed input sizes (what most mobile delegates need), or
            None for dynamic height and width (resize the interpreter's inputs before use).
    """
    h, w = _fixed_size(lr_size) if lr_size else (None, None)
    c = generator.settings.noise_channels

    def size(factor, value):
        return None if value is None else factor * value

    signature = [tf.TensorSpec([1, h, w, 3], tf.float32, name="lr"),
                 tf.TensorSpec([1, size(2, h), size(2, w), c], tf.float32, name="z_lo"),
                 tf.TensorSpec([1, size(4, h), size(4, w), c], tf.float32, name="z_up")]

    @tf.function(input_signature=signature)
    def super_resolve(lr, z_lo, z_up):
        return tf.cast(generator([lr, z_lo, z_up]), tf.float32)

    # Frozen first: from Keras 3 variables the converter keeps READ_VARIABLE ops whose
    # variables the interpreter never fills, and the model outputs NaN (TF 2.21).
    frozen = convert_variables_to_constants_v2(super_resolve.get_concrete_function())

    @tf.function(input_signature=signature)
    def named_output(lr, z_lo, z_up):  # freezing drops output names
        return {"hr": frozen(lr, z_lo, z_up)[0]}

    return tf.lite.TFLiteConverter.from_concrete_functions(
        [named_output.get_concrete_function()], generator).convert()


def write_tflite(generator, path, lr_size=None):
    """Writes `to_tflite(generator, lr_size)` to `path` (whole or not at all); returns `path`."""
    if not path.endswith(".tflite"):
        raise ValueError(f"--tflite must name a .tflite file. Received: --tflite={path}")
    flatbuffer = to_tflite(generator, lr_size)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with safe_files.written_whole(path, "wb") as f:
        f.write(flatbuffer)
    return path
