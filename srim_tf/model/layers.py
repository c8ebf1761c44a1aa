"""Layers Keras lacks: convolution over concatenated inputs, weight-normalised convolution,
and bilinear upsampling of dynamic sizes.

Weight normalisation is as in the authors' SRIM code. Keras 3 has no weight-normalisation
wrapper, so it is a `Conv2D` whose kernel is `g * v / ||v||` with the norm taken per output
channel (Salimans & Kingma, 2016). Unlike batch norm it keeps every sample independent of
the others in its batch, which matters when many noise samples of one image share a batch
during selection.
"""

import keras
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="srim_tf")
class ConcatConv2D(keras.layers.Conv2D):
    """A `Conv2D` over the channel concatenation of a list of inputs.

    A convolution of `concat([h, skip])` equals `conv(h, K_h) + conv(skip, K_skip)` with the
    kernel split along its input channels. In training it is computed that way: the wide
    input keeps a channel count oneDNN blocks well (64, not 67) and a constant skip input
    needs no gradient, so the generator's forward and backward pass is about 9% faster on
    CPU (benchmarks/README.md). Forward only (`training` false) it concatenates, which is
    faster there. The kernel is one `[k, k, sum(channels), filters]` variable either way,
    so weights match a `Conv2D` applied to the concatenation.

    Args:
        *args, **kwargs: as for `keras.layers.Conv2D`.

    Examples:
        >>> layer = ConcatConv2D(8, 3, padding="same")
        >>> tuple(layer([keras.ops.zeros((1, 5, 5, 4)), keras.ops.zeros((1, 5, 5, 3))]).shape)
        (1, 5, 5, 8)
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.input_spec = None  # The parent's spec expects one tensor.

    @staticmethod
    def _concatenated_shape(input_shape):
        if isinstance(input_shape, (list, tuple)) and isinstance(input_shape[0], (list, tuple)):
            channels = [shape[-1] for shape in input_shape]
            total = None if None in channels else sum(channels)
            return tuple(input_shape[0][:-1]) + (total,)
        return input_shape

    def build(self, input_shape):
        super().build(self._concatenated_shape(input_shape))
        self.input_spec = None

    def compute_output_shape(self, input_shape):
        return super().compute_output_shape(self._concatenated_shape(input_shape))

    def effective_kernel(self):
        """The kernel the convolution uses (subclasses reparameterise it)."""
        return self.kernel

    def call(self, inputs, training=None):
        kernel = self.effective_kernel()
        parts = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        if not training and len(parts) > 1:
            # Forward only, one wide convolution is faster than a wide plus a 3-channel one.
            parts = [ops.concatenate(parts, axis=-1)]
        outputs, start = None, 0
        for part in parts:
            width = part.shape[-1]
            term = self.convolution_op(part, kernel[:, :, start:start + width, :])
            outputs = term if outputs is None else outputs + term
            start += width
        if self.use_bias:
            outputs = outputs + self.bias
        return outputs if self.activation is None else self.activation(outputs)


@keras.saving.register_keras_serializable(package="srim_tf")
class WeightNormConv2D(ConcatConv2D):
    """A `ConcatConv2D` with a weight-normalised kernel.

    Args:
        *args, **kwargs: as for `keras.layers.Conv2D`.
        gain_initializer: "norm" (default) starts the gain at the initial kernel's norm, so
            the layer starts as the plain convolution it wraps; anything else is a Keras
            initializer ("zeros" makes the layer start by outputting its bias).

    Examples:
        >>> layer = WeightNormConv2D(8, 3, padding="same")
        >>> tuple(layer(keras.ops.zeros((1, 5, 5, 3))).shape)
        (1, 5, 5, 8)
    """

    def __init__(self, *args, gain_initializer="norm", **kwargs):
        super().__init__(*args, **kwargs)
        self.gain_initializer = gain_initializer

    def build(self, input_shape):
        super().build(input_shape)
        # One gain per output channel.
        initializer = "ones" if self.gain_initializer == "norm" else self.gain_initializer
        self.gain = self.add_weight(
            name="gain", shape=(self.filters,), initializer=initializer, trainable=True)
        if self.gain_initializer == "norm":
            self.gain.assign(ops.sqrt(ops.sum(ops.square(self.kernel), axis=(0, 1, 2))))

    def get_config(self):
        return {**super().get_config(), "gain_initializer": self.gain_initializer}

    def effective_kernel(self):
        # The norm spans the whole kernel, every input part included.
        kernel = self.kernel
        norm = ops.sqrt(ops.sum(ops.square(kernel), axis=(0, 1, 2)) + 1e-12)
        return kernel * (self.gain / norm)

    # Conv2D saves only its kernel and bias; the layer default saves every variable.
    def save_own_variables(self, store):
        keras.layers.Layer.save_own_variables(self, store)

    def load_own_variables(self, store):
        keras.layers.Layer.load_own_variables(self, store)


@keras.saving.register_keras_serializable(package="srim_tf")
class BilinearUpsample(keras.layers.Layer):
    """Bilinear upsampling by an integer factor, for inputs of any (dynamic) size.

    `keras.layers.UpSampling2D` needs static sizes inside a `tf.function` with unknown
    height and width, which serving signatures have.

    Args:
        factor: integer upsampling factor.

    Examples:
        >>> BilinearUpsample(2)(keras.ops.zeros((1, 3, 5, 2))).shape
        TensorShape([1, 6, 10, 2])
    """

    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, inputs):
        size = tf.shape(inputs)[1:3] * self.factor
        return tf.cast(tf.image.resize(inputs, size, "bilinear"), inputs.dtype)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        def scale(d):
            return (None if d is None else d * self.factor)
        return (batch, scale(height), scale(width), channels)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}
