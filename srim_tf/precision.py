"""Models that compute at another precision on the weights of a float32 model.

Selection only compares samples, never back-propagates, so it can run in bfloat16, which
is about twice as fast as float32 on CPUs with AVX-512 BF16 and on accelerators, while the
gradient step stays in float32; sampling, evaluation and exports may too (`in_precision`).
A `PrecisionCopy` is a clone of a functional model whose layers compute in another
precision; it is called statelessly with the original's variables, so it needs no syncing
and never changes the original's dtype policies (which replica threads of a distribution
strategy, and other samplers of the same generator, share).
"""

import keras
import tensorflow as tf

from srim_tf import options
from srim_tf.model import FLOAT32_LAYERS

PRECISIONS = ("float32", "bfloat16")  # Of selection.
INFERENCE_PRECISIONS = ("float32", "bfloat16", "float16")  # Of sampling, evaluation, export.
_POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


class PrecisionCopy:
    """Runs functional `model` with every layer computing in `precision`, on `model`'s weights.

    Args:
        model: a functional `keras.Model` (a generator stage, the VGG trunk).
        precision: one of `INFERENCE_PRECISIONS` ("float32" copies keep float32 compute).
        float32_layers: names of layers that stay in float32 (e.g. the output's).

    Examples:
        >>> from srim_tf.model import build_stage
        >>> stage = build_stage(2, channels=8, num_convs=3)
        >>> fast = PrecisionCopy(stage, "bfloat16")
        >>> x = keras.ops.zeros((1, 4, 4, 3))
        >>> keras.backend.standardize_dtype(fast([x, x, keras.ops.zeros((1, 8, 8, 5))]).dtype)
        'bfloat16'
    """

    def __init__(self, model, precision, float32_layers=()):
        options.check_choice("precision", precision, INFERENCE_PRECISIONS)

        # Not for AutoGraph: in a long test session a traced call reached an AutoGraph-
        # converted copy of this function with the wrong arguments.
        @tf.autograph.experimental.do_not_convert
        def clone(layer):
            policy = "float32" if layer.name in float32_layers else _POLICIES[precision]
            return layer.__class__.from_config({**layer.get_config(), "dtype": policy})

        self.original = model
        self.precision = precision
        # Its own variables are never read: `stateless_call` substitutes the original's.
        self.copy = keras.models.clone_model(model, clone_function=clone)
        self.compute_dtype = precision

    @tf.autograph.experimental.do_not_convert
    def __call__(self, inputs):
        outputs, _ = self.copy.stateless_call(self.original.trainable_variables,
                                              self.original.non_trainable_variables, inputs)
        return outputs


class GeneratorInPrecision:
    """A `SRIMGenerator`'s forward pass computed in `precision`, on the generator's weights.

    Both stages are `PrecisionCopy`s whose float32 output layers (`model.FLOAT32_LAYERS`)
    stay in float32, so outputs lie in [0, 1] at float32 resolution. Callable as the
    generator is (`[lr, z_lo, z_up]` -> the 4x image, float32), with its `noise_channels`.
    """

    def __init__(self, generator, precision):
        self.generator = generator
        self.precision = precision
        self.noise_channels = generator.noise_channels
        self.lower = PrecisionCopy(generator.lower, precision, FLOAT32_LAYERS)
        self.upper = PrecisionCopy(generator.upper, precision, FLOAT32_LAYERS)

    def __call__(self, inputs):
        lr, z_lo, z_up = inputs
        mid = self.lower([lr, lr, z_lo])
        return self.upper([mid, lr, z_up])


def in_precision(generator, precision):
    """`generator` itself for "float32", else a `GeneratorInPrecision` of it."""
    options.check_choice("precision", precision, INFERENCE_PRECISIONS)
    return generator if precision == "float32" else GeneratorInPrecision(generator, precision)
