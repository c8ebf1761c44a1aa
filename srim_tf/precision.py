"""Models that compute at another precision on the weights of a float32 model (selection).

Selection only compares samples, never back-propagates, so it can run in bfloat16, which
is about twice as fast as float32 on CPUs with AVX-512 BF16 and on accelerators, while the
gradient step stays in float32. A `PrecisionCopy` is a clone of a functional model whose
layers compute in bfloat16; it is called statelessly with the original's variables, so it
needs no syncing and never changes the original's dtype policies (which replica threads of
a distribution strategy share).
"""

import keras

from srim_tf import options

PRECISIONS = ("float32", "bfloat16")


class PrecisionCopy:
    """Runs functional `model` with every layer computing in `precision`, on `model`'s weights.

    Args:
        model: a functional `keras.Model` (a generator stage, the VGG trunk).
        precision: "bfloat16" ("float32" copies keep float32 compute).

    Examples:
        >>> from srim_tf.model import build_stage
        >>> stage = build_stage(2, channels=8, num_convs=3)
        >>> fast = PrecisionCopy(stage, "bfloat16")
        >>> x = keras.ops.zeros((1, 4, 4, 3))
        >>> keras.backend.standardize_dtype(fast([x, x, keras.ops.zeros((1, 8, 8, 5))]).dtype)
        'bfloat16'
    """

    def __init__(self, model, precision):
        options.check_choice("precision", precision, PRECISIONS)
        policy = "mixed_bfloat16" if precision == "bfloat16" else "float32"

        def clone(layer):
            return layer.__class__.from_config({**layer.get_config(), "dtype": policy})

        self.original = model
        self.precision = precision
        # Its own variables are never read: `stateless_call` substitutes the original's.
        self.copy = keras.models.clone_model(model, clone_function=clone)
        self.compute_dtype = "bfloat16" if precision == "bfloat16" else "float32"

    def __call__(self, inputs):
        outputs, _ = self.copy.stateless_call(self.original.trainable_variables,
                                              self.original.non_trainable_variables, inputs)
        return outputs
