"""Computing at another precision on a float32 model's weights, without touching its policies.

Precision is a constructor argument (`dtype=`, keras-hub's pattern): `SRIMGenerator` and
`build_vgg_trunk` build their layers for a dtype policy, and nothing here sets Keras' global
policy. Selection only compares samples and never back-propagates, so it can run in
bfloat16 (about twice as fast as float32 on CPUs with AVX-512 BF16 and on accelerators)
while the gradient step stays in float32; sampling, evaluation and exports may too. For that
a model is built a second time for the other policy (its twin) and called statelessly with
the original's variables: no copy of the weights to keep in sync, and the original's
policies, which replica threads of a distribution strategy share, are never changed.
"""

import tensorflow as tf

from srim_tf import checks
from srim_tf.settings import INFERENCE_PRECISIONS

_POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16",
             "off": "float32", "mixed_bfloat16": "mixed_bfloat16", "mixed_float16": "mixed_float16"}


def policy(precision):
    """The Keras dtype policy name for a precision or `--mixed_precision` value.

    Examples:
        >>> policy("bfloat16"), policy("off")
        ('mixed_bfloat16', 'float32')
    """
    checks.check_choice("precision", precision, tuple(_POLICIES))
    return _POLICIES[precision]


class OnWeightsOf:
    """Calls `twin`, a model built like `original` for another dtype policy, on `original`'s
    variables (`stateless_call`); `twin`'s own variables are never read.

    Args:
        original: the model whose weights are used (a generator stage, the VGG trunk).
        twin: the same architecture built with another `dtype`.

    Examples:
        >>> from srim_tf.model.generator import build_stage
        >>> from srim_tf.settings import GeneratorSettings
        >>> small = GeneratorSettings(channels=8, num_convs=3)
        >>> stage = build_stage(2, small)
        >>> fast = OnWeightsOf(stage, build_stage(2, small, dtype="mixed_bfloat16"))
        >>> x = tf.zeros((1, 4, 4, 3))
        >>> fast([x, x, tf.zeros((1, 8, 8, 5))]).dtype  # the output layer stays float32
        tf.float32
    """

    def __init__(self, original, twin):
        ours, theirs = original.variables, twin.variables
        if [tuple(v.shape) for v in ours] != [tuple(v.shape) for v in theirs]:
            raise ValueError(f"{twin.name} is not built like {original.name}: their variables"
                             " differ. Received: shapes"
                             f" {[tuple(v.shape) for v in theirs]} for {[tuple(v.shape) for v in ours]}")
        self.original, self.twin = original, twin
        self.compute_dtype = twin.compute_dtype

    # Not for AutoGraph: nothing branches on tensors here, and converted Keras calls only
    # cost time at the first call.
    @tf.autograph.experimental.do_not_convert
    def __call__(self, inputs):
        outputs, _ = self.twin.stateless_call(self.original.trainable_variables,
                                              self.original.non_trainable_variables, inputs)
        return outputs


class GeneratorInPrecision:
    """A `SRIMGenerator`'s forward pass computed in `precision`, on the generator's weights.

    Callable as the generator is (`[lr, z_lo, z_up]` -> the 4x image, float32 in [0, 1]),
    with its `settings`; `lower` and `upper` are its stages in that precision.
    """

    def __init__(self, generator, precision):
        twin = type(generator)(generator.settings, dtype=policy(precision))
        self.generator = generator
        self.precision = precision
        self.settings = generator.settings
        self.lower = OnWeightsOf(generator.lower, twin.lower)
        self.upper = OnWeightsOf(generator.upper, twin.upper)

    def __call__(self, inputs):
        lr, z_lo, z_up = inputs
        mid = self.lower([lr, lr, z_lo])
        return self.upper([mid, lr, z_up])


def in_precision(generator, precision):
    """`generator` itself when it already computes in `precision`, else a
    `GeneratorInPrecision` of it."""
    checks.check_choice("precision", precision, INFERENCE_PRECISIONS)
    if generator.dtype_policy.name == policy(precision):
        return generator
    return GeneratorInPrecision(generator, precision)
