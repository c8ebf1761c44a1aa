"""Running existing layers at another compute precision for a while (sample selection).

Selection only compares samples, never back-propagates, so it can run in bfloat16, which
is about twice as fast as float32 on CPUs with AVX-512 BF16 and on accelerators, while the
gradient step stays in float32. The layers keep their float32 weights; only the compute
dtype changes, at trace time, and is restored on exit.
"""

import contextlib

import keras

PRECISIONS = ("float32", "bfloat16")


def _layers(models):
    for model in models:
        if model is None:
            continue
        for layer in model.layers:
            if not isinstance(layer, keras.layers.InputLayer):
                yield layer


@contextlib.contextmanager
def compute_precision(models, precision):
    """Within the block, `models`' layers compute in `precision` ("float32" keeps them as they are)."""
    if precision == "float32":
        yield
        return
    policy = keras.DTypePolicy("mixed_bfloat16")
    saved = [(layer, layer.dtype_policy) for layer in _layers(models)]
    try:
        for layer, _ in saved:
            layer.dtype_policy = policy
        yield
    finally:
        for layer, old in saved:
            layer.dtype_policy = old
